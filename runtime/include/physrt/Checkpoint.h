//===- Checkpoint.h - Trained parameters on disk ----------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). A small versioned binary format so a
// trained model can be evaluated or embedded later, and a damaged or foreign
// file is rejected with a clear message instead of yielding garbage.
//
// Layout (all integers and doubles little-endian):
//   char[8]  magic "PHYSCKPT"
//   u32      version (1)
//   u32      length of the model name, then its bytes
//   u64      number of parameters N
//   f64[N]   parameters (IEEE 754 binary64)
//   i64      optimizer steps taken
//   u64      FNV-1a 64-bit hash of all preceding bytes
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CHECKPOINT_H
#define PHYSRT_CHECKPOINT_H

#include "physrt/Model.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace physrt {

constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  std::string model;
  std::vector<double> params;
  int64_t steps = 0;
};

/// FNV-1a, 64-bit, of `bytes`.
uint64_t fnv1a64(std::string_view bytes);

/// The file image of `C`.
std::string encodeCheckpoint(const Checkpoint &C);

/// Parses a file image; `path` only names the source in messages. Throws
/// Error ("PATH: error: ...") for a wrong magic, an unsupported version, a
/// truncated or oversized image, or a checksum mismatch.
Checkpoint decodeCheckpoint(std::string_view bytes, const std::string &path);

/// Writes `C` atomically (temporary file, then rename).
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
