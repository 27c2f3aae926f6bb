//===- TestModels.h - Hand-written kernels for runtime tests ----*- C++ -*-===//
//
// Part of physc's runtime tests. The compiler generates LossGradFn/EvalFn
// kernels; these tests write such kernels by hand so the runtime is checked
// without LLVM: a straight-line fit (exactly solvable) and a small tanh MLP
// fitted to a smooth function (enough floating-point work that a changed
// summation order would show).
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_TEST_TESTMODELS_H
#define PHYSRT_TEST_TESTMODELS_H

#include "physrt/Model.h"

#include <cmath>

namespace physrt::test {

/// u(x) = a + b x on x in [-1, 1], fitted to 2 + k x (k a runtime param,
/// default 3) by the residual u - (2 + k x) on the interior.
inline CompiledModel lineModel() {
  CompiledModel M;
  M.name = "line";
  M.coords = {{"x", false, -1.0, 1.0}};
  M.numParams = 2;
  ParamBlock B;
  B.name = "w";
  B.offset = 0;
  B.rows = 1;
  B.cols = 2;
  B.fanIn = 1;
  B.fanOut = 1;
  M.blocks = {B};
  M.runtimeParams = {{"k", 3.0}};
  Term T;
  T.name = "fit";
  T.samples = 256;
  T.lossGrad = [](const double *p, const double *pts, int64_t, int64_t n,
                  const double *rt, double *loss, double *grad) {
    for (int64_t i = 0; i < n; ++i) {
      double x = pts[i];
      double r = p[0] + p[1] * x - (2.0 + rt[0] * x);
      *loss += r * r;
      grad[0] += 2 * r;
      grad[1] += 2 * r * x;
    }
  };
  M.terms = {T};
  FieldOutput F;
  F.name = "u";
  F.eval = [](const double *p, const double *pts, int64_t, int64_t n,
              const double *, double *out) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = p[0] + p[1] * pts[i];
  };
  M.fields = {F};
  Exact E;
  E.field = 0;
  E.eval = [](const double *, const double *pts, int64_t, int64_t n,
              const double *rt, double *out) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = 2.0 + rt[0] * pts[i];
  };
  M.exacts = {E};
  Stage A;
  A.optimizer = "adam";
  A.steps = 300;
  A.lr = 0.05;
  Stage L;
  L.optimizer = "lbfgs";
  L.steps = 50;
  M.stages = {A, L};
  return M;
}

/// The target of the MLP model: g(x, y) = sin(pi x) cos(y).
inline double mlpTarget(double x, double y) {
  return std::sin(M_PI * x) * std::cos(y);
}

/// Evaluates a one-hidden-layer tanh MLP on 2 inputs (params: W1 (H x 2),
/// b1 (H), W2 (1 x H), b2) and, if `dr` is non-null, accumulates
/// scale * d(out)/d(params) into it.
inline double mlpForward(const double *p, int H, double x, double y, double *dr,
                         double scale) {
  const double *W1 = p, *b1 = p + 2 * H, *W2 = p + 3 * H, *b2 = p + 4 * H;
  double out = b2[0];
  for (int j = 0; j < H; ++j) {
    double h = std::tanh(W1[2 * j] * x + W1[2 * j + 1] * y + b1[j]);
    out += W2[j] * h;
    if (dr) {
      double dz = scale * W2[j] * (1 - h * h);
      dr[2 * j] += dz * x;
      dr[2 * j + 1] += dz * y;
      dr[2 * H + j] += dz;
      dr[3 * H + j] += scale * h;
    }
  }
  if (dr)
    dr[4 * H] += scale;
  return out;
}

/// A tanh MLP u(x, y) on [-1, 1] x [0, 2] (y is a time) fitted to mlpTarget
/// on the interior ("fit") and on the faces x = +-1 ("edge", weight 10).
inline CompiledModel mlpModel(int H = 8) {
  CompiledModel M;
  M.name = "mlp";
  M.coords = {{"x", false, -1.0, 1.0}, {"y", true, 0.0, 2.0}};
  M.numParams = 4 * H + 1;
  auto block = [](std::string name, int64_t off, int64_t r, int64_t c,
                  bool bias, int64_t fi, int64_t fo) {
    ParamBlock B;
    B.name = std::move(name);
    B.offset = off;
    B.rows = r;
    B.cols = c;
    B.isBias = bias;
    B.fanIn = fi;
    B.fanOut = fo;
    return B;
  };
  M.blocks = {block("N.layer0.weight", 0, H, 2, false, 2, H),
              block("N.layer0.bias", 2 * H, H, 1, true, 2, H),
              block("N.layer1.weight", 3 * H, 1, H, false, H, 1),
              block("N.layer1.bias", 4 * H, 1, 1, true, H, 1)};
  LossGradFn fn = [H](const double *p, const double *pts, int64_t ld, int64_t n,
                      const double *, double *loss, double *grad) {
    for (int64_t i = 0; i < n; ++i) {
      double x = pts[i], y = pts[ld + i];
      double r = mlpForward(p, H, x, y, nullptr, 0) - mlpTarget(x, y);
      *loss += r * r;
      mlpForward(p, H, x, y, grad, 2 * r);
    }
  };
  Term fit;
  fit.name = "fit";
  fit.samples = 2500;
  fit.lossGrad = fn;
  Term edge;
  edge.name = "edge";
  edge.region.kind = Region::Kind::Faces;
  edge.region.faces = {{0, -1.0}, {0, 1.0}};
  edge.samples = 300;
  edge.weight = 10;
  edge.lossGrad = fn;
  M.terms = {fit, edge};
  FieldOutput F;
  F.name = "u";
  F.eval = [H](const double *p, const double *pts, int64_t ld, int64_t n,
               const double *, double *out) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = mlpForward(p, H, pts[i], pts[ld + i], nullptr, 0);
  };
  M.fields = {F};
  Exact E;
  E.field = 0;
  E.eval = [](const double *, const double *pts, int64_t ld, int64_t n,
              const double *, double *out) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = mlpTarget(pts[i], pts[ld + i]);
  };
  M.exacts = {E};
  Stage A;
  A.optimizer = "adam";
  A.steps = 200;
  A.lr = 1e-2;
  Stage L;
  L.optimizer = "lbfgs";
  L.steps = 100;
  M.stages = {A, L};
  return M;
}

} // namespace physrt::test

#endif // PHYSRT_TEST_TESTMODELS_H
