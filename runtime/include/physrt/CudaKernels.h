//===- CudaKernels.h - A model's kernels on a CUDA device -------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Moves the kernels of a CompiledModel
// to the GPU: the PTX that physc generates through MLIR (phys-to-cuda, see
// docs/cuda.md) is loaded through the driver API (no nvcc at run time), and
// every kernel of the model replaces its CPU binding with one that uploads
// the parameters and points, launches it, and reads the results back. The
// kernels take MLIR's memref calling convention (five parameters per
// buffer). A loss_grad kernel runs in blocks of 128 threads, each block
// writing its row of partial sums; the model's `_sum_partials` kernel then
// adds the rows in block order into a zeroed loss and gradient, so results
// are deterministic. The optimizer stays on the host: one upload and one
// read-back per term and step.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CUDAKERNELS_H
#define PHYSRT_CUDAKERNELS_H

#include "physrt/Model.h"
#include "physrt/ModelJSON.h"

#include <string>
#include <vector>

namespace physrt::cuda {

/// Machine code of the PTX for one chip ("sm_90"), as `physc build`
/// embeds it (physc_cubin of physc_embed.h).
struct Cubin {
  std::string chip;
  const void *image = nullptr;
  size_t size = 0;
};

/// The cubin a device of compute capability major.minor runs: one built for
/// exactly its chip, else the newest of the same major and a lower minor
/// (an sm_80 cubin runs on sm_86 and sm_89; nothing runs across majors).
/// -1 when none does, or a chip name is malformed.
int pickCubin(const std::vector<Cubin> &cubins, int major, int minor);

/// Rebinds `M`'s kernels (as `refs` name them; the CUDA names are the CPU
/// symbols without `_mlir_ciface_`; `jets` kernels stay on the CPU) to `ptx`
/// on device `ordinal`, and sets M.chunkPoints and M.device. The module
/// loaded is the cubin pickCubin chooses for the device, when there is one
/// and the driver takes it (no JIT compilation: M.device then ends in
/// ", cubin sm_XY)"), else the PTX; the PTX is needed either way, for the
/// launch geometry it declares. Throws Error, leaving `M` as it was, when
/// there is no usable device, the driver rejects the PTX, or the module
/// lacks one of the kernels or the model's `_sum_partials`.
void bindCudaKernels(CompiledModel &M, const std::vector<KernelRef> &refs,
                     bool f64, const std::string &ptx, int ordinal = 0,
                     const std::vector<Cubin> &cubins = {});

} // namespace physrt::cuda

#endif // PHYSRT_CUDAKERNELS_H
