//===- Evaluator.h - Loss and gradient over all terms -----------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Runs every term's kernel over its
// batch on a persistent thread pool and combines the results into the
// weighted loss and its parameter gradient. Bit-identical for any thread
// count: each batch is cut into fixed chunks whose partial sums are reduced
// in chunk order.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_EVALUATOR_H
#define PHYSRT_EVALUATOR_H

#include "physrt/Model.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"

#include <cstdint>
#include <vector>

namespace physrt {

/// Optional extras of Evaluator::lossAndGrad.
struct EvalExtras {
  /// Overrides each term's weight (Term::weight) when non-null; one entry
  /// per term.
  const std::vector<double> *weights = nullptr;
  /// When non-null, resized to one vector of numParams per term and
  /// receives the gradient of each term's *unweighted* mean squared
  /// residual, d/dparams (sum_i r_{t,i}^2) / n_t. Folded alongside the
  /// total in the same chunk order, so it is bit-identical for any thread
  /// count and the total gradient is bit-identical to a call without it.
  std::vector<std::vector<double>> *termGrads = nullptr;
  /// When >= 0, only this term is computed, as if it were the model's only
  /// one: the other batches are not read (they may be empty), and count
  /// neither in the total nor in the gradient.
  int onlyTerm = -1;
};

/// Evaluates the training loss
///   total = sum_t weight_t * (sum_i r_{t,i}^2) / n_t
/// and its gradient. Owns the thread pool and the scratch buffers so a call
/// allocates nothing after the first.
class Evaluator {
public:
  /// Points per chunk: a multiple of kTile so each chunk starts on a tile.
  static constexpr int64_t kChunk = 1024;
  /// Chunks computed before their partial gradients are folded into the
  /// sum; bounds scratch memory to kWave * numParams doubles and is fixed,
  /// so the summation order does not depend on the thread count.
  static constexpr int64_t kWave = 32;

  /// `threads` <= 0: std::thread::hardware_concurrency().
  explicit Evaluator(int threads = 0);

  int threads() const { return pool.size(); }
  ThreadPool &threadPool() { return pool; }

  /// `batches[t]` holds term t's points (M.coords.size() columns, or more
  /// for terms whose kernels read extra columns); `rt` the runtime scalars.
  /// Returns the weighted total. If `grad` is non-null it is resized to
  /// numParams and receives the gradient of the total; if `termLosses` is
  /// non-null it receives each term's unweighted mean squared residual.
  /// Throws Error if the batches do not match the terms (count, empty
  /// batch, ld not a multiple of kTile or smaller than n) or a term has no
  /// kernel.
  double lossAndGrad(const CompiledModel &M, const std::vector<double> &params,
                     const std::vector<Batch> &batches,
                     const std::vector<double> &rt, std::vector<double> *grad,
                     std::vector<double> *termLosses);
  /// The same with extras: other weights, per-term gradients.
  double lossAndGrad(const CompiledModel &M, const std::vector<double> &params,
                     const std::vector<Batch> &batches,
                     const std::vector<double> &rt, std::vector<double> *grad,
                     std::vector<double> *termLosses, const EvalExtras &extras);

private:
  struct Chunk {
    int term;
    int64_t start, n;
  };
  ThreadPool pool;
  std::vector<Chunk> chunks;
  std::vector<double> partialLoss, partialGrad, termSum;
};

/// The same computation on a process-wide Evaluator with the default thread
/// count, created on first use and kept for the life of the process.
double lossAndGrad(const CompiledModel &M, const std::vector<double> &params,
                   const std::vector<Batch> &batches,
                   const std::vector<double> &rt, std::vector<double> *grad,
                   std::vector<double> *termLosses);

} // namespace physrt

#endif // PHYSRT_EVALUATOR_H
