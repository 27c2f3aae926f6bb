//===- InitTest.cpp - Tests of parameter initialisation and the RNG -------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Init.h"
#include "TestModels.h"
#include "physrt/Error.h"
#include "physrt/Rng.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace physrt;

namespace {

CompiledModel oneBlock(const std::string &init, int64_t rows, int64_t cols,
                       int64_t fanIn, int64_t fanOut) {
  CompiledModel M;
  M.name = "m";
  M.numParams = rows * cols;
  ParamBlock B;
  B.name = "W";
  B.rows = rows;
  B.cols = cols;
  B.init = init;
  B.fanIn = fanIn;
  B.fanOut = fanOut;
  M.blocks = {B};
  return M;
}

void moments(const std::vector<double> &v, double &mean, double &sd) {
  double s = 0, s2 = 0;
  for (double x : v)
    s += x;
  mean = s / v.size();
  for (double x : v)
    s2 += (x - mean) * (x - mean);
  sd = std::sqrt(s2 / (v.size() - 1));
}

} // namespace

TEST(Rng, SplitMix64ReferenceValue) {
  // First output of splitmix64 from state 0 (Vigna's reference code).
  uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xe220a8397b1dcdafULL);
}

TEST(Rng, UniformRangeAndMoments) {
  Rng r(7);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
    s2 += u * u;
  }
  EXPECT_NEAR(s / n, 0.5, 4 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 2e-3);
}

TEST(Rng, NormalMoments) {
  Rng r(11);
  const int n = 200000;
  double s = 0, s2 = 0, s4 = 0;
  for (int i = 0; i < n; ++i) {
    double z = r.normal();
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 4 / std::sqrt(n));
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
  EXPECT_NEAR(s4 / n, 3.0, 0.1); // kurtosis of a normal
}

TEST(Rng, StreamsAreDistinctAndStable) {
  EXPECT_EQ(streamSeed(1, {2, 3}), streamSeed(1, {2, 3}));
  EXPECT_NE(streamSeed(1, {2, 3}), streamSeed(1, {3, 2}));
  EXPECT_NE(streamSeed(1, {2, 3}), streamSeed(2, {2, 3}));
  EXPECT_NE(streamSeed(1, {0}), streamSeed(1, {0, 0}));
}

TEST(Init, SameSeedSameParamsDifferentSeedDifferent) {
  CompiledModel M = test::mlpModel(16);
  std::vector<double> a = initParams(M, 42), b = initParams(M, 42),
                      c = initParams(M, 43);
  ASSERT_EQ(a.size(), static_cast<size_t>(M.numParams));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Rng, GoldenValues) {
  // Pinned outputs: a change of generator, seeding or Box-Muller would
  // silently change every model's initialisation and sampling.
  Rng r(42);
  EXPECT_EQ(r.next(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(r.next(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(r.next(), 0xae17533239e499a1ULL);
  Rng q(42);
  EXPECT_EQ(q.normal(), -0x1.368a97c38507cp-2);
  EXPECT_EQ(q.normal(), 0x1.27628399adbdap-2);
  EXPECT_EQ(q.normal(), 0x1.58040c37f1762p+0);
}

TEST(Init, GoldenValues) {
  // Same seed => same parameters on every machine. Only IEEE arithmetic,
  // sqrt, log and sin/cos are involved.
  CompiledModel M = oneBlock("glorot", 1, 3, 1, 1);
  std::vector<double> p = initParams(M, 1234);
  EXPECT_EQ(p, (std::vector<double>{-0x1.6f3feb075f691p+0, 0x1.e6e2737c9508ep-3,
                                    0x1.ab18b1b073e51p+0}));
}

TEST(Init, BiasesAreZero) {
  CompiledModel M = test::mlpModel(8);
  std::vector<double> p = initParams(M, 1);
  for (const ParamBlock &B : M.blocks) {
    bool allZero = true;
    for (int64_t i = 0; i < B.rows * B.cols; ++i)
      allZero &= p[B.offset + i] == 0.0;
    EXPECT_EQ(allZero, B.isBias) << B.name;
  }
}

TEST(Init, GlorotNormalStatistics) {
  CompiledModel M = oneBlock("glorot", 200, 300, 300, 200);
  std::vector<double> p = initParams(M, 5);
  double mean, sd;
  moments(p, mean, sd);
  double want = std::sqrt(2.0 / 500);
  EXPECT_NEAR(mean, 0.0, 4 * want / std::sqrt(p.size()));
  EXPECT_NEAR(sd / want, 1.0, 0.01);
}

TEST(Init, GlorotUniformStatistics) {
  CompiledModel M = oneBlock("glorot_uniform", 200, 300, 300, 200);
  std::vector<double> p = initParams(M, 5);
  double a = std::sqrt(6.0 / 500);
  for (double x : p) {
    ASSERT_GE(x, -a);
    ASSERT_LT(x, a);
  }
  double mean, sd;
  moments(p, mean, sd);
  EXPECT_NEAR(sd / (a / std::sqrt(3.0)), 1.0, 0.01);
}

TEST(Init, HeStatistics) {
  CompiledModel M = oneBlock("he", 100, 400, 400, 100);
  std::vector<double> p = initParams(M, 9);
  double mean, sd;
  moments(p, mean, sd);
  EXPECT_NEAR(sd / std::sqrt(2.0 / 400), 1.0, 0.01);
  EXPECT_NEAR(mean, 0.0, 4 * std::sqrt(2.0 / 400) / std::sqrt(p.size()));
}

TEST(Init, ZerosAndConstant) {
  CompiledModel M = oneBlock("zeros", 3, 3, 3, 3);
  for (double x : initParams(M, 1))
    EXPECT_EQ(x, 0.0);
  M = oneBlock("constant", 1, 1, 1, 1);
  M.blocks[0].initValue = 0.25;
  EXPECT_EQ(initParams(M, 1), std::vector<double>{0.25});
}

TEST(Init, AddingABlockLeavesOthersUnchanged) {
  CompiledModel M = oneBlock("glorot", 4, 4, 4, 4);
  std::vector<double> before = initParams(M, 3);
  ParamBlock extra = M.blocks[0];
  extra.name = "V";
  extra.offset = 16;
  M.blocks.push_back(extra);
  M.numParams = 32;
  std::vector<double> after = initParams(M, 3);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
}

TEST(Init, UnknownInitIsAnError) {
  CompiledModel M = oneBlock("xavier", 2, 2, 2, 2);
  try {
    initParams(M, 0);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(),
                 "parameter block 'W' has unknown init 'xavier' (known: "
                 "glorot, glorot_uniform, he, siren_first, siren, zeros, "
                 "constant)");
  }
}

TEST(Init, BlockOutsideVectorIsAnError) {
  CompiledModel M = oneBlock("glorot", 2, 2, 2, 2);
  M.numParams = 3;
  EXPECT_THROW(initParams(M, 0), Error);
}

TEST(Init, SirenRanges) {
  // First layer U(-1/fanIn, 1/fanIn); later ones U(-sqrt(6/fanIn)/w0, ...).
  for (const char *kind : {"siren_first", "siren"}) {
    CompiledModel M = oneBlock(kind, 64, 32, 32, 64);
    M.blocks[0].w0 = 30;
    std::vector<double> p = initParams(M, 3);
    double bound = std::string(kind) == "siren_first"
                       ? 1.0 / 32
                       : std::sqrt(6.0 / 32) / 30;
    double lo = 0, hi = 0;
    for (double v : p) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_GE(lo, -bound) << kind;
    EXPECT_LE(hi, bound) << kind;
    // 2048 uniform draws reach within 1% of both ends.
    EXPECT_LT(lo, -0.99 * bound) << kind;
    EXPECT_GT(hi, 0.99 * bound) << kind;
  }
  CompiledModel M = oneBlock("siren", 4, 4, 4, 4);
  M.blocks[0].w0 = 0;
  EXPECT_THROW(initParams(M, 0), Error);
}
