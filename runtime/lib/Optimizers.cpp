//===- Optimizers.cpp - Adam and L-BFGS -----------------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Optimizers.h"
#include "physrt/Error.h"

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace physrt;

const char *physrt::toString(StopReason r) {
  switch (r) {
  case StopReason::MaxIterations:
    return "max iterations";
  case StopReason::GradientTolerance:
    return "gradient tolerance";
  case StopReason::FunctionTolerance:
    return "function tolerance";
  case StopReason::LineSearchFailed:
    return "line search failed";
  case StopReason::Callback:
    return "stopped";
  }
  return "unknown";
}

//===----------------------------------------------------------------------===//
// Adam
//===----------------------------------------------------------------------===//

Adam::Adam(size_t n, const AdamOptions &opts) : o(opts), m(n, 0.0), v(n, 0.0) {}

void Adam::step(std::vector<double> &x, const std::vector<double> &g) {
  if (x.size() != m.size() || g.size() != m.size())
    throw Error("Adam: expected vectors of size " + std::to_string(m.size()));
  ++t;
  b1t *= o.beta1;
  b2t *= o.beta2;
  double c1 = 1.0 - b1t, c2 = 1.0 - b2t;
  for (size_t i = 0; i < x.size(); ++i) {
    m[i] = o.beta1 * m[i] + (1.0 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1.0 - o.beta2) * g[i] * g[i];
    double mh = m[i] / c1, vh = v[i] / c2;
    x[i] -= o.lr * mh / (std::sqrt(vh) + o.eps);
  }
}

void Adam::restore(const AdamState &S) {
  if (S.m.size() != m.size() || S.v.size() != m.size())
    throw Error("Adam: saved moments have " + std::to_string(S.m.size()) +
                " entries, expected " + std::to_string(m.size()));
  m = S.m;
  v = S.v;
  b1t = S.b1t;
  b2t = S.b2t;
  t = S.t;
}

//===----------------------------------------------------------------------===//
// MultiAdam
//===----------------------------------------------------------------------===//

MultiAdam::MultiAdam(size_t n, size_t groups, const AdamOptions &opts)
    : o(opts) {
  if (groups == 0)
    throw Error("MultiAdam: needs at least one group");
  S.m.assign(groups, std::vector<double>(n, 0.0));
  S.v.assign(groups, std::vector<double>(n, 0.0));
}

void MultiAdam::step(std::vector<double> &x,
                     const std::vector<std::vector<double>> &g) {
  size_t G = S.m.size(), n = S.m[0].size();
  if (g.size() != G)
    throw Error("MultiAdam: expected " + std::to_string(G) +
                " group gradients, got " + std::to_string(g.size()));
  if (x.size() != n)
    throw Error("MultiAdam: expected vectors of size " + std::to_string(n));
  for (const std::vector<double> &gg : g)
    if (gg.size() != n)
      throw Error("MultiAdam: expected vectors of size " + std::to_string(n));
  ++S.t;
  S.b1t *= o.beta1;
  S.b2t *= o.beta2;
  double c1 = 1.0 - S.b1t, c2 = 1.0 - S.b2t;
  double scale = o.lr / static_cast<double>(G);
  for (size_t i = 0; i < n; ++i) {
    double sum = 0;
    for (size_t k = 0; k < G; ++k) {
      double gi = g[k][i];
      double &m = S.m[k][i], &v = S.v[k][i];
      m = o.beta1 * m + (1.0 - o.beta1) * gi;
      v = o.beta2 * v + (1.0 - o.beta2) * gi * gi;
      double mh = m / c1, vh = v / c2;
      sum += mh / (std::sqrt(vh) + o.eps);
    }
    x[i] -= scale * sum;
  }
}

void MultiAdam::restore(const MultiAdamState &saved) {
  bool ok = saved.m.size() == S.m.size() && saved.v.size() == S.m.size();
  for (size_t k = 0; ok && k < S.m.size(); ++k)
    ok = saved.m[k].size() == S.m[k].size() &&
         saved.v[k].size() == S.m[k].size();
  if (!ok)
    throw Error("MultiAdam: saved state has " + std::to_string(saved.m.size()) +
                " groups of another size, expected " +
                std::to_string(S.m.size()) + " groups of " +
                std::to_string(S.m[0].size()));
  S = saved;
}

OptimizeResult physrt::minimizeAdam(const Objective &f, std::vector<double> &x,
                                    const AdamOptions &opts, int64_t iterations,
                                    const IterationCallback &onIter) {
  Adam A(x.size(), opts);
  OptimizeResult R;
  std::vector<double> g(x.size());
  for (int64_t it = 0; it < iterations; ++it) {
    double fx = f(x, g);
    ++R.evaluations;
    R.f = fx;
    if (!std::isfinite(fx)) {
      std::ostringstream os;
      os << "Adam: the objective is " << fx << " at step " << it;
      throw Error(os.str());
    }
    A.step(x, g);
    R.iterations = it + 1;
    if (onIter && !onIter(it, fx, g)) {
      R.stop = StopReason::Callback;
      return R;
    }
  }
  R.stop = StopReason::MaxIterations;
  return R;
}

//===----------------------------------------------------------------------===//
// L-BFGS
//===----------------------------------------------------------------------===//

namespace {

double dot(const std::vector<double> &a, const std::vector<double> &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}

double normInf(const std::vector<double> &a) {
  double s = 0;
  for (double x : a)
    s = std::max(s, std::abs(x));
  return s;
}

/// A trial step of the line search: step length, phi(a) and phi'(a).
struct Trial {
  double a, f, d;
};

/// Minimiser of the cubic interpolating two trials (values and slopes),
/// N&W eq. (3.59), clamped to [lo, hi]; the midpoint of [lo, hi] where the
/// cubic has no minimiser or the data are not finite.
double cubicMinimizer(const Trial &p, const Trial &q, double lo, double hi) {
  const Trial &a = p.a <= q.a ? p : q;
  const Trial &b = p.a <= q.a ? q : p;
  double d1 = a.d + b.d - 3.0 * (a.f - b.f) / (a.a - b.a);
  double d2sq = d1 * d1 - a.d * b.d;
  if (std::isfinite(d2sq) && d2sq >= 0) {
    double d2 = std::sqrt(d2sq);
    double t = b.a - (b.a - a.a) * ((b.d + d2 - d1) / (b.d - a.d + 2.0 * d2));
    if (std::isfinite(t))
      return std::min(std::max(t, lo), hi);
  }
  return 0.5 * (lo + hi);
}

/// Strong Wolfe line search along `dir` from `x0` (N&W Alg. 3.5 and 3.6).
class LineSearch {
public:
  LineSearch(const Objective &f, const std::vector<double> &x0,
             const std::vector<double> &dir, double phi0, double dphi0,
             const LbfgsOptions &o)
      : f(f), x0(x0), dir(dir), phi0(phi0), dphi0(dphi0), o(o) {
    xt.resize(x0.size());
    gt.resize(x0.size());
  }

  /// Returns true if a point satisfying the strong Wolfe conditions was
  /// found; it is then in xt / ft / gt. Otherwise the lowest point seen with
  /// f < phi0, if any, is in bestX / bestF / bestG (hasBest).
  bool run(double a1) {
    Trial prev{0, phi0, dphi0};
    double a = a1;
    for (int i = 0;; ++i) {
      if (evals >= o.maxLineSearchEvals)
        return false;
      Trial cur = eval(a);
      if (cur.f > phi0 + o.c1 * a * dphi0 || (i > 0 && cur.f >= prev.f))
        return zoom(prev, cur);
      if (std::abs(cur.d) <= -o.c2 * dphi0)
        return true;
      if (cur.d >= 0)
        return zoom(cur, prev);
      // Extrapolate: at least a bit beyond `a`, at most 10 times it.
      double next =
          cubicMinimizer(prev, cur, a + 0.01 * (a - prev.a), 10.0 * a);
      prev = cur;
      a = next;
    }
  }

  int evals = 0;
  std::vector<double> xt, gt;
  double ft = 0;
  bool hasBest = false;
  std::vector<double> bestX, bestG;
  double bestF = 0;

private:
  Trial eval(double a) {
    for (size_t i = 0; i < xt.size(); ++i)
      xt[i] = x0[i] + a * dir[i];
    ft = f(xt, gt);
    ++evals;
    if (!std::isfinite(ft))
      return {a, HUGE_VAL, NAN};
    if (ft < phi0 && (!hasBest || ft < bestF)) {
      hasBest = true;
      bestF = ft;
      bestX = xt;
      bestG = gt;
    }
    return {a, ft, dot(gt, dir)};
  }

  /// `lo` satisfies sufficient decrease with the lowest value so far; the
  /// interval between lo and hi contains strong Wolfe points.
  bool zoom(Trial lo, Trial hi) {
    while (evals < o.maxLineSearchEvals) {
      double amin = std::min(lo.a, hi.a), amax = std::max(lo.a, hi.a);
      double w = amax - amin;
      if (!(w > 1e-16 * std::max(1.0, amax)))
        return false; // interval collapsed
      // Keep the trial off the interval's ends so it always shrinks.
      double a = cubicMinimizer(lo, hi, amin + 0.1 * w, amax - 0.1 * w);
      Trial cur = eval(a);
      if (cur.f > phi0 + o.c1 * a * dphi0 || cur.f >= lo.f) {
        hi = cur;
      } else {
        if (std::abs(cur.d) <= -o.c2 * dphi0)
          return true;
        if (cur.d * (hi.a - lo.a) >= 0)
          hi = lo;
        lo = cur;
      }
    }
    return false;
  }

  const Objective &f;
  const std::vector<double> &x0, &dir;
  double phi0, dphi0;
  const LbfgsOptions &o;
};

} // namespace

void LbfgsHistory::pairs(std::vector<std::vector<double>> &S,
                         std::vector<std::vector<double>> &Y,
                         std::vector<double> &Rho) const {
  S.clear();
  Y.clear();
  Rho.clear();
  for (size_t k = 0; k < count; ++k) {
    size_t j = (head + k) % s.size();
    S.push_back(s[j]);
    Y.push_back(y[j]);
    Rho.push_back(rho[j]);
  }
}

void LbfgsHistory::assign(std::vector<std::vector<double>> S,
                          std::vector<std::vector<double>> Y,
                          std::vector<double> Rho) {
  if (Y.size() != S.size() || Rho.size() != S.size())
    throw Error("L-BFGS: history has unequal numbers of s, y and rho");
  count = S.size();
  head = 0;
  s = std::move(S);
  y = std::move(Y);
  rho = std::move(Rho);
  stopping = false;
}

OptimizeResult physrt::minimizeLbfgs(const Objective &f, std::vector<double> &x,
                                     const LbfgsOptions &o,
                                     const IterationCallback &onIter,
                                     LbfgsHistory *history) {
  if (o.history < 1)
    throw Error("L-BFGS: history must be at least 1");
  LbfgsHistory local;
  LbfgsHistory &H = history ? *history : local;
  if (H.count > static_cast<size_t>(o.history))
    throw Error("L-BFGS: the saved history has " + std::to_string(H.count) +
                " pairs, more than the " + std::to_string(o.history) +
                " allowed");
  for (size_t k = 0; k < H.count; ++k)
    if (H.s[(H.head + k) % H.s.size()].size() != x.size() ||
        H.y[(H.head + k) % H.s.size()].size() != x.size())
      throw Error("L-BFGS: the saved history is not of size " +
                  std::to_string(x.size()));
  H.stopping = false;
  size_t n = x.size();
  OptimizeResult R;
  std::vector<double> g(n);
  double fx = f(x, g);
  R.evaluations = 1;
  R.f = fx;
  if (!std::isfinite(fx)) {
    std::ostringstream os;
    os << "L-BFGS: the objective is " << fx << " at the starting point";
    throw Error(os.str());
  }
  if (normInf(g) <= o.gradTolerance) {
    R.stop = StopReason::GradientTolerance;
    return R;
  }

  // Ring buffer of curvature pairs, oldest first from `head`.
  size_t m = static_cast<size_t>(o.history);
  std::vector<std::vector<double>> &S = H.s, &Y = H.y;
  std::vector<double> &rho = H.rho, alpha(m);
  size_t &head = H.head, &count = H.count;
  if (count == 0)
    head = 0;
  std::vector<double> d(n), s(n), y(n);

  for (int64_t it = 0; it < o.maxIterations; ++it) {
    // Two-loop recursion: d = -H g.
    for (size_t i = 0; i < n; ++i)
      d[i] = -g[i];
    for (size_t k = count; k-- > 0;) {
      size_t j = (head + k) % m;
      alpha[k] = rho[j] * dot(S[j], d);
      for (size_t i = 0; i < n; ++i)
        d[i] -= alpha[k] * Y[j][i];
    }
    if (count > 0) {
      size_t j = (head + count - 1) % m;
      double gamma = dot(S[j], Y[j]) / dot(Y[j], Y[j]);
      for (double &di : d)
        di *= gamma;
    }
    for (size_t k = 0; k < count; ++k) {
      size_t j = (head + k) % m;
      double beta = rho[j] * dot(Y[j], d);
      for (size_t i = 0; i < n; ++i)
        d[i] += (alpha[k] - beta) * S[j][i];
    }
    double dphi0 = dot(g, d);
    if (!(dphi0 < 0)) {
      // Not a descent direction (rounding in a poorly scaled history):
      // forget the history and take steepest descent.
      count = 0;
      head = 0;
      for (size_t i = 0; i < n; ++i)
        d[i] = -g[i];
      dphi0 = -dot(g, g);
    }
    double a1 = 1.0;
    if (count == 0) {
      double g1 = 0;
      for (double gi : g)
        g1 += std::abs(gi);
      a1 = std::min(1.0, 1.0 / g1);
    }

    LineSearch LS(f, x, d, fx, dphi0, o);
    bool ok = LS.run(a1);
    R.evaluations += LS.evals;
    const std::vector<double> *xn = &LS.xt, *gn = &LS.gt;
    double fn = LS.ft;
    if (!ok) {
      if (LS.hasBest) {
        x = LS.bestX;
        g = LS.bestG;
        fx = LS.bestF;
        R.iterations = it + 1;
      }
      R.f = fx;
      R.stop = StopReason::LineSearchFailed;
      H.stopping = true;
      if (onIter && LS.hasBest)
        onIter(it, fx, g);
      return R;
    }

    for (size_t i = 0; i < n; ++i) {
      s[i] = (*xn)[i] - x[i];
      y[i] = (*gn)[i] - g[i];
    }
    double sy = dot(s, y);
    if (sy > o.curvatureEps * std::sqrt(dot(s, s) * dot(y, y))) {
      size_t j;
      if (count < m) {
        j = (head + count) % m;
        ++count;
      } else {
        j = head;
        head = (head + 1) % m;
      }
      if (S.size() <= j) {
        S.resize(j + 1);
        Y.resize(j + 1);
        rho.resize(j + 1);
      }
      S[j] = s;
      Y[j] = y;
      rho[j] = 1.0 / sy;
    }
    double fprev = fx;
    x = *xn;
    g = *gn;
    fx = fn;
    R.iterations = it + 1;
    R.f = fx;
    if (onIter && !onIter(it, fx, g)) {
      R.stop = StopReason::Callback;
      return R;
    }
    if (normInf(g) <= o.gradTolerance) {
      R.stop = StopReason::GradientTolerance;
      return R;
    }
    if (o.functionTolerance > 0 &&
        std::abs(fprev - fx) <=
            o.functionTolerance * std::max(1.0, std::abs(fx))) {
      R.stop = StopReason::FunctionTolerance;
      return R;
    }
  }
  R.stop = StopReason::MaxIterations;
  return R;
}
