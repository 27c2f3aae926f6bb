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

/// Adds MODEL_sample, MODEL_adam and MODEL_advance to `gpuModule`, in
/// precision `T`.
void emitTrainKernels(mlir::OpBuilder &b, mlir::gpu::GPUModuleOp gpuModule,
                      phys::ModelOp model, mlir::FloatType T);

} // namespace physc

#endif // PHYSC_PASSES_TRAINKERNELSTOGPU_H
