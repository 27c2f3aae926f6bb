//===- GradCheck.cpp - physc gradcheck: jets and gradients vs FD ----------===//
//
// Part of physc. Compiles the model in f64 and checks, at random points,
//  - every jet order: each derivative a `jets` kernel yields against a
//    central finite difference (Richardson-extrapolated, O(h^4)) of the
//    derivative one order below, so all orders are checked by induction
//    from the plain value;
//  - every loss kernel's parameter gradient: along random directions and
//    for random single parameters, against finite differences of the loss.
// Prints the max relative error per term; exits 1 above tolerance.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "JITModel.h"

#include "physrt/Init.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include "llvm/Support/Format.h"

#include <cmath>

using namespace physc;
namespace cl = llvm::cl;

cl::SubCommand physc::gradcheckCmd(
    "gradcheck", "Check derivatives and gradients against finite differences");
static cl::opt<std::string> input(cl::Positional, cl::desc("<file.phys>"),
                                  cl::sub(gradcheckCmd));
static cl::opt<int64_t> points("points", cl::desc("Random points per term"),
                               cl::init(64), cl::sub(gradcheckCmd));
static cl::opt<uint64_t> gcSeed("seed", cl::desc("Random seed"), cl::init(1),
                                cl::sub(gradcheckCmd));
static cl::opt<double> jetTol("jet-tolerance",
                              cl::desc("Max relative error of a jet"),
                              cl::init(1e-6), cl::sub(gradcheckCmd));
static cl::opt<double> gradTol("grad-tolerance",
                               cl::desc("Max relative error of a gradient"),
                               cl::init(1e-5), cl::sub(gradcheckCmd));

namespace {

/// Points of the interior, kept 1% away from the faces so that the finite
/// difference stencils stay inside the box.
physrt::Batch interiorPoints(const physrt::CompiledModel &M, int64_t n,
                             physrt::Rng &rng) {
  physrt::Batch b;
  b.n = n;
  b.ld = physrt::paddedLd(n);
  b.pts.assign(M.coords.size() * b.ld, 0);
  for (size_t c = 0; c < M.coords.size(); ++c) {
    double lo = M.coords[c].lo, hi = M.coords[c].hi, m = 0.01 * (hi - lo);
    for (int64_t i = 0; i < b.ld; ++i)
      b.pts[c * b.ld + i] =
          i < n ? rng.uniform(lo + m, hi - m) : b.pts[c * b.ld + n - 1];
  }
  return b;
}

std::vector<double> evalAt(const physrt::EvalFn &fn, int outputs,
                           const std::vector<double> &params,
                           const physrt::Batch &b,
                           const std::vector<double> &rt) {
  std::vector<double> out(outputs * b.ld, 0);
  fn(params.data(), b.pts.data(), b.ld, b.n, rt.data(), out.data());
  return out;
}

/// max(a, b) that keeps a NaN: a NaN error must fail the check, and
/// std::max(x, NaN) would silently drop it.
double worse(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
}

/// Max relative error of `a` against the reference `ref` over the first
/// `n` entries, relative to the largest reference magnitude (and no less
/// than `floor`, for derivatives that vanish identically).
double relError(const double *a, const double *ref, int64_t n, double floor) {
  double err = 0, scale = floor;
  for (int64_t i = 0; i < n; ++i) {
    err = worse(err, std::abs(a[i] - ref[i]));
    scale = worse(scale, std::abs(ref[i]));
  }
  return err / scale;
}

} // namespace

int physc::runGradcheck() {
  if (input.empty())
    return usageError("gradcheck", "expected a file: 'physc gradcheck FILE'");
  if (points < 1)
    return usageError("gradcheck", "--points must be positive");
  auto jit = JITModel::compileFile(input, "f64", llvm::errs());
  if (!jit)
    return 1;
  physrt::CompiledModel &M = jit->model();
  std::vector<double> params = physrt::initParams(M, gcSeed);
  std::vector<double> rt = physrt::runtimeValues(M, {});
  physrt::Rng rng(gcSeed * 7919 + 13);
  bool ok = true;
  llvm::outs() << llvm::format(
      "%-16s %-8s %12s %12s  %s\n", (const char *)"term", (const char *)"check",
      (const char *)"max rel err", (const char *)"tolerance",
      (const char *)"result");
  auto report = [&](const std::string &term, const char *what, double err,
                    double tol) {
    bool pass = err <= tol && std::isfinite(err);
    ok &= pass;
    llvm::outs() << llvm::format("%-16s %-8s %12.3e %12.1e  %s\n", term.c_str(),
                                 what, err, tol, pass ? "ok" : "FAIL");
  };

  // Jets: yield hi == d/d(coord) yield lo, by Richardson-extrapolated
  // central differences of the kernel itself.
  for (const JITModel::Jets &j : jit->jets()) {
    physrt::Batch b = interiorPoints(M, points, rng);
    std::vector<double> base = evalAt(j.eval, j.outputs, params, b, rt);
    double worst = 0;
    for (auto [lo, hi, coord] : j.checks) {
      double span = M.coords[coord].hi - M.coords[coord].lo;
      double h = 2e-3 * span;
      auto central = [&](double step) {
        physrt::Batch p = b, m = b;
        for (int64_t i = 0; i < b.n; ++i) {
          p.pts[coord * b.ld + i] += step;
          m.pts[coord * b.ld + i] -= step;
        }
        std::vector<double> fp = evalAt(j.eval, j.outputs, params, p, rt);
        std::vector<double> fm = evalAt(j.eval, j.outputs, params, m, rt);
        std::vector<double> d(b.n);
        for (int64_t i = 0; i < b.n; ++i)
          d[i] = (fp[lo * b.ld + i] - fm[lo * b.ld + i]) / (2 * step);
        return d;
      };
      std::vector<double> d1 = central(h), d2 = central(h / 2), fd(b.n);
      for (int64_t i = 0; i < b.n; ++i)
        fd[i] = (4 * d2[i] - d1[i]) / 3;
      double floor = 0;
      for (int64_t i = 0; i < b.n; ++i)
        floor = std::max(floor, 1e-6 * std::abs(base[lo * b.ld + i]));
      worst = worse(worst, relError(base.data() + hi * b.ld, fd.data(), b.n,
                                    std::max(floor, 1e-12)));
    }
    report(j.equation, "jets", worst, jetTol);
  }

  // Parameter gradients of each term's sum of squared residuals.
  for (const physrt::Term &t : M.terms) {
    // A data term's kernel reads its observations: use its own rows.
    physrt::Batch b =
        t.dataCount > 0 ? physrt::makeBatch(t.data.data(), t.dataCount,
                                            t.dataCount, t.dataColumns)
                        : physrt::sample(M, t.region, points, rng);
    auto loss = [&](const std::vector<double> &p, std::vector<double> *g) {
      double l = 0;
      std::vector<double> gg(M.numParams, 0);
      t.lossGrad(p.data(), b.pts.data(), b.ld, b.n, rt.data(), &l, gg.data());
      if (g)
        *g = gg;
      return l;
    };
    std::vector<double> g;
    loss(params, &g);
    double gmax = 0;
    for (double x : g)
      gmax = std::max(gmax, std::abs(x));
    auto fdAlong = [&](const std::vector<double> &v) {
      // Richardson on central differences, step relative to the params.
      double h = 1e-4;
      auto at = [&](double s) {
        std::vector<double> p = params;
        for (int64_t k = 0; k < M.numParams; ++k)
          p[k] += s * v[k];
        return loss(p, nullptr);
      };
      double d1 = (at(h) - at(-h)) / (2 * h);
      double d2 = (at(h / 2) - at(-h / 2)) / h;
      return (4 * d2 - d1) / 3;
    };
    double worst = 0;
    for (int k = 0; k < 6; ++k) { // random directions
      std::vector<double> v(M.numParams);
      double norm = 0;
      for (double &x : v) {
        x = rng.normal();
        norm += x * x;
      }
      for (double &x : v)
        x /= std::sqrt(norm);
      double dot = 0;
      for (int64_t i = 0; i < M.numParams; ++i)
        dot += g[i] * v[i];
      double fd = fdAlong(v);
      worst = worse(worst, std::abs(dot - fd) /
                               std::max({std::abs(dot), std::abs(fd), 1e-10}));
    }
    // Single parameters: 12 at random, and every trainable param.
    std::vector<int64_t> singles;
    for (int k = 0; k < 12; ++k)
      singles.push_back((int64_t)(rng.uniform() * M.numParams) % M.numParams);
    for (const physrt::ParamBlock &B : M.blocks)
      if (B.runtimeParam >= 0)
        singles.push_back(B.offset);
    for (int64_t i : singles) {
      std::vector<double> v(M.numParams, 0);
      v[i] = 1;
      double fd = fdAlong(v);
      worst = worse(worst, std::abs(g[i] - fd) /
                               std::max({std::abs(g[i]), std::abs(fd),
                                         1e-4 * gmax, 1e-12}));
    }
    report(t.name, "gradient", worst, gradTol);
  }
  return ok ? 0 : 1;
}
