//===- KernelSchedule.cpp - The emission order of a kernel body -----------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/KernelSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <map>

using namespace mlir;
using namespace physc;
using namespace physc::phys;

bool physc::isRow(Value v) { return isa<RankedTensorType>(v.getType()); }

int64_t physc::rowWidth(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(0);
}

bool physc::isElementwise(Operation *op) {
  return isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp,
             arith::NegFOp, arith::SelectOp, arith::MaximumFOp,
             arith::MinimumFOp, arith::CmpFOp>(op) ||
         op->getDialect()->getNamespace() == "math";
}

bool physc::isGradAccum(Operation *op) {
  return isa<AccumWeightGradOp, AccumBiasGradOp>(op);
}

GroupedGradAccums physc::groupGradAccums(ArrayRef<Operation *> accums) {
  std::map<std::pair<std::string, int64_t>,
           SmallVector<std::pair<Value, Value>>>
      weights, biases;
  for (Operation *op : accums) {
    if (auto w = dyn_cast<AccumWeightGradOp>(op))
      weights[{w.getNet().str(), w.getLayer()}].push_back(
          {w.getDy(), w.getX()});
    else if (auto bg = dyn_cast<AccumBiasGradOp>(op))
      biases[{bg.getNet().str(), bg.getLayer()}].push_back(
          {bg.getDy(), Value()});
  }
  GroupedGradAccums grouped;
  for (auto &[key, items] : weights)
    grouped.weights.push_back({key.first, key.second, std::move(items)});
  for (auto &[key, items] : biases)
    grouped.biases.push_back({key.first, key.second, std::move(items)});
  return grouped;
}

/// Reorders `ops` so that up to `width` matvecs of one (net, layer,
/// direction) stand together, the first of them leading; see the
/// constructor's comment. Every moved op still follows what it reads.
static void
groupMatvecs(SmallVectorImpl<Operation *> &ops, int64_t width,
             DenseMap<Operation *, SmallVector<Operation *>> &groups) {
  DenseSet<Operation *> scheduled(ops.begin(), ops.end()), done;
  SmallVector<Operation *> order;
  DenseMap<Operation *, int> pos;
  for (auto [i, op] : llvm::enumerate(ops))
    pos[op] = i;
  // The ops not yet placed that `v` needs, in their original order; false
  // if they include a matvec (whose own group may not have run yet).
  auto pending = [&](Value v, SmallVectorImpl<Operation *> &slice) {
    DenseSet<Operation *> seen;
    SmallVector<Operation *> stack;
    if (Operation *d = v.getDefiningOp())
      stack.push_back(d);
    while (!stack.empty()) {
      Operation *op = stack.pop_back_val();
      if (!scheduled.contains(op) || done.contains(op) ||
          !seen.insert(op).second)
        continue;
      if (KernelSchedule::decodeMatvec(op))
        return false;
      slice.push_back(op);
      for (Value operand : op->getOperands())
        if (Operation *d = operand.getDefiningOp())
          stack.push_back(d);
    }
    llvm::sort(slice, [&](Operation *a, Operation *b) {
      return pos.lookup(a) < pos.lookup(b);
    });
    return true;
  };
  for (auto [i, op] : llvm::enumerate(ops)) {
    if (done.contains(op))
      continue;
    std::optional<KernelSchedule::Matvec> lead =
        KernelSchedule::decodeMatvec(op);
    SmallVector<Operation *> group = {op};
    for (size_t j = i + 1;
         lead && j < ops.size() && static_cast<int64_t>(group.size()) < width;
         ++j) {
      std::optional<KernelSchedule::Matvec> m =
          KernelSchedule::decodeMatvec(ops[j]);
      SmallVector<Operation *> slice;
      if (!m || done.contains(ops[j]) || m->net != lead->net ||
          m->layer != lead->layer || m->transposed != lead->transposed ||
          !pending(m->x, slice))
        continue;
      for (Operation *s : slice) {
        order.push_back(s);
        done.insert(s);
      }
      group.push_back(ops[j]);
    }
    for (Operation *g : group) {
      order.push_back(g);
      done.insert(g);
    }
    if (group.size() > 1)
      groups[op] = std::move(group);
  }
  ops.assign(order.begin(), order.end());
}

KernelSchedule::KernelSchedule(Block &body,
                               function_ref<bool(Operation *)> skip,
                               bool eagerGradAccums, int64_t fuseMatvecs) {
  for (Operation &op : body.without_terminator())
    if (!skip(&op))
      ops.push_back(&op);
  if (fuseMatvecs > 1) {
    groupMatvecs(ops, fuseMatvecs, fusedGroups);
    for (auto &[lead, group] : fusedGroups)
      fusedFollowers.insert(group.begin() + 1, group.end());
  }
  const int end = ops.size() + 1;
  DenseMap<Operation *, int> pos;
  for (auto [i, op] : llvm::enumerate(ops))
    pos[op] = i;
  // Where each accumulation runs: the position of the last one of its
  // (net, layer, weight or bias) group when eager, else the end.
  DenseMap<Operation *, int> runsAt;
  if (eagerGradAccums) {
    std::map<std::tuple<std::string, int64_t, bool>, Operation *> last;
    for (Operation *op : ops) {
      if (auto w = dyn_cast<AccumWeightGradOp>(op))
        last[{w.getNet().str(), w.getLayer(), false}] = op;
      else if (auto bg = dyn_cast<AccumBiasGradOp>(op))
        last[{bg.getNet().str(), bg.getLayer(), true}] = op;
    }
    for (auto &[key, closer] : last)
      groupClosers.insert(closer);
    for (Operation *op : ops) {
      if (auto w = dyn_cast<AccumWeightGradOp>(op))
        runsAt[op] = pos.lookup(last[{w.getNet().str(), w.getLayer(), false}]);
      else if (auto bg = dyn_cast<AccumBiasGradOp>(op))
        runsAt[op] = pos.lookup(last[{bg.getNet().str(), bg.getLayer(), true}]);
    }
  }
  for (Operation *op : ops)
    for (Value r : op->getResults())
      if (isRow(r)) {
        int last = 0;
        for (Operation *u : r.getUsers())
          last = std::max(last, isa<YieldOp>(u) ? end
                                : isGradAccum(u)
                                    ? (eagerGradAccums ? runsAt.lookup(u) : end)
                                    : pos.lookup(u));
        lastUses[r] = last;
      }
}

std::optional<KernelSchedule::Matvec>
KernelSchedule::decodeMatvec(Operation *op) {
  // Both ops have the same operands; only matvec has a bias.
  auto decode = [&](auto m, bool bias, bool transposed) {
    return Matvec{op,
                  m.getInput(),
                  m.getResult(),
                  m.getNet(),
                  static_cast<int64_t>(m.getLayer()),
                  bias,
                  transposed};
  };
  if (auto mv = dyn_cast<MatvecOp>(op))
    return decode(mv, mv.getBias(), /*transposed=*/false);
  if (auto mt = dyn_cast<MatvecTOp>(op))
    return decode(mt, /*bias=*/false, /*transposed=*/true);
  return std::nullopt;
}

LogicalResult KernelSchedule::emit(const Emitter &e) const {
  auto isRowElementwise = [](Operation *o, int64_t width) {
    return o->getNumResults() == 1 && isRow(o->getResult(0)) &&
           isElementwise(o) &&
           (width < 0 || rowWidth(o->getResult(0)) == width);
  };
  for (size_t i = 0; i < ops.size();) {
    Operation *op = ops[i];
    if (isGradAccum(op)) {
      e.defer(op);
      // Eager accumulations of a group have run at its last one.
      e.release(i);
      ++i;
      continue;
    }
    if (isRowElementwise(op, -1)) {
      // A run of elementwise row ops of one width, with scalar-only ops
      // (hoisted before the loop) allowed in between.
      int64_t w = rowWidth(op->getResult(0));
      SmallVector<Operation *> group;
      size_t k = i;
      for (; k < ops.size(); ++k) {
        Operation *o = ops[k];
        bool scalarOnly = !isGradAccum(o) &&
                          llvm::none_of(o->getOperands(), isRow) &&
                          llvm::none_of(o->getResults(), isRow);
        if (isRowElementwise(o, w))
          group.push_back(o);
        else if (!scalarOnly)
          break;
        else if (failed(e.scalar(o)))
          return failure();
      }
      e.group(group, static_cast<int>(k - 1));
      e.release(k - 1);
      i = k;
      continue;
    }
    if (std::optional<Matvec> mv = decodeMatvec(op)) {
      if (!fusedFollowers.contains(op))
        e.matvec(*mv);
    } else if (failed(e.scalar(op)))
      return failure();
    e.release(i);
    ++i;
  }
  return success();
}
