//===- PTX.cpp - A model's kernels as PTX, generated in process -----------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "PTX.h"

#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

using namespace mlir;

namespace {

/// Whether `root` holds libdevice where gpu-module-to-binary looks for it.
bool holdsLibdevice(llvm::StringRef root) {
  llvm::SmallString<256> path(root);
  llvm::sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
  return llvm::sys::fs::is_regular_file(path);
}

} // namespace

std::optional<std::string> physc::findCUDAToolkit(std::string &why) {
  if (auto pinned = llvm::sys::Process::GetEnv("PHYSC_CUDA_PATH");
      pinned && !pinned->empty()) {
    if (holdsLibdevice(*pinned))
      return *pinned;
    why = "cannot find libdevice: PHYSC_CUDA_PATH=" + *pinned +
          " holds no nvvm/libdevice/libdevice.10.bc; set PHYSC_CUDA_PATH to "
          "the CUDA toolkit's root";
    return std::nullopt;
  }
  std::vector<std::string> candidates;
  if (auto env = llvm::sys::Process::GetEnv("CUDA_PATH"); env && !env->empty())
    candidates.push_back(*env);
  for (const char *dir :
       {"/usr/local/cuda", "/usr/lib/cuda", "/usr/lib/nvidia-cuda-toolkit"})
    candidates.push_back(dir);
  for (const std::string &root : candidates)
    if (holdsLibdevice(root))
      return root;
  why = "cannot find libdevice (nvvm/libdevice/libdevice.10.bc of the CUDA "
        "toolkit) in $CUDA_PATH, /usr/local/cuda, /usr/lib/cuda or "
        "/usr/lib/nvidia-cuda-toolkit; set PHYSC_CUDA_PATH to the toolkit's "
        "root";
  return std::nullopt;
}

std::optional<std::string>
physc::generatePTX(ModuleOp module, const std::string &precision,
                   const std::string &chip, llvm::StringRef tool,
                   llvm::raw_ostream &errs, unsigned blockSize,
                   bool stageParams, unsigned lanesPerPoint) {
  // Checked first, so a machine without the toolkit gets this error rather
  // than PTX with unresolved __nv_* calls that no driver would load.
  std::string why;
  std::optional<std::string> toolkit = findCUDAToolkit(why);
  if (!toolkit) {
    errs << tool << ": error: " << why << "\n";
    return std::nullopt;
  }
  MLIRContext *ctx = module.getContext();
  DialectRegistry registry;
  registerCUDATarget(registry);
  ctx->appendDialectRegistry(registry);

  // phys-kernels-to-gpu replaces the models by gpu.modules: work on a copy.
  OwningOpRef<ModuleOp> copy(module.clone());
  PassManager pm(ctx);
  PhysToCUDAOptions options;
  options.chip = chip;
  options.precision = precision;
  // physrt launches the loss kernels with exactly 128 threads per block
  // (the block tree is written for the block size): the default.
  options.blockSize = blockSize;
  // The runtime sees from the PTX whether the parameters are staged (an
  // `.extern .shared` array) and launches with their bytes when they are.
  options.stageParams = stageParams;
  // With lanes sharing points the PTX records the points per block
  // (MODEL_loss_points_per_block), which sizes the runtime's grids.
  options.lanesPerPoint = lanesPerPoint;
  options.toolkit = *toolkit;
  buildPhysToCUDAPipeline(pm, options);
  if (failed(pm.run(*copy)))
    return std::nullopt;

  // One gpu.binary per model and one object (our target) in it. The PTX
  // string ends with the NUL that makes it a C string for the driver; it is
  // not part of the text.
  std::optional<std::string> ptx;
  for (auto binary : copy->getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects()) {
      if (ptx) {
        errs << tool << ": error: the GPU code holds more than one module\n";
        return std::nullopt;
      }
      ptx = cast<gpu::ObjectAttr>(a).getObject().getValue().rtrim('\0').str();
    }
  if (!ptx)
    errs << tool << ": error: the pipeline produced no GPU code\n";
  return ptx;
}
