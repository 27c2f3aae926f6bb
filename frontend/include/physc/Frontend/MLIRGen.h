//===- MLIRGen.h - From a checked .phys model to the phys dialect -*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_MLIRGEN_H
#define PHYSC_FRONTEND_MLIRGEN_H

#include "physc/Frontend/Frontend.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace physc {

/// Emits a `phys.model` for `loaded`, with a FileLineColLoc on every op, and
/// verifies it. Returns null after reporting a verifier error (which would
/// be a bug of Sema or MLIRGen, never of the user's file).
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const LoadedModel &loaded);

} // namespace physc

#endif // PHYSC_FRONTEND_MLIRGEN_H
