//===- Describe.h - What the runtime must know of a lowered model -*- C++ -*-===//
//
// Part of physc. Reads a module at stage 3 (adjoint) and collects what the
// runtime needs besides machine code: coordinates, parameter layout, terms
// (with the observations of `data` terms, read from their files now), exacts,
// stages, sampler, weighting, and the symbol of every kernel with the slot it
// fills. The JIT binds the symbols in-process; `physc build` writes the same
// description into the library it builds.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_DESCRIBE_H
#define PHYSC_TOOLS_DESCRIBE_H

#include "Pipeline.h"

#include "physrt/ModelJSON.h"

#include "llvm/Support/raw_ostream.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace physc {

/// A `jets` kernel: for `physc gradcheck`, the chain of derivatives an
/// equation takes; yield `hi` must equal d/d(coord) of yield `lo`. Its
/// KernelRef (role Jets) has the same index.
struct JetsInfo {
  std::string equation;
  int outputs = 0;
  std::vector<std::array<int, 3>> checks; ///< {lo, hi, coord}
};

struct Description {
  physrt::ModelDescription desc;
  std::vector<JetsInfo> jets;
};

/// Null after printing an error (e.g. an unreadable data file) to `errs`.
std::optional<Description> describeModel(mlir::ModuleOp module,
                                         const CodegenOptions &options,
                                         llvm::raw_ostream &errs);

} // namespace physc

#endif // PHYSC_TOOLS_DESCRIBE_H
