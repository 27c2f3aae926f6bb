//===- BuildAdjoint.cpp - Reverse sweep over the jet program --------------===//
//
// Part of physc. After expansion a loss kernel is straight-line code over
// scalars and rows; its parameter gradient is the classic reverse sweep over
// that code. Only values that depend on network weights or trainable params
// ("active") carry adjoints, so the coordinate-only prefix of the program
// costs nothing.
//
//===----------------------------------------------------------------------===//

#include "JetBuilder.h"
#include "Towers.h"
#include "physc/Transforms/Passes.h"

#include <cmath>

namespace physc {
#define GEN_PASS_DEF_BUILDADJOINT
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

class Adjoint {
public:
  Adjoint(KernelOp kernel)
      : kernel(kernel), b(kernel.getContext()), jb(b, kernel.getLoc()) {}
  LogicalResult run();

private:
  void accumulate(Value v, Value g) {
    if (!g || !active.contains(v))
      return;
    auto it = adj.find(v);
    if (it == adj.end())
      adj[v] = g;
    else
      it->second = jb.add(it->second, g);
  }
  LogicalResult reverse(Operation &op, Value g);
  bool isTrainable(ParamRefOp p) {
    auto model = kernel->getParentOfType<ModelOp>();
    auto param = model.lookupSymbol<ParamOp>(p.getParamAttr());
    return param && param.getTrainable();
  }

  KernelOp kernel;
  OpBuilder b;
  JetBuilder jb;
  DenseSet<Value> active;
  DenseMap<Value, Value> adj;
};

LogicalResult Adjoint::reverse(Operation &op, Value g) {
  jb.setLoc(op.getLoc());
  Type t = g.getType();
  auto one = [&] { return jb.cst(t, 1); };
  Value r = op.getNumResults() ? op.getResult(0) : Value();
  auto x = [&](unsigned i) { return op.getOperand(i); };
  if (isa<arith::AddFOp>(op)) {
    accumulate(x(0), g);
    accumulate(x(1), g);
  } else if (isa<arith::SubFOp>(op)) {
    accumulate(x(0), g);
    accumulate(x(1), jb.neg(g));
  } else if (isa<arith::NegFOp>(op)) {
    accumulate(x(0), jb.neg(g));
  } else if (isa<arith::MulFOp>(op)) {
    accumulate(x(0), jb.mul(g, x(1)));
    accumulate(x(1), jb.mul(g, x(0)));
  } else if (isa<arith::DivFOp>(op)) {
    accumulate(x(0), jb.div(g, x(1)));
    accumulate(x(1), jb.neg(jb.div(jb.mul(g, r), x(1))));
  } else if (auto s = dyn_cast<arith::SelectOp>(op)) {
    Value zero = jb.cst(t, 0);
    accumulate(s.getTrueValue(),
               jb.create<arith::SelectOp>(s.getCondition(), g, zero));
    accumulate(s.getFalseValue(),
               jb.create<arith::SelectOp>(s.getCondition(), zero, g));
  } else if (isa<arith::MaximumFOp, arith::MinimumFOp>(op)) {
    auto pred = isa<arith::MinimumFOp>(op) ? arith::CmpFPredicate::OLE
                                           : arith::CmpFPredicate::OGE;
    Value c = jb.create<arith::CmpFOp>(pred, x(0), x(1));
    Value zero = jb.cst(t, 0);
    accumulate(x(0), jb.create<arith::SelectOp>(c, g, zero));
    accumulate(x(1), jb.create<arith::SelectOp>(c, zero, g));
  } else if (isa<math::TanhOp>(op)) {
    // d(tanh(z)) => (1 - tanh(z)^2) * d(z)
    Value d = jb.sub(one(), jb.mul(r, r));
    if (ruleIsBroken("tanh-adjoint"))
      d = jb.scale(d, 1.01);
    accumulate(x(0), jb.mul(g, d));
  } else if (isa<math::SinOp>(op)) {
    accumulate(x(0), jb.mul(g, jb.create<math::CosOp>(x(0))));
  } else if (isa<math::CosOp>(op)) {
    accumulate(x(0), jb.neg(jb.mul(g, jb.create<math::SinOp>(x(0)))));
  } else if (isa<math::TanOp>(op)) {
    accumulate(x(0), jb.mul(g, jb.add(one(), jb.mul(r, r))));
  } else if (isa<math::SinhOp>(op)) {
    accumulate(x(0), jb.mul(g, jb.create<math::CoshOp>(x(0))));
  } else if (isa<math::CoshOp>(op)) {
    accumulate(x(0), jb.mul(g, jb.create<math::SinhOp>(x(0))));
  } else if (isa<math::ExpOp>(op)) {
    accumulate(x(0), jb.mul(g, r));
  } else if (isa<math::LogOp>(op)) {
    accumulate(x(0), jb.div(g, x(0)));
  } else if (isa<math::Log1pOp>(op)) {
    accumulate(x(0), jb.div(g, jb.add(one(), x(0))));
  } else if (isa<math::SqrtOp>(op)) {
    accumulate(x(0), jb.div(jb.scale(g, 0.5), r));
  } else if (isa<math::AbsFOp>(op)) {
    accumulate(x(0), jb.mul(g, jb.create<math::CopySignOp>(one(), x(0))));
  } else if (isa<math::CopySignOp>(op)) {
    // copysign(c, z) is piecewise constant in z; in c it is |.|-like.
    accumulate(x(0),
               jb.mul(g, jb.mul(jb.create<math::CopySignOp>(one(), x(0)),
                                jb.create<math::CopySignOp>(one(), x(1)))));
  } else if (isa<math::ErfOp>(op)) {
    Value e = jb.create<math::ExpOp>(jb.neg(jb.mul(x(0), x(0))));
    accumulate(x(0), jb.mul(g, jb.scale(e, 2 / std::sqrt(M_PI))));
  } else if (auto pw = dyn_cast<math::PowFOp>(op)) {
    // d(a^b) => b a^(b-1) da + a^b log(a) db
    Value bm1 = jb.sub(pw.getRhs(), one());
    accumulate(x(0), jb.mul(g, jb.mul(pw.getRhs(),
                                      jb.create<math::PowFOp>(x(0), bm1))));
    accumulate(x(1), jb.mul(g, jb.mul(r, jb.create<math::LogOp>(x(0)))));
  } else if (auto m = dyn_cast<MaskOp>(op)) {
    accumulate(m.getValue(), jb.create<MaskOp>(g.getType(), g));
  } else if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    for (auto [i, e] : llvm::enumerate(fe.getElements())) {
      if (!active.contains(e))
        continue;
      Value idx = b.create<arith::ConstantIndexOp>(jb.getLoc(), i);
      accumulate(e, b.create<tensor::ExtractOp>(jb.getLoc(), g, idx));
    }
  } else if (auto ex = dyn_cast<tensor::ExtractOp>(op)) {
    // A one-hot row carrying g at the extracted position.
    auto rt = cast<RankedTensorType>(ex.getTensor().getType());
    auto idx = getConstantIntValue(ex.getIndices()[0]);
    if (!idx)
      return op.emitOpError("needs a constant index to be differentiated");
    SmallVector<Value> elems;
    for (int64_t i = 0; i < rt.getDimSize(0); ++i)
      elems.push_back(i == *idx ? g : jb.cst(g.getType(), 0));
    accumulate(ex.getTensor(),
               b.create<tensor::FromElementsOp>(jb.getLoc(), elems));
  } else if (auto mv = dyn_cast<MatvecOp>(op)) {
    // d(matvec_l(x)) => dx += matvec_t_l(dy), dW_l += dy x^T, db_l += dy
    b.create<AccumWeightGradOp>(jb.getLoc(), mv.getNetAttr(), mv.getLayerAttr(),
                                g, mv.getInput());
    if (mv.getBias())
      b.create<AccumBiasGradOp>(jb.getLoc(), mv.getNetAttr(), mv.getLayerAttr(),
                                g);
    if (active.contains(mv.getInput()))
      accumulate(mv.getInput(),
                 b.create<MatvecTOp>(jb.getLoc(), mv.getInput().getType(),
                                     mv.getNetAttr(), mv.getLayerAttr(), g));
  } else if (auto pr = dyn_cast<ParamRefOp>(op)) {
    // d(trainable p) => dp += g; other params are constants.
    if (isTrainable(pr))
      b.create<AccumParamGradOp>(jb.getLoc(), pr.getParamAttr(), g);
  } else if (isa<arith::ConstantOp, arith::CmpFOp, ObservedOp>(op)) {
    // constants in the parameters
  } else {
    return op.emitOpError("has no adjoint rule");
  }
  return success();
}

LogicalResult Adjoint::run() {
  Block &body = kernel.getBody().front();
  // Forward activity: values that depend on network weights or trainable
  // params.
  for (Operation &op : body) {
    auto pr = dyn_cast<ParamRefOp>(op);
    bool act = isa<MatvecOp>(op) || (pr && isTrainable(pr));
    for (Value v : op.getOperands())
      act |= active.contains(v);
    if (act && !isa<arith::CmpFOp>(op))
      for (Value r : op.getResults())
        active.insert(r);
  }
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);
  b.setInsertionPoint(body.getTerminator());
  // Seeds: d(sum of accumulated losses)/d(each accumulated value) = 1.
  for (Operation *op : forward)
    if (auto acc = dyn_cast<AccumLossOp>(op))
      accumulate(acc.getValue(), jb.cst(acc.getValue().getType(), 1));
  for (Operation *op : llvm::reverse(forward)) {
    if (isa<AccumLossOp>(op))
      continue;
    Value g;
    for (Value r : op->getResults()) {
      auto it = adj.find(r);
      if (it != adj.end()) {
        if (op->getNumResults() != 1)
          return op->emitOpError("multi-result ops have no adjoint rule");
        g = it->second;
      }
    }
    if (!g)
      continue;
    if (failed(reverse(*op, g)))
      return failure();
  }
  return success();
}

struct BuildAdjointPass
    : public physc::impl::BuildAdjointBase<BuildAdjointPass> {
  void runOnOperation() override {
    for (KernelOp k : getOperation().getOps<KernelOp>()) {
      if (k.getKind() != "loss_grad")
        continue;
      Adjoint a(k);
      if (failed(a.run()))
        return signalPassFailure();
    }
  }
};

} // namespace
