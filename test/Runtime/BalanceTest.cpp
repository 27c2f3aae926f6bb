//===- BalanceTest.cpp - MultiAdam, annealed weights, per-term gradients --===//
//
// Part of physc's runtime tests. The two ways of balancing loss terms
// (Balance.h) and what they are built on: each term's own gradient from the
// Evaluator, MultiAdam, and their state in checkpoints (version 3).
//
//===----------------------------------------------------------------------===//

#include "physrt/Balance.h"
#include "TestFiles.h"
#include "TestModels.h"
#include "physrt/Checkpoint.h"
#include "physrt/Error.h"
#include "physrt/Init.h"
#include "physrt/Optimizers.h"
#include "physrt/Train.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <iostream>
#include <sstream>

using namespace physrt;
using physrt::test::ScratchDir;

namespace {

bool sameBits(const std::vector<double> &a, const std::vector<double> &b) {
  return a.size() == b.size() &&
         (a.empty() ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

std::vector<Batch> batchesFor(const CompiledModel &M, uint64_t seed) {
  std::vector<Batch> out;
  for (size_t t = 0; t < M.terms.size(); ++t) {
    Rng rng(streamSeed(seed, {t}));
    out.push_back(sample(M, M.terms[t].region, M.terms[t].samples, rng));
  }
  return out;
}

TrainOptions quietOptions() {
  TrainOptions o;
  o.quiet = true;
  o.threads = 2;
  o.seed = 7;
  o.checkpointEvery = -1;
  return o;
}

/// The MLP test model with annealed weights: "fit" (interior) is the
/// residual term, "edge" (weight 10) is annealed every 7 steps.
CompiledModel annealedModel() {
  CompiledModel M = test::mlpModel(6);
  M.terms[0].samples = 600;
  M.stages[0].steps = 40;
  M.stages[1].steps = 30;
  M.weighting.scheme = "annealing";
  M.weighting.every = 7;
  M.weighting.alpha = 0.9;
  M.weighting.residual = {0};
  return M;
}

/// The MLP test model trained by MultiAdam (one group per term), then
/// L-BFGS.
CompiledModel multiAdamModel() {
  CompiledModel M = test::mlpModel(6);
  M.terms[0].samples = 600;
  M.stages[0].optimizer = "multiadam";
  M.stages[0].steps = 50;
  M.stages[0].beta1 = 0.99;
  M.stages[0].beta2 = 0.99;
  M.stages[0].groups = {{0}, {1}};
  M.stages[1].steps = 30;
  M.stages[1].history = 5;
  return M;
}

} // namespace

//===----------------------------------------------------------------------===//
// Per-term gradients
//===----------------------------------------------------------------------===//

TEST(TermGradients, DeterministicAndConsistentWithTheTotal) {
  CompiledModel M = test::mlpModel(8);
  std::vector<double> p = initParams(M, 1);
  std::vector<Batch> B = batchesFor(M, 2);
  std::vector<double> plain, t0;
  Evaluator e1(1), e3(3);
  double f0 = e1.lossAndGrad(M, p, B, {}, &plain, &t0);
  std::vector<std::vector<double>> tg1, tg3;
  std::vector<double> g1, g3, t1;
  EvalExtras x1, x3;
  x1.termGrads = &tg1;
  x3.termGrads = &tg3;
  double f1 = e1.lossAndGrad(M, p, B, {}, &g1, &t1, x1);
  double f3 = e3.lossAndGrad(M, p, B, {}, &g3, nullptr, x3);
  // The total is bit-identical to the plain call, for any thread count.
  EXPECT_EQ(f0, f1);
  EXPECT_EQ(f1, f3);
  EXPECT_TRUE(sameBits(plain, g1));
  EXPECT_TRUE(sameBits(g1, g3));
  EXPECT_TRUE(sameBits(t0, t1));
  ASSERT_EQ(tg1.size(), 2u);
  EXPECT_TRUE(sameBits(tg1[0], tg3[0]));
  EXPECT_TRUE(sameBits(tg1[1], tg3[1]));
  // Each term's gradient is that of its unweighted mean: the weighted sum
  // is the total gradient (up to rounding), and a one-term model agrees.
  for (size_t j = 0; j < g1.size(); ++j)
    EXPECT_NEAR(tg1[0][j] + 10 * tg1[1][j], g1[j], 1e-12 * (1 + std::abs(g1[j])));
  CompiledModel edge = M;
  edge.terms = {M.terms[1]};
  edge.terms[0].weight = 1;
  std::vector<double> ge;
  e1.lossAndGrad(edge, p, {B[1]}, {}, &ge, nullptr);
  for (size_t j = 0; j < ge.size(); ++j)
    EXPECT_NEAR(tg1[1][j], ge[j], 1e-12 * (1 + std::abs(ge[j])));
  // Weights can be overridden; a wrong count is an error.
  std::vector<double> w = {2.0, 0.5}, gw;
  EvalExtras xw;
  xw.weights = &w;
  double fw = e1.lossAndGrad(M, p, B, {}, &gw, &t1, xw);
  EXPECT_DOUBLE_EQ(fw, 2 * t1[0] + 0.5 * t1[1]);
  std::vector<double> bad = {1.0};
  xw.weights = &bad;
  EXPECT_THROW(e1.lossAndGrad(M, p, B, {}, &gw, &t1, xw), Error);
}

//===----------------------------------------------------------------------===//
// MultiAdam
//===----------------------------------------------------------------------===//

TEST(MultiAdam, TwoStepsMatchTheFormula) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  MultiAdam A(2, 2, {lr, b1, b2, eps});
  std::vector<double> x = {1.0, -2.0};
  // Group gradients of wildly different scales.
  std::vector<std::vector<double>> g1 = {{1e3, -2e3}, {1e-4, 3e-4}};
  std::vector<std::vector<double>> g2 = {{-5e2, 1e3}, {2e-4, 1e-4}};
  A.step(x, g1);
  // Step 1: m_hat = g, v_hat = g^2, so each group's step is g/(|g| + eps).
  double e0 = 1.0 - lr / 2 * (1e3 / (1e3 + eps) + 1e-4 / (1e-4 + eps));
  double e1 = -2.0 - lr / 2 * (-2e3 / (2e3 + eps) + 3e-4 / (3e-4 + eps));
  EXPECT_DOUBLE_EQ(x[0], e0);
  EXPECT_DOUBLE_EQ(x[1], e1);
  A.step(x, g2);
  auto dir = [&](double ga, double gb) {
    double m = b1 * (1 - b1) * ga + (1 - b1) * gb;
    double v = b2 * (1 - b2) * ga * ga + (1 - b2) * gb * gb;
    double mh = m / (1 - b1 * b1), vh = v / (1 - b2 * b2);
    return mh / (std::sqrt(vh) + eps);
  };
  e0 -= lr / 2 * (dir(1e3, -5e2) + dir(1e-4, 2e-4));
  e1 -= lr / 2 * (dir(-2e3, 1e3) + dir(3e-4, 1e-4));
  EXPECT_DOUBLE_EQ(x[0], e0);
  EXPECT_DOUBLE_EQ(x[1], e1);
  EXPECT_EQ(A.steps(), 2);
  // Shapes are checked.
  EXPECT_THROW(A.step(x, {{1.0, 2.0}}), Error);
  EXPECT_THROW(MultiAdam(2, 0, {}), Error);
}

TEST(MultiAdam, OneGroupIsAdam) {
  MultiAdam M(3, 1, {0.01, 0.9, 0.999, 1e-8});
  Adam A(3, {0.01, 0.9, 0.999, 1e-8});
  std::vector<double> x = {0.5, -1, 2}, y = x;
  for (int i = 0; i < 20; ++i) {
    std::vector<double> g = {std::sin(x[0]) + x[1], x[2] * x[0], 3 * x[1]};
    M.step(x, {g});
    std::vector<double> h = {std::sin(y[0]) + y[1], y[2] * y[0], 3 * y[1]};
    A.step(y, h);
  }
  EXPECT_TRUE(sameBits(x, y));
}

TEST(MultiAdam, BalancesTermsOfWildlyDifferentScales) {
  // Two terms sharing both parameters: L_a = 1e6 (x0 + x1 - 1)^2 and
  // L_b = (x0 - x1 - 0.5)^2 (minimum of both: x = (0.75, 0.25)). Plain
  // Adam on L_a + L_b follows L_a's gradient, which dwarfs L_b's wherever
  // L_a is not exactly 0; MultiAdam gives each term's normalised step the
  // same say.
  auto grads = [](const std::vector<double> &x) {
    double a = x[0] + x[1] - 1, b = x[0] - x[1] - 0.5;
    return std::vector<std::vector<double>>{{2e6 * a, 2e6 * a},
                                            {2 * b, -2 * b}};
  };
  auto lb = [](const std::vector<double> &x) {
    double b = x[0] - x[1] - 0.5;
    return b * b;
  };
  AdamOptions o{1e-2, 0.9, 0.999, 1e-8};
  std::vector<double> xa = {0, 0}, xm = {0, 0};
  Adam A(2, o);
  MultiAdam M(2, 2, o);
  for (int i = 0; i < 1000; ++i) {
    auto g = grads(xa);
    A.step(xa, {g[0][0] + g[1][0], g[0][1] + g[1][1]});
    M.step(xm, grads(xm));
  }
  // Measured: MultiAdam L_a 4.9e-26, L_b 2.8e-32; Adam L_b 0.2499 (its
  // value at the start: 0.25).
  double la = 1e6 * std::pow(xm[0] + xm[1] - 1, 2);
  EXPECT_LT(lb(xm), 1e-12) << xm[0] << " " << xm[1];
  EXPECT_LT(la, 1e-12);
  EXPECT_GT(lb(xa), 0.2) << xa[0] << " " << xa[1];
}

TEST(MultiAdam, RestoreContinuesBitExactly) {
  auto grads = [](const std::vector<double> &x) {
    return std::vector<std::vector<double>>{
        {2 * x[0] - x[1], std::sin(x[1])}, {1e-3 * x[1], x[0] * x[0]}};
  };
  AdamOptions o{0.01, 0.99, 0.99, 1e-8};
  MultiAdam A(2, 2, o), B(2, 2, o);
  std::vector<double> x = {0.3, -1.2}, y = x;
  for (int i = 0; i < 40; ++i)
    A.step(x, grads(x));
  for (int i = 0; i < 15; ++i)
    B.step(y, grads(y));
  Checkpoint C;
  C.model = "m";
  C.params = y;
  C.state.kind = OptimizerStateKind::MultiAdam;
  C.state.multiAdam = B.state();
  C.state.weights = {1.0, 2.5};
  Checkpoint R = decodeCheckpoint(encodeCheckpoint(C), "f.bin");
  EXPECT_EQ(R.state.kind, OptimizerStateKind::MultiAdam);
  EXPECT_EQ(R.state.weights, C.state.weights);
  MultiAdam D(2, 2, o);
  D.restore(R.state.multiAdam);
  for (int i = 15; i < 40; ++i)
    D.step(y, grads(y));
  EXPECT_TRUE(sameBits(x, y));
  MultiAdam Three(2, 3, o);
  EXPECT_THROW(Three.restore(B.state()), Error);
}

TEST(MultiAdam, GroupsAndGroupGradients) {
  CompiledModel M = test::mlpModel(4);
  Stage S;
  S.optimizer = "multiadam";
  EXPECT_EQ(multiAdamGroups(M, S), (std::vector<std::vector<int>>{{0}, {1}}));
  M.terms[1].weight = 0; // not trained: in no default group
  EXPECT_EQ(multiAdamGroups(M, S), (std::vector<std::vector<int>>{{0}}));
  S.groups = {{1, 0}};
  EXPECT_EQ(multiAdamGroups(M, S), S.groups);
  std::vector<std::vector<double>> tg = {{1, 2}, {10, 20}}, out;
  groupGradients({{1, 0}, {1}}, {3, 0.5}, tg, out);
  EXPECT_EQ(out, (std::vector<std::vector<double>>{{5 + 3, 10 + 6}, {5, 10}}));
}

//===----------------------------------------------------------------------===//
// Learning-rate annealing of the weights
//===----------------------------------------------------------------------===//

TEST(Annealing, OneUpdateByHand) {
  CompiledModel M;
  M.numParams = 3;
  M.terms.resize(3);
  M.terms[0].weight = 2;  // residual
  M.terms[1].weight = 10; // annealed
  M.terms[2].weight = 0;  // not in the loss: left alone
  M.weighting.scheme = "annealing";
  M.weighting.alpha = 0.9;
  M.weighting.residual = {0};
  EXPECT_EQ(annealedTerms(M), std::vector<int>{1});
  std::vector<std::vector<double>> tg = {
      {1, -4, 2}, {0.5, -0.5, 1}, {100, 100, 100}};
  std::vector<double> w = {2, 10, 0};
  std::vector<double> hat = annealWeights(M, tg, w);
  // max |2 * (1, -4, 2)| = 8; mean |10 * (0.5, -0.5, 1)| = 20/3;
  // hat = 1.2; w = 0.1 * 10 + 0.9 * 1.2 = 2.08.
  EXPECT_DOUBLE_EQ(hat[1], 1.2);
  EXPECT_DOUBLE_EQ(w[1], 0.1 * 10 + 0.9 * 1.2);
  EXPECT_EQ(w[0], 2);
  EXPECT_EQ(w[2], 0);
  EXPECT_TRUE(std::isnan(hat[0]));
  // A term with no gradient keeps its weight.
  tg[1] = {0, 0, 0};
  std::vector<double> w2 = {2, 10, 0};
  annealWeights(M, tg, w2);
  EXPECT_EQ(w2[1], 10);
}

TEST(Annealing, UpdatesEveryKAdamStepsAndFreezesInLbfgs) {
  CompiledModel M = annealedModel();
  // One Adam step evaluation by hand: at step 0 the weights move from
  // (1, 10) by one annealing update of the gradients at the start.
  std::vector<double> p = initParams(M, 1);
  std::vector<Batch> B = batchesFor(M, 2);
  Evaluator ev(2);
  TermWeights W(M);
  EXPECT_TRUE(W.annealing());
  std::vector<double> g, t;
  std::vector<std::vector<double>> tg;
  EvalExtras x;
  x.termGrads = &tg;
  ev.lossAndGrad(M, p, B, {}, nullptr, &t, x);
  std::vector<double> want = {1, 10};
  annealWeights(M, tg, want);
  double f = W.adamStep(ev, M, 0, p, B, {}, g, t);
  EXPECT_TRUE(sameBits(W.values(), want));
  EXPECT_DOUBLE_EQ(f, want[0] * t[0] + want[1] * t[1]);
  for (size_t j = 0; j < g.size(); ++j)
    EXPECT_NEAR(g[j], want[0] * tg[0][j] + want[1] * tg[1][j],
                1e-12 * (1 + std::abs(g[j])));
  // Steps 1..6 leave them; step 7 updates them again.
  W.adamStep(ev, M, 3, p, B, {}, g, t);
  EXPECT_TRUE(sameBits(W.values(), want));
  W.adamStep(ev, M, 7, p, B, {}, g, t);
  EXPECT_FALSE(sameBits(W.values(), want));

  // In training: the weights after the whole run (Adam then L-BFGS) are
  // those at the end of the Adam stage: frozen in L-BFGS.
  TrainResult full = train(M, quietOptions(), std::cout);
  TrainOptions capped = quietOptions();
  capped.maxSteps = 40;
  TrainResult adamOnly = train(M, capped, std::cout);
  ASSERT_EQ(full.weights.size(), 2u);
  EXPECT_EQ(full.weights[0], 1);
  EXPECT_NE(full.weights[1], 10);
  EXPECT_TRUE(sameBits(full.weights, adamOnly.weights));
  EXPECT_GT(full.steps, 40);
  // The summary reports them.
  auto j = nlohmann::json::parse(summaryJSON(M, quietOptions(), full));
  EXPECT_EQ(j["weighting"]["scheme"], "annealing");
  EXPECT_EQ(j["weighting"]["every"], 7);
  EXPECT_EQ(j["weighting"]["residual"], nlohmann::json::array({"fit"}));
  EXPECT_EQ(j["weights"]["edge"].get<double>(), full.weights[1]);
  EXPECT_EQ(j["weights"]["fit"].get<double>(), 1.0);
  // Without annealing there are no such keys, and the weights are fixed.
  CompiledModel fixed = test::mlpModel(6);
  fixed.stages[0].steps = 10;
  fixed.stages[1].steps = 5;
  TrainResult R = train(fixed, quietOptions(), std::cout);
  EXPECT_EQ(R.weights, (std::vector<double>{1, 10}));
  auto k = nlohmann::json::parse(summaryJSON(fixed, quietOptions(), R));
  EXPECT_FALSE(k.contains("weights"));
}

TEST(Annealing, IdenticalForAnyThreadCount) {
  CompiledModel M = annealedModel();
  TrainOptions a = quietOptions(), b = quietOptions();
  a.threads = 1;
  b.threads = 3;
  TrainResult A = train(M, a, std::cout), B = train(M, b, std::cout);
  EXPECT_TRUE(sameBits(A.params, B.params));
  EXPECT_TRUE(sameBits(A.weights, B.weights));
}

//===----------------------------------------------------------------------===//
// Resumed training (checkpoint version 3)
//===----------------------------------------------------------------------===//

TEST(BalanceResume, CappedRunsResumeBitExactly) {
  for (bool multi : {true, false}) {
    CompiledModel M = multi ? multiAdamModel() : annealedModel();
    ScratchDir D;
    TrainResult full = train(M, quietOptions(), std::cout);
    for (int64_t cap : {13, 14, 50, 55}) {
      std::string dir = D.file("cap" + std::to_string(cap));
      TrainOptions a = quietOptions();
      a.outDir = dir;
      a.maxSteps = cap;
      train(M, a, std::cout);
      Checkpoint C = loadCheckpoint(dir + "/checkpoint.bin");
      EXPECT_EQ(C.version, 3u);
      if (multi && cap < 50) {
        EXPECT_EQ(C.state.kind, OptimizerStateKind::MultiAdam);
        EXPECT_EQ(C.state.multiAdam.m.size(), 2u);
      }
      if (!multi) {
        EXPECT_EQ(C.state.weights.size(), 2u);
      }
      TrainOptions b = quietOptions();
      b.resumeDir = dir;
      TrainResult R = train(M, b, std::cout);
      EXPECT_EQ(R.steps, full.steps) << multi << " " << cap;
      EXPECT_TRUE(sameBits(R.params, full.params)) << multi << " " << cap;
      EXPECT_TRUE(sameBits(R.termLoss, full.termLoss));
      EXPECT_TRUE(sameBits(R.weights, full.weights));
    }
    // Other groups or another annealing period: another run.
    std::string dir = D.file("cap13");
    CompiledModel other = M;
    if (multi)
      other.stages[0].groups = {{0, 1}};
    else
      other.weighting.every = 8;
    TrainOptions b = quietOptions();
    b.resumeDir = dir;
    std::ostringstream log;
    EXPECT_THROW(train(other, b, log), Error);
  }
}

TEST(BalanceResume, MultiAdamTrains) {
  CompiledModel M = multiAdamModel();
  M.stages[1].steps = 1;
  TrainResult R = train(M, quietOptions(), std::cout);
  CompiledModel A = M;
  A.stages[0].optimizer = "adam";
  A.stages[0].groups.clear();
  TrainResult RA = train(A, quietOptions(), std::cout);
  // Both reduce the loss of the initial parameters a lot; they differ.
  EXPECT_FALSE(sameBits(R.params, RA.params));
  EXPECT_LT(R.totalLoss, 0.5);
}
