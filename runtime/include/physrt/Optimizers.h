//===- Optimizers.h - Adam and L-BFGS ---------------------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). The two optimisers PINN training
// chains: Adam on freshly sampled points, then L-BFGS on a fixed batch. Both
// work on a plain objective f(x) -> (value, gradient), so they are tested on
// textbook functions independently of any model.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_OPTIMIZERS_H
#define PHYSRT_OPTIMIZERS_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace physrt {

/// Returns f(x) and writes its gradient to `g` (resized by the callee if
/// needed). May be evaluated at points where f is not finite; the optimisers
/// handle that (L-BFGS backtracks; Adam reports it).
using Objective =
    std::function<double(const std::vector<double> &x, std::vector<double> &g)>;

/// Called after each iteration with its index (from 0), the objective value
/// at the iterate before the update (Adam) or after it (L-BFGS), and the
/// gradient there. Returning false stops the optimiser.
using IterationCallback =
    std::function<bool(int64_t iter, double f, const std::vector<double> &g)>;

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

/// Everything Adam carries from one step to the next, so a checkpoint can
/// hold it and a resumed run continue bit-exactly.
struct AdamState {
  std::vector<double> m, v; ///< first and second moments
  double b1t = 1, b2t = 1;  ///< beta1^t, beta2^t as running products
  int64_t t = 0;            ///< steps taken
};

/// Adam (Kingma & Ba), bias-corrected:
///   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
///   x -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
/// The powers b^t are kept as running products, which is exact IEEE
/// arithmetic and so reproducible everywhere.
class Adam {
public:
  Adam(size_t n, const AdamOptions &opts);
  /// Applies one update to `x` from the gradient `g` at `x`.
  void step(std::vector<double> &x, const std::vector<double> &g);
  int64_t steps() const { return t; }
  const std::vector<double> &firstMoment() const { return m; }
  const std::vector<double> &secondMoment() const { return v; }
  /// A copy of the moments, powers and step count.
  AdamState state() const { return {m, v, b1t, b2t, t}; }
  /// Continues from a saved state; throws Error if its moments are not of
  /// this optimiser's size.
  void restore(const AdamState &S);

private:
  AdamOptions o;
  std::vector<double> m, v;
  double b1t = 1, b2t = 1;
  int64_t t = 0;
};

/// Everything MultiAdam carries from one step to the next: the moments of
/// each group (m[g], v[g]) and the shared step count and powers.
struct MultiAdamState {
  std::vector<std::vector<double>> m, v;
  double b1t = 1, b2t = 1;
  int64_t t = 0;
};

/// MultiAdam (Yao et al., ICML 2023, Alg. 1): the loss terms are split into
/// G groups; group g keeps its own Adam moments of the gradient of its own
/// loss L_g, and the update averages the groups' normalised steps:
///   m_g = b1 m_g + (1 - b1) g_g,  v_g = b2 v_g + (1 - b2) g_g^2,
///   x -= lr / G * sum_g (m_g / (1 - b1^t)) / (sqrt(v_g / (1 - b2^t)) + eps).
/// Each group's step is invariant to the scale of its loss, so a group
/// whose loss is 1e6 times smaller still moves the parameters as much.
/// The groups are summed in order: reproducible bit for bit.
class MultiAdam {
public:
  MultiAdam(size_t n, size_t groups, const AdamOptions &opts);
  /// One update of `x` from each group's gradient (`g.size()` == groups).
  void step(std::vector<double> &x, const std::vector<std::vector<double>> &g);
  int64_t steps() const { return S.t; }
  size_t groups() const { return S.m.size(); }
  const MultiAdamState &state() const { return S; }
  /// Continues from a saved state; throws Error if its shape differs.
  void restore(const MultiAdamState &saved);

private:
  AdamOptions o;
  MultiAdamState S;
};

enum class StopReason {
  MaxIterations,     ///< ran all iterations it was given
  GradientTolerance, ///< |g|_inf fell to the tolerance
  FunctionTolerance, ///< relative change of f fell to the tolerance
  LineSearchFailed,  ///< no step satisfied the strong Wolfe conditions
  Callback,          ///< the iteration callback asked to stop
};
const char *toString(StopReason r);

struct OptimizeResult {
  double f = 0; ///< objective at the returned x
  int64_t iterations = 0;
  int64_t evaluations = 0;
  StopReason stop = StopReason::MaxIterations;
};

/// Runs `iterations` Adam steps from `x`, evaluating f once per step (so a
/// stochastic objective sees a fresh sample each step). Throws Error if f is
/// not finite at a step, naming the step. `f` in the result is the value at
/// the last evaluated point (before the last update).
OptimizeResult minimizeAdam(const Objective &f, std::vector<double> &x,
                            const AdamOptions &opts, int64_t iterations,
                            const IterationCallback &onIter = {});

struct LbfgsOptions {
  int64_t maxIterations = 1000;
  int64_t history = 50;
  /// Stop when |g|_inf <= gradTolerance.
  double gradTolerance = 1e-12;
  /// Stop when |f_prev - f| <= functionTolerance * max(1, |f|); 0 disables.
  double functionTolerance = 0;
  /// Strong Wolfe constants (sufficient decrease, curvature).
  double c1 = 1e-4, c2 = 0.9;
  /// Objective evaluations allowed per line search.
  int maxLineSearchEvals = 25;
  /// A curvature pair is stored only if s'y > curvatureEps * |s| |y|, i.e.
  /// the step saw clearly positive curvature; otherwise it is skipped so the
  /// inverse-Hessian approximation stays positive definite.
  double curvatureEps = 1e-10;
};

/// The curvature pairs L-BFGS carries from one iteration to the next: a ring
/// buffer whose logical pair k (oldest first) is at (head + k) % capacity.
/// The iterate's value and gradient are not kept: evaluating the (fixed
/// batch) objective again at the iterate gives them bit-exactly, so x and
/// these pairs are all a resumed run needs.
struct LbfgsHistory {
  std::vector<std::vector<double>> s, y;
  std::vector<double> rho; ///< 1 / s'y of each pair
  size_t head = 0, count = 0;
  /// Set while the callback sees an iteration after which L-BFGS stops
  /// (its line search failed): a checkpoint taken there would resume into
  /// iterations the uninterrupted run never makes.
  bool stopping = false;
  /// The pairs in logical order, oldest first.
  void pairs(std::vector<std::vector<double>> &S,
             std::vector<std::vector<double>> &Y,
             std::vector<double> &Rho) const;
  /// Replaces the buffer by these pairs (oldest first, head 0).
  void assign(std::vector<std::vector<double>> S,
              std::vector<std::vector<double>> Y, std::vector<double> Rho);
};

/// L-BFGS (Nocedal & Wright, Alg. 7.4/7.5): two-loop recursion over the last
/// `history` pairs, initial matrix gamma I with gamma = s'y / y'y, and a
/// strong Wolfe line search (Alg. 3.5 with zoom, Alg. 3.6, using cubic
/// interpolation). The first step is scaled to min(1, 1/|g|_1). On return
/// `x` is the best point found. Stops on the gradient or function
/// tolerance, after maxIterations, when the line search fails (after taking
/// its best point if that lowered f), or when the callback says so.
/// With `history`, starts from its pairs (none for a fresh run; more than
/// opts.history is an Error) and keeps it current: it holds the pairs after
/// each iteration when the callback runs, so a checkpoint taken there can
/// continue the run exactly.
OptimizeResult minimizeLbfgs(const Objective &f, std::vector<double> &x,
                             const LbfgsOptions &opts,
                             const IterationCallback &onIter = {},
                             LbfgsHistory *history = nullptr);

} // namespace physrt

#endif // PHYSRT_OPTIMIZERS_H
