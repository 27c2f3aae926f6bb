//===- Causal.h - Causal weighting of time-dependent residuals -*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). `causal: EPS` in `train` applies the
// causal training of Wang, Sankaran & Perdikaris ("Respecting causality is
// all you need for training physics-informed neural networks", 2022): the
// time range of every interior term is cut into M chunks with losses
// L_1..L_M, and chunk i is weighted by w_i = exp(-EPS * sum_{k<i} L_k)
// (no gradient through w), so later times only count once the earlier ones
// are resolved. Each chunk becomes a sub-term whose region is restricted to
// its time slice; the weights come from a forward pass of the residual
// kernels at the same points and parameters, so they are exact, not lagged.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CAUSAL_H
#define PHYSRT_CAUSAL_H

#include "physrt/Model.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"

#include <vector>

namespace physrt {

struct CausalPlan {
  CompiledModel expanded;  ///< chunk sub-terms replace the causal terms
  std::vector<int> origin; ///< expanded term -> term of the model
  std::vector<int> chunk;  ///< expanded term -> chunk index, or -1
  std::vector<double> baseWeight; ///< expanded term -> the term's weight
  int chunks = 0;
  double eps = 0;
  std::vector<double> lastWeights; ///< w_i of the last step, per chunk
};

/// Splits every interior term with a residual kernel and no data into
/// `M.causalChunks` time slices of the first `time` coordinate. Throws
/// Error when the model has no time coordinate or no such term.
CausalPlan planCausal(const CompiledModel &M);

/// Sets the weights of the chunk sub-terms for `batches` (drawn for
/// `P.expanded`) at `params`: base weight * w_i / chunks.
void updateCausalWeights(CausalPlan &P, const std::vector<double> &params,
                         const std::vector<Batch> &batches,
                         const std::vector<double> &rt, ThreadPool &pool);

/// Per term of the model: the unweighted mean loss (chunk losses averaged
/// by their point counts) from per-sub-term losses.
std::vector<double> foldCausalLosses(const CausalPlan &P,
                                     const std::vector<Batch> &batches,
                                     const std::vector<double> &sub,
                                     size_t terms);

} // namespace physrt

#endif // PHYSRT_CAUSAL_H
