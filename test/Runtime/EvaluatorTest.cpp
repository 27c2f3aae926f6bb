//===- EvaluatorTest.cpp - Tests of the loss/gradient evaluator -----------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Evaluator.h"
#include "TestModels.h"
#include "physrt/Error.h"
#include "physrt/Init.h"
#include "physrt/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>

using namespace physrt;

namespace {

std::vector<Batch> batchesFor(const CompiledModel &M, uint64_t seed) {
  std::vector<Batch> out;
  for (size_t t = 0; t < M.terms.size(); ++t) {
    Rng rng(streamSeed(seed, {t}));
    out.push_back(sample(M, M.terms[t].region, M.terms[t].samples, rng));
  }
  return out;
}

} // namespace

TEST(ThreadPool, RunsEveryIndexOnce) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3);
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<std::atomic<int>> hits(97);
    pool.parallelFor(97, [&](int64_t i) { hits[i]++; });
    for (auto &h : hits)
      ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, RethrowsTheLowestFailingIndex) {
  ThreadPool pool(2);
  try {
    pool.parallelFor(40, [](int64_t i) {
      if (i == 7 || i == 30)
        throw Error("index " + std::to_string(i));
    });
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "index 7");
  }
  // The pool is still usable afterwards.
  std::atomic<int> sum{0};
  pool.parallelFor(10, [&](int64_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 45);
}

TEST(Evaluator, IdenticalForAnyThreadCount) {
  CompiledModel M = test::mlpModel(8);
  std::vector<double> p = initParams(M, 1);
  std::vector<Batch> B = batchesFor(M, 2);
  std::vector<double> g1, g2, g3, t1, t2, t3;
  Evaluator e1(1), e2(2), e3(3);
  double f1 = e1.lossAndGrad(M, p, B, {}, &g1, &t1);
  double f2 = e2.lossAndGrad(M, p, B, {}, &g2, &t2);
  double f3 = e3.lossAndGrad(M, p, B, {}, &g3, &t3);
  EXPECT_EQ(f1, f2);
  EXPECT_EQ(f1, f3);
  EXPECT_EQ(g1, g2);
  EXPECT_EQ(g1, g3);
  EXPECT_EQ(t1, t2);
  // Repeated calls reuse buffers and give the same bits.
  std::vector<double> g4;
  EXPECT_EQ(e2.lossAndGrad(M, p, B, {}, &g4, nullptr), f1);
  EXPECT_EQ(g4, g1);
}

/// EvalExtras::onlyTerm computes one term as if it were the model's only
/// one (the embedding API's term_loss): the other batches may be empty, its
/// weight is the given one, and the bits do not depend on the threads.
TEST(Evaluator, OnlyTermAsIfAlone) {
  CompiledModel M = test::mlpModel(8); // fit (2500 points), edge (300)
  std::vector<double> p = initParams(M, 1);
  std::vector<Batch> B = batchesFor(M, 2);
  CompiledModel alone = M;
  alone.terms = {M.terms[0]};
  alone.terms[0].weight = 1;
  Evaluator e1(1), e3(3);
  std::vector<double> gRef, tRef;
  double ref = e1.lossAndGrad(alone, p, {B[0]}, {}, &gRef, &tRef);

  std::vector<Batch> only(M.terms.size());
  only[0] = B[0];
  std::vector<double> weights = {1, 10};
  EvalExtras x;
  x.onlyTerm = 0;
  x.weights = &weights;
  std::vector<double> g1, g3, t1, t3;
  double f1 = e1.lossAndGrad(M, p, only, {}, &g1, &t1, x);
  double f3 = e3.lossAndGrad(M, p, only, {}, &g3, &t3, x);
  EXPECT_EQ(f1, ref);
  EXPECT_EQ(g1, gRef);
  EXPECT_EQ(f3, f1);
  EXPECT_EQ(g3, g1);
  EXPECT_EQ(t1, (std::vector<double>{tRef[0], 0}));
  EXPECT_EQ(t3, t1);
  // The whole model's loss is another number: the edge term counts there.
  EXPECT_NE(e1.lossAndGrad(M, p, B, {}, nullptr, nullptr), f1);

  x.onlyTerm = 2;
  try {
    e1.lossAndGrad(M, p, only, {}, nullptr, nullptr, x);
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "model 'mlp' has no term 2");
  }
}

TEST(Evaluator, MatchesSerialReference) {
  CompiledModel M = test::mlpModel(8);
  std::vector<double> p = initParams(M, 3);
  std::vector<Batch> B = batchesFor(M, 4);
  std::vector<double> g, terms;
  double f = Evaluator(2).lossAndGrad(M, p, B, {}, &g, &terms);

  // Straightforward serial computation of the same formula.
  std::vector<double> gref(M.numParams, 0.0);
  double fref = 0;
  for (size_t t = 0; t < M.terms.size(); ++t) {
    double loss = 0;
    std::vector<double> gt(M.numParams, 0.0);
    M.terms[t].lossGrad(p.data(), B[t].pts.data(), B[t].ld, B[t].n, nullptr,
                        &loss, gt.data());
    double scale = M.terms[t].weight / B[t].n;
    EXPECT_NEAR(terms[t], loss / B[t].n, 1e-13 * loss / B[t].n);
    fref += scale * loss;
    for (int64_t k = 0; k < M.numParams; ++k)
      gref[k] += scale * gt[k];
  }
  EXPECT_NEAR(f, fref, 1e-13 * fref);
  for (int64_t k = 0; k < M.numParams; ++k)
    EXPECT_NEAR(g[k], gref[k], 1e-12 * (std::abs(gref[k]) + 1e-3)) << k;
}

TEST(Evaluator, GradientMatchesFiniteDifferences) {
  CompiledModel M = test::mlpModel(4);
  std::vector<double> p = initParams(M, 5);
  for (size_t k = 0; k < p.size(); ++k)
    p[k] += 0.1 * std::sin(1.0 + k); // non-zero biases too
  std::vector<Batch> B = batchesFor(M, 6);
  Evaluator ev(2);
  std::vector<double> g;
  ev.lossAndGrad(M, p, B, {}, &g, nullptr);
  for (size_t k = 0; k < p.size(); ++k) {
    const double h = 1e-6;
    std::vector<double> pp = p, pm = p;
    pp[k] += h;
    pm[k] -= h;
    double fd = (ev.lossAndGrad(M, pp, B, {}, nullptr, nullptr) -
                 ev.lossAndGrad(M, pm, B, {}, nullptr, nullptr)) /
                (2 * h);
    EXPECT_NEAR(g[k], fd, 1e-6 * (1 + std::abs(fd))) << "param " << k;
  }
}

TEST(Evaluator, ChunksAreTileAlignedAndFixed) {
  // Every kernel call covers at most kChunk points and starts at a multiple
  // of kChunk of the batch, with the batch's ld; together the calls cover
  // the batch exactly once.
  CompiledModel M;
  M.name = "probe";
  M.coords = {{"x", false, 0, 1}};
  M.numParams = 1;
  Rng rng(1);
  std::vector<Batch> batches = {sample(M, Region{}, 2500, rng)};
  const Batch &B = batches[0];
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> calls;
  Term T;
  T.name = "probe";
  T.lossGrad = [&](const double *, const double *pts, int64_t ld, int64_t n,
                   const double *, double *loss, double *) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(ld, B.ld);
    calls.push_back({pts - B.pts.data(), n});
    *loss += n;
  };
  M.terms = {T};
  double f = Evaluator(2).lossAndGrad(M, {0.0}, batches, {}, nullptr, nullptr);
  EXPECT_EQ(f, 1.0); // sum of n over calls / n
  std::sort(calls.begin(), calls.end());
  std::vector<std::pair<int64_t, int64_t>> want = {
      {0, 1024}, {1024, 1024}, {2048, 452}};
  EXPECT_EQ(calls, want);
}

TEST(Evaluator, WeightsAndMeans) {
  // Residual r = 1 at every point: each term's mean is 1, total = sum w.
  CompiledModel M;
  M.name = "w";
  M.coords = {{"x", false, 0, 1}};
  M.numParams = 1;
  Term T;
  T.lossGrad = [](const double *, const double *, int64_t, int64_t n,
                  const double *, double *loss, double *grad) {
    *loss += n;
    grad[0] += 2.0 * n;
  };
  T.name = "a";
  T.weight = 2;
  Term U = T;
  U.name = "b";
  U.weight = 100;
  M.terms = {T, U};
  Rng rng(0);
  std::vector<Batch> B = {sample(M, Region{}, 100, rng),
                          sample(M, Region{}, 3000, rng)};
  std::vector<double> g, terms;
  double f = lossAndGrad(M, {0.0}, B, {}, &g, &terms);
  EXPECT_DOUBLE_EQ(f, 102);
  EXPECT_EQ(terms, (std::vector<double>{1, 1}));
  EXPECT_DOUBLE_EQ(g[0], 204);
}

TEST(Evaluator, Errors) {
  CompiledModel M = test::mlpModel(2);
  std::vector<double> p = initParams(M, 0);
  Evaluator ev(1);
  try {
    ev.lossAndGrad(M, p, {}, {}, nullptr, nullptr);
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "model 'mlp' has 2 terms but 0 batches were given");
  }
  std::vector<Batch> B = batchesFor(M, 0);
  M.terms[1].lossGrad = nullptr;
  try {
    ev.lossAndGrad(M, p, B, {}, nullptr, nullptr);
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "term 'edge' has no kernel");
  }
  M = test::mlpModel(2);
  B[0].n = 0;
  try {
    ev.lossAndGrad(M, p, B, {}, nullptr, nullptr);
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "term 'fit' has no points");
  }
}
