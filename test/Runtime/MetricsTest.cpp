//===- MetricsTest.cpp - Tests of relative L2 and fields output -----------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Metrics.h"
#include "TestModels.h"
#include "physrt/Error.h"
#include "physrt/Output.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

using namespace physrt;

TEST(Metrics, RelativeL2) {
  EXPECT_DOUBLE_EQ(relativeL2({1, 2, 2}, {1, 2, 2}), 0.0);
  // ||(0.3, 0.4)|| / ||(3, 4)|| = 0.1
  EXPECT_DOUBLE_EQ(relativeL2({3.3, 4.4}, {3, 4}), 0.1);
  // A zero reference falls back to the absolute norm.
  EXPECT_DOUBLE_EQ(relativeL2({3, 4}, {0, 0}), 5.0);
  EXPECT_THROW(relativeL2({1}, {1, 2}), Error);
}

TEST(Metrics, InteriorGridCoversTheBox) {
  CompiledModel M = test::mlpModel(2);
  Batch G = interiorGrid(M, 10000);
  EXPECT_EQ(G.n, 10000);
  EXPECT_EQ(G.ld % kTile, 0);
  double sx = 0, sy = 0;
  for (int64_t i = 0; i < G.n; ++i) {
    ASSERT_GE(G.pts[i], -1.0);
    ASSERT_LT(G.pts[i], 1.0);
    ASSERT_GE(G.pts[G.ld + i], 0.0);
    ASSERT_LT(G.pts[G.ld + i], 2.0);
    sx += G.pts[i];
    sy += G.pts[G.ld + i];
  }
  EXPECT_NEAR(sx / G.n, 0.0, 1e-3);
  EXPECT_NEAR(sy / G.n, 1.0, 1e-3);
}

TEST(Metrics, RelativeL2PerFieldWithKernelAndTable) {
  // u = a + b x with a = 2, b = 2.9 against 2 + 3 x.
  CompiledModel M = test::lineModel();
  std::vector<double> p = {2.0, 2.9}, rt = {3.0};
  ThreadPool pool(2);
  std::vector<double> rel = relativeL2PerField(M, p, rt, pool);
  ASSERT_EQ(rel.size(), 1u);
  // Over x uniform on [-1, 1]: ||0.1 x|| / ||2 + 3x|| = sqrt(0.01/3 / (4 + 3))
  EXPECT_NEAR(rel[0], std::sqrt(0.01 / 3 / 7), 1e-4);

  // The same against a table at x = -1, 0, 1.
  Exact E;
  E.field = 0;
  E.count = 3;
  E.points = {-1, 0, 1};
  E.values = {-1, 2, 5};
  M.exacts = {E};
  rel = relativeL2PerField(M, p, rt, pool);
  EXPECT_NEAR(rel[0], std::sqrt(0.02 / 30), 1e-15);
  // No exact: NaN.
  M.exacts.clear();
  rel = relativeL2PerField(M, p, rt, pool);
  EXPECT_TRUE(std::isnan(rel[0]));
}

TEST(Metrics, ExactErrors) {
  CompiledModel M = test::lineModel();
  ThreadPool pool(1);
  M.exacts[0].field = 3;
  EXPECT_THROW(relativeL2PerField(M, {0, 0}, {3}, pool), Error);
  M = test::lineModel();
  M.exacts.push_back(M.exacts[0]);
  try {
    relativeL2PerField(M, {0, 0}, {3}, pool);
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "field 'u' has more than one exact solution");
  }
}

TEST(Output, GridSizes) {
  EXPECT_EQ(gridPointsPerCoord(1), 1001);
  EXPECT_EQ(gridPointsPerCoord(2), 101);
  EXPECT_EQ(gridPointsPerCoord(3), 41);
  EXPECT_EQ(gridPointsPerCoord(12), 3);
}

TEST(Output, TensorGridIsRowMajorWithExactEndpoints) {
  CompiledModel M = test::mlpModel(2);
  Batch G = tensorGrid(M, 3);
  ASSERT_EQ(G.n, 9);
  std::vector<double> x, y;
  for (int64_t i = 0; i < 9; ++i) {
    x.push_back(G.pts[i]);
    y.push_back(G.pts[G.ld + i]);
  }
  EXPECT_EQ(x, (std::vector<double>{-1, -1, -1, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(y, (std::vector<double>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

TEST(Output, FieldsCSV) {
  CompiledModel M = test::lineModel();
  ThreadPool pool(2);
  std::string csv = fieldsCSV(M, {1.0, 0.5}, {3.0}, pool);
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "x,u,exact_u");
  std::getline(in, line);
  EXPECT_EQ(line, "-1,0.5,-1");
  int rows = 1;
  std::string last = line;
  while (std::getline(in, line)) {
    ++rows;
    last = line;
  }
  EXPECT_EQ(rows, 1001);
  EXPECT_EQ(last, "1,1.5,5");
}

TEST(Output, FormatDoubleRoundTrips) {
  EXPECT_EQ(formatDouble(0.1), "0.1");
  EXPECT_EQ(formatDouble(-2), "-2");
  double x = 1.0 / 3;
  EXPECT_EQ(std::stod(formatDouble(x)), x);
}
