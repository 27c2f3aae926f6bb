//===- DeviceTrainer.h - Whole training steps on a device -------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). With the kernels on a GPU, the host
// loop still costs an upload of the points and parameters and a read-back
// of the loss and gradient per term and step, and a synchronisation per
// step. A DeviceTrainer runs whole Adam steps on the device instead: points
// drawn there, the terms' gradients summed there, Adam on a device-resident
// f64 master copy of the parameters, and the host only waits when it logs,
// saves a checkpoint or ends the stage. It runs whole L-BFGS stages too,
// line search included (beginLbfgs). The training loop (Train.cpp) uses
// one when the model has it and the stage allows it.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_DEVICETRAINER_H
#define PHYSRT_DEVICETRAINER_H

#include "physrt/Optimizers.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

struct AdamState;
struct Batch;
struct Stage;

class DeviceTrainer {
public:
  virtual ~DeviceTrainer() = default;

  /// Starts (or restarts) an Adam stage at global step `step` (the steps
  /// done before it): uploads the parameters, the Adam state, the runtime
  /// params, the stage's hyperparameters and the terms' weights. `fixed`
  /// holds one batch per term when the points are kept (`resample: none`);
  /// when null, sampled terms are drawn on the device at every step (with
  /// their own stream of `seed`) and data terms use their data.
  virtual void begin(const std::vector<double> &params, const AdamState &state,
                     const Stage &S, const std::vector<double> &rt,
                     uint64_t seed, int64_t step,
                     const std::vector<Batch> *fixed) = 0;
  /// Runs up to `steps` steps without waiting, then waits for them. Returns
  /// how many completed: fewer when a loss or gradient was not finite
  /// (divergedAt() says at which step; the parameters stay those before
  /// it).
  virtual int64_t run(int64_t steps) = 0;
  /// The global step (counted from 1) whose loss or gradient was not
  /// finite, or 0.
  virtual int64_t divergedAt() = 0;
  /// The last step's loss of each term (mean over its points) into `terms`;
  /// returns the weighted total.
  virtual double losses(std::vector<double> &terms) = 0;
  /// The parameters and Adam state on the device now.
  virtual void read(std::vector<double> &params, AdamState &state) = 0;
  /// What runs the steps, for the log ("CUDA graph of N launches").
  virtual std::string describe() const = 0;

  /// Whether L-BFGS can run whole on the device (beginLbfgs); otherwise
  /// its line search stays on the host (beginEvaluation).
  virtual bool hasLbfgs() const = 0;
  /// Starts L-BFGS (minimizeLbfgs, line search included) on fixed batches,
  /// one per term, with the terms' weights: at `x`, whose copy with the
  /// bounded params clamped (what the loss kernels evaluate) is `xEval`,
  /// with the curvature pairs of `history` (empty for a fresh run). Nothing
  /// runs until runLbfgs().
  virtual void beginLbfgs(const std::vector<double> &x,
                          const std::vector<double> &xEval,
                          const LbfgsHistory &history, const LbfgsOptions &opts,
                          const std::vector<Batch> &batches,
                          const std::vector<double> &weights,
                          const std::vector<double> &rt) = 0;
  struct LbfgsStatus {
    int64_t iterations = 0; ///< done since beginLbfgs
    bool done = false;      ///< it stopped: `stop` says why
    StopReason stop = StopReason::MaxIterations;
    /// 0, or the iteration (from 1; 1 also for the starting point) whose
    /// loss or gradient was not finite.
    int64_t diverged = 0;
    double f = 0;            ///< the weighted loss at x
    int64_t evaluations = 0; ///< of the loss and gradient
  };
  /// Runs until `iterations` iterations are done (never more) or L-BFGS
  /// stops, waiting only for that.
  virtual LbfgsStatus runLbfgs(int64_t iterations) = 0;
  /// The iterate into `x`, each term's mean loss there into `terms`, and,
  /// when not null, the curvature pairs into `history`.
  virtual void readLbfgs(std::vector<double> &x, std::vector<double> &terms,
                         LbfgsHistory *history) = 0;

  /// For L-BFGS with its line search on the host (`--host-line-search`, or
  /// GPU code without the MODEL_lbfgs_* kernels):
  /// uploads fixed batches, one per term, with the terms' weights and the
  /// runtime params, once; each evaluate() then costs one upload of the
  /// parameters, one graph launch and one wait.
  virtual void beginEvaluation(const std::vector<Batch> &batches,
                               const std::vector<double> &weights,
                               const std::vector<double> &rt) = 0;
  /// The weighted loss at `params` on those batches; the weighted gradient
  /// into `grad` (when not null) and each term's mean loss into `terms`.
  virtual double evaluate(const std::vector<double> &params,
                          std::vector<double> *grad,
                          std::vector<double> &terms) = 0;
};

} // namespace physrt

#endif // PHYSRT_DEVICETRAINER_H
