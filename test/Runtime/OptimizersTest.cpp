//===- OptimizersTest.cpp - Tests of Adam and L-BFGS ----------------------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Optimizers.h"
#include "physrt/Error.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace physrt;

namespace {

double rosenbrock(const std::vector<double> &x, std::vector<double> &g) {
  size_t n = x.size();
  g.assign(n, 0.0);
  double f = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    double a = 1 - x[i], b = x[i + 1] - x[i] * x[i];
    f += a * a + 100 * b * b;
    g[i] += -2 * a - 400 * x[i] * b;
    g[i + 1] += 200 * b;
  }
  return f;
}

/// sum_i c_i (x_i - i)^2 with condition number 1e4.
double quadratic(const std::vector<double> &x, std::vector<double> &g) {
  g.resize(x.size());
  double f = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double c = std::pow(10.0, 4.0 * i / (x.size() - 1));
    double d = x[i] - static_cast<double>(i);
    f += c * d * d;
    g[i] = 2 * c * d;
  }
  return f;
}

} // namespace

TEST(Adam, FirstTwoStepsMatchTheFormula) {
  AdamOptions o;
  o.lr = 0.1;
  Adam A(2, o);
  std::vector<double> x = {1.0, -2.0};
  std::vector<double> g1 = {2.0, -0.5}, g2 = {1.0, 0.25};
  A.step(x, g1);
  A.step(x, g2);
  // Independent evaluation of the bias-corrected update.
  std::vector<double> want = {1.0, -2.0};
  for (int i = 0; i < 2; ++i) {
    double m = 0, v = 0;
    double gs[2] = {g1[i], g2[i]};
    for (int t = 1; t <= 2; ++t) {
      m = 0.9 * m + 0.1 * gs[t - 1];
      v = 0.999 * v + 0.001 * gs[t - 1] * gs[t - 1];
      double mh = m / (1 - std::pow(0.9, t));
      double vh = v / (1 - std::pow(0.999, t));
      want[i] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
    }
    EXPECT_NEAR(x[i], want[i], 1e-15) << i;
  }
  // The first step moves each coordinate by lr against its gradient sign.
  Adam B(1, o);
  std::vector<double> y = {0.0};
  B.step(y, {5.0});
  EXPECT_NEAR(y[0], -0.1, 1e-9);
  EXPECT_EQ(A.steps(), 2);
}

TEST(Adam, ConvergesOnAQuadratic) {
  std::vector<double> x(5, 0.0);
  AdamOptions o;
  o.lr = 0.05;
  OptimizeResult R = minimizeAdam(quadratic, x, o, 4000);
  EXPECT_EQ(R.iterations, 4000);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(x[i], double(i), 1e-3) << i;
}

TEST(Adam, CallbackStopsAndNonFiniteIsAnError) {
  std::vector<double> x(3, 0.0);
  int calls = 0;
  OptimizeResult R = minimizeAdam(quadratic, x, {}, 100,
                                  [&](int64_t it, double, const auto &) {
                                    ++calls;
                                    return it < 9;
                                  });
  EXPECT_EQ(calls, 10);
  EXPECT_EQ(R.iterations, 10);
  EXPECT_EQ(R.stop, StopReason::Callback);

  Objective bad = [](const std::vector<double> &x, std::vector<double> &g) {
    g.assign(x.size(), 1.0);
    return x[0] < -0.0025 ? NAN : x[0];
  };
  std::vector<double> y = {0.0};
  try {
    minimizeAdam(bad, y, {}, 10);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "Adam: the objective is nan at step 3");
  }
}

TEST(Lbfgs, RosenbrockConvergesInUnder100Iterations) {
  std::vector<double> x = {-1.2, 1.0};
  LbfgsOptions o;
  o.history = 10;
  o.maxIterations = 100;
  o.gradTolerance = 1e-10;
  OptimizeResult R = minimizeLbfgs(rosenbrock, x, o);
  EXPECT_LT(R.iterations, 100) << toString(R.stop);
  EXPECT_NEAR(x[0], 1.0, 1e-8);
  EXPECT_NEAR(x[1], 1.0, 1e-8);
  EXPECT_LT(R.f, 1e-16);
}

TEST(Lbfgs, HigherDimensionalRosenbrock) {
  std::vector<double> x(10, -1.0);
  LbfgsOptions o;
  o.history = 8;
  o.maxIterations = 500;
  o.gradTolerance = 1e-9;
  OptimizeResult R = minimizeLbfgs(rosenbrock, x, o);
  EXPECT_EQ(R.stop, StopReason::GradientTolerance);
  for (double xi : x)
    EXPECT_NEAR(xi, 1.0, 1e-7);
}

TEST(Lbfgs, IllConditionedQuadratic) {
  std::vector<double> x(20, 0.0);
  LbfgsOptions o;
  o.history = 5;
  o.gradTolerance = 1e-8;
  OptimizeResult R = minimizeLbfgs(quadratic, x, o);
  EXPECT_EQ(R.stop, StopReason::GradientTolerance);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(x[i], double(i), 1e-8);
}

TEST(Lbfgs, BacktracksOutOfNonFiniteRegions) {
  // f = (x - 1)^2 + 1 / (3 - x) for x < 3, NaN beyond: trial steps that land
  // past the pole must be rejected, not accepted or propagated.
  Objective f = [](const std::vector<double> &x, std::vector<double> &g) {
    g.resize(1);
    if (x[0] >= 3) {
      g[0] = NAN;
      return static_cast<double>(NAN);
    }
    double p = 3 - x[0];
    g[0] = 2 * (x[0] - 1) + 1 / (p * p);
    return (x[0] - 1) * (x[0] - 1) + 1 / p;
  };
  std::vector<double> x = {-20.0};
  LbfgsOptions o;
  o.gradTolerance = 1e-12;
  OptimizeResult R = minimizeLbfgs(f, x, o);
  EXPECT_TRUE(std::isfinite(R.f));
  // Root of 2 (x - 1) + 1 / (3 - x)^2 = 0 by bisection.
  double lo = -10, hi = 2.9;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi), p = 3 - mid;
    (2 * (mid - 1) + 1 / (p * p) > 0 ? hi : lo) = mid;
  }
  EXPECT_NEAR(x[0], lo, 1e-9);
}

TEST(Lbfgs, StopsAtOnceWhenAlreadyOptimal) {
  std::vector<double> x = {1.0, 1.0};
  OptimizeResult R = minimizeLbfgs(rosenbrock, x, {});
  EXPECT_EQ(R.iterations, 0);
  EXPECT_EQ(R.evaluations, 1);
  EXPECT_EQ(R.stop, StopReason::GradientTolerance);
}

TEST(Lbfgs, CallbackAndIterationLimit) {
  std::vector<double> x = {-1.2, 1.0};
  LbfgsOptions o;
  o.maxIterations = 5;
  int64_t last = -1;
  OptimizeResult R =
      minimizeLbfgs(rosenbrock, x, o, [&](int64_t it, double f, const auto &g) {
        EXPECT_EQ(it, last + 1);
        last = it;
        std::vector<double> gg;
        EXPECT_EQ(f, rosenbrock(x, gg)); // called with the accepted point
        EXPECT_EQ(g, gg);
        return true;
      });
  EXPECT_EQ(R.iterations, 5);
  EXPECT_EQ(last, 4);
  EXPECT_EQ(R.stop, StopReason::MaxIterations);
}

TEST(Lbfgs, FunctionValuesNeverIncrease) {
  std::vector<double> x = {-1.2, 1.0};
  double prev = INFINITY;
  minimizeLbfgs(rosenbrock, x, {}, [&](int64_t, double f, const auto &) {
    EXPECT_LE(f, prev);
    prev = f;
    return true;
  });
}
