//===- Pipeline.cpp - The numbered lowering stages ------------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "Pipeline.h"

#include "physc/Dialect/Phys/PhysOps.h"
#include "physc/Frontend/MLIRGen.h"
#include "physc/Transforms/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void physc::registerPhyscDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<phys::PhysDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

LogicalResult physc::lowerTo(ModuleOp module, Stage last,
                             const CodegenOptions &options, Stage after) {
  static bool registered = [] {
    registerAllPasses();
    return true;
  }();
  (void)registered;
  PassManager pm(module.getContext());
  auto &model = pm.nest<phys::ModelOp>();
  if (after < Stage::Jets && last >= Stage::Jets) {
    OutlineKernelsOptions outline;
    outline.derivatives = options.derivatives;
    model.addPass(createOutlineKernels(outline));
    model.addPass(createExpandDerivatives());
    model.addPass(createCanonicalizerPass());
    model.addPass(createCSEPass());
  }
  if (after < Stage::Adjoint && last >= Stage::Adjoint) {
    model.addPass(createBuildAdjoint());
    model.addPass(createCanonicalizerPass());
    model.addPass(createCSEPass());
    // After CSE, which would merge the recomputed rows back.
    model.addPass(createRematerialize());
  }
  if (after < Stage::Kernels && last >= Stage::Kernels) {
    FuseKernelsOptions fuse;
    fuse.precision = options.precision;
    fuse.lanes = options.lanes;
    pm.addPass(createFuseKernels(fuse));
  }
  if (after < Stage::LLVM && last >= Stage::LLVM)
    buildPhysToCPUPipeline(pm);
  return pm.run(module);
}

OwningOpRef<ModuleOp> physc::loadAndLower(const std::string &file,
                                          MLIRContext &ctx, Stage last,
                                          const CodegenOptions &options) {
  std::optional<LoadedModel> loaded = loadModel(file, llvm::errs());
  if (!loaded)
    return nullptr;
  OwningOpRef<ModuleOp> module = mlirGen(ctx, *loaded);
  if (!module || failed(lowerTo(*module, last, options)))
    return nullptr;
  return module;
}
