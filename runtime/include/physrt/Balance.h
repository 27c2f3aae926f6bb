//===- Balance.h - Balancing the loss terms ---------------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Two ways of keeping one loss term
// from drowning the others, both built on each term's own gradient
// (EvalExtras::termGrads):
//   - learning-rate annealing of the weights (Wang, Teng & Perdikaris,
//     "Understanding and mitigating gradient flow pathologies in
//     physics-informed neural networks", SIAM J. Sci. Comput. 2021, Alg. 1),
//     `train ... weights: annealing(K, ALPHA)`;
//   - the group gradients MultiAdam normalises one by one (Optimizers.h).
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_BALANCE_H
#define PHYSRT_BALANCE_H

#include "physrt/Evaluator.h"
#include "physrt/Model.h"

#include <cstdint>
#include <vector>

namespace physrt {

/// The terms whose weights annealing adapts: those with a weight > 0 that
/// are not residual terms (M.weighting.residual), in term order.
std::vector<int> annealedTerms(const CompiledModel &M);

/// One annealing update of `weights` (one per term) from each term's
/// gradient (of its unweighted mean squared residual), as in the paper's
/// eq. (40)-(41). With
///   g_r = sum over the residual terms r of weights[r] * termGrads[r],
///   lambda_hat_i = max_j |g_r[j]| / mean_j |weights[i] * termGrads[i][j]|,
///   weights[i] = (1 - alpha) * weights[i] + alpha * lambda_hat_i
/// for every annealed term i (j runs over all parameters). A term whose
/// gradient is 0 (or not finite) keeps its weight. Returns lambda_hat per
/// term (NaN for terms that were not updated).
std::vector<double>
annealWeights(const CompiledModel &M,
              const std::vector<std::vector<double>> &termGrads,
              std::vector<double> &weights);

/// The groups a multiadam stage uses: its own, or one group per term with
/// a weight > 0.
std::vector<std::vector<int>> multiAdamGroups(const CompiledModel &M,
                                              const Stage &S);

/// Gradient of each group's loss L_g = sum_{t in g} weights[t] * L_t,
/// summed in the group's order.
void groupGradients(const std::vector<std::vector<int>> &groups,
                    const std::vector<double> &weights,
                    const std::vector<std::vector<double>> &termGrads,
                    std::vector<std::vector<double>> &out);

/// The weights of the loss terms during a training run. With fixed
/// weighting they are the model's and every evaluation is the plain
/// Evaluator one (bit-identical to it). With annealing, Adam steps at
/// multiples of `every` (global step count) first update them.
class TermWeights {
public:
  explicit TermWeights(const CompiledModel &M);
  bool annealing() const { return anneal; }
  const std::vector<double> &values() const { return w; }
  /// Continues with saved weights; throws Error on a count mismatch.
  void restore(const std::vector<double> &saved);

  /// Loss and gradient with the current weights (frozen: L-BFGS, the final
  /// evaluation).
  double eval(Evaluator &ev, const CompiledModel &M,
              const std::vector<double> &params,
              const std::vector<Batch> &batches, const std::vector<double> &rt,
              std::vector<double> *grad, std::vector<double> *termLosses);

  /// The evaluation of the Adam step that starts after `step` global steps:
  /// when annealing and step % every == 0, first updates the weights from
  /// the terms' gradients at `params` on `batches`, then returns the loss
  /// and gradient with the new weights.
  double adamStep(Evaluator &ev, const CompiledModel &M, int64_t step,
                  const std::vector<double> &params,
                  const std::vector<Batch> &batches,
                  const std::vector<double> &rt, std::vector<double> &grad,
                  std::vector<double> &termLosses);

  /// MultiAdam's evaluation: the loss, each term's loss, and each group's
  /// gradient (and the total gradient in `grad`).
  double groups(Evaluator &ev, const CompiledModel &M,
                const std::vector<std::vector<int>> &groups,
                const std::vector<double> &params,
                const std::vector<Batch> &batches,
                const std::vector<double> &rt, std::vector<double> &grad,
                std::vector<double> &termLosses,
                std::vector<std::vector<double>> &groupGrads);

private:
  bool anneal = false;
  std::vector<double> w;
  std::vector<std::vector<double>> termGrads;
};

} // namespace physrt

#endif // PHYSRT_BALANCE_H
