//===- Pipeline.h - The numbered lowering stages ----------------*- C++ -*-===//
//
// Part of physc. The driver's view of the pipeline: a .phys file goes
// through these stages in order, and `physc emit STAGE` stops after any one.
//
//   0. ast      frontend: Spirit X3 grammar, AST with source ranges
//   1. phys     MLIRGen: phys.model with arith/math bodies and phys.d
//   2. jets     phys-outline-kernels, phys-expand-derivatives, cse
//   3. adjoint  phys-build-adjoint, cse
//   4. kernels  phys-fuse-kernels: point-loop functions on vectors
//   5. llvm     phys-to-cpu, then translation to LLVM IR
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_PIPELINE_H
#define PHYSC_TOOLS_PIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace physc {

enum class Stage { Phys, Jets, Adjoint, Kernels, LLVM };

struct CodegenOptions {
  std::string precision = "f32"; ///< f32 | f64
  unsigned lanes = 16;           ///< points per vector tile
  /// Also compile FIELD_derivs kernels (value, gradient, Hessian of every
  /// field), which `physc build` libraries expose.
  bool derivatives = false;
  /// Lanes of a warp that share one point in the CUDA loss kernels
  /// (phys-kernels-to-gpu's lanes-per-point; 1: a point per thread).
  unsigned gpuLanesPerPoint = 1;
};

/// Every dialect a physc module may hold at any stage, with the LLVM IR
/// translation interfaces.
void registerPhyscDialects(mlir::DialectRegistry &registry);

/// Runs the stages after `after` up to and including `last` on `module`
/// (which is at stage `after`; MLIRGen's output is at Stage::Phys). Errors
/// are reported through the context's diagnostic handler.
mlir::LogicalResult lowerTo(mlir::ModuleOp module, Stage last,
                            const CodegenOptions &options,
                            Stage after = Stage::Phys);

/// Loads, checks and MLIRGens `file` into `ctx` (whose registry must come
/// from registerPhyscDialects) and lowers it up to `last`. Null after
/// reporting errors.
mlir::OwningOpRef<mlir::ModuleOp> loadAndLower(const std::string &file,
                                               mlir::MLIRContext &ctx,
                                               Stage last,
                                               const CodegenOptions &options);

} // namespace physc

#endif // PHYSC_TOOLS_PIPELINE_H
