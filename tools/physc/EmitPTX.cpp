//===- EmitPTX.cpp - physc emit gpu|ptx: the CUDA path of the pipeline ----===//
//
// Part of physc. `physc emit gpu FILE` prints the stage-3 kernels after
// phys-kernels-to-gpu (a gpu.module, one thread per point); `physc emit ptx
// FILE` runs the whole phys-to-cuda pipeline and prints the PTX that
// gpu-module-to-binary produced, ready for ptxas or cuModuleLoadData.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Pipeline.h"

#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

int physc::emitGPU(llvm::StringRef kind, const std::string &file,
                   const std::string &precision, const std::string &chip) {
  bool ptx = kind == "ptx";
  if (ptx && !isSupportedCUDAChip(chip))
    return usageError("emit", "unsupported --chip '" + chip +
                                  "' (expected one of: sm_80, sm_86, sm_87, "
                                  "sm_89, sm_90)");
  DialectRegistry registry;
  registerPhyscDialects(registry);
  registerCUDATarget(registry);
  MLIRContext ctx(registry);
  CodegenOptions options;
  options.precision = precision;
  OwningOpRef<ModuleOp> module =
      loadAndLower(file, ctx, Stage::Adjoint, options);
  if (!module)
    return 1;

  PassManager pm(&ctx);
  PhysToCUDAOptions cuda;
  cuda.chip = chip;
  cuda.precision = precision;
  if (ptx) {
    buildPhysToCUDAPipeline(pm, cuda);
  } else {
    KernelsToGPUOptions gpu;
    gpu.precision = precision;
    gpu.blockSize = cuda.blockSize;
    pm.addPass(createKernelsToGPU(gpu));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  if (failed(pm.run(*module)))
    return 1;
  if (!ptx) {
    module->print(llvm::outs(), OpPrintingFlags().enableDebugInfo(false));
    return 0;
  }
  // One gpu.binary per model, one object (our target) in each. The PTX
  // string ends with the NUL that makes it a C string for the driver; it is
  // not part of the text.
  for (auto binary : module->getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects()) {
      StringRef text = cast<gpu::ObjectAttr>(a).getObject().getValue();
      llvm::outs() << text.rtrim('\0');
    }
  return 0;
}
