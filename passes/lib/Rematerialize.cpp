//===- Rematerialize.cpp - Recompute cheap rows next to late uses ---------===//
//
// Part of physc. After phys-build-adjoint a loss kernel is one straight-line
// program: the jets forward, then the reverse sweep, which reads many rows
// of the forward sweep again (for tanh: 1 - h^2, 2h, products of jet
// components). Each such row stays live across the whole program, and rows
// live at once are what a kernel must store per point: vector scratch on
// the CPU, local memory per thread on the GPU. For the 2-64x4-1 Burgers
// residual 53 rows of 64 are live at the peak. Most of them are a few
// multiplies and adds away from rows that stay live anyway (h, the jets'
// matvec results), so recomputing them where the reverse sweep reads them
// costs a few flops per element and frees their storage: the peak drops to
// 27 rows.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/KernelSchedule.h"
#include "physc/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace physc {
#define GEN_PASS_DEF_REMATERIALIZE
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Deepest chain of ops one recomputation clones.
constexpr int kMaxDepth = 3;
/// Recomputations per op of the kernel, at most: each one shortens a live
/// range, so the loop ends anyway; this bounds the work on huge kernels.
constexpr int64_t kMaxRoundsPerOp = 4;

/// Positions of the ops of one block and the last use of each value.
struct Liveness {
  llvm::DenseMap<Operation *, int64_t> position;
  llvm::DenseMap<Value, int64_t> lastUse;

  explicit Liveness(Block &block) {
    int64_t i = 0;
    for (Operation &op : block) {
      position[&op] = i;
      for (Value v : op.getOperands())
        lastUse[v] = i; // ops are visited in order: the last one wins
      ++i;
    }
  }
  bool liveAt(Value v, int64_t at) const {
    auto it = lastUse.find(v);
    return it != lastUse.end() && it->second >= at;
  }
};

/// Cheap to recompute: arith ops on rows (no transcendental, no matvec).
bool recomputable(Operation *op) {
  return op && isElementwise(op) && op->getNumResults() == 1 &&
         op->getDialect()->getNamespace() == "arith" && isRow(op->getResult(0));
}

class Rematerializer {
public:
  Rematerializer(Block &block, int64_t minGap, int64_t maxCost)
      : block(block), minGap(minGap), maxCost(maxCost) {}

  /// Recomputes rows until none qualifies; returns how many it did.
  int64_t run() {
    int64_t done = 0;
    int64_t limit =
        kMaxRoundsPerOp * static_cast<int64_t>(block.getOperations().size());
    while (done < limit && step())
      ++done;
    return done;
  }

private:
  /// One recomputation, the latest-defined candidate first (as the
  /// reverse sweep reads the forward rows in reverse order).
  bool step() {
    Liveness live(block);
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      if (!recomputable(op))
        continue;
      Value v = op->getResult(0);
      // Positions of the uses (one per user), in order.
      SmallVector<int64_t> uses;
      for (Operation *user : v.getUsers())
        uses.push_back(live.position.lookup(user));
      llvm::sort(uses);
      uses.erase(std::unique(uses.begin(), uses.end()), uses.end());
      // The widest gap between two uses (the one between the definition
      // and the first use is the scheduler's business).
      int64_t gap = 0, target = -1;
      for (size_t k = 1; k < uses.size(); ++k)
        if (uses[k] - uses[k - 1] > gap) {
          gap = uses[k] - uses[k - 1];
          target = uses[k];
        }
      if (gap < minGap)
        continue;
      SmallVector<Operation *> plan;
      if (cost(v, v, target, live, plan, 0) > maxCost)
        continue;
      recompute(plan, ops[target], live, target);
      return true;
    }
    return false;
  }

  /// The ops to clone so that `x` is available at position `at`, added to
  /// `plan` operands first; 0 when `x` (other than `root`) is live there
  /// anyway. Above maxCost when it cannot be done cheaply.
  int64_t cost(Value x, Value root, int64_t at, const Liveness &live,
               SmallVector<Operation *> &plan, int depth) {
    if (!isRow(x))
      return 0; // scalars are registers
    Operation *def = x.getDefiningOp();
    if (def && isa<arith::ConstantOp>(def))
      return 0;
    if (x != root && live.liveAt(x, at))
      return 0;
    if (llvm::is_contained(plan, def))
      return 0;
    if (!recomputable(def) || depth > kMaxDepth)
      return maxCost + 1;
    int64_t total = 1;
    for (Value operand : def->getOperands()) {
      total += cost(operand, root, at, live, plan, depth + 1);
      if (total > maxCost)
        return total;
    }
    plan.push_back(def);
    return total;
  }

  /// Clones `plan` in front of `target` (at position `at`) and points every
  /// use from there on at the clones.
  void recompute(ArrayRef<Operation *> plan, Operation *target,
                 const Liveness &live, int64_t at) {
    OpBuilder b(target);
    IRMapping map;
    for (Operation *op : plan) {
      Operation *clone = b.clone(*op, map);
      Value from = op->getResult(0), to = clone->getResult(0);
      from.replaceUsesWithIf(to, [&](OpOperand &use) {
        auto it = live.position.find(use.getOwner());
        return it != live.position.end() && it->second >= at;
      });
    }
  }

  Block &block;
  int64_t minGap, maxCost;
};

struct RematerializePass
    : public physc::impl::RematerializeBase<RematerializePass> {
  using RematerializeBase::RematerializeBase;
  void runOnOperation() override {
    for (KernelOp kernel : getOperation().getBody().front().getOps<KernelOp>())
      Rematerializer(kernel.getBody().front(), minGap, maxCost).run();
  }
};

} // namespace
