//===- CudaKernels.h - A model's kernels on a CUDA device -------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Moves the kernels of a CompiledModel
// to the GPU: the PTX of `physc emit cuda`'s kernels (compiled by nvcc when
// the model was built) is loaded through the driver API, and every kernel
// the module holds replaces its CPU binding with one that uploads the
// parameters and points, launches it (loss_grad kernels: one warp per
// block over tiles of 32 points, then the model's `_reduce` kernel for the
// loss and the gradient, in a fixed order, so results are deterministic),
// and reads the results back. Kernels the module lacks keep their CPU
// binding. The optimizer stays on the host: one upload and one read-back
// per term and step.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CUDAKERNELS_H
#define PHYSRT_CUDAKERNELS_H

#include "physrt/Model.h"
#include "physrt/ModelJSON.h"

#include <string>
#include <vector>

namespace physrt::cuda {

/// Rebinds `M`'s kernels (as `refs` name them; the CUDA names are the CPU
/// symbols without `_mlir_ciface_`) to `ptx` on device `ordinal`, and sets
/// M.chunkPoints and M.device. Throws Error when there is no usable device,
/// the driver rejects the PTX, or the module lacks the model's `_reduce`.
void bindCudaKernels(CompiledModel &M, const std::vector<KernelRef> &refs,
                     bool f64, const std::string &ptx, int ordinal = 0);

} // namespace physrt::cuda

#endif // PHYSRT_CUDAKERNELS_H
