//===- ExpandDerivatives.cpp - Taylor-mode jets for phys.d ----------------===//
//
// Part of physc. Each value v of a kernel becomes its Taylor coefficients
// c_a = d^a v / a! over the index set the derivative analysis assigns it.
// Coefficients (not derivatives) make products plain convolutions and
// compositions plain power series; a phys.d reads coefficient g + b and
// rescales it by (g+b)!/g!. Nets are expanded layer by layer on whole rows:
// the same weights multiply every coefficient, and the activation composes
// with the row's jet through its derivative tower.
//
//===----------------------------------------------------------------------===//

#include "DerivativeAnalysis.h"
#include "JetBuilder.h"
#include "Towers.h"
#include "physc/Transforms/Passes.h"

#include "llvm/ADT/TypeSwitch.h"

namespace physc {
#define GEN_PASS_DEF_EXPANDDERIVATIVES
#define GEN_PASS_DEF_ANNOTATEDERIVATIVES
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Taylor coefficients of one value over `set`; a null entry is zero.
struct Jet {
  IndexSet set;
  SmallVector<Value> c;
  Value get(const MultiIndex &a) const {
    int i = set.find(a);
    return i < 0 ? Value() : c[i];
  }
};

class Expander {
public:
  Expander(KernelOp kernel)
      : kernel(kernel), model(kernel->getParentOfType<ModelOp>()),
        analysis(kernel), dims(analysis.getDims()), b(kernel.getContext()),
        jb(b, kernel.getLoc()) {}

  LogicalResult run();

private:
  /// coefficient-wise truncated product onto `target`.
  Jet product(const Jet &x, const Jet &y, const IndexSet &target);
  /// f(v) over `target` from the tower of f at v_0.
  Jet compose(const Jet &v, const IndexSet &target,
              function_ref<SmallVector<Value>(Value, int)> tower);
  Jet restrict(const Jet &v, const IndexSet &target);
  Jet elementwise(const Jet &x, const Jet &y, const IndexSet &target,
                  bool subtract);
  LogicalResult expandNet(NetCallOp call);
  LogicalResult expandOp(Operation &op);
  Value valueOf(Value v);

  KernelOp kernel;
  ModelOp model;
  DerivativeAnalysis analysis;
  unsigned dims;
  OpBuilder b;
  JetBuilder jb;
  DenseMap<Value, Jet> jets;
  DenseSet<Operation *> keep;
};

Jet Expander::restrict(const Jet &v, const IndexSet &target) {
  Jet r{target, {}};
  for (const MultiIndex &a : target.getItems())
    r.c.push_back(v.get(a));
  return r;
}

Jet Expander::elementwise(const Jet &x, const Jet &y, const IndexSet &target,
                          bool subtract) {
  Jet r{target, {}};
  for (const MultiIndex &a : target.getItems())
    r.c.push_back(subtract ? jb.sub(x.get(a), y.get(a))
                           : jb.add(x.get(a), y.get(a)));
  return r;
}

Jet Expander::product(const Jet &x, const Jet &y, const IndexSet &target) {
  Jet r{target, {}};
  for (const MultiIndex &g : target.getItems()) {
    Value acc;
    for (auto [i, a] : llvm::enumerate(x.set.getItems())) {
      MultiIndex rest = g;
      bool ok = true;
      for (unsigned d = 0; d < dims && ok; ++d)
        ok = (rest[d] -= a[d]) >= 0;
      if (!ok)
        continue;
      acc = jb.add(acc, jb.mul(x.c[i], y.get(rest)));
    }
    r.c.push_back(acc);
  }
  return r;
}

Jet Expander::compose(const Jet &v, const IndexSet &target,
                      function_ref<SmallVector<Value>(Value, int)> tower) {
  // delta = v - v_0; f(v) = sum_k f^(k)(v_0) / k! delta^k, truncated.
  Jet delta = restrict(v, target);
  delta.c[0] = Value();
  SmallVector<Jet> powers{Jet{}, delta};
  int order = target.maxDegree();
  for (int k = 2; k <= order; ++k) {
    Jet p = product(powers.back(), delta, target);
    if (llvm::all_of(p.c, [](Value x) { return !x; }))
      break;
    powers.push_back(p);
  }
  int kmax = powers.size() - 1;
  if (llvm::all_of(delta.c, [](Value x) { return !x; }))
    kmax = 0;
  // A structurally zero value (say d(t, x)) is still a point to evaluate f
  // at. Rows always have their value component (the biased matvec), so a
  // missing one is an f64 scalar.
  Value v0 = v.c[0] ? v.c[0] : jb.cst(b.getF64Type(), 0);
  SmallVector<Value> f = tower(v0, kmax);
  Jet r{target, SmallVector<Value>(target.size())};
  r.c[0] = f[0];
  double fact = 1;
  for (int k = 1; k <= kmax; ++k) {
    fact *= k;
    Value coeff = jb.scale(f[k], 1 / fact);
    for (size_t i = 1; i < target.size(); ++i)
      r.c[i] = jb.add(r.c[i], jb.mul(coeff, powers[k].c[i]));
  }
  return r;
}

Value Expander::valueOf(Value v) {
  auto it = jets.find(v);
  if (it == jets.end())
    return v; // kept ops (constants, params, comparisons) map to themselves
  Value x = it->second.c.empty() ? Value() : it->second.c[0];
  return x ? x : jb.cst(v.getType(), 0);
}

LogicalResult Expander::expandNet(NetCallOp call) {
  auto net = model.lookupSymbol<NetOp>(call.getNetAttr());
  IndexSet set(dims);
  for (Value r : call.getResults())
    set.unite(analysis.get(r));
  Type f64 = b.getF64Type();
  // Input rows, one per coefficient; all-zero coefficients stay null.
  SmallVector<Value> rows;
  for (const MultiIndex &a : set.getItems()) {
    SmallVector<Value> elems;
    bool any = false;
    for (Value arg : call.getArgs()) {
      Value c = jets.lookup(arg).get(a);
      if (!jets.count(arg) && degree(a) == 0)
        c = arg;
      any |= (bool)c;
      elems.push_back(c ? c : jb.cst(f64, 0));
    }
    rows.push_back(
        any ? b.create<tensor::FromElementsOp>(jb.getLoc(), elems).getResult()
            : Value());
  }
  bool resnet = net.getKind() == "resnet";
  std::optional<double> w0;
  if (auto w = net.getW0())
    w0 = w->convertToDouble();
  StringRef act = net.getAct();
  // The jet of affine layer l applied to the rows `in` (coefficient-wise:
  // only the value component gets the bias).
  auto affine = [&](unsigned l, ArrayRef<Value> in) {
    auto rowType = RankedTensorType::get({net.getFanOut(l)}, f64);
    Jet z{set, {}};
    for (auto [i, row] : llvm::enumerate(in))
      z.c.push_back(
          row ? b.create<MatvecOp>(jb.getLoc(), rowType, call.getNetAttr(),
                                   b.getI64IntegerAttr(l), row,
                                   i == 0 ? b.getUnitAttr() : UnitAttr())
                    .getResult()
              : Value());
    return z;
  };
  auto activate = [&](const Jet &z) {
    return compose(z, set, [&](Value z0, int order) {
      return buildTower(jb, act, z0, order);
    });
  };
  // modified_mlp: the encoders U, V of the input, and V - U, which every
  // layer's gate z_l mixes in as h_l = U + z_l (V - U).
  Jet encU, encDiff;
  if (net.isModifiedMLP()) {
    encU = activate(affine(net.getEncoderU(), rows));
    Jet encV = activate(affine(net.getEncoderV(), rows));
    encDiff = elementwise(encV, encU, set, /*subtract=*/true);
  }
  unsigned numLayers = net.getNumStackLayers();
  for (unsigned l = 0; l < numLayers; ++l) {
    Jet z = affine(l, rows);
    if (l + 1 == numLayers) {
      rows = z.c;
      break;
    }
    // siren: sin(w0 z), every jet component of z scaled alike.
    if (w0)
      for (Value &c : z.c)
        c = jb.scale(c, *w0);
    Jet h = activate(z);
    // resnet: h_l += h_{l-1} between hidden layers of equal width.
    if (resnet && l > 0 && net.getFanIn(l) == net.getFanOut(l))
      h = elementwise(h, Jet{set, rows}, set, /*subtract=*/false);
    // modified_mlp: (1 - z) U + z V = U + z (V - U); the product of two
    // jets is the Cauchy product of their coefficients.
    if (net.isModifiedMLP())
      h = elementwise(encU, product(h, encDiff, set), set,
                      /*subtract=*/false);
    rows = h.c;
  }
  for (auto [k, r] : llvm::enumerate(call.getResults())) {
    const IndexSet &rs = analysis.get(r);
    if (rs.empty())
      continue;
    Jet out{rs, {}};
    for (const MultiIndex &a : rs.getItems()) {
      Value row = rows[set.find(a)];
      Value idx = b.create<arith::ConstantIndexOp>(jb.getLoc(), k);
      out.c.push_back(
          row ? b.create<tensor::ExtractOp>(jb.getLoc(), row, idx).getResult()
              : Value());
    }
    jets[r] = out;
  }
  return success();
}

static StringRef towerName(Operation &op) {
  return llvm::TypeSwitch<Operation *, StringRef>(&op)
      .Case([](math::SinOp) { return "sin"; })
      .Case([](math::CosOp) { return "cos"; })
      .Case([](math::TanOp) { return "tan"; })
      .Case([](math::TanhOp) { return "tanh"; })
      .Case([](math::SinhOp) { return "sinh"; })
      .Case([](math::CoshOp) { return "cosh"; })
      .Case([](math::ExpOp) { return "exp"; })
      .Case([](math::LogOp) { return "log"; })
      .Case([](math::Log1pOp) { return "log1p"; })
      .Case([](math::SqrtOp) { return "sqrt"; })
      .Case([](math::AbsFOp) { return "abs"; })
      .Case([](math::ErfOp) { return "erf"; })
      .Default([](Operation *) { return ""; });
}

LogicalResult Expander::expandOp(Operation &op) {
  if (op.getNumResults() == 0)
    return success();
  IndexSet set(dims);
  for (Value r : op.getResults())
    set.unite(analysis.get(r));
  if (set.empty())
    return success(); // dead for this kernel
  jb.setLoc(op.getLoc());
  auto jetOf = [&](Value v) -> Jet {
    auto it = jets.find(v);
    if (it != jets.end())
      return it->second;
    return Jet{IndexSet::value(dims), {v}}; // a kept value: constant in x
  };
  Value res = op.getNumResults() == 1 ? op.getResult(0) : Value();

  if (isa<arith::ConstantOp, ParamRefOp, ObservedOp>(op)) {
    keep.insert(&op);
    return success();
  }
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    keep.insert(&op);
    for (OpOperand &o : op.getOpOperands())
      o.set(valueOf(o.get()));
    return success();
  }
  if (auto call = dyn_cast<NetCallOp>(op))
    return expandNet(call);
  if (auto d = dyn_cast<DOp>(op)) {
    MultiIndex shift = analysis.wrtIndex(d);
    Jet v = jetOf(d.getOperand());
    Jet r{set, {}};
    for (const MultiIndex &g : set.getItems()) {
      MultiIndex s = g;
      for (unsigned i = 0; i < dims; ++i)
        s[i] += shift[i];
      r.c.push_back(jb.scale(v.get(s), factorial(s) / factorial(g)));
    }
    jets[res] = r;
    return success();
  }
  if (auto m = dyn_cast<MaskOp>(op)) {
    if (set.size() != 1)
      return op.emitOpError("cannot differentiate a masked value");
    Value v = valueOf(m.getValue());
    jets[res] = Jet{set, {jb.create<MaskOp>(v.getType(), v)}};
    return success();
  }
  if (isa<arith::AddFOp, arith::SubFOp>(op)) {
    jets[res] = elementwise(jetOf(op.getOperand(0)), jetOf(op.getOperand(1)),
                            set, isa<arith::SubFOp>(op));
    return success();
  }
  if (isa<arith::NegFOp>(op)) {
    Jet x = jetOf(op.getOperand(0));
    Jet r{set, {}};
    for (const MultiIndex &a : set.getItems())
      r.c.push_back(jb.neg(x.get(a)));
    jets[res] = r;
    return success();
  }
  if (isa<arith::MulFOp>(op)) {
    jets[res] = product(jetOf(op.getOperand(0)), jetOf(op.getOperand(1)), set);
    return success();
  }
  if (isa<arith::DivFOp>(op)) {
    Jet y = jetOf(op.getOperand(1));
    Jet r = compose(y, set, [&](Value y0, int order) {
      return buildTower(jb, "recip", y0, order);
    });
    jets[res] = product(jetOf(op.getOperand(0)), r, set);
    return success();
  }
  if (isa<arith::SelectOp, arith::MinimumFOp, arith::MaximumFOp>(op)) {
    Value cond;
    Jet x, y;
    if (auto s = dyn_cast<arith::SelectOp>(op)) {
      cond = valueOf(s.getCondition());
      x = jetOf(s.getTrueValue());
      y = jetOf(s.getFalseValue());
    } else {
      x = jetOf(op.getOperand(0));
      y = jetOf(op.getOperand(1));
      auto pred = isa<arith::MinimumFOp>(op) ? arith::CmpFPredicate::OLE
                                             : arith::CmpFPredicate::OGE;
      cond = jb.create<arith::CmpFOp>(pred, valueOf(op.getOperand(0)),
                                      valueOf(op.getOperand(1)));
    }
    Jet r{set, {}};
    for (const MultiIndex &a : set.getItems()) {
      Value tv = x.get(a), fv = y.get(a);
      if (!tv && !fv) {
        r.c.push_back(Value());
        continue;
      }
      Type t = (tv ? tv : fv).getType();
      r.c.push_back(jb.create<arith::SelectOp>(cond, tv ? tv : jb.cst(t, 0),
                                               fv ? fv : jb.cst(t, 0)));
    }
    jets[res] = r;
    return success();
  }
  if (auto pw = dyn_cast<math::PowFOp>(op)) {
    Jet base = jetOf(pw.getLhs());
    if (auto p = JetBuilder::constValue(valueOf(pw.getRhs()))) {
      double e = *p;
      jets[res] = compose(base, set, [&](Value y0, int order) {
        return buildTower(jb, "powc", y0, order, e);
      });
      return success();
    }
    // a^b = exp(b log a)
    Jet lg = compose(base, set, [&](Value y0, int order) {
      return buildTower(jb, "log", y0, order);
    });
    Jet prod = product(jetOf(pw.getRhs()), lg, set);
    jets[res] = compose(prod, set, [&](Value y0, int order) {
      return buildTower(jb, "exp", y0, order);
    });
    return success();
  }
  StringRef fn = towerName(op);
  if (!fn.empty()) {
    jets[res] = compose(jetOf(op.getOperand(0)), set, [&](Value y0, int order) {
      return buildTower(jb, fn, y0, order);
    });
    return success();
  }
  return op.emitOpError("has no Taylor-mode rule");
}

LogicalResult Expander::run() {
  Block &body = kernel.getBody().front();
  SmallVector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    const IndexSet &s = analysis.get(arg);
    if (s.empty())
      continue;
    Jet j{s, SmallVector<Value>(s.size())};
    j.c[0] = arg;
    b.setInsertionPointToStart(&body);
    MultiIndex e(dims, 0);
    e[i] = 1;
    int k = s.find(e);
    if (k >= 0)
      j.c[k] = jb.cst(b.getF64Type(), 1);
    jets[arg] = j;
  }
  for (Operation *op : ops) {
    b.setInsertionPoint(op);
    if (isa<YieldOp, AccumLossOp>(op)) {
      for (OpOperand &o : op->getOpOperands())
        o.set(valueOf(o.get()));
      continue;
    }
    if (failed(expandOp(*op)))
      return failure();
  }
  for (Operation *op : llvm::reverse(ops)) {
    if (isa<YieldOp, AccumLossOp>(op) || keep.contains(op))
      continue;
    for (Value r : op->getResults())
      if (!r.use_empty()) {
        b.setInsertionPoint(op);
        Value v = valueOf(r);
        if (v == r) {
          for (Operation *u : r.getUsers())
            u->emitRemark("user of dead value");
          return op->emitOpError("value still used after expansion");
        }
        r.replaceAllUsesWith(v);
      }
    op->erase();
  }
  return success();
}

struct ExpandDerivativesPass
    : public physc::impl::ExpandDerivativesBase<ExpandDerivativesPass> {
  void runOnOperation() override {
    for (KernelOp k : llvm::to_vector(getOperation().getOps<KernelOp>())) {
      Expander e(k);
      if (failed(e.run()))
        return signalPassFailure();
    }
  }
};

struct AnnotateDerivativesPass
    : public physc::impl::AnnotateDerivativesBase<AnnotateDerivativesPass> {
  void runOnOperation() override {
    for (KernelOp k : getOperation().getOps<KernelOp>()) {
      DerivativeAnalysis a(k);
      Builder b(k.getContext());
      k.getBody().walk([&](Operation *op) {
        if (op->getNumResults() == 0)
          return;
        IndexSet s(a.getDims());
        for (Value r : op->getResults())
          s.unite(a.get(r));
        SmallVector<Attribute> items;
        for (const MultiIndex &m : s.getItems())
          items.push_back(
              b.getDenseI64ArrayAttr(SmallVector<int64_t>(m.begin(), m.end())));
        op->setAttr("jet", b.getArrayAttr(items));
      });
    }
  }
};

} // namespace
