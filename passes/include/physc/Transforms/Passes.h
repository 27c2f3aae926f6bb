//===- Passes.h - The physc lowering pipeline -------------------*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TRANSFORMS_PASSES_H
#define PHYSC_TRANSFORMS_PASSES_H

#include "physc/Dialect/Phys/PhysOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace physc {

#define GEN_PASS_DECL
#include "physc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "physc/Transforms/Passes.h.inc"

/// Registers the `phys-to-cpu` pipeline: scf/vector/memref/math/arith/func
/// => LLVM dialect.
void registerPhysToCPUPipeline();
void buildPhysToCPUPipeline(mlir::OpPassManager &pm);

} // namespace physc

#endif // PHYSC_TRANSFORMS_PASSES_H
