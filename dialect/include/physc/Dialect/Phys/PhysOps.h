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
/// nets in model order, layer by layer (NetOp::getNumLayers(), so a
/// modified_mlp's encoders come after its output layer), weight (row-major,
/// fan-out x fan-in) then bias; then one scalar per trainable param, in model
/// order. The runtime, the kernels and checkpoints all use this layout.
struct ParamLayout {
  struct Block {
    std::string net; ///< the net, or the param's name when isParam
    unsigned layer;
    bool isBias;
    int64_t offset, rows, cols;
    bool isParam = false; ///< a trainable param's 1x1 block
  };
  std::vector<Block> blocks;
  int64_t size = 0;

  explicit ParamLayout(ModelOp model);
  /// Offset of the weight (or bias) block of `net`'s layer `layer`.
  int64_t offset(llvm::StringRef net, unsigned layer, bool bias) const;
  /// Offset of trainable param `param`, or -1 when it is not trainable.
  int64_t paramOffset(llvm::StringRef param) const;
};

} // namespace physc::phys

#endif // PHYSC_DIALECT_PHYS_PHYSOPS_H
