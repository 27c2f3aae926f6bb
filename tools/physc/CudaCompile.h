//===- CudaCompile.h - PTX from physc's CUDA C++ through nvcc ---*- C++ -*-===//
//
// Part of physc. The GPU code physc runs (`physc train --device cuda`) and
// embeds (`physc build --target cuda`) is the CUDA C++ of `physc emit cuda`,
// compiled to PTX by the toolkit's nvcc. PTX for compute_80 is loaded by
// the driver on any GPU from sm_80 on (it compiles it for the device at
// load time), so one PTX serves A100, H100 and H200.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_CUDACOMPILE_H
#define PHYSC_TOOLS_CUDACOMPILE_H

#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace physc {

/// nvcc: $NVCC, else `nvcc` on PATH, else /usr/local/cuda/bin/nvcc; empty
/// when none of them exists.
std::string findNvcc();

/// Compiles `source` with `nvcc -ptx -arch=compute_80 -O3`. Null after
/// printing why (no nvcc, or its diagnostics) to `errs` as
/// "TOOL: error: ...".
std::optional<std::string> compilePTX(const std::string &source,
                                      llvm::StringRef tool,
                                      llvm::raw_ostream &errs);

} // namespace physc

#endif // PHYSC_TOOLS_CUDACOMPILE_H
