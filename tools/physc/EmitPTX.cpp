//===- EmitPTX.cpp - physc emit gpu|ptx: the CUDA path of the pipeline ----===//
//
// Part of physc. `physc emit gpu FILE` prints the stage-3 kernels after
// phys-kernels-to-gpu (a gpu.module, one thread per point); `physc emit ptx
// FILE` prints the PTX of the whole phys-to-cuda pipeline (generatePTX,
// PTX.h): the same code `physc train --device cuda` loads and `physc build
// --target cpu,cuda` embeds, ready for ptxas or cuModuleLoadData.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "PTX.h"
#include "Pipeline.h"

#include "physc/Transforms/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

int physc::emitGPU(llvm::StringRef kind, const std::string &file,
                   const std::string &precision, const std::string &chip,
                   unsigned blockSize, bool stageParams,
                   unsigned lanesPerPoint) {
  bool ptx = kind == "ptx";
  if (blockSize < 32 || blockSize > 1024 || (blockSize & (blockSize - 1)))
    return usageError("emit", "--block-size must be a power of two in [32, "
                              "1024], got " +
                                  std::to_string(blockSize));
  if (!isValidLanesPerPoint(lanesPerPoint))
    return usageError("emit", badLanesPerPoint(lanesPerPoint));
  if (ptx && !isSupportedCUDAChip(chip))
    return usageError("emit", "unsupported --chip '" + chip +
                                  "' (expected one of: sm_80, sm_86, sm_87, "
                                  "sm_89, sm_90)");
  DialectRegistry registry;
  registerPhyscDialects(registry);
  MLIRContext ctx(registry);
  CodegenOptions options;
  options.precision = precision;
  OwningOpRef<ModuleOp> module =
      loadAndLower(file, ctx, Stage::Adjoint, options);
  if (!module)
    return 1;

  if (ptx) {
    std::optional<std::string> text =
        generatePTX(*module, precision, chip, "physc emit", llvm::errs(),
                    blockSize, stageParams, lanesPerPoint);
    if (!text)
      return 1;
    llvm::outs() << *text;
    return 0;
  }
  PassManager pm(&ctx);
  KernelsToGPUOptions gpu;
  gpu.precision = precision;
  gpu.blockSize = blockSize;
  gpu.stageParams = stageParams;
  gpu.lanesPerPoint = lanesPerPoint;
  pm.addPass(createKernelsToGPU(gpu));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(pm.run(*module)))
    return 1;
  module->print(llvm::outs(), OpPrintingFlags().enableDebugInfo(false));
  return 0;
}
