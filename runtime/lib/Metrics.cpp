//===- Metrics.cpp - Field evaluation and error against references --------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Metrics.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace physrt;

std::vector<double> physrt::evaluatePoints(const EvalFn &fn,
                                           const std::vector<double> &params,
                                           const Batch &B,
                                           const std::vector<double> &rt,
                                           ThreadPool &pool, int outputs) {
  // Kernels write whole tiles, output k at [k * ld + i]: ld entries each.
  std::vector<double> out(static_cast<size_t>(outputs) * B.ld, 0.0);
  int64_t chunk = Evaluator::kChunk;
  int64_t nc = (B.n + chunk - 1) / chunk;
  pool.parallelFor(nc, [&](int64_t k) {
    int64_t start = k * chunk;
    fn(params.data(), B.pts.data() + start, B.ld, std::min(chunk, B.n - start),
       rt.data(), out.data() + start);
  });
  // Pack to stride n (moving each output down: never onto itself).
  for (int k = 1; k < outputs && B.ld != B.n; ++k)
    std::copy_n(out.begin() + k * B.ld, B.n, out.begin() + k * B.n);
  out.resize(static_cast<size_t>(outputs) * B.n);
  return out;
}

double physrt::relativeL2(const std::vector<double> &pred,
                          const std::vector<double> &ref) {
  if (pred.size() != ref.size())
    throw Error("relative L2: " + std::to_string(pred.size()) +
                " predictions for " + std::to_string(ref.size()) +
                " reference values");
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double e = pred[i] - ref[i];
    num += e * e;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

Batch physrt::interiorGrid(const CompiledModel &M, int64_t n) {
  int d = static_cast<int>(M.coords.size());
  if (d == 0)
    throw Error("model '" + M.name + "' has no coordinates");
  Sobol S(d);
  Batch B;
  B.n = n;
  B.ld = paddedLd(n);
  B.pts.assign(static_cast<size_t>(d) * B.ld, 0.0);
  std::vector<double> u(d);
  for (int64_t i = 0; i < n; ++i) {
    S.point(static_cast<uint32_t>(i), u.data());
    for (int c = 0; c < d; ++c) {
      const Coord &C = M.coords[c];
      B.pts[c * B.ld + i] = C.lo + (C.hi - C.lo) * u[c];
    }
  }
  fillPadding(B, d);
  return B;
}

std::vector<double> physrt::relativeL2PerField(
    const CompiledModel &M, const std::vector<double> &params,
    const std::vector<double> &rt, ThreadPool &pool, int64_t gridPoints) {
  std::vector<double> rel(M.fields.size(),
                          std::numeric_limits<double>::quiet_NaN());
  std::vector<bool> seen(M.fields.size(), false);
  Batch grid;
  int d = static_cast<int>(M.coords.size());
  for (const Exact &E : M.exacts) {
    if (E.field < 0 || E.field >= static_cast<int>(M.fields.size()))
      throw Error("an exact solution refers to field index " +
                  std::to_string(E.field) + ", but the model has " +
                  std::to_string(M.fields.size()) + " field outputs");
    const FieldOutput &F = M.fields[E.field];
    if (seen[E.field])
      throw Error("field '" + F.name + "' has more than one exact solution");
    seen[E.field] = true;
    if (!F.eval)
      throw Error("field '" + F.name + "' has no evaluation kernel");
    std::vector<double> pred, ref;
    if (E.eval) {
      if (grid.n == 0)
        grid = interiorGrid(M, gridPoints);
      pred = evaluatePoints(F.eval, params, grid, rt, pool);
      ref = evaluatePoints(E.eval, params, grid, rt, pool);
    } else if (E.count > 0) {
      if (static_cast<int64_t>(E.points.size()) < d * E.count ||
          static_cast<int64_t>(E.values.size()) < E.count)
        throw Error("the reference table of field '" + F.name +
                    "' is smaller than its point count");
      Batch B = makeBatch(E.points.data(), E.count, E.count, d);
      pred = evaluatePoints(F.eval, params, B, rt, pool);
      ref.assign(E.values.begin(), E.values.begin() + E.count);
    } else {
      throw Error("the exact solution of field '" + F.name +
                  "' has neither a kernel nor reference points");
    }
    rel[E.field] = relativeL2(pred, ref);
  }
  return rel;
}
