//===- PhysDialect.h - The phys dialect -------------------------*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_DIALECT_PHYS_PHYSDIALECT_H
#define PHYSC_DIALECT_PHYS_PHYSDIALECT_H

#include "mlir/IR/Dialect.h"

#include "physc/Dialect/Phys/PhysOpsDialect.h.inc"

#endif // PHYSC_DIALECT_PHYS_PHYSDIALECT_H
