//===- TrainKernelsToGPU.h - The rest of an Adam step, on the GPU -*- C++
//-*-===//
//
// Part of physc. See TrainKernelsToGPU.cpp for the kernels and their ABI.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_TRAINKERNELSTOGPU_H
#define PHYSC_PASSES_TRAINKERNELSTOGPU_H

#include "physc/Dialect/Phys/PhysOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace physc {

/// Adds MODEL_sample, MODEL_adam, MODEL_advance and MODEL_lbfgs_* to
/// `gpuModule`, in precision `T`.
void emitTrainKernels(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp gpuModule,
                      phys::ModelOp model, mlir::FloatType T);

/// Adds the MODEL_lbfgs_* kernels (LbfgsToGPU.cpp).
void emitLbfgs(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp gpuModule,
               phys::ModelOp model, mlir::FloatType T);

/// `x` (f64) projected into the range of the bounded trainable param at
/// flat index `k`, if `k` is one; `x` otherwise.
mlir::Value clampTrainable(mlir::OpBuilder &b, mlir::Location loc,
                           phys::ModelOp model, mlir::Value k, mlir::Value x);

} // namespace physc

#endif // PHYSC_PASSES_TRAINKERNELSTOGPU_H
