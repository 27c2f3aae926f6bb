//===- physc-opt.cpp - mlir-opt with the phys dialect and passes ----------===//
//
// Part of physc. The driver of the lit tests of the dialect and of every
// pass: `physc-opt --phys-expand-derivatives file.mlir`.
//
//===----------------------------------------------------------------------===//

#include "physc/Dialect/Phys/PhysOps.h"
#include "physc/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  physc::registerPhyscPasses();
  physc::registerPhysToCPUPipeline();
  physc::registerPhysToCUDAPipeline();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<physc::phys::PhysDialect>();
  physc::registerCUDATarget(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "physc optimizer driver\n", registry));
}
