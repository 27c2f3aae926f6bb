//===- SamplerTest.cpp - Tests of collocation point samplers --------------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Sampler.h"
#include "physrt/Error.h"
#include "physrt/Resample.h"
#include "physrt/ThreadPool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

using namespace physrt;

namespace {

std::vector<Coord> box2() {
  // Space x in [0, 2], space y in [0, 1], time t in [0, 3].
  return {{"x", false, 0, 2}, {"y", false, 0, 1}, {"t", true, 0, 3}};
}

Region interior() { return Region{}; }

Region boundary() {
  Region R;
  R.kind = Region::Kind::Boundary;
  return R;
}

Region faces(std::vector<Region::Face> f) {
  Region R;
  R.kind = Region::Kind::Faces;
  R.faces = std::move(f);
  return R;
}

double at(const Batch &B, int c, int64_t i) { return B.pts[c * B.ld + i]; }

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST(Sampler, PaddedLeadingDimension) {
  EXPECT_EQ(paddedLd(0), 0);
  EXPECT_EQ(paddedLd(1), 64);
  EXPECT_EQ(paddedLd(64), 64);
  EXPECT_EQ(paddedLd(65), 128);
}

/// Every sampler kind, for the properties they all share.
const SamplerKind kAllKinds[] = {SamplerKind::Uniform, SamplerKind::Sobol,
                                 SamplerKind::Halton, SamplerKind::Lhs};

TEST(Sampler, InteriorInsideBoxWithPadding) {
  for (SamplerKind k : kAllKinds) {
    Rng rng(1);
    Batch B = sample(k, box2(), interior(), 1000, rng);
    EXPECT_EQ(B.n, 1000);
    EXPECT_EQ(B.ld, 1024);
    ASSERT_EQ(B.pts.size(), 3u * 1024);
    std::vector<Coord> C = box2();
    for (int64_t i = 0; i < B.n; ++i)
      for (int c = 0; c < 3; ++c) {
        ASSERT_GE(at(B, c, i), C[c].lo);
        ASSERT_LT(at(B, c, i), C[c].hi);
      }
    for (int64_t i = B.n; i < B.ld; ++i)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(at(B, c, i), at(B, c, 0));
  }
}

TEST(Sampler, RestrictionNarrowsTheBox) {
  Region R = interior();
  R.restrictions = {{2, 1.0, 1.5}, {0, -5, 0.5}};
  Rng rng(2);
  Batch B = sample(SamplerKind::Uniform, box2(), R, 500, rng);
  for (int64_t i = 0; i < B.n; ++i) {
    ASSERT_GE(at(B, 2, i), 1.0);
    ASSERT_LT(at(B, 2, i), 1.5);
    ASSERT_GE(at(B, 0, i), 0.0);
    ASSERT_LT(at(B, 0, i), 0.5);
  }
}

TEST(Sampler, SameStreamSamePointsOtherStreamOtherPoints) {
  for (SamplerKind k : kAllKinds) {
    Rng a(5), b(5), c(6);
    Batch A = sample(k, box2(), boundary(), 300, a);
    Batch B = sample(k, box2(), boundary(), 300, b);
    Batch C = sample(k, box2(), boundary(), 300, c);
    EXPECT_EQ(A.pts, B.pts);
    EXPECT_NE(A.pts, C.pts);
  }
}

TEST(Sampler, BoundaryPointsLieOnSpaceFacesByMeasure) {
  // Faces x = 0 and x = 2 have measure |y| |t| = 3 each, y = 0 and y = 1
  // have |x| |t| = 6 each: expected shares 1/6, 1/6, 1/3, 1/3. The time t
  // has no faces in `on boundary`.
  const int64_t n = 60000;
  Rng rng(3);
  Batch B = sample(SamplerKind::Uniform, box2(), boundary(), n, rng);
  int64_t count[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    double x = at(B, 0, i), y = at(B, 1, i), t = at(B, 2, i);
    ASSERT_GE(t, 0.0);
    ASSERT_LT(t, 3.0);
    int face = x == 0 ? 0 : x == 2 ? 1 : y == 0 ? 2 : y == 1 ? 3 : -1;
    ASSERT_NE(face, -1) << "point " << i << " (" << x << ", " << y
                        << ") is on no face";
    ++count[face];
  }
  double want[4] = {1.0 / 6, 1.0 / 6, 1.0 / 3, 1.0 / 3};
  for (int f = 0; f < 4; ++f) {
    double sd = std::sqrt(want[f] * (1 - want[f]) / n);
    EXPECT_NEAR(double(count[f]) / n, want[f], 4 * sd) << "face " << f;
  }
}

TEST(Sampler, BoundaryIgnoresInputCoordinates) {
  // An `input` coordinate k in [0.1, 1] is drawn over its range on the
  // space faces x = 0, x = 2, y = 0, y = 1, and has no faces of its own.
  std::vector<Coord> box = box2();
  box.push_back({"k", false, 0.1, 1, /*isInput=*/true});
  const int64_t n = 20000;
  Rng rng(5);
  Batch B = sample(SamplerKind::Uniform, box, boundary(), n, rng);
  double kmin = 1, kmax = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = at(B, 0, i), y = at(B, 1, i), k = at(B, 3, i);
    ASSERT_TRUE(x == 0 || x == 2 || y == 0 || y == 1)
        << "point " << i << " (" << x << ", " << y << ", " << k
        << ") is on no space face";
    ASSERT_GT(k, 0.1);
    ASSERT_LT(k, 1.0);
    kmin = std::min(kmin, k);
    kmax = std::max(kmax, k);
  }
  EXPECT_LT(kmin, 0.11);
  EXPECT_GT(kmax, 0.99);
}

TEST(Sampler, ListedFacesEqualMeasureEqualCounts) {
  // `on x == 0 or x == 2`: equal measure, so equal counts in expectation;
  // with Sobol the face choice is stratified and the split is exact.
  Region R = faces({{0, 0.0}, {0, 2.0}});
  Rng rng(4);
  Batch B = sample(SamplerKind::Sobol, box2(), R, 1024, rng);
  int64_t left = 0;
  for (int64_t i = 0; i < B.n; ++i) {
    double x = at(B, 0, i);
    ASSERT_TRUE(x == 0.0 || x == 2.0);
    left += x == 0.0;
  }
  EXPECT_EQ(left, 512);

  Rng rng2(4);
  B = sample(SamplerKind::Uniform, box2(), R, 20000, rng2);
  left = 0;
  for (int64_t i = 0; i < B.n; ++i)
    left += at(B, 0, i) == 0.0;
  EXPECT_NEAR(double(left) / B.n, 0.5, 4 * 0.5 / std::sqrt(20000.0));
}

TEST(Sampler, InitialTimeFace) {
  // `on t == 0`: t fixed, x and y spread over their ranges.
  Rng rng(8);
  Batch B = sample(SamplerKind::Sobol, box2(), faces({{2, 0.0}}), 4096, rng);
  double sx = 0, sy = 0;
  for (int64_t i = 0; i < B.n; ++i) {
    ASSERT_EQ(at(B, 2, i), 0.0);
    sx += at(B, 0, i);
    sy += at(B, 1, i);
  }
  EXPECT_NEAR(sx / B.n, 1.0, 1e-2);
  EXPECT_NEAR(sy / B.n, 0.5, 1e-2);
}

TEST(Sampler, MixedFacesByMeasure) {
  // t == 0 has measure |x| |y| = 2; x == 0 has |y| |t| = 3.
  Rng rng(9);
  const int64_t n = 50000;
  Batch B =
      sample(SamplerKind::Uniform, box2(), faces({{2, 0.0}, {0, 0.0}}), n, rng);
  int64_t onT = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool t0 = at(B, 2, i) == 0.0, x0 = at(B, 0, i) == 0.0;
    ASSERT_TRUE(t0 || x0);
    onT += t0;
  }
  EXPECT_NEAR(double(onT) / n, 0.4, 4 * std::sqrt(0.24 / n));
}

TEST(Sampler, RestrictionDropsFacesOutsideIt) {
  Region R = boundary();
  R.restrictions = {{0, 0.0, 1.0}}; // keeps x == 0, drops x == 2
  Rng rng(10);
  Batch B = sample(SamplerKind::Uniform, box2(), R, 2000, rng);
  for (int64_t i = 0; i < B.n; ++i) {
    double x = at(B, 0, i), y = at(B, 1, i);
    ASSERT_NE(x, 2.0);
    ASSERT_LE(x, 1.0);
    ASSERT_TRUE(x == 0.0 || y == 0.0 || y == 1.0);
  }
}

TEST(Sampler, OneDimensionalFacesArePoints) {
  std::vector<Coord> C = {{"x", false, -1, 1}};
  Rng rng(12);
  Batch B = sample(SamplerKind::Sobol, C, boundary(), 64, rng);
  int64_t left = 0;
  for (int64_t i = 0; i < B.n; ++i) {
    ASSERT_TRUE(B.pts[i] == -1.0 || B.pts[i] == 1.0);
    left += B.pts[i] == -1.0;
  }
  EXPECT_EQ(left, 32);
}

TEST(Sampler, Errors) {
  std::vector<Coord> timeOnly = {{"t", true, 0, 1}};
  Rng rng(0);
  EXPECT_EQ(errorOf([&] {
              sample(SamplerKind::Uniform, timeOnly, boundary(), 10, rng);
            }),
            "region 'boundary' needs a space coordinate, but every "
            "coordinate of the model is a time");
  EXPECT_EQ(errorOf([&] {
              sample(SamplerKind::Uniform, box2(), faces({{0, 3.0}}), 10, rng);
            }),
            "face x == 3 lies outside the range [0, 2] of x");
  Region R = interior();
  R.restrictions = {{1, 2.0, 3.0}};
  EXPECT_EQ(errorOf([&] { sample(SamplerKind::Uniform, box2(), R, 10, rng); }),
            "restriction y in [2, 3] does not intersect its range [0, 1]");
  EXPECT_EQ(errorOf([&] {
              sample(SamplerKind::Uniform, box2(), faces({{7, 0.0}}), 10, rng);
            }),
            "face on coordinate index 7 but the model has 3 coordinates");
  EXPECT_EQ(
      errorOf([] { parseSamplerKind("hammersley"); }),
      "unknown sampler 'hammersley' (known: uniform, sobol, halton, lhs)");
  EXPECT_EQ(errorOf([] { Sobol S(0); }),
            "Sobol sampler supports 1 to 32 dimensions, not 0");
  EXPECT_EQ(errorOf([] { Halton H(33); }),
            "Halton sampler supports 1 to 32 dimensions, not 33");
}

TEST(Sobol, FirstPointsOfTheFirstTwoDimensions) {
  // Natural order: dimension 1 is van der Corput, dimension 2 has
  // m_k = 1, 3, 5, 15, ...
  Sobol S(2);
  const double want[8][2] = {{0, 0},         {0.5, 0.5},     {0.25, 0.75},
                             {0.75, 0.25},   {0.125, 0.625}, {0.625, 0.125},
                             {0.375, 0.375}, {0.875, 0.875}};
  for (int i = 0; i < 8; ++i) {
    double p[2];
    S.point(i, p);
    EXPECT_EQ(p[0], want[i][0]) << i;
    EXPECT_EQ(p[1], want[i][1]) << i;
  }
}

TEST(Sobol, NetProperties) {
  // Every one-dimensional projection of the first 2^m points hits each
  // interval [k/2^m, (k+1)/2^m) once; dimensions 1 and 2 form a (0, m, 2)-net
  // (every elementary box of area 2^-m holds exactly one point).
  const int m = 10, n = 1 << m, d = Sobol::maxDim();
  Sobol S(d);
  std::vector<double> p(static_cast<size_t>(n) * d);
  for (int i = 0; i < n; ++i)
    S.point(i, &p[static_cast<size_t>(i) * d]);
  for (int j = 0; j < d; ++j) {
    std::set<int> cells;
    for (int i = 0; i < n; ++i)
      cells.insert(static_cast<int>(p[i * d + j] * n));
    EXPECT_EQ(cells.size(), static_cast<size_t>(n)) << "dimension " << j + 1;
  }
  for (int a = 0; a <= m; ++a) {
    std::set<std::pair<int, int>> cells;
    for (int i = 0; i < n; ++i)
      cells.insert({static_cast<int>(p[i * d] * (1 << a)),
                    static_cast<int>(p[i * d + 1] * (1 << (m - a)))});
    EXPECT_EQ(cells.size(), static_cast<size_t>(n)) << "a = " << a;
  }
}

TEST(Sobol, ShiftedSobolIntegratesBetterThanUniform) {
  // Integrate f(u) = prod_j (u_j + 0.5) * ... exp-like smooth function over
  // [0,1]^4 (exact value 1) with 4096 points, over 16 random streams: the
  // RMS error of randomly shifted Sobol points must be far below Monte
  // Carlo's.
  auto f = [](const double *u) {
    double s = 1;
    for (int j = 0; j < 4; ++j)
      s *= std::exp(u[j]) / (M_E - 1);
    return s;
  };
  double err[2] = {0, 0};
  const int n = 4096, reps = 16;
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 2; ++k) {
      Rng rng(100 + r);
      std::vector<double> u;
      unitPoints(k ? SamplerKind::Sobol : SamplerKind::Uniform, 4, n, rng, u);
      double s = 0;
      for (int i = 0; i < n; ++i)
        s += f(&u[i * 4]);
      double e = s / n - 1;
      err[k] += e * e;
    }
  }
  double rmsUniform = std::sqrt(err[0] / reps),
         rmsSobol = std::sqrt(err[1] / reps);
  EXPECT_LT(rmsSobol, rmsUniform / 10)
      << "uniform " << rmsUniform << ", sobol " << rmsSobol;
}

TEST(Sampler, MakeBatchPadsTabulatedPoints) {
  // Two columns of three points, SoA with ld = 3.
  std::vector<double> soa = {1, 2, 3, 10, 20, 30};
  Batch B = makeBatch(soa.data(), 3, 3, 2);
  EXPECT_EQ(B.n, 3);
  EXPECT_EQ(B.ld, 64);
  EXPECT_EQ(B.pts[2], 3);
  EXPECT_EQ(B.pts[64 + 1], 20);
  EXPECT_EQ(B.pts[63], 1);
  EXPECT_EQ(B.pts[64 + 63], 10);
}

TEST(Resample, R3KeepsPointsAboveTheMeanResidualInOrder) {
  // residual r(x) = x on 8 points; mean |r| = 0.45: 0.5 .. 0.8 stay, in
  // order, the rest comes from the front of the fresh batch.
  CompiledModel M;
  M.coords = {{"x", false, 0.0, 1.0}};
  Term T;
  T.name = "pde";
  T.residual = [](const double *, const double *pts, int64_t, int64_t n,
                  const double *, double *out) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = pts[i];
  };
  M.terms = {T};
  std::vector<double> xs = {0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.5, 0.4};
  std::vector<double> fs = {0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98};
  std::vector<Batch> pop = {makeBatch(xs.data(), 8, 8, 1)};
  std::vector<Batch> fresh = {makeBatch(fs.data(), 8, 8, 1)};
  ThreadPool pool(2);
  R3Stats stats;
  resampleR3(M, pop, fresh, {}, {}, pool, &stats);
  std::vector<double> got(pop[0].pts.begin(), pop[0].pts.begin() + 8);
  EXPECT_EQ(got,
            (std::vector<double>{0.8, 0.7, 0.6, 0.5, 0.91, 0.92, 0.93, 0.94}));
  EXPECT_EQ(stats.retained, 4);
  EXPECT_EQ(stats.released, 4);
  // Padding lanes repeat point 0.
  EXPECT_EQ(pop[0].pts[8], 0.8);
  // Terms without a residual kernel, or with data, are left alone.
  M.terms[0].residual = nullptr;
  std::vector<Batch> before = pop;
  resampleR3(M, pop, fresh, {}, {}, pool);
  EXPECT_EQ(pop[0].pts, before[0].pts);
}

TEST(Resample, Kinds) {
  EXPECT_EQ(parseResampleKind(""), ResampleKind::Fresh);
  EXPECT_EQ(parseResampleKind("none"), ResampleKind::None);
  EXPECT_EQ(parseResampleKind("r3"), ResampleKind::R3);
  EXPECT_THROW(parseResampleKind("rad"), Error);
}

TEST(Sampler, ParsesEveryKind) {
  EXPECT_EQ(parseSamplerKind("uniform"), SamplerKind::Uniform);
  EXPECT_EQ(parseSamplerKind("sobol"), SamplerKind::Sobol);
  EXPECT_EQ(parseSamplerKind("halton"), SamplerKind::Halton);
  EXPECT_EQ(parseSamplerKind("lhs"), SamplerKind::Lhs);
}

TEST(Sampler, EveryKindDrawsOnListedFacesInsideTheRestriction) {
  // `on x == 0 or y == 1 in t in [1, 2]`: every point on one of the two
  // faces, inside the box, t within the restriction, both faces used.
  Region R = faces({{0, 0.0}, {1, 1.0}});
  R.restrictions = {{2, 1.0, 2.0}};
  for (SamplerKind k : kAllKinds) {
    Rng rng(21);
    Batch B = sample(k, box2(), R, 500, rng);
    int64_t onX = 0, onY = 0;
    for (int64_t i = 0; i < B.n; ++i) {
      double x = at(B, 0, i), y = at(B, 1, i), t = at(B, 2, i);
      ASSERT_TRUE(x == 0 || y == 1) << "point " << i;
      onX += x == 0;
      onY += x != 0;
      ASSERT_GE(x, 0.0);
      ASSERT_LT(x, 2.0);
      ASSERT_GE(y, 0.0);
      ASSERT_LE(y, 1.0);
      ASSERT_GE(t, 1.0);
      ASSERT_LT(t, 2.0);
    }
    // Measures |y||t| = 1 and |x||t| = 2: a third and two thirds.
    EXPECT_EQ(onX, 167) << int(k);
    EXPECT_EQ(onY, 333) << int(k);
  }
}

TEST(Sampler, SuccessiveStepsDrawDifferentPoints) {
  // Training derives one stream per step; no two steps may repeat a set.
  for (SamplerKind k : kAllKinds) {
    std::set<std::vector<double>> sets;
    for (uint64_t step = 0; step < 8; ++step) {
      Rng rng(streamSeed(42, {1, step, 0}));
      sets.insert(sample(k, box2(), interior(), 128, rng).pts);
    }
    EXPECT_EQ(sets.size(), 8u) << int(k);
  }
}

TEST(Halton, FirstPointsOfTheFirstTwoDimensions) {
  // Radical inverses in bases 2 and 3.
  Halton H(2);
  const double want[6][2] = {{0, 0},           {0.5, 1.0 / 3},
                             {0.25, 2.0 / 3},  {0.75, 1.0 / 9},
                             {0.125, 4.0 / 9}, {0.625, 7.0 / 9}};
  for (int i = 0; i < 6; ++i) {
    double p[2];
    H.point(i, p);
    EXPECT_DOUBLE_EQ(p[0], want[i][0]) << i;
    EXPECT_DOUBLE_EQ(p[1], want[i][1]) << i;
  }
}

/// A proxy of the star discrepancy of point-major points `u` in [0, 1)^dim:
/// the largest |fraction of points in [0, a) - volume of [0, a)| over the
/// anchored boxes with corners `a` on a regular grid of `g` cells per side.
double starDiscrepancyProxy(const std::vector<double> &u, int dim, int g) {
  int64_t n = static_cast<int64_t>(u.size()) / dim;
  int64_t corners = 1;
  for (int j = 0; j < dim; ++j)
    corners *= g;
  double worst = 0;
  std::vector<int> a(dim);
  for (int64_t c = 0; c < corners; ++c) {
    double volume = 1;
    for (int j = 0, r = int(c); j < dim; ++j, r /= g) {
      a[j] = r % g + 1;
      volume *= double(a[j]) / g;
    }
    int64_t inside = 0;
    for (int64_t i = 0; i < n; ++i) {
      bool in = true;
      for (int j = 0; j < dim && in; ++j)
        in = u[i * dim + j] < double(a[j]) / g;
      inside += in;
    }
    worst = std::max(worst, std::abs(double(inside) / n - volume));
  }
  return worst;
}

TEST(Halton, LowerDiscrepancyThanUniform) {
  // Averaged over 8 streams, shifted Halton points must sit much closer to
  // the uniform distribution than independent uniform points.
  const int n = 1000, dim = 3, reps = 8;
  double disc[2] = {0, 0};
  for (int r = 0; r < reps; ++r)
    for (int k = 0; k < 2; ++k) {
      Rng rng(300 + r);
      std::vector<double> u;
      unitPoints(k ? SamplerKind::Halton : SamplerKind::Uniform, dim, n, rng,
                 u);
      disc[k] += starDiscrepancyProxy(u, dim, 10) / reps;
    }
  EXPECT_LT(disc[1], disc[0] / 3)
      << "uniform " << disc[0] << ", halton " << disc[1];
}

TEST(Halton, ShiftedHaltonIntegratesBetterThanUniform) {
  // As for Sobol: a smooth integrand over [0, 1]^4, exact value 1. Halton
  // converges more slowly than Sobol in 4 dimensions at this n (about 8x
  // below Monte Carlo here), hence the looser margin.
  auto f = [](const double *u) {
    double s = 1;
    for (int j = 0; j < 4; ++j)
      s *= std::exp(u[j]) / (M_E - 1);
    return s;
  };
  double err[2] = {0, 0};
  const int n = 4096, reps = 16;
  for (int r = 0; r < reps; ++r)
    for (int k = 0; k < 2; ++k) {
      Rng rng(100 + r);
      std::vector<double> u;
      unitPoints(k ? SamplerKind::Halton : SamplerKind::Uniform, 4, n, rng, u);
      double s = 0;
      for (int i = 0; i < n; ++i)
        s += f(&u[i * 4]);
      err[k] += (s / n - 1) * (s / n - 1);
    }
  EXPECT_LT(std::sqrt(err[1] / reps), std::sqrt(err[0] / reps) / 4);
}

/// Checks that the `n` points of column `c` of `u` (point-major, `dim`
/// columns) fall one in each of the strata [k/n, (k+1)/n).
void expectOnePerStratum(const std::vector<double> &u, int dim, int c,
                         int64_t n) {
  std::vector<int> hits(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    double x = u[i * dim + c];
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    ++hits[static_cast<int64_t>(x * static_cast<double>(n))];
  }
  for (int64_t k = 0; k < n; ++k)
    ASSERT_EQ(hits[k], 1) << "stratum " << k << " of dimension " << c;
}

TEST(Lhs, OnePointPerStratumInEveryDimension) {
  for (int64_t n : {1, 2, 7, 1000, 4099}) {
    Rng rng(n);
    std::vector<double> u;
    unitPoints(SamplerKind::Lhs, 5, n, rng, u);
    ASSERT_EQ(u.size(), static_cast<size_t>(n) * 5);
    for (int c = 0; c < 5; ++c)
      expectOnePerStratum(u, 5, c, n);
  }
}

TEST(Lhs, FreshPermutationPerStepAndDimension) {
  // The strata are visited in a different order by each dimension and by
  // each step (otherwise the design would be the diagonal, or fixed).
  const int64_t n = 64;
  auto strata = [&](uint64_t seed) {
    Rng rng(seed);
    std::vector<double> u;
    unitPoints(SamplerKind::Lhs, 2, n, rng, u);
    std::vector<std::vector<int64_t>> order(2);
    for (int64_t i = 0; i < n; ++i)
      for (int c = 0; c < 2; ++c)
        order[c].push_back(static_cast<int64_t>(u[i * 2 + c] * n));
    return order;
  };
  auto a = strata(1), b = strata(2);
  EXPECT_NE(a[0], a[1]);
  EXPECT_NE(a[0], b[0]);
  EXPECT_EQ(strata(1), a);
}

TEST(Lhs, BatchOnEveryFaceIsStratified) {
  // `on x == 0 or x == 2`, 100 points each: on each face, the free
  // coordinates y in [0, 1] and t in [0, 3] are one per stratum of their
  // own range.
  Region R = faces({{0, 0.0}, {0, 2.0}});
  Rng rng(9);
  Batch B = sample(SamplerKind::Lhs, box2(), R, 200, rng);
  for (double face : {0.0, 2.0}) {
    std::vector<double> u;
    for (int64_t i = 0; i < B.n; ++i)
      if (at(B, 0, i) == face) {
        u.push_back(at(B, 1, i));
        u.push_back(at(B, 2, i) / 3);
      }
    ASSERT_EQ(u.size(), 200u) << "face x == " << face;
    expectOnePerStratum(u, 2, 0, 100);
    expectOnePerStratum(u, 2, 1, 100);
  }
}

TEST(Lhs, InteriorBatchIsStratifiedInTheRestrictedBox) {
  Region R = interior();
  R.restrictions = {{2, 1.0, 2.5}};
  Rng rng(10);
  Batch B = sample(SamplerKind::Lhs, box2(), R, 300, rng);
  const double lo[3] = {0, 0, 1}, hi[3] = {2, 1, 2.5};
  std::vector<double> u;
  for (int64_t i = 0; i < B.n; ++i)
    for (int c = 0; c < 3; ++c)
      u.push_back((at(B, c, i) - lo[c]) / (hi[c] - lo[c]));
  for (int c = 0; c < 3; ++c)
    expectOnePerStratum(u, 3, c, 300);
}

TEST(Sampler, DevicePlanOfTheInterior) {
  // lo[d], hi[d], no faces; a restriction narrows the box as on the host.
  Region R;
  R.restrictions.push_back({2, 1.0, 2.5});
  std::vector<double> plan = devicePlan(box2(), R, 100);
  std::vector<double> want = {0, 0, 1.0, 2, 1, 2.5, 0};
  EXPECT_EQ(plan, want);
}

TEST(Sampler, DevicePlanFacesMatchTheHostSampler) {
  // The GPU sampler puts points [end_{f-1}, end_f) on face f: the same
  // faces, in the same order and numbers, as the host's stratified counts.
  for (int64_t n : {1, 3, 7, 100, 1001}) {
    std::vector<double> plan = devicePlan(box2(), boundary(), n);
    ASSERT_EQ(plan.size(), 7u + 3 * 4) << "n = " << n;
    EXPECT_EQ(plan[6], 4);
    Rng rng(11);
    Batch B = sample(SamplerKind::Uniform, box2(), boundary(), n, rng);
    int64_t start = 0;
    for (int f = 0; f < 4; ++f) {
      int coord = static_cast<int>(plan[7 + 3 * f]);
      double value = plan[8 + 3 * f];
      auto end = static_cast<int64_t>(plan[9 + 3 * f]);
      ASSERT_LE(start, end);
      for (int64_t i = start; i < end; ++i)
        EXPECT_EQ(at(B, coord, i), value)
            << "n = " << n << ", point " << i << ", face " << f;
      start = end;
    }
    EXPECT_EQ(start, n);
  }
  // Every face gets a point once n allows it.
  std::vector<int64_t> count =
      facePointCounts(planRegion(box2(), boundary()), 4);
  EXPECT_EQ(count, (std::vector<int64_t>{1, 1, 1, 1}));
}
