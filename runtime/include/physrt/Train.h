//===- Train.h - The training loop ------------------------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). `physc train` ends here: initialise
// the parameters, run the model's optimiser stages on sampled points, report
// progress, and leave a checkpoint, the fields on a grid and a JSON summary.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_TRAIN_H
#define PHYSRT_TRAIN_H

#include "physrt/Model.h"
#include "physrt/Pictures.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace physrt {

struct TrainOptions {
  uint64_t seed = 0;
  int64_t maxSteps = -1;   ///< caps total optimizer steps across stages
  std::string outDir;      ///< checkpoint.bin and fields.csv go here
  std::string summaryPath; ///< JSON summary
  int threads = 0;         ///< <= 0: hardware concurrency
  bool quiet = false;      ///< no progress and no summary on the log
  int64_t logEvery = 0;    ///< 0 = auto (~20 lines per run, non-terminal)
  std::string device = "cpu";
  std::string precision = "f32";
  std::vector<std::pair<std::string, double>> setParams; ///< --set NAME=V
  /// Progress display: -1 decides by whether the log stream is a terminal,
  /// 0 forces plain lines, 1 forces the rewritten '\r' line.
  int tty = -1;
  /// With outDir, a checkpoint every this many global steps (and at the
  /// end); 0 = auto (about 10 per run, at most every 500 steps), < 0 = only
  /// at the end.
  int64_t checkpointEvery = 0;
  /// Continue from RESUMEDIR/checkpoint.bin (outDir defaults to it).
  std::string resumeDir;
  /// Start from these parameters (numParams values, trainable params
  /// included) instead of initParams(M, seed): an embedding program
  /// training a model it loaded or trained before. Ignored with resumeDir.
  std::vector<double> initialParams;
  /// With a model that has a DeviceTrainer, still run the optimizer and the
  /// samplers on the host (the kernels stay on the device): for comparing
  /// the two and for debugging.
  bool hostOptimizer = false;
  /// With a DeviceTrainer, keep L-BFGS's line search and updates on the
  /// host, each evaluation one graph on the device (as before L-BFGS ran
  /// whole there): for comparing the two.
  bool hostLineSearch = false;
};

struct TrainResult {
  int64_t steps = 0;
  double seconds = 0;
  /// Final unweighted mean squared residual per term, on a fresh batch of
  /// each term's `samples` points (data terms: their data).
  std::vector<double> termLoss;
  double totalLoss = 0; ///< weighted sum of termLoss (final weights)
  /// The weight of each term at the end (annealed, or the model's).
  std::vector<double> weights;
  /// Relative L2 error per field output (like CompiledModel::fields), NaN
  /// for a field without an exact.
  std::vector<double> relL2;
  std::vector<double> params;
  std::vector<double> runtimeParams; ///< values used, after --set
  int threads = 0;                   ///< threads actually used
  /// Adam and L-BFGS steps run whole on the device (DeviceTrainer).
  int64_t deviceSteps = 0;
  /// Per-term losses along the run; with outDir, train() also writes
  /// loss.png, loss.csv, field_NAME.png and fields.vti (writePictures).
  LossHistory history;
};

/// The runtime scalars in model order with the `--set` overrides applied.
/// Throws Error naming an unknown name and listing the known ones.
std::vector<double>
runtimeValues(const CompiledModel &M,
              const std::vector<std::pair<std::string, double>> &set);

/// The summary JSON document (pretty-printed): model, steps, seconds, loss
/// {term: value}, total_loss, rel_l2 {field: value} (fields with an exact),
/// params {name: value} (every runtime param), seed, device, precision,
/// threads, sampler, stages (a multiadam stage with its "groups"); with
/// annealing also "weighting" (scheme, every, alpha, residual terms) and
/// "weights" {term: final weight}.
std::string summaryJSON(const CompiledModel &M, const TrainOptions &opts,
                        const TrainResult &R);

/// A hash of what a resumed run must share with the run that wrote the
/// checkpoint for the two to be one run: parameter layout, terms (samples,
/// weights), sampler, stages and their settings, and the runtime values
/// after --set. (--steps, --threads and the output options may change.)
uint64_t trainFingerprint(const CompiledModel &M,
                          const std::vector<double> &runtimeValues);

/// Trains `M`: parameters from initParams(M, seed), then each stage in
/// order. Adam draws fresh points for every term at every step from a stream
/// determined by (seed, step, term); L-BFGS draws one batch at its stage's
/// start and keeps it (resampling would invalidate its curvature pairs).
/// Progress and a final summary go to `log`. With `outDir`, writes
/// `checkpoint.bin` and `fields.csv` there; with `summaryPath`, the JSON
/// summary. Same model, options and seed give bit-identical results for any
/// thread count. With outDir, checkpoints (version 3, with the optimizer
/// state) are written every `checkpointEvery` steps; with resumeDir the run
/// continues from one and ends bit-identical to the uninterrupted run (only
/// the steps since that checkpoint are repeated). Throws Error on invalid
/// options (device, precision, --set, stage), an unwritable output path
/// (checked before training starts), a checkpoint that cannot be resumed
/// (damaged, another model or other settings), or a non-finite loss or
/// gradient (naming the step and the term; the last checkpoint is kept).
TrainResult train(const CompiledModel &M, const TrainOptions &opts,
                  std::ostream &log);

} // namespace physrt

#endif // PHYSRT_TRAIN_H
