//===- PhysDialect.cpp - The phys dialect ---------------------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "physc/Dialect/Phys/PhysDialect.h"
#include "physc/Dialect/Phys/PhysOps.h"

using namespace mlir;
using namespace physc::phys;

#include "physc/Dialect/Phys/PhysOpsDialect.cpp.inc"

void PhysDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "physc/Dialect/Phys/PhysOps.cpp.inc"
      >();
}
