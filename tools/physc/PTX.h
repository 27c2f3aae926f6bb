//===- PTX.h - A model's kernels as PTX, generated in process ---*- C++ -*-===//
//
// Part of physc. The one way physc turns a model into PTX: the phys-to-cuda
// pipeline (phys-kernels-to-gpu, NVVM, LLVM's NVPTX back end with libdevice
// linked) on the stage-3 module, in this process. `physc emit ptx` prints
// it, `physc train --device cuda` loads it through the driver API, and
// `physc build --target cpu,cuda` embeds it. No CUDA compiler is involved:
// only libdevice (nvvm/libdevice/libdevice.10.bc) is read from the CUDA
// toolkit, when the PTX is generated.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_PTX_H
#define PHYSC_TOOLS_PTX_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace physc {

/// The chip of the PTX physc runs and embeds. The driver JIT-compiles PTX
/// for sm_80 (ISA 8.0) on every GPU from sm_80 on, so one PTX serves A100,
/// H100 and H200.
inline constexpr const char *kRuntimeChip = "sm_80";

/// The CUDA toolkit root handed to gpu-module-to-binary, which links
/// ROOT/nvvm/libdevice/libdevice.10.bc: $PHYSC_CUDA_PATH when set (it must
/// hold libdevice: an explicit choice is not second-guessed), else the
/// first of $CUDA_PATH, /usr/local/cuda, /usr/lib/cuda (Debian's layout)
/// and /usr/lib/nvidia-cuda-toolkit that holds it. Null with `why` set
/// ("cannot find libdevice ...; set PHYSC_CUDA_PATH ...") when none does.
std::optional<std::string> findCUDAToolkit(std::string &why);

/// Lanes per point phys-kernels-to-gpu accepts: 1, 2, 4, 8, 16, 32.
inline bool isValidLanesPerPoint(unsigned n) {
  return n >= 1 && n <= 32 && (n & (n - 1)) == 0;
}
/// What `--lanes-per-point` means (physc train, build).
inline constexpr const char *kLanesPerPointHelp =
    "CUDA loss kernels: lanes of a warp that share one point (1, the "
    "default: a point per thread, its rows in local memory; 2 .. 32: each "
    "point's rows spread over the lanes, in registers)";
/// The usage error for a bad `--lanes-per-point`.
inline std::string badLanesPerPoint(unsigned n) {
  return "--lanes-per-point must be 1, 2, 4, 8, 16 or 32, got " +
         std::to_string(n);
}

/// Where generatePTX's PTX came from.
struct PTXOrigin {
  /// Read back from the cache (CodeCache.h) rather than generated.
  bool cached = false;
  /// The cache entry it was read from or stored as; empty when the cache
  /// is off or the entry could not be written.
  std::string cachePath;
  /// Seconds from the stage-3 module to the PTX.
  double seconds = 0;
};

/// The PTX (without its trailing NUL) of the one model in `module`, which is
/// at Stage::Adjoint; `module` itself is left as it is (the pipeline runs on
/// a clone), so the caller can go on to the CPU stages. Kernels in
/// `precision`, for `chip`, loss kernels for blocks of `blockSize` threads
/// (the runtime launches 128; others are for benchmarks), with the
/// parameters staged in shared memory unless `stageParams` is false, and
/// `lanesPerPoint` lanes sharing each point of a loss kernel. Null
/// after reporting why: as "TOOL: error: ..." on `errs`, or through the
/// context's diagnostics for pipeline failures. The PTX comes from the
/// code cache (CodeCache.h) when it holds the same kernels; `origin` says
/// which.
std::optional<std::string>
generatePTX(mlir::ModuleOp module, const std::string &precision,
            const std::string &chip, llvm::StringRef tool,
            llvm::raw_ostream &errs, unsigned blockSize = 128,
            bool stageParams = true, unsigned lanesPerPoint = 1,
            PTXOrigin *origin = nullptr);

} // namespace physc

#endif // PHYSC_TOOLS_PTX_H
