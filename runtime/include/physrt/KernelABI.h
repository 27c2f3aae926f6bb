//===- KernelABI.h - Calling compiled kernels from the runtime --*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). The CPU kernels physc generates have
// MLIR's C interface (`_mlir_ciface_NAME`): every buffer is passed as a
// pointer to a 1-D memref descriptor. These adapters turn such a function
// address into the runtime's LossGradFn / EvalFn. They are shared by the JIT
// (physc train) and by ahead-of-time libraries (physc build), so both call
// the kernels the same way.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_KERNELABI_H
#define PHYSRT_KERNELABI_H

#include "physrt/Model.h"

#include <cstdint>

namespace physrt {

/// MLIR's descriptor of a 1-D strided memref (StridedMemRefType<T, 1> in
/// mlir/ExecutionEngine/CRunnerUtils.h), repeated here so that the runtime
/// does not depend on MLIR's headers.
template <typename T> struct MemRef1D {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
};

/// A `loss_grad` kernel: (params, points, ld, n, runtime scalars, loss[1],
/// grad[numParams]) with `columns` point columns. f32 kernels (`f64` false)
/// are wrapped: inputs converted from f64, points padded to a multiple of 64
/// per column, results added back in f64.
LossGradFn bindLossGrad(void *fn, bool f64, int columns, int64_t numParams,
                        int64_t numRt);

/// An `eval` kernel writing `outputs` values per point.
EvalFn bindEval(void *fn, bool f64, int coords, int outputs,
                int64_t numParams, int64_t numRt);

} // namespace physrt

#endif // PHYSRT_KERNELABI_H
