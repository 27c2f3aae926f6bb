//===- CrossCheck.h - Two bindings of a model compared on one batch -*- C++
//-*-===//
//
// Part of physc's runtime (libphysrt). `--device auto` moves training to a
// GPU only when the GPU's kernels agree with the CPU's on the model at hand:
// a GPU path that computes something else (a driver or code generation bug)
// then costs one batch at start-up, not a silently wrong training run.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CROSSCHECK_H
#define PHYSRT_CROSSCHECK_H

#include "physrt/Model.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

struct CrossCheckResult {
  bool agree = true;
  /// The largest relative difference over terms: |loss_a - loss_b| / |loss_a|
  /// and max_k |g_a - g_b| / max_k |g_a|.
  double worst = 0;
  /// When they disagree (or a kernel failed): which term and by how much.
  std::string why;
};

/// Evaluates every term's loss and parameter gradient with `a`'s and with
/// `b`'s kernels (the same model, bound to two devices) at the initial
/// parameters of `seed`, on one batch of at most `maxPoints` points per
/// term, and compares them with relative tolerance `tol`.
CrossCheckResult crossCheck(const CompiledModel &a, const CompiledModel &b,
                            const std::vector<double> &rt, uint64_t seed,
                            double tol, int64_t maxPoints = 2048);

} // namespace physrt

#endif // PHYSRT_CROSSCHECK_H
