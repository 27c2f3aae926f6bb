//===- PhysOps.h - Operations of the phys dialect ---------------*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_DIALECT_PHYS_PHYSOPS_H
#define PHYSC_DIALECT_PHYS_PHYSOPS_H

#include "physc/Dialect/Phys/PhysDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "physc/Dialect/Phys/PhysOps.h.inc"

namespace physc::phys {

/// Where each net's weights and biases live in the flat parameter vector:
/// nets in model order, layer by layer, weight (row-major, fan-out x fan-in)
/// then bias. The runtime, the kernels and checkpoints all use this layout.
struct ParamLayout {
  struct Block {
    std::string net;
    unsigned layer;
    bool isBias;
    int64_t offset, rows, cols;
  };
  std::vector<Block> blocks;
  int64_t size = 0;

  explicit ParamLayout(ModelOp model);
  /// Offset of the weight (or bias) block of `net`'s layer `layer`.
  int64_t offset(llvm::StringRef net, unsigned layer, bool bias) const;
};

} // namespace physc::phys

#endif // PHYSC_DIALECT_PHYS_PHYSOPS_H
