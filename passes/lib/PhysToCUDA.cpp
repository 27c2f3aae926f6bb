//===- PhysToCUDA.cpp - Stage-3 kernels down to PTX -----------------------===//
//
// Part of physc. The GPU counterpart of phys-to-cpu: after
// phys-kernels-to-gpu only gpu/scf/memref/math/arith remain inside a
// gpu.module, and upstream passes take it to NVVM and then, through LLVM's
// NVPTX back end, to PTX text held in a gpu.binary. Our choices are the PTX
// ISA (8.0: the oldest that knows sm_90, so drivers from CUDA 12.0 on load
// it) and linking libdevice, which the math.* => __nv_* calls of
// convert-gpu-to-nvvm need; it comes from the toolkit's nvvm/libdevice.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

bool physc::isSupportedCUDAChip(llvm::StringRef chip) {
  return llvm::is_contained({"sm_80", "sm_86", "sm_87", "sm_89", "sm_90"},
                            chip);
}

void physc::buildPhysToCUDAPipeline(OpPassManager &pm,
                                    const PhysToCUDAOptions &options) {
  buildPhysToGPUPipeline(pm, options);
  buildGPUToPTXPipeline(pm, options);
}

void physc::buildPhysToGPUPipeline(OpPassManager &pm,
                                   const PhysToCUDAOptions &options) {
  KernelsToGPUOptions gpu;
  gpu.precision = options.precision;
  gpu.blockSize = options.blockSize;
  gpu.stageParams = options.stageParams;
  gpu.lanesPerPoint = options.lanesPerPoint;
  pm.addPass(createKernelsToGPU(gpu));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void physc::buildGPUToPTXPipeline(OpPassManager &pm,
                                  const PhysToCUDAOptions &options) {
  std::string toNVVM = "nvvm-attach-target{chip=" + options.chip +
                       " features=+ptx80 O=3},"
                       "convert-scf-to-cf,"
                       "gpu.module(convert-gpu-to-nvvm{index-bitwidth=64},"
                       "canonicalize,cse,reconcile-unrealized-casts)";
  std::string toPTX =
      "gpu-module-to-binary{format=isa toolkit=" + options.toolkit + "}";
  if (failed(parsePassPipeline(toNVVM, pm)))
    llvm::report_fatal_error("phys-to-cuda: bad built-in pipeline");
  pm.addNestedPass<gpu::GPUModuleOp>(createExternDynamicShared());
  if (failed(parsePassPipeline(toPTX, pm)))
    llvm::report_fatal_error("phys-to-cuda: bad built-in pipeline");
}

void physc::registerPhysToCUDAPipeline() {
  PassPipelineRegistration<PhysToCUDAOptions>(
      "phys-to-cuda",
      "Lower stage-3 phys kernels to PTX: phys-kernels-to-gpu, NVVM, "
      "gpu-module-to-binary{format=isa} with libdevice linked",
      buildPhysToCUDAPipeline);
}

void physc::registerCUDATarget(DialectRegistry &registry) {
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}
