//===- OutlineKernels.cpp - One phys.kernel per pointwise program ---------===//
//
// Part of physc. Equations, fields and exacts stay in the model as the
// description the runtime reads (regions, samples, weights); the code that
// runs lives in kernels cloned from their bodies, with field calls inlined.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"

#include <functional>

namespace physc {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Fails on a field that calls itself, directly or through other fields.
/// Inlining such a field never ends; with two calls in a body the kernel
/// doubles every round, so the depth limit below would not be reached in
/// reasonable time or memory.
LogicalResult checkFieldCycles(ModelOp model) {
  DenseMap<Operation *, int> state; // 1: on the DFS stack, 2: done
  std::function<LogicalResult(FieldOp)> visit =
      [&](FieldOp f) -> LogicalResult {
    if (state[f] == 2)
      return success();
    if (state[f] == 1)
      return f.emitOpError("calls itself through field calls");
    state[f] = 1;
    WalkResult r = f.getBody().walk([&](FieldCallOp c) {
      auto callee = model.lookupSymbol<FieldOp>(c.getFieldAttr());
      return callee && failed(visit(callee)) ? WalkResult::interrupt()
                                             : WalkResult::advance();
    });
    state[f] = 2;
    return failure(r.wasInterrupted());
  };
  for (FieldOp f : model.getBody().front().getOps<FieldOp>())
    if (failed(visit(f)))
      return failure();
  return success();
}

/// Replaces every phys.field_call in `block` by a copy of the field's body.
/// Fields may call fields; a chain deeper than 64 is a cycle.
LogicalResult inlineFieldCalls(ModelOp model, Block &block) {
  for (int round = 0; round < 64; ++round) {
    SmallVector<FieldCallOp> calls;
    block.walk([&](FieldCallOp c) { calls.push_back(c); });
    if (calls.empty())
      return success();
    for (FieldCallOp call : calls) {
      auto field = model.lookupSymbol<FieldOp>(call.getFieldAttr());
      if (!field)
        return call.emitOpError("unknown field ") << call.getFieldAttr();
      Block &fb = field.getBody().front();
      IRMapping map;
      for (auto [arg, v] : llvm::zip(fb.getArguments(), call.getArgs()))
        map.map(arg, v);
      OpBuilder b(call);
      for (Operation &op : fb.without_terminator())
        b.clone(op, map);
      auto yield = cast<YieldOp>(fb.getTerminator());
      call.getResult().replaceAllUsesWith(map.lookup(yield.getValues()[0]));
      call.erase();
    }
  }
  return model.emitOpError("field calls nest deeper than 64 (a cycle?)");
}

/// Whether the training plan reads residuals at points: R3 resampling and
/// causal weighting do.
bool wantsResiduals(ModelOp model) {
  for (TrainOp t : model.getBody().front().getOps<TrainOp>())
    if ((t.getResample() && *t.getResample() == "r3") || t.getCausalEps())
      return true;
  return false;
}

struct OutlineKernelsPass
    : public physc::impl::OutlineKernelsBase<OutlineKernelsPass> {
  using OutlineKernelsBase::OutlineKernelsBase;
  void runOnOperation() override {
    ModelOp model = getOperation();
    if (failed(checkFieldCycles(model)))
      return signalPassFailure();
    auto coords = model.getCoords();
    Block &modelBody = model.getBody().front();
    OpBuilder b(model.getContext());
    b.setInsertionPointToEnd(&modelBody);
    SmallVector<Type> argTypes(coords.size(), b.getF64Type());
    SmallVector<Location> argLocs;
    for (CoordOp c : coords)
      argLocs.push_back(c.getLoc());

    auto newKernel = [&](Location l, StringRef name, StringRef kind,
                         StringRef source) {
      auto k = b.create<KernelOp>(
          l, name, kind, FlatSymbolRefAttr::get(b.getContext(), source),
          ArrayAttr());
      b.createBlock(&k.getBody(), {}, argTypes, argLocs);
      b.setInsertionPointToEnd(&modelBody);
      return k;
    };
    /// Clones `src` (whose arguments are the coordinates named `srcCoords`)
    /// into `k`'s block, returning the yielded values.
    auto cloneBody = [&](KernelOp k, Block &src,
                         ArrayRef<StringRef> srcCoords) {
      Block &dst = k.getBody().front();
      IRMapping map;
      for (auto [i, name] : llvm::enumerate(srcCoords))
        map.map(src.getArgument(i), dst.getArgument(model.coordIndex(name)));
      OpBuilder kb = OpBuilder::atBlockEnd(&dst);
      for (Operation &op : src.without_terminator())
        kb.clone(op, map);
      SmallVector<Value> yielded;
      for (Value v : cast<YieldOp>(src.getTerminator()).getValues())
        yielded.push_back(map.lookup(v));
      return yielded;
    };
    SmallVector<StringRef> all;
    for (CoordOp c : coords)
      all.push_back(c.getSymName());

    SmallVector<KernelOp> kernels;
    for (FieldOp f : llvm::to_vector(modelBody.getOps<FieldOp>())) {
      KernelOp k = newKernel(f.getLoc(), (f.getSymName() + ".eval").str(),
                             "eval", f.getSymName());
      SmallVector<StringRef> fc;
      for (auto a : f.getCoords().getAsRange<FlatSymbolRefAttr>())
        fc.push_back(a.getValue());
      auto ys = cloneBody(k, f.getBody().front(), fc);
      OpBuilder::atBlockEnd(&k.getBody().front())
          .create<YieldOp>(f.getLoc(), ys);
      kernels.push_back(k);
      if (!derivatives)
        continue;
      // Value, gradient, upper triangle of the Hessian.
      KernelOp dk = newKernel(f.getLoc(), (f.getSymName() + ".derivs").str(),
                              "eval", f.getSymName());
      Value u = cloneBody(dk, f.getBody().front(), fc).front();
      OpBuilder db = OpBuilder::atBlockEnd(&dk.getBody().front());
      SmallVector<Value> outs = {u};
      auto sym = [&](int64_t i) {
        return FlatSymbolRefAttr::get(b.getContext(), all[i]);
      };
      int64_t nc = all.size();
      for (int64_t i = 0; i < nc; ++i)
        outs.push_back(db.create<DOp>(f.getLoc(), u.getType(), u,
                                      db.getArrayAttr({sym(i)})));
      for (int64_t i = 0; i < nc; ++i)
        for (int64_t j = i; j < nc; ++j)
          outs.push_back(db.create<DOp>(f.getLoc(), u.getType(), u,
                                        db.getArrayAttr({sym(i), sym(j)})));
      db.create<YieldOp>(f.getLoc(), outs);
      kernels.push_back(dk);
    }
    for (ExactOp e : llvm::to_vector(modelBody.getOps<ExactOp>())) {
      if (e.getBody().empty())
        continue;
      KernelOp k = newKernel(e.getLoc(), (e.getSymName() + ".eval").str(),
                             "eval", e.getSymName());
      auto ys = cloneBody(k, e.getBody().front(), all);
      OpBuilder::atBlockEnd(&k.getBody().front())
          .create<YieldOp>(e.getLoc(), ys);
      kernels.push_back(k);
    }
    for (EquationOp eq : llvm::to_vector(modelBody.getOps<EquationOp>())) {
      Location l = eq.getLoc();
      KernelOp k = newKernel(l, (eq.getSymName() + ".loss_grad").str(),
                             "loss_grad", eq.getSymName());
      auto ys = cloneBody(k, eq.getBody().front(), all);
      OpBuilder kb = OpBuilder::atBlockEnd(&k.getBody().front());
      Value masked = kb.create<MaskOp>(l, ys[0].getType(), ys[0]);
      Value term = eq.getNorm() && *eq.getNorm() == "l1"
                       ? kb.create<math::AbsFOp>(l, masked).getResult()
                       : kb.create<arith::MulFOp>(l, masked, masked);
      kb.create<AccumLossOp>(l, term);
      kb.create<YieldOp>(l);
      kernels.push_back(k);

      // R3 resampling reads the residual at the points of the population.
      if (wantsResiduals(model) && eq.getRegionKind() != "data") {
        KernelOp rk = newKernel(l, (eq.getSymName() + ".residual").str(),
                                "eval", eq.getSymName());
        auto rs = cloneBody(rk, eq.getBody().front(), all);
        OpBuilder::atBlockEnd(&rk.getBody().front()).create<YieldOp>(l, rs);
        kernels.push_back(rk);
      }

      // The jets kernel: a chain v, d(v,a), d(v,a,b), ... per phys.d.
      SmallVector<DOp> ds;
      eq.getBody().walk([&](DOp d) { ds.push_back(d); });
      if (ds.empty())
        continue;
      KernelOp j = newKernel(l, (eq.getSymName() + ".jets").str(), "jets",
                             eq.getSymName());
      Block &src = eq.getBody().front();
      Block &dst = j.getBody().front();
      IRMapping map;
      for (auto [i, arg] : llvm::enumerate(src.getArguments()))
        map.map(arg, dst.getArgument(i));
      OpBuilder jb = OpBuilder::atBlockEnd(&dst);
      for (Operation &op : src.without_terminator())
        jb.clone(op, map);
      SmallVector<Value> yields;
      SmallVector<Attribute> checks;
      for (DOp d : ds) {
        Value v = map.lookup(d.getOperand());
        yields.push_back(v);
        SmallVector<Attribute> wrt;
        for (Attribute a : d.getWrt()) {
          wrt.push_back(a);
          Value dv =
              jb.create<DOp>(d.getLoc(), v.getType(), v, jb.getArrayAttr(wrt));
          int coord = model.coordIndex(cast<FlatSymbolRefAttr>(a).getValue());
          checks.push_back(jb.getI64ArrayAttr(
              {(int64_t)yields.size() - 1, (int64_t)yields.size(), coord}));
          yields.push_back(dv);
        }
      }
      jb.create<YieldOp>(l, yields);
      j.setChecksAttr(b.getArrayAttr(checks));
      kernels.push_back(j);
    }
    for (KernelOp k : kernels)
      if (failed(inlineFieldCalls(model, k.getBody().front())))
        return signalPassFailure();
  }
};

} // namespace
