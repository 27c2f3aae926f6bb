//===- Checkpoint.h - Trained parameters on disk ----------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). A small versioned binary format so a
// trained model can be evaluated or embedded later, and a damaged or foreign
// file is rejected with a clear message instead of yielding garbage.
//
// Version 2 also holds the whole training state, so `physc train --resume`
// continues an interrupted run bit-exactly; version 3 adds MultiAdam's state
// and the loss weights (annealing). Layout (all integers and doubles
// little-endian, doubles as IEEE 754 binary64 bit patterns):
//   char[8]  magic "PHYSCKPT"
//   u32      version (3; version 1 files, without the fields marked [2] and
//            [3], and version 2 files, without those marked [3], are still
//            read)
//   u32      length of the model name, then its bytes
//   u64      number of parameters N
//   f64[N]   parameters
//   i64      optimizer steps taken (the global step)
//   [2] u64  seed
//   [2] u32  length of the precision name, then its bytes
//   [2] u64  fingerprint of the settings a resume must share (trainFingerprint)
//   [2] i64  stage index (== number of stages: training is finished)
//   [2] i64  steps done within that stage
//   [2] u32  optimizer state kind: 0 none, 1 Adam, 2 L-BFGS, [3] 3 MultiAdam
//       Adam:   i64 steps, f64 beta1^t, f64 beta2^t, f64[N] m, f64[N] v
//       L-BFGS: u64 pairs P, then P times (f64 rho, f64[N] s, f64[N] y)
//       MultiAdam: i64 steps, f64 beta1^t, f64 beta2^t, u64 groups G, then
//               G times (f64[N] m, f64[N] v)
//   [3] u64  number of loss weights W (0: the model's own), f64[W] weights
//   u64      FNV-1a 64-bit hash of all preceding bytes
// The sampler needs no state: every batch is a pure function of (seed,
// global step, term), see Train.h.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CHECKPOINT_H
#define PHYSRT_CHECKPOINT_H

#include "physrt/Model.h"
#include "physrt/Optimizers.h"
#include "physrt/Sampler.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace physrt {

constexpr uint32_t kCheckpointVersion = 3;

/// Which optimizer state a checkpoint carries.
enum class OptimizerStateKind : uint32_t {
  None = 0,
  Adam = 1,
  Lbfgs = 2,
  MultiAdam = 3
};

/// Where training stands and what its optimizer carries (version 2; MultiAdam and the loss weights: version 3).
struct TrainState {
  uint64_t seed = 0;
  std::string precision;
  uint64_t fingerprint = 0;
  int64_t stage = 0;     ///< index into CompiledModel::stages
  int64_t stageStep = 0; ///< steps done within that stage
  OptimizerStateKind kind = OptimizerStateKind::None;
  AdamState adam;
  /// L-BFGS curvature pairs, oldest first (LbfgsHistory::pairs).
  std::vector<std::vector<double>> lbfgsS, lbfgsY;
  std::vector<double> lbfgsRho;
  /// Version 3: the collocation points kept across steps (`resample: none`
  /// or `r3`), one batch per term; empty when points are drawn fresh.
  std::vector<Batch> points;
  MultiAdamState multiAdam; ///< version 3
  /// The loss weights in use (annealing), one per term; empty: the model's
  /// own (version 3).
  std::vector<double> weights;
};

struct Checkpoint {
  std::string model;
  std::vector<double> params;
  int64_t steps = 0;
  /// Version of the file read (encodeCheckpoint always writes the current
  /// one); a version 1 file has no training state and cannot be resumed.
  uint32_t version = kCheckpointVersion;
  TrainState state;
};

/// FNV-1a, 64-bit, of `bytes`.
uint64_t fnv1a64(std::string_view bytes);

/// The file image of `C`.
std::string encodeCheckpoint(const Checkpoint &C);

/// Parses a file image; `path` only names the source in messages. Throws
/// Error ("PATH: error: ...") for a wrong magic, an unsupported version, a
/// truncated or oversized image, inconsistent sizes, or a checksum mismatch.
/// Every truncation and every single changed byte is detected.
Checkpoint decodeCheckpoint(std::string_view bytes, const std::string &path);

/// Writes `C` atomically and durably: a temporary file in the same
/// directory, fsync of it, rename over `path`, fsync of the directory. A
/// crash at any point leaves either the previous checkpoint or the new one.
void saveCheckpoint(const std::string &path, const Checkpoint &C);

/// Reads and validates a checkpoint.
Checkpoint loadCheckpoint(const std::string &path);

/// Reads a checkpoint of model `M` (for `physc eval` or embedding) and
/// returns its parameters. Besides loadCheckpoint's checks, throws Error if
/// it was written for another model name or parameter count, since such
/// parameters would silently be misread.
std::vector<double> loadCheckpointFor(const std::string &path,
                                      const CompiledModel &M);

} // namespace physrt

#endif // PHYSRT_CHECKPOINT_H
