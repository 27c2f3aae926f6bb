//===- Sampler.cpp - Collocation points for a region ----------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Sampler.h"
#include "physrt/Error.h"

#include <algorithm>
#include <cmath>
#include <sstream>

using namespace physrt;

namespace {
/// Joe & Kuo, "Constructing Sobol sequences with better two-dimensional
/// projections", SIAM J. Sci. Comput. 30 (2008), file new-joe-kuo-6.21201,
/// dimensions 2 to 32: degree s of the primitive polynomial, its encoded
/// interior coefficients a, and the initial direction numbers m_1..m_s.
/// Dimension 1 is the van der Corput sequence and needs no row.
struct JoeKuoRow {
  int s;
  unsigned a;
  unsigned m[8];
};
constexpr JoeKuoRow kJoeKuo[] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
};
constexpr int kBits = 32;

/// The bases of the Halton sequence: the first 32 primes.
constexpr unsigned kPrimes[] = {
    2,  3,  5,  7,  11, 13, 17, 19, 23, 29,  31,  37,  41,  43,  47,  53,
    59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131};

/// Radical inverse of `i` in base `b`: the digits of i mirrored about the
/// radix point.
double radicalInverse(uint64_t i, unsigned b) {
  double inv = 1.0 / b, f = inv, x = 0;
  for (; i; i /= b, f *= inv)
    x += static_cast<double>(i % b) * f;
  return x;
}

/// Adds `shift` to every point of `u` (point-major, `dim` columns), mod 1.
void rotate(std::vector<double> &u, int dim, const std::vector<double> &shift) {
  for (size_t k = 0; k < u.size(); ++k) {
    double x = u[k] + shift[k % dim];
    u[k] = x >= 1.0 ? x - 1.0 : x;
  }
}

/// A uniform random integer in [0, k), k >= 1 (53-bit uniform times k: the
/// bias is far below anything a sampler could notice).
uint64_t below(Rng &rng, uint64_t k) {
  uint64_t r = static_cast<uint64_t>(rng.uniform() * static_cast<double>(k));
  return r < k ? r : k - 1;
}

/// A Latin hypercube of `n` points in [0, 1)^dim, point-major.
void latinHypercube(int dim, int64_t n, Rng &rng, std::vector<double> &u) {
  std::vector<int64_t> perm(n);
  double inv = 1.0 / static_cast<double>(n);
  for (int j = 0; j < dim; ++j) {
    for (int64_t i = 0; i < n; ++i)
      perm[i] = i;
    for (int64_t i = n - 1; i > 0; --i) // Fisher-Yates
      std::swap(perm[i], perm[below(rng, static_cast<uint64_t>(i) + 1)]);
    for (int64_t i = 0; i < n; ++i) {
      double k = static_cast<double>(perm[i]);
      // Rounding must not push a point into the next stratum.
      double top = std::nextafter((k + 1) * inv, 0.0);
      u[static_cast<size_t>(i) * dim + j] =
          std::min((k + rng.uniform()) * inv, top);
    }
  }
}
} // namespace

int Halton::maxDim() {
  return static_cast<int>(sizeof(kPrimes) / sizeof(kPrimes[0]));
}

Halton::Halton(int dim) : d(dim) {
  if (dim < 1 || dim > maxDim())
    throw Error("Halton sampler supports 1 to " + std::to_string(maxDim()) +
                " dimensions, not " + std::to_string(dim));
}

void Halton::point(uint64_t index, double *out) const {
  for (int j = 0; j < d; ++j)
    out[j] = radicalInverse(index, kPrimes[j]);
}

int Sobol::maxDim() {
  return 1 + static_cast<int>(sizeof(kJoeKuo) / sizeof(kJoeKuo[0]));
}

Sobol::Sobol(int dim) : d(dim), v(static_cast<size_t>(dim) * kBits) {
  if (dim < 1 || dim > maxDim())
    throw Error("Sobol sampler supports 1 to " + std::to_string(maxDim()) +
                " dimensions, not " + std::to_string(dim));
  // Dimension 1: m_k = 1 for all k.
  for (int k = 0; k < kBits; ++k)
    v[k] = 1u << (kBits - 1 - k);
  for (int j = 1; j < dim; ++j) {
    const JoeKuoRow &R = kJoeKuo[j - 1];
    uint32_t *vj = &v[static_cast<size_t>(j) * kBits];
    // m holds m_1..m_32 (1-based in the paper, 0-based here).
    uint32_t m[kBits];
    for (int k = 0; k < R.s; ++k)
      m[k] = R.m[k];
    for (int k = R.s; k < kBits; ++k) {
      // m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^s m_{k-s} ^ m_{k-s}
      uint32_t x = m[k - R.s] ^ (m[k - R.s] << R.s);
      for (int i = 1; i < R.s; ++i)
        if ((R.a >> (R.s - 1 - i)) & 1u)
          x ^= m[k - i] << i;
      m[k] = x;
    }
    for (int k = 0; k < kBits; ++k)
      vj[k] = m[k] << (kBits - 1 - k);
  }
}

void Sobol::point(uint32_t index, double *out) const {
  for (int j = 0; j < d; ++j) {
    const uint32_t *vj = &v[static_cast<size_t>(j) * kBits];
    uint32_t x = 0;
    for (int k = 0; index >> k; ++k)
      if ((index >> k) & 1u)
        x ^= vj[k];
    out[j] = static_cast<double>(x) * 0x1.0p-32;
  }
}

SamplerKind physrt::parseSamplerKind(const std::string &name) {
  if (name == "uniform")
    return SamplerKind::Uniform;
  if (name == "sobol")
    return SamplerKind::Sobol;
  if (name == "halton")
    return SamplerKind::Halton;
  if (name == "lhs")
    return SamplerKind::Lhs;
  throw Error("unknown sampler '" + name +
              "' (known: uniform, sobol, halton, lhs)");
}

void physrt::unitPoints(SamplerKind kind, int dim, int64_t n, Rng &rng,
                        std::vector<double> &u) {
  u.resize(static_cast<size_t>(n) * dim);
  switch (kind) {
  case SamplerKind::Uniform:
    for (double &x : u)
      x = rng.uniform();
    return;
  case SamplerKind::Lhs:
    latinHypercube(dim, n, rng, u);
    return;
  case SamplerKind::Sobol: {
    if (n > (int64_t(1) << kBits))
      throw Error("Sobol sampler supports at most 2^32 points per batch");
    Sobol S(dim);
    for (int64_t i = 0; i < n; ++i)
      S.point(static_cast<uint32_t>(i), &u[static_cast<size_t>(i) * dim]);
    break;
  }
  case SamplerKind::Halton: {
    Halton H(dim);
    for (int64_t i = 0; i < n; ++i)
      H.point(static_cast<uint64_t>(i), &u[static_cast<size_t>(i) * dim]);
    break;
  }
  }
  std::vector<double> shift(dim);
  for (double &x : shift)
    x = rng.uniform();
  rotate(u, dim, shift);
}

static std::string coordName(const std::vector<Coord> &coords, int c) {
  return coords[c].name.empty() ? "#" + std::to_string(c) : coords[c].name;
}

static std::string num(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

RegionPlan physrt::planRegion(const std::vector<Coord> &coords,
                              const Region &R) {
  int d = static_cast<int>(coords.size());
  if (d == 0)
    throw Error("cannot sample a model without coordinates");
  RegionPlan P;
  for (const Coord &C : coords) {
    if (!(C.lo <= C.hi))
      throw Error("coordinate '" + C.name + "' has an empty range [" +
                  num(C.lo) + ", " + num(C.hi) + "]");
    P.lo.push_back(C.lo);
    P.hi.push_back(C.hi);
  }
  for (const Region::Restriction &Rs : R.restrictions) {
    if (Rs.coord < 0 || Rs.coord >= d)
      throw Error("region restricts coordinate index " +
                  std::to_string(Rs.coord) + " but the model has " +
                  std::to_string(d) + " coordinates");
    P.lo[Rs.coord] = std::max(P.lo[Rs.coord], Rs.lo);
    P.hi[Rs.coord] = std::min(P.hi[Rs.coord], Rs.hi);
    if (!(P.lo[Rs.coord] <= P.hi[Rs.coord]))
      throw Error(
          "restriction " + coordName(coords, Rs.coord) + " in [" + num(Rs.lo) +
          ", " + num(Rs.hi) + "] does not intersect its range [" +
          num(coords[Rs.coord].lo) + ", " + num(coords[Rs.coord].hi) + "]");
  }
  if (R.kind == Region::Kind::Interior)
    return P;

  std::vector<Region::Face> faces;
  if (R.kind == Region::Kind::Boundary) {
    for (int c = 0; c < d; ++c) {
      if (coords[c].isTime || coords[c].isInput)
        continue;
      faces.push_back({c, coords[c].lo});
      if (coords[c].hi != coords[c].lo)
        faces.push_back({c, coords[c].hi});
    }
    if (faces.empty())
      throw Error("region 'boundary' needs a space coordinate, but every "
                  "coordinate of the model is a time");
  } else {
    faces = R.faces;
    if (faces.empty())
      throw Error("a faces region lists no face");
  }
  for (const Region::Face &F : faces) {
    if (F.coord < 0 || F.coord >= d)
      throw Error("face on coordinate index " + std::to_string(F.coord) +
                  " but the model has " + std::to_string(d) + " coordinates");
    const Coord &C = coords[F.coord];
    if (!(F.value >= C.lo && F.value <= C.hi))
      throw Error("face " + coordName(coords, F.coord) + " == " + num(F.value) +
                  " lies outside the range [" + num(C.lo) + ", " + num(C.hi) +
                  "] of " + coordName(coords, F.coord));
    if (F.value < P.lo[F.coord] || F.value > P.hi[F.coord])
      continue; // cut away by a restriction of its own coordinate
    double measure = 1;
    for (int c = 0; c < d; ++c)
      if (c != F.coord)
        measure *= P.hi[c] - P.lo[c];
    P.faces.push_back({F.coord, F.value, measure});
  }
  if (P.faces.empty())
    throw Error("every face of the region lies outside its restrictions");
  return P;
}

void physrt::fillPadding(Batch &B, int columns) {
  if (B.n == 0)
    return;
  for (int c = 0; c < columns; ++c) {
    double *col = B.pts.data() + c * B.ld;
    std::fill(col + B.n, col + B.ld, col[0]);
  }
}

Batch physrt::makeBatch(const double *soa, int64_t srcLd, int64_t count,
                        int columns) {
  if (count < 0 || srcLd < count)
    throw Error("invalid point table: " + std::to_string(count) +
                " points with leading dimension " + std::to_string(srcLd));
  Batch B;
  B.n = count;
  B.ld = paddedLd(count);
  B.pts.assign(static_cast<size_t>(columns) * B.ld, 0.0);
  for (int c = 0; c < columns; ++c)
    std::copy(soa + c * srcLd, soa + c * srcLd + count,
              B.pts.data() + c * B.ld);
  fillPadding(B, columns);
  return B;
}

/// Fills `u` with one Latin hypercube per face, face f's `count[f]` points in
/// consecutive rows, so that every face's own points are stratified.
static void faceLatinHypercubes(int d, const std::vector<int64_t> &count,
                                Rng &rng, std::vector<double> &u) {
  int64_t n = 0;
  for (int64_t c : count)
    n += c;
  u.resize(static_cast<size_t>(n) * d);
  size_t row = 0;
  std::vector<double> block;
  for (int64_t c : count) {
    unitPoints(SamplerKind::Lhs, d, c, rng, block);
    std::copy(block.begin(), block.end(), u.begin() + row * d);
    row += static_cast<size_t>(c);
  }
}

std::vector<int64_t> physrt::facePointCounts(const RegionPlan &P, int64_t n) {
  size_t nf = P.faces.size();
  double total = 0;
  for (const FacePlan &F : P.faces)
    total += F.measure;
  std::vector<int64_t> count(nf, 0);
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t f = 0; f < nf; ++f) {
    double share = total > 0 ? P.faces[f].measure / total : 1.0 / nf;
    double exact = share * static_cast<double>(n);
    count[f] = static_cast<int64_t>(exact);
    given += count[f];
    remainders.push_back({exact - static_cast<double>(count[f]), f});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](auto &a, auto &b) { return a.first > b.first; });
  for (size_t k = 0; given < n; k = (k + 1) % nf, ++given)
    ++count[remainders[k].second];
  if (n >= static_cast<int64_t>(nf))
    for (size_t f = 0; f < nf; ++f)
      while (count[f] == 0) {
        size_t big =
            std::max_element(count.begin(), count.end()) - count.begin();
        --count[big];
        ++count[f];
      }
  return count;
}

std::vector<double> physrt::devicePlan(const std::vector<Coord> &coords,
                                       const Region &R, int64_t n) {
  RegionPlan P = planRegion(coords, R);
  std::vector<double> plan(P.lo);
  plan.insert(plan.end(), P.hi.begin(), P.hi.end());
  plan.push_back(static_cast<double>(P.faces.size()));
  if (P.faces.empty())
    return plan;
  std::vector<int64_t> count = facePointCounts(P, n);
  int64_t end = 0;
  for (size_t f = 0; f < P.faces.size(); ++f) {
    end += count[f];
    plan.push_back(P.faces[f].coord);
    plan.push_back(P.faces[f].value);
    plan.push_back(static_cast<double>(end));
  }
  return plan;
}

Batch physrt::sample(SamplerKind kind, const std::vector<Coord> &coords,
                     const Region &R, int64_t n, Rng &rng) {
  if (n < 0)
    throw Error("cannot sample a negative number of points (" +
                std::to_string(n) + ")");
  RegionPlan P = planRegion(coords, R);
  int d = static_cast<int>(coords.size());
  Batch B;
  B.n = n;
  B.ld = paddedLd(n);
  B.pts.assign(static_cast<size_t>(d) * B.ld, 0.0);
  if (n == 0)
    return B;
  // With Lhs on faces, faceLatinHypercubes draws the points face by face.
  bool perFace = kind == SamplerKind::Lhs && !P.faces.empty();
  std::vector<double> u;
  if (!perFace)
    unitPoints(kind, d, n, rng, u);
  double *pts = B.pts.data();
  if (P.faces.empty()) {
    for (int64_t i = 0; i < n; ++i)
      for (int c = 0; c < d; ++c)
        pts[c * B.ld + i] = P.lo[c] + (P.hi[c] - P.lo[c]) * u[i * d + c];
  } else {
    size_t nf = P.faces.size();
    std::vector<int64_t> count = facePointCounts(P, n);
    std::vector<size_t> faceOf;
    faceOf.reserve(n);
    for (size_t f = 0; f < nf; ++f)
      faceOf.insert(faceOf.end(), count[f], f);
    if (perFace)
      faceLatinHypercubes(d, count, rng, u);
    for (int64_t i = 0; i < n; ++i) {
      const double *ui = &u[i * d];
      size_t f = faceOf[i];
      const FacePlan &F = P.faces[f];
      // Unit coordinates 1..d-1 go to the free coordinates in order.
      int k = 1;
      for (int c = 0; c < d; ++c) {
        if (c == F.coord) {
          pts[c * B.ld + i] = F.value;
          continue;
        }
        pts[c * B.ld + i] = P.lo[c] + (P.hi[c] - P.lo[c]) * ui[k++];
      }
    }
  }
  fillPadding(B, d);
  return B;
}

Batch physrt::sample(const CompiledModel &M, const Region &R, int64_t n,
                     Rng &rng) {
  return sample(parseSamplerKind(M.sampler), M.coords, R, n, rng);
}
