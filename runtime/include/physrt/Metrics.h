//===- Metrics.h - Field values and errors against references ---*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Evaluates field outputs on point sets
// and measures the relative L2 error against `exact` references, the number
// PINN papers report.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_METRICS_H
#define PHYSRT_METRICS_H

#include "physrt/Model.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"

#include <cstdint>
#include <vector>

namespace physrt {

/// Evaluates a kernel with `outputs` outputs at the `B.n` points of `B`, in
/// chunks of Evaluator::kChunk points on `pool`. Returns outputs * B.n
/// values: output k of point i at [k * B.n + i].
std::vector<double> evaluatePoints(const EvalFn &fn,
                                   const std::vector<double> &params,
                                   const Batch &B,
                                   const std::vector<double> &rt,
                                   ThreadPool &pool, int outputs = 1);

/// ||pred - ref||_2 / ||ref||_2. Where ||ref||_2 is 0 the relative error is
/// undefined and the absolute ||pred - ref||_2 is returned instead.
double relativeL2(const std::vector<double> &pred,
                  const std::vector<double> &ref);

/// A fixed, seed-independent point set of the model's box: the first `n`
/// unshifted Sobol points scaled to the box (not padded beyond kTile).
Batch interiorGrid(const CompiledModel &M, int64_t n);

/// Relative L2 error of each field (indexed like M.fields; NaN where the
/// field has no exact). An exact with `eval` is compared on
/// interiorGrid(M, gridPoints); a tabulated one on its points. Throws Error
/// for an exact naming no field, two exacts for one field, an exact with
/// neither a kernel nor points, or a field without a kernel.
std::vector<double> relativeL2PerField(const CompiledModel &M,
                                       const std::vector<double> &params,
                                       const std::vector<double> &rt,
                                       ThreadPool &pool,
                                       int64_t gridPoints = 10000);

} // namespace physrt

#endif // PHYSRT_METRICS_H
