//===- MLIRGen.cpp - From a checked .phys model to the phys dialect -------===//
//
// Part of physc. Every statement becomes one op of a phys.model; every
// expression a pointwise program in arith/math plus phys.d, phys.field_call,
// phys.net_call and phys.param_ref. Consts are already folded by Sema, lets
// are emitted once per body in dependency order and shared by SSA, and the
// vector sugar (grad, div, lap, dot, norm) expands here into scalar sums of
// phys.d over the space coordinates. Net encodings (`encode: periodic(...)`,
// `encode: fourier(...)`) expand here too, into the pointwise features that
// each net call passes to the first layer: phys.net declares that layer's
// real fan-in, and jets and adjoints treat the features like any other
// arithmetic.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/MLIRGen.h"
#include "physc/Dialect/Phys/PhysOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &ctx, const LoadedModel &loaded)
      : builder(&ctx), loaded(loaded), m(loaded.model) {}

  /// Loss terms by name: `[["pde"], ["ic", "bc"]]`.
  ArrayAttr termGroups(const std::vector<std::vector<int>> &groups) {
    SmallVector<Attribute> out;
    for (const std::vector<int> &g : groups) {
      SmallVector<Attribute> names;
      for (int eq : g)
        names.push_back(builder.getStringAttr(m.equations[eq].name));
      out.push_back(builder.getArrayAttr(names));
    }
    return builder.getArrayAttr(out);
  }
  /// `weighting = {scheme = "annealing", every, alpha, residual = [...]}`.
  DictionaryAttr weighting() {
    const CheckedWeighting &w = m.weighting;
    SmallVector<Attribute> residual;
    for (int eq : w.residual)
      residual.push_back(builder.getStringAttr(m.equations[eq].name));
    return builder.getDictionaryAttr(
        {builder.getNamedAttr("scheme", builder.getStringAttr(w.scheme)),
         builder.getNamedAttr("every", builder.getI64IntegerAttr(w.every)),
         builder.getNamedAttr("alpha", builder.getF64FloatAttr(w.alpha)),
         builder.getNamedAttr("residual", builder.getArrayAttr(residual))});
  }

  OwningOpRef<ModuleOp> run();

private:
  /// The values a body binds: its coordinate arguments (by model coordinate
  /// index; null where the body does not have that coordinate) and the lets
  /// emitted so far.
  struct Scope {
    SmallVector<Value> coords;
    std::vector<SmallVector<Value>> lets;
  };
  using Values = SmallVector<Value, 4>;

  Location loc(ast::Location l) {
    SourcePosition p = resolveLocation(*loaded.srcMgr, l);
    return FileLineColLoc::get(builder.getStringAttr(p.filename), p.line,
                               p.column);
  }
  Value cst(Location l, double v) {
    return builder.create<arith::ConstantOp>(l, builder.getF64FloatAttr(v));
  }
  Values gen(const ast::Expr &e, Scope &s);
  Values genCall(const ast::CallExpr &c, Scope &s);
  /// The inputs of `net`'s first layer for call arguments `args` (the values
  /// of the expressions `exprs`): `args` itself, or the features of net's
  /// encoding.
  SmallVector<Value> encodeInputs(Location l, const CheckedNet &net,
                                  ArrayRef<ast::ExprPtr> exprs,
                                  ArrayRef<Value> args);
  /// `periodic`: the argument that is an encoded coordinate X becomes
  /// cos(2 pi k X / P), sin(2 pi k X / P) for k = 1..harmonics, in place.
  SmallVector<Value> periodicFeatures(Location l, const CheckedEncoding &enc,
                                      ArrayRef<ast::ExprPtr> exprs,
                                      ArrayRef<Value> args);
  /// `fourier`: cos(2 pi B v) for every row of B, then sin(2 pi B v).
  SmallVector<Value> fourierFeatures(Location l, const CheckedEncoding &enc,
                                     ArrayRef<Value> args);
  Value scalar(const Values &v) { return v[0]; }
  Value power(Location l, Value x, const ast::Expr &exponent, Scope &s);
  Value d(Location l, Value v, ArrayRef<int> wrt);
  /// Emits every let into `s` (lets are in dependency order).
  void genLets(Scope &s);
  /// Creates `op`'s body block taking the coordinates `coords`.
  Scope enterBody(Region &region, ArrayRef<int> coords, Location l);
  ArrayAttr coordRefs(ArrayRef<int> coords);
  /// The trainable scalar that is bias `k` of deeponet `net`: "G.bias", or
  /// "G.bias.0", "G.bias.1", ... with several outputs. The '.' keeps it
  /// apart from any declared param.
  static std::string deepONetBias(const CheckedNet &net, int k) {
    return net.name + ".bias" + (net.out == 1 ? "" : "." + std::to_string(k));
  }
  std::string fieldName(int field, int output) {
    return m.fields[field].outputs[output];
  }

  OpBuilder builder;
  const LoadedModel &loaded;
  const CheckedModel &m;
  SmallVector<int> spaceCoords;
};

ArrayAttr MLIRGenImpl::coordRefs(ArrayRef<int> coords) {
  SmallVector<Attribute> refs;
  for (int c : coords)
    refs.push_back(
        FlatSymbolRefAttr::get(builder.getContext(), m.coords[c].name));
  return builder.getArrayAttr(refs);
}

MLIRGenImpl::Scope MLIRGenImpl::enterBody(Region &region, ArrayRef<int> coords,
                                          Location l) {
  SmallVector<Type> types(coords.size(), builder.getF64Type());
  SmallVector<Location> locs;
  for (int c : coords)
    locs.push_back(loc(m.coords[c].loc));
  Block *block = builder.createBlock(&region, {}, types, locs);
  Scope s;
  s.coords.resize(m.coords.size());
  for (auto [i, c] : llvm::enumerate(coords))
    s.coords[c] = block->getArgument(i);
  return s;
}

void MLIRGenImpl::genLets(Scope &s) {
  for (const CheckedLet &let : m.lets)
    s.lets.push_back(gen(*let.value, s));
}

Value MLIRGenImpl::d(Location l, Value v, ArrayRef<int> wrt) {
  return builder.create<DOp>(l, builder.getF64Type(), v, coordRefs(wrt));
}

Value MLIRGenImpl::power(Location l, Value x, const ast::Expr &exponent,
                         Scope &s) {
  // Small integer exponents become products, which keeps x^2 exact for
  // negative x and cheap; everything else is powf.
  std::optional<double> k;
  if (auto *n = dyn_cast<ast::NumberExpr>(&exponent)) {
    k = n->value;
  } else if (auto *nm = dyn_cast<ast::NameExpr>(&exponent)) {
    if (nm->ref == ast::NameKind::Const || nm->ref == ast::NameKind::Builtin)
      k = nm->constValue;
  } else if (auto *u = dyn_cast<ast::UnaryExpr>(&exponent)) {
    if (auto *n = dyn_cast<ast::NumberExpr>(u->operand.get()))
      k = -n->value;
  }
  if (k && *k == std::round(*k) && std::abs(*k) <= 16) {
    int n = std::abs((int)*k);
    Value result = cst(l, 1), base = x;
    bool first = true;
    while (n) {
      if (n & 1) {
        result = first ? base : builder.create<arith::MulFOp>(l, result, base);
        first = false;
      }
      n >>= 1;
      if (n)
        base = builder.create<arith::MulFOp>(l, base, base);
    }
    if (*k < 0)
      result = builder.create<arith::DivFOp>(l, cst(l, 1), result);
    return result;
  }
  Value e = scalar(gen(exponent, s));
  return builder.create<math::PowFOp>(l, x, e);
}

MLIRGenImpl::Values MLIRGenImpl::gen(const ast::Expr &e, Scope &s) {
  Location l = loc(e.getLoc());
  if (auto *n = dyn_cast<ast::NumberExpr>(&e))
    return {cst(l, n->value)};
  if (auto *nm = dyn_cast<ast::NameExpr>(&e)) {
    switch (nm->ref) {
    case ast::NameKind::Const:
    case ast::NameKind::Builtin:
      return {cst(l, nm->constValue)};
    case ast::NameKind::Param:
      return {builder.create<ParamRefOp>(l, builder.getF64Type(),
                                         m.params[nm->index].name)};
    case ast::NameKind::Coord:
      return {s.coords[nm->index]};
    case ast::NameKind::Field: {
      SmallVector<Value> args;
      for (int c : m.fields[nm->index].coords)
        args.push_back(s.coords[c]);
      return {builder.create<FieldCallOp>(
          l, builder.getF64Type(), fieldName(nm->index, nm->output), args)};
    }
    case ast::NameKind::Let:
      return Values(s.lets[nm->index].begin(), s.lets[nm->index].end());
    case ast::NameKind::Unresolved:
      break;
    }
    llvm::report_fatal_error(llvm::Twine("MLIRGen: unresolved name '") +
                             nm->name + "'");
  }
  if (auto *u = dyn_cast<ast::UnaryExpr>(&e)) {
    Values v = gen(*u->operand, s);
    for (Value &x : v)
      x = builder.create<arith::NegFOp>(l, x);
    return v;
  }
  if (auto *b = dyn_cast<ast::BinaryExpr>(&e)) {
    Values x = gen(*b->lhs, s);
    if (b->op == '^')
      return {power(l, scalar(x), *b->rhs, s)};
    Values y = gen(*b->rhs, s);
    // Scalars broadcast against vectors (k * grad(u)).
    size_t n = std::max(x.size(), y.size());
    Values r;
    for (size_t i = 0; i < n; ++i) {
      Value a = x[x.size() == 1 ? 0 : i], c = y[y.size() == 1 ? 0 : i];
      switch (b->op) {
      case '+':
        r.push_back(builder.create<arith::AddFOp>(l, a, c));
        break;
      case '-':
        r.push_back(builder.create<arith::SubFOp>(l, a, c));
        break;
      case '*':
        r.push_back(builder.create<arith::MulFOp>(l, a, c));
        break;
      case '/':
        r.push_back(builder.create<arith::DivFOp>(l, a, c));
        break;
      default:
        llvm::report_fatal_error("MLIRGen: unknown binary operator");
      }
    }
    return r;
  }
  if (auto *dx = dyn_cast<ast::DerivExpr>(&e)) {
    Values v = gen(*dx->operand, s);
    Values r;
    for (Value x : v)
      r.push_back(d(l, x, dx->wrtIndex));
    return r;
  }
  return genCall(cast<ast::CallExpr>(e), s);
}

MLIRGenImpl::Values MLIRGenImpl::genCall(const ast::CallExpr &c, Scope &s) {
  Location l = loc(c.getLoc());
  StringRef f = c.callee;
  // A call of one backbone on the expressions `exprs`.
  auto callNet = [&](const CheckedNet &net, ArrayRef<ast::ExprPtr> exprs) {
    SmallVector<Value> args;
    for (const ast::ExprPtr &a : exprs)
      args.push_back(scalar(gen(*a, s)));
    SmallVector<Type> results(net.out, builder.getF64Type());
    auto call = builder.create<NetCallOp>(l, results, net.name,
                                          encodeInputs(l, net, exprs, args));
    return Values(call.getResults().begin(), call.getResults().end());
  };
  if (c.netIndex >= 0 && m.nets[c.netIndex].isDeepONet()) {
    // Output k = sum_{j in group k} B_j(branch) T_j(trunk) + b_k, with
    // ordinary products and sums: derivatives (Leibniz products of the two
    // nets' jets), the reverse sweep and every backend need nothing new.
    const CheckedNet &net = m.nets[c.netIndex];
    const CheckedNet &branch = m.nets[net.branch], &trunk = m.nets[net.trunk];
    ArrayRef<ast::ExprPtr> exprs(c.args);
    Values bv = callNet(branch, exprs.take_front(branch.in));
    Values tv = callNet(trunk, exprs.drop_front(branch.in));
    int per = net.width / net.out;
    Values r;
    for (int k = 0; k < net.out; ++k) {
      Value acc;
      for (int j = k * per; j < (k + 1) * per; ++j) {
        Value p = builder.create<arith::MulFOp>(l, bv[j], tv[j]);
        acc = acc ? builder.create<arith::AddFOp>(l, acc, p).getResult() : p;
      }
      Value bias = builder.create<ParamRefOp>(l, builder.getF64Type(),
                                              deepONetBias(net, k));
      r.push_back(builder.create<arith::AddFOp>(l, acc, bias));
    }
    return r;
  }
  if (c.netIndex >= 0)
    return callNet(m.nets[c.netIndex], c.args);
  std::vector<Values> a;
  for (const ast::ExprPtr &arg : c.args)
    a.push_back(gen(*arg, s));
  auto sum = [&](const Values &terms) {
    Value acc = terms[0];
    for (size_t i = 1; i < terms.size(); ++i)
      acc = builder.create<arith::AddFOp>(l, acc, terms[i]);
    return acc;
  };
  if (f == "grad") {
    Values r;
    for (int sc : spaceCoords)
      r.push_back(d(l, scalar(a[0]), {sc}));
    return r;
  }
  if (f == "div") {
    // div(A, B, ...) or div(V) for a vector V.
    Values comps = a.size() == 1 ? a[0] : Values();
    if (a.size() != 1)
      for (auto &v : a)
        comps.push_back(scalar(v));
    Values terms;
    for (auto [i, sc] : llvm::enumerate(spaceCoords))
      terms.push_back(d(l, comps[i], {sc}));
    return {sum(terms)};
  }
  if (f == "lap") {
    Values terms;
    for (int sc : spaceCoords)
      terms.push_back(d(l, scalar(a[0]), {sc, sc}));
    return {sum(terms)};
  }
  if (f == "dot" || f == "norm") {
    const Values &u = a[0], &v = f == "dot" ? a[1] : a[0];
    Values terms;
    for (size_t i = 0; i < u.size(); ++i)
      terms.push_back(builder.create<arith::MulFOp>(l, u[i], v[i]));
    Value r = sum(terms);
    if (f == "norm")
      r = builder.create<math::SqrtOp>(l, r);
    return {r};
  }
  Value x = scalar(a[0]);
  if (f == "min")
    return {builder.create<arith::MinimumFOp>(l, x, scalar(a[1]))};
  if (f == "max")
    return {builder.create<arith::MaximumFOp>(l, x, scalar(a[1]))};
  if (f == "sin")
    return {builder.create<math::SinOp>(l, x)};
  if (f == "cos")
    return {builder.create<math::CosOp>(l, x)};
  if (f == "tan")
    return {builder.create<math::TanOp>(l, x)};
  if (f == "exp")
    return {builder.create<math::ExpOp>(l, x)};
  if (f == "log")
    return {builder.create<math::LogOp>(l, x)};
  if (f == "sqrt")
    return {builder.create<math::SqrtOp>(l, x)};
  if (f == "tanh")
    return {builder.create<math::TanhOp>(l, x)};
  if (f == "sinh")
    return {builder.create<math::SinhOp>(l, x)};
  if (f == "cosh")
    return {builder.create<math::CoshOp>(l, x)};
  if (f == "abs")
    return {builder.create<math::AbsFOp>(l, x)};
  if (f == "sigmoid") {
    // 1 / (1 + exp(-x))
    Value e =
        builder.create<math::ExpOp>(l, builder.create<arith::NegFOp>(l, x));
    return {builder.create<arith::DivFOp>(
        l, cst(l, 1), builder.create<arith::AddFOp>(l, cst(l, 1), e))};
  }
  if (f == "softplus") {
    // max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|.
    Value ax = builder.create<math::AbsFOp>(l, x);
    Value e =
        builder.create<math::ExpOp>(l, builder.create<arith::NegFOp>(l, ax));
    return {builder.create<arith::AddFOp>(
        l, builder.create<arith::MaximumFOp>(l, x, cst(l, 0)),
        builder.create<math::Log1pOp>(l, e))};
  }
  llvm::report_fatal_error(llvm::Twine("MLIRGen: unknown function '") + f +
                           "'");
}

SmallVector<Value> MLIRGenImpl::encodeInputs(Location l, const CheckedNet &net,
                                             ArrayRef<ast::ExprPtr> exprs,
                                             ArrayRef<Value> args) {
  switch (net.encoding.kind) {
  case CheckedEncoding::Kind::None:
    break;
  case CheckedEncoding::Kind::Periodic:
    return periodicFeatures(l, net.encoding, exprs, args);
  case CheckedEncoding::Kind::Fourier:
    return fourierFeatures(l, net.encoding, args);
  }
  return SmallVector<Value>(args.begin(), args.end());
}

SmallVector<Value> MLIRGenImpl::periodicFeatures(Location l,
                                                 const CheckedEncoding &enc,
                                                 ArrayRef<ast::ExprPtr> exprs,
                                                 ArrayRef<Value> args) {
  SmallVector<Value> features;
  for (auto [arg, v] : llvm::zip(exprs, args)) {
    // Sema made sure that each encoded coordinate is passed as itself, once.
    auto *name = dyn_cast<ast::NameExpr>(arg.get());
    const CheckedEncoding::Periodic *p =
        name && name->ref == ast::NameKind::Coord ? enc.periodicOf(name->index)
                                                  : nullptr;
    if (!p) {
      features.push_back(v);
      continue;
    }
    for (int k = 1; k <= enc.harmonics; ++k) {
      Value theta = builder.create<arith::MulFOp>(
          l, v, cst(l, 2 * llvm::numbers::pi * k / p->period));
      features.push_back(builder.create<math::CosOp>(l, theta));
      features.push_back(builder.create<math::SinOp>(l, theta));
    }
  }
  return features;
}

SmallVector<Value> MLIRGenImpl::fourierFeatures(Location l,
                                                const CheckedEncoding &enc,
                                                ArrayRef<Value> args) {
  size_t in = args.size();
  SmallVector<Value> angles;
  for (int f = 0; f < enc.features; ++f) {
    Value z;
    for (size_t j = 0; j < in; ++j) {
      Value term = builder.create<arith::MulFOp>(
          l, cst(l, 2 * llvm::numbers::pi * enc.B[f * in + j]), args[j]);
      z = z ? builder.create<arith::AddFOp>(l, z, term).getResult() : term;
    }
    angles.push_back(z);
  }
  SmallVector<Value> features;
  for (Value z : angles)
    features.push_back(builder.create<math::CosOp>(l, z));
  for (Value z : angles)
    features.push_back(builder.create<math::SinOp>(l, z));
  return features;
}

OwningOpRef<ModuleOp> MLIRGenImpl::run() {
  Location modelLoc = loc(loaded.module->model.loc);
  OwningOpRef<ModuleOp> module = ModuleOp::create(modelLoc);
  builder.setInsertionPointToEnd(module->getBody());
  auto model = builder.create<ModelOp>(modelLoc, m.name);
  Block *top = builder.createBlock(&model.getBody());
  builder.setInsertionPointToEnd(top);
  auto atTop = [&] { builder.setInsertionPointToEnd(top); };

  SmallVector<int> allCoords;
  for (auto [i, c] : llvm::enumerate(m.coords)) {
    builder.create<CoordOp>(loc(c.loc), builder.getStringAttr(c.name),
                            builder.getStringAttr(c.isTime    ? "time"
                                                  : c.isInput ? "input"
                                                              : "space"),
                            builder.getF64FloatAttr(c.lo),
                            builder.getF64FloatAttr(c.hi));
    allCoords.push_back(i);
    if (c.isSpace())
      spaceCoords.push_back(i);
  }
  for (const CheckedParam &p : m.params) {
    FloatAttr lo, hi;
    if (p.trainable && p.bounded) {
      lo = builder.getF64FloatAttr(p.lo);
      hi = builder.getF64FloatAttr(p.hi);
    }
    builder.create<ParamOp>(loc(p.loc), builder.getStringAttr(p.name),
                            builder.getF64FloatAttr(p.value),
                            p.trainable ? builder.getUnitAttr() : UnitAttr(),
                            lo, hi);
  }
  for (const CheckedNet &n : m.nets) {
    if (n.isDeepONet()) {
      // No phys.net: a deeponet is its two backbones (declared on their
      // own) combined in the fields; its own parameters are the biases.
      for (int k = 0; k < n.out; ++k)
        builder.create<ParamOp>(
            loc(n.loc), builder.getStringAttr(deepONetBias(n, k)),
            builder.getF64FloatAttr(0), builder.getUnitAttr(), FloatAttr(),
            FloatAttr());
      continue;
    }
    SmallVector<int64_t> hidden(n.hidden.begin(), n.hidden.end());
    builder.create<NetOp>(
        loc(n.loc), n.name, n.kind, n.fanIn(), n.out, hidden, n.act, n.init,
        n.kind == "siren" ? builder.getF64FloatAttr(n.w0) : FloatAttr());
  }
  for (auto [fi, f] : llvm::enumerate(m.fields)) {
    for (size_t k = 0; k < f.outputs.size(); ++k) {
      Location l = loc(f.loc);
      atTop();
      auto op = builder.create<FieldOp>(l, f.outputs[k], coordRefs(f.coords));
      Scope s = enterBody(op.getBody(), f.coords, l);
      Values v = gen(*f.value, s);
      builder.create<YieldOp>(l, ValueRange{v[f.outputs.size() == 1 ? 0 : k]});
    }
  }
  for (auto [ei, eq] : llvm::enumerate(m.equations)) {
    Location l = loc(eq.loc);
    atTop();
    SmallVector<Attribute> faces, restrictions;
    for (auto &face : eq.region.faces)
      faces.push_back(builder.getArrayAttr(
          {FlatSymbolRefAttr::get(builder.getContext(),
                                  m.coords[face.coord].name),
           builder.getF64FloatAttr(face.value)}));
    for (auto &r : eq.region.restrictions)
      restrictions.push_back(builder.getArrayAttr(
          {FlatSymbolRefAttr::get(builder.getContext(), m.coords[r.coord].name),
           builder.getF64FloatAttr(r.lo), builder.getF64FloatAttr(r.hi)}));
    const char *kind =
        eq.isData                                         ? "data"
        : eq.region.kind == CheckedRegion::Kind::Interior ? "interior"
        : eq.region.kind == CheckedRegion::Kind::Boundary ? "boundary"
                                                          : "faces";
    double weight = eq.weight * m.lossWeights[ei];
    auto op = builder.create<EquationOp>(
        l, builder.getStringAttr(eq.name), builder.getStringAttr(kind),
        builder.getI64IntegerAttr(eq.samples), builder.getF64FloatAttr(weight),
        faces.empty() ? ArrayAttr() : builder.getArrayAttr(faces),
        restrictions.empty() ? ArrayAttr()
                             : builder.getArrayAttr(restrictions),
        eq.isData ? builder.getStringAttr(eq.dataFile) : StringAttr(),
        m.lossNorms[ei] == "l1" ? builder.getStringAttr("l1") : StringAttr());
    Scope s = enterBody(op.getBody(), allCoords, l);
    if (eq.isData) {
      // residual = field - observed value
      Value u = scalar(gen(*eq.lhs, s));
      Value obs = builder.create<ObservedOp>(l, builder.getF64Type(),
                                             builder.getI64IntegerAttr(0));
      builder.create<YieldOp>(
          l, ValueRange{builder.create<arith::SubFOp>(l, u, obs)});
      continue;
    }
    genLets(s);
    Value lhs = scalar(gen(*eq.lhs, s)), rhs = scalar(gen(*eq.rhs, s));
    Value r = builder.create<arith::SubFOp>(l, lhs, rhs);
    // An inequality constraint's residual is its violation.
    using Rel = ast::EquationStmt::Relation;
    if (eq.relation == Rel::Le)
      r = builder.create<arith::MaximumFOp>(l, r, cst(l, 0.0));
    else if (eq.relation == Rel::Ge)
      r = builder.create<arith::MinimumFOp>(l, r, cst(l, 0.0));
    builder.create<YieldOp>(l, ValueRange{r});
  }
  for (const CheckedExact &ex : m.exacts) {
    Location l = loc(ex.loc);
    atTop();
    std::string field = fieldName(ex.field, ex.output);
    auto op = builder.create<ExactOp>(
        l, "exact_" + field, field,
        ex.value ? StringAttr() : builder.getStringAttr(ex.file));
    if (ex.value) {
      Scope s = enterBody(op.getBody(), allCoords, l);
      builder.create<YieldOp>(l, ValueRange{scalar(gen(*ex.value, s))});
    }
  }
  atTop();
  SmallVector<Attribute> stages;
  for (const CheckedStage &st : m.stages) {
    SmallVector<NamedAttribute> attrs;
    attrs.push_back(
        builder.getNamedAttr("optimizer", builder.getStringAttr(st.optimizer)));
    attrs.push_back(
        builder.getNamedAttr("steps", builder.getI64IntegerAttr(st.steps)));
    for (auto &[k, v] : st.args)
      if (k != "steps")
        attrs.push_back(builder.getNamedAttr(k, builder.getF64FloatAttr(v)));
    if (!st.groups.empty())
      attrs.push_back(builder.getNamedAttr("groups", termGroups(st.groups)));
    stages.push_back(builder.getDictionaryAttr(attrs));
  }
  auto train = builder.create<TrainOp>(
      modelLoc, builder.getStringAttr(m.sampler), builder.getArrayAttr(stages),
      m.resample != "fresh" ? builder.getStringAttr(m.resample) : StringAttr(),
      m.resample == "r3" ? builder.getI64IntegerAttr(m.resampleEvery)
                         : IntegerAttr(),
      m.causalEps > 0 ? builder.getF64FloatAttr(m.causalEps) : FloatAttr(),
      m.causalEps > 0 ? builder.getI64IntegerAttr(m.causalChunks)
                      : IntegerAttr());
  if (m.weighting.scheme != "fixed")
    train->setAttr("weighting", weighting());

  if (failed(verify(*module))) {
    module->emitError("MLIRGen produced an invalid module (a physc bug)");
    return nullptr;
  }
  return module;
}

} // namespace

OwningOpRef<ModuleOp> physc::mlirGen(MLIRContext &context,
                                     const LoadedModel &loaded) {
  context.loadDialect<PhysDialect, arith::ArithDialect, math::MathDialect>();
  return MLIRGenImpl(context, loaded).run();
}
