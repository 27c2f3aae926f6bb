//===- PTX.cpp - A model's kernels as PTX, generated in process -----------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "PTX.h"

#include "CodeCache.h"

#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <chrono>
#include <limits>

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

std::optional<std::string> physc::generatePTX(
    ModuleOp module, const std::string &precision, const std::string &chip,
    llvm::StringRef tool, llvm::raw_ostream &errs, unsigned blockSize,
    bool stageParams, unsigned lanesPerPoint, PTXOrigin *origin) {
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
  auto start = std::chrono::steady_clock::now();
  OwningOpRef<ModuleOp> copy(module.clone());
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
  PassManager toGPU(ctx);
  buildPhysToGPUPipeline(toGPU, options);
  if (failed(toGPU.run(*copy)))
    return std::nullopt;
  auto finish = [&](PTXOrigin o) {
    o.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (origin)
      *origin = std::move(o);
  };

  // The gpu.modules, the chip and libdevice determine the PTX, once physc
  // and LLVM are fixed (CodeCache.h).
  std::optional<std::string> cacheDir = codeCacheDir();
  std::string key;
  if (cacheDir) {
    llvm::SmallString<256> libdevice(*toolkit);
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    std::string inputs = "ptx\n" + physcIdentity() + "chip " + chip +
                         "\nlibdevice " + fileIdentity(libdevice) + "\n";
    // Everything but locations, which the PTX does not carry: moving a
    // line of the .phys file keeps the key.
    OpPrintingFlags flags;
    flags.elideLargeElementsAttrs(std::numeric_limits<int64_t>::max())
        .elideLargeResourceString(std::numeric_limits<int64_t>::max())
        .enableDebugInfo(false);
    llvm::raw_string_ostream os(inputs);
    copy->print(os, flags);
    key = codeCacheKey(os.str());
    if (std::optional<std::string> ptx =
            readCachedCode(*cacheDir, "ptx", key)) {
      finish({/*cached=*/true, codeCachePath(*cacheDir, "ptx", key)});
      return ptx;
    }
  }

  PassManager toPTX(ctx);
  buildGPUToPTXPipeline(toPTX, options);
  if (failed(toPTX.run(*copy)))
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
  if (!ptx) {
    errs << tool << ": error: the pipeline produced no GPU code\n";
    return std::nullopt;
  }
  PTXOrigin o;
  if (cacheDir && writeCachedCode(*cacheDir, "ptx", key, *ptx))
    o.cachePath = codeCachePath(*cacheDir, "ptx", key);
  finish(std::move(o));
  return ptx;
}
