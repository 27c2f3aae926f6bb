//===- Error.h - The runtime's one exception type ---------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Every failure the runtime detects
// (bad input files, inconsistent models, unwritable output paths, corrupted
// checkpoints, diverged training) is reported by throwing physrt::Error with
// a message meant for the end user, so the driver can print `what()` as is.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_ERROR_H
#define PHYSRT_ERROR_H

#include <stdexcept>
#include <string>

namespace physrt {

/// A user-facing runtime error. The message is complete on its own (it names
/// the file, term, parameter or path involved), so callers print it verbatim.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A GPU kernel faulted (an illegal address, say). The CUDA context is
/// unusable from then on, so the caller can only stop and say what it has
/// kept (training: its last checkpoint).
struct DeviceFault : Error {
  using Error::Error;
};

} // namespace physrt

#endif // PHYSRT_ERROR_H
