//===- Sampler.h - Collocation points for a region --------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Draws the points at which a term's
// residual is evaluated, in the structure-of-arrays layout the kernels read
// (see Model.h): uniform random (xoshiro256**), Sobol or Halton
// low-discrepancy points with a Cranley-Patterson random shift, or Latin
// hypercube samples, on the interior of the box, on the faces of its space
// box (`on boundary`) or on listed faces.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_SAMPLER_H
#define PHYSRT_SAMPLER_H

#include "physrt/Model.h"
#include "physrt/Rng.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

/// Kernels read whole vector tiles, so every batch's leading dimension is a
/// multiple of this many lanes.
constexpr int64_t kTile = 64;

/// `n` rounded up to a multiple of kTile.
inline int64_t paddedLd(int64_t n) { return (n + kTile - 1) / kTile * kTile; }

/// Points in SoA layout: column `c` of point `i` is `pts[c * ld + i]`, `ld` a
/// multiple of kTile, `pts.size() == columns * ld`. Lanes [n, ld) hold copies
/// of point 0 so a kernel reading a whole tile computes on valid inputs.
struct Batch {
  std::vector<double> pts;
  int64_t n = 0, ld = 0;
};

/// Builds a padded Batch from `count` points of `columns` columns stored SoA
/// with leading dimension `srcLd` (>= count), e.g. tabulated data.
Batch makeBatch(const double *soa, int64_t srcLd, int64_t count, int columns);

/// Copies point 0 into lanes [n, ld) of every column.
void fillPadding(Batch &B, int columns);

enum class SamplerKind { Uniform, Sobol, Halton, Lhs };

/// Parses a `train ... sampler:` name; throws Error naming the supported ones.
SamplerKind parseSamplerKind(const std::string &name);

/// The Sobol sequence with Joe & Kuo's direction numbers
/// (new-joe-kuo-6.21201), 32-bit, in natural (not Gray-code) order, so point
/// `i` is the same however many points are drawn.
class Sobol {
public:
  /// Throws Error if `dim` is not in [1, maxDim()].
  explicit Sobol(int dim);
  static int maxDim();
  int dim() const { return d; }
  /// Writes point `index` (in [0, 1)^dim) to out[0..dim).
  void point(uint32_t index, double *out) const;

private:
  int d;
  std::vector<uint32_t> v; ///< v[j * 32 + k]: direction number k of dim j
};

/// The Halton sequence: coordinate j of point i is the radical inverse of i
/// in the j-th prime. Unscrambled; its low discrepancy in the few dimensions
/// of a PINN box (up to maxDim()) is all the sampler needs, and the random
/// shift of unitPoints makes every step's set different.
class Halton {
public:
  /// Throws Error if `dim` is not in [1, maxDim()].
  explicit Halton(int dim);
  static int maxDim();
  int dim() const { return d; }
  /// Writes point `index` (in [0, 1)^dim) to out[0..dim).
  void point(uint64_t index, double *out) const;

private:
  int d;
};

/// Writes `n` points of [0, 1)^dim to `u` (point-major: u[i * dim + j]).
/// Uniform: n * dim draws from `rng`, point by point. Sobol and Halton: the
/// sequence's points 0..n-1 shifted (mod 1) by one uniform vector drawn from
/// `rng` (Cranley-Patterson rotation), so every call with a fresh stream gets
/// fresh points while keeping the set's low discrepancy. Lhs: a Latin
/// hypercube; in every dimension the n points fall one in each of the n
/// strata [k/n, (k+1)/n), in an order given by a fresh random permutation per
/// dimension, uniformly within their stratum.
void unitPoints(SamplerKind kind, int dim, int64_t n, Rng &rng,
                std::vector<double> &u);

/// One face of the sampled box: coordinate `coord` fixed at `value`, and its
/// measure (the volume of the box in the other coordinates).
struct FacePlan {
  int coord;
  double value;
  double measure;
};

/// The box of a region: every coordinate's range narrowed by the region's
/// restrictions, and for Boundary/Faces the faces with their measures.
/// Faces whose value lies outside a restriction of their own coordinate are
/// dropped (the region is the intersection of the faces with the
/// restriction). Throws Error for an empty range, an unknown coordinate
/// index, a face off the box, a boundary without space coordinates, or a
/// faces region left with no face.
struct RegionPlan {
  std::vector<double> lo, hi;
  std::vector<FacePlan> faces; ///< empty for Interior
};
RegionPlan planRegion(const std::vector<Coord> &coords, const Region &R);

/// How many of `n` points lie on each face of `P` (P.faces non-empty):
/// proportional to the faces' measures (largest remainder; equal shares
/// when every face is degenerate), every face at least one point when n
/// allows. Drawing the face per point instead can leave a face of a small
/// batch empty, and then a fixed batch never sees that boundary condition.
std::vector<int64_t> facePointCounts(const RegionPlan &P, int64_t n);

/// The region of `n` points as the GPU sampler (MODEL_sample) reads it, in
/// doubles: lo[d], hi[d], the number of faces F, then per face its
/// coordinate, value and end (points [end of the previous face, end) lie
/// on it, as facePointCounts gives them).
std::vector<double> devicePlan(const std::vector<Coord> &coords,
                               const Region &R, int64_t n);

/// Draws `n` points of region `R` of a box with `coords`:
///  - Interior: the (restricted) box;
///  - Boundary: the faces lo/hi of every space (non-time) coordinate, at all
///    times;
///  - Faces: the listed faces.
/// On faces, a point's face is chosen with probability proportional to the
/// face's measure (the counts are stratified by measure); the fixed coordinate
/// is set exactly to the face value and the other coordinates are drawn in
/// the restricted box. With Lhs every face's points are a Latin hypercube of
/// their own (a slice of one design over all faces would not be).
Batch sample(SamplerKind kind, const std::vector<Coord> &coords,
             const Region &R, int64_t n, Rng &rng);

/// As above with the model's sampler (`M.sampler`) and coordinates.
Batch sample(const CompiledModel &M, const Region &R, int64_t n, Rng &rng);

} // namespace physrt

#endif // PHYSRT_SAMPLER_H
