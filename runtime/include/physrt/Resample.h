//===- Resample.h - Where the collocation points come from -----*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). By default every Adam step draws fresh
// points. `resample: none` draws them once and keeps them (the classic
// fixed-collocation PINN); `resample: r3 every K` keeps a population and,
// every K steps, applies R3 (Daw et al., "Mitigating propagation failures in
// physics-informed neural networks using retain-resample-release (R3)
// sampling", ICML 2023): points whose |residual| is above the population's
// mean are retained, the others are released and replaced by fresh uniform
// (or Sobol, ...) samples, so points accumulate where the PDE is violated.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_RESAMPLE_H
#define PHYSRT_RESAMPLE_H

#include "physrt/Model.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

enum class ResampleKind { Fresh, None, R3 };

/// "fresh" (or empty), "none", "r3"; throws Error otherwise.
ResampleKind parseResampleKind(const std::string &name);

struct R3Stats {
  int64_t retained = 0, released = 0; ///< over all resampled terms
};

/// One R3 step on `pop` (one batch per term, as drawn for the terms):
/// for every term with a residual kernel and no observation data, computes
/// |r| at its points, keeps those with |r| > mean |r| (in their order) and
/// fills the rest from the front of `fresh[t]` (same count as `pop[t]`).
/// Deterministic: the residuals are pointwise, the order is kept.
void resampleR3(const CompiledModel &M, std::vector<Batch> &pop,
                const std::vector<Batch> &fresh,
                const std::vector<double> &params,
                const std::vector<double> &rt, ThreadPool &pool,
                R3Stats *stats = nullptr);

} // namespace physrt

#endif // PHYSRT_RESAMPLE_H
