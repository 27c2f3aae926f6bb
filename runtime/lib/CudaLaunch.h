//===- CudaLaunch.h - Launching physc's PTX kernels (internal) --*- C++ -*-===//
//
// Part of physc's runtime (libphysrt), shared by CudaKernels.cpp (kernels
// called one at a time from the host) and CudaTrain.cpp (whole Adam steps
// on the device): the launch shapes and the argument convention of the
// phys-to-cuda kernels (docs/cuda.md, "What the kernels do", "ABI in PTX").
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_LIB_CUDALAUNCH_H
#define PHYSRT_LIB_CUDALAUNCH_H

#include "physrt/CudaDriver.h"
#include "physrt/DeviceTrainer.h"
#include "physrt/Error.h"
#include "physrt/Model.h"
#include "physrt/ModelJSON.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

namespace physrt::cuda {

/// Threads per block of the loss kernels: their block tree is written for
/// exactly this many (phys-kernels-to-gpu's block-size, which physc's
/// PTX.cpp sets, recorded in the PTX as .maxntid).
constexpr unsigned kLossGradBlock = 128;
/// Loss kernel blocks per multiprocessor, enough to fill the device; each
/// block walks its tiles in a grid-stride loop, so any grid covers them.
constexpr unsigned kBlocksPerSM = 4;
/// sum_partials and adam: one thread per column or parameter, any block
/// size.
constexpr unsigned kSumBlock = 256;
/// Evaluation kernels and the sampler: one thread per point, any block
/// size.
constexpr unsigned kEvalBlock = 128;
/// cuStreamBeginCapture's CU_STREAM_CAPTURE_MODE_RELAXED: other threads'
/// driver calls are not restricted while a step is being captured.
constexpr int kCaptureModeRelaxed = 2;

/// Bytes of dynamic shared memory each loss kernel of `ptx` is launched
/// with: the parameter vector (`numParams` values of `elem` bytes) when the
/// kernels stage it there (phys-kernels-to-gpu's stage-params, which makes
/// the PTX declare an `.extern .shared` array), else 0.
size_t stagedParamBytes(const std::string &ptx, int64_t numParams, size_t elem);

/// Lets loss kernel `fn` (`name`, for messages) be launched with `bytes` of
/// dynamic shared memory on `dev`; throws Error with the device's limit
/// when it cannot be.
void allowDynamicShared(const Driver &d, CUdevice dev, CUfunction fn,
                        const std::string &name, size_t bytes);

/// Points of a tile of `model`'s loss kernels in `ptx`: blockDim.x, unless
/// lanes share points (phys-kernels-to-gpu's lanes-per-point), in which
/// case the PTX says how many (`MODEL_loss_points_per_block`).
int64_t lossPointsPerBlock(const std::string &ptx, const std::string &model);

/// Blocks of a loss kernel over `n` points, `perBlock` points a tile.
inline unsigned lossGrid(int64_t n, int multiprocessors,
                         int64_t perBlock = kLossGradBlock) {
  int64_t tiles = (n + perBlock - 1) / perBlock;
  return static_cast<unsigned>(std::max<int64_t>(
      1, std::min<int64_t>(tiles, int64_t(kBlocksPerSM) * multiprocessors)));
}

/// The argument vector of one launch in MLIR's memref calling convention:
/// every `memref<?xT>` is five parameters (allocated pointer, aligned
/// pointer, offset, size, stride), every `index` one 64-bit integer.
/// cuLaunchKernel reads each parameter through a pointer, so the values
/// live here, in fixed storage that never moves.
class LaunchArgs {
public:
  void memref(CUdeviceptr ptr, int64_t size) {
    push(ptr);
    push(ptr);
    push(0);
    push(static_cast<uint64_t>(size));
    push(1);
  }
  void index(int64_t v) { push(static_cast<uint64_t>(v)); }
  void **get() { return ptrs; }

private:
  static constexpr int kMax = 64;
  void push(uint64_t v) {
    if (count == kMax)
      throw Error("internal error: too many kernel arguments");
    values[count] = v;
    ptrs[count] = &values[count];
    ++count;
  }
  uint64_t values[kMax] = {};
  void *ptrs[kMax] = {};
  int count = 0;
};

/// A loaded module of a model's PTX and what owns it (kept alive by whoever
/// uses the module).
struct LoadedModule {
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUmodule mod = nullptr;
  int multiprocessors = 1;
  /// Dynamic shared memory of every loss kernel launch (stagedParamBytes);
  /// allowDynamicShared has been called for the module's loss kernels.
  size_t lossShared = 0;
  /// Points of a loss kernel's tile (lossPointsPerBlock).
  int64_t lossPoints = kLossGradBlock;
  std::shared_ptr<void> owner;
};

/// Whether `mod` holds the kernels of whole training steps for `model`
/// (MODEL_adam and the rest; physc's PTX has them when the model has loss
/// kernels) and the driver has streams and graphs.
bool hasTrainKernels(const Driver &d, CUmodule mod, const std::string &model);

/// A DeviceTrainer for `M` running in `module` (CudaTrain.cpp). Throws
/// Error when a kernel is missing.
std::shared_ptr<DeviceTrainer>
makeDeviceTrainer(const CompiledModel &M, const std::vector<KernelRef> &refs,
                  bool f64, const LoadedModule &module);

} // namespace physrt::cuda

#endif // PHYSRT_LIB_CUDALAUNCH_H
