//===- CudaKernels.cpp - A model's kernels on a CUDA device ---------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaKernels.h"

#include "CudaLaunch.h"
#include "physrt/CudaDriver.h"
#include "physrt/Error.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

using namespace physrt;
using namespace physrt::cuda;

namespace {

/// A device buffer that grows on demand.
struct Buffer {
  CUdeviceptr ptr = 0;
  size_t bytes = 0;
};

/// The module, its context and the scratch buffers every binding of one
/// model shares. Kernels of a model are called from the evaluator's pool
/// threads; one mutex serialises them (the device runs one launch sequence
/// at a time anyway), and each call makes the context current on its
/// thread.
struct Gpu {
  const Driver &d;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUmodule mod = nullptr;
  CUfunction sumPartials = nullptr;
  int multiprocessors = 1;
  /// Dynamic shared memory of each loss kernel launch (stagedParamBytes).
  size_t lossShared = 0;
  /// Points of a loss kernel's tile (lossPointsPerBlock).
  int64_t lossPoints = kLossGradBlock;
  size_t elem = 4; ///< sizeof the kernels' real type
  std::mutex mutex;
  Buffer params, rt, pts, partials, sums, out;
  std::vector<char> host; ///< staging in the kernels' precision

  explicit Gpu(const Driver &d) : d(d) {}
  ~Gpu() {
    // Errors are ignored here: at process exit the driver may already be
    // shutting down, and a destructor must not throw.
    if (!ctx)
      return;
    d.cuCtxSetCurrent(ctx);
    for (Buffer *b : {&params, &rt, &pts, &partials, &sums, &out})
      if (b->ptr)
        d.cuMemFree(b->ptr);
    if (mod)
      d.cuModuleUnload(mod);
    d.cuDevicePrimaryCtxRelease(dev);
  }

  void reserve(Buffer &b, size_t bytes) {
    bytes = std::max<size_t>(bytes, 16);
    if (b.bytes >= bytes)
      return;
    if (b.ptr)
      d.check(d.cuMemFree(b.ptr), "cuMemFree");
    b.ptr = 0;
    b.bytes = 0;
    d.check(d.cuMemAlloc(&b.ptr, bytes), "cuMemAlloc");
    b.bytes = bytes;
  }

  /// Converts `n` doubles to the kernels' precision into `host`.
  void stage(const double *src, size_t n, size_t at = 0) {
    host.resize(std::max(host.size(), (at + n) * elem));
    if (elem == sizeof(double)) {
      std::memcpy(host.data() + at * elem, src, n * sizeof(double));
      return;
    }
    float *dst = reinterpret_cast<float *>(host.data()) + at;
    for (size_t i = 0; i < n; ++i)
      dst[i] = static_cast<float>(src[i]);
  }

  /// Uploads `n` doubles (at least one element is allocated).
  void upload(Buffer &b, const double *src, size_t n) {
    reserve(b, n * elem);
    if (n == 0)
      return;
    stage(src, n);
    d.check(d.cuMemcpyHtoD(b.ptr, host.data(), n * elem), "cuMemcpyHtoD");
  }

  /// Uploads `n` points of `columns` SoA columns (stride `ld`) with stride n.
  void uploadPoints(const double *src, int64_t ld, int64_t n, int columns) {
    size_t count = static_cast<size_t>(n) * columns;
    reserve(pts, count * elem);
    host.resize(std::max(host.size(), count * elem));
    for (int c = 0; c < columns; ++c)
      stage(src + c * ld, n, static_cast<size_t>(c) * n);
    d.check(d.cuMemcpyHtoD(pts.ptr, host.data(), count * elem), "cuMemcpyHtoD");
  }

  /// Reads `n` values back and adds (or stores) them into `dst` as doubles.
  void download(const Buffer &b, size_t n, double *dst, bool add,
                int64_t dstStride = 1) {
    host.resize(std::max(host.size(), n * elem));
    d.check(d.cuMemcpyDtoH(host.data(), b.ptr, n * elem), "cuMemcpyDtoH");
    for (size_t i = 0; i < n; ++i) {
      double v = elem == sizeof(double)
                     ? reinterpret_cast<const double *>(host.data())[i]
                     : reinterpret_cast<const float *>(host.data())[i];
      double &slot = dst[i * dstStride];
      slot = add ? slot + v : v;
    }
  }

  /// Makes the context current on this thread and uploads what every kernel
  /// reads: parameters, runtime scalars and `n` points (stride n on the
  /// device). The caller holds `mutex`.
  void uploadInputs(const double *p, int64_t numParams, const double *r,
                    int64_t numRt, const double *x, int64_t ld, int64_t n,
                    int columns) {
    d.check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    upload(params, p, numParams);
    upload(rt, r, numRt);
    uploadPoints(x, ld, n, columns);
  }

  /// `shared`: bytes of dynamic shared memory (a loss kernel's staged
  /// parameters); the rest of the kernels' workgroup memory is static.
  void launch(CUfunction f, unsigned grid, unsigned block, LaunchArgs &args,
              size_t shared = 0) {
    d.check(d.cuLaunchKernel(f, grid, 1, 1, block, 1, 1,
                             static_cast<unsigned>(shared), nullptr, args.get(),
                             nullptr),
            "cuLaunchKernel");
  }
};

LossGradFn lossGradOnGpu(std::shared_ptr<Gpu> gpu, CUfunction fn, int columns,
                         int64_t numParams, int64_t numRt) {
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *loss, double *grad) {
    if (n <= 0)
      return;
    Gpu &g = *gpu;
    std::lock_guard<std::mutex> lock(g.mutex);
    g.uploadInputs(params, numParams, rt, numRt, pts, ld, n, columns);
    int64_t total = 1 + numParams; // a partials row: loss, then gradient
    unsigned grid = lossGrid(n, g.multiprocessors, g.lossPoints);
    // Every block writes its whole row: no zeroing.
    g.reserve(g.partials, grid * total * g.elem);
    LaunchArgs lossArgs;
    lossArgs.memref(g.params.ptr, numParams);
    lossArgs.memref(g.pts.ptr, n * columns);
    lossArgs.index(n); // ld: uploadPoints packs the columns with stride n
    lossArgs.index(n);
    lossArgs.memref(g.rt.ptr, numRt);
    lossArgs.memref(g.partials.ptr, grid * total);
    g.launch(fn, grid, kLossGradBlock, lossArgs, g.lossShared);

    // sum_partials adds the column sums into loss[0] and grad[0, np): both
    // live in `sums`, zeroed first, and are added into the caller's after.
    g.reserve(g.sums, total * g.elem);
    g.d.check(g.d.cuMemsetD8(g.sums.ptr, 0, total * g.elem), "cuMemsetD8");
    LaunchArgs sumArgs;
    sumArgs.memref(g.partials.ptr, grid * total);
    sumArgs.index(grid);
    sumArgs.memref(g.sums.ptr, 1);
    sumArgs.memref(g.sums.ptr + g.elem, numParams);
    g.launch(g.sumPartials,
             static_cast<unsigned>((total + kSumBlock - 1) / kSumBlock),
             kSumBlock, sumArgs);
    g.download(g.sums, 1, loss, true);
    Buffer gradSums = g.sums;
    gradSums.ptr += g.elem;
    g.download(gradSums, numParams, grad, true);
  };
}

EvalFn evalOnGpu(std::shared_ptr<Gpu> gpu, CUfunction fn, int columns,
                 int outputs, int64_t numParams, int64_t numRt) {
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *out) {
    if (n <= 0)
      return;
    Gpu &g = *gpu;
    std::lock_guard<std::mutex> lock(g.mutex);
    g.uploadInputs(params, numParams, rt, numRt, pts, ld, n, columns);
    g.reserve(g.out, static_cast<size_t>(outputs) * n * g.elem);
    LaunchArgs args;
    args.memref(g.params.ptr, numParams);
    args.memref(g.pts.ptr, n * columns);
    args.index(n); // ld: yield k goes to out[k * n + i]
    args.index(n);
    args.memref(g.rt.ptr, numRt);
    args.memref(g.out.ptr, outputs * n);
    g.launch(fn, static_cast<unsigned>((n + kEvalBlock - 1) / kEvalBlock),
             kEvalBlock, args);
    // out[k * n + i] on the device, out[k * ld + i] for the caller.
    for (int k = 0; k < outputs; ++k) {
      Buffer slice = g.out;
      slice.ptr += static_cast<CUdeviceptr>(k) * n * g.elem;
      g.download(slice, n, out + k * ld, false);
    }
  };
}

/// CUdevice_attribute CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN.
constexpr int kMaxSharedPerBlockOptin = 97;
/// CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
constexpr int kMaxDynamicSharedBytes = 8;

std::string cudaName(const std::string &symbol) {
  const std::string prefix = "_mlir_ciface_";
  return symbol.compare(0, prefix.size(), prefix) == 0
             ? symbol.substr(prefix.size())
             : symbol;
}

} // namespace

size_t cuda::stagedParamBytes(const std::string &ptx, int64_t numParams,
                              size_t elem) {
  // physc's kernels declare no other extern shared array.
  bool staged = ptx.find(".extern .shared") != std::string::npos;
  return staged ? static_cast<size_t>(numParams) * elem : 0;
}

int64_t cuda::lossPointsPerBlock(const std::string &ptx,
                                 const std::string &model) {
  // `.visible .global .align 4 .u32 MODEL_loss_points_per_block = N;`
  std::string key = " " + model + "_loss_points_per_block = ";
  size_t at = ptx.find(key);
  if (at == std::string::npos)
    return kLossGradBlock;
  long long v = std::strtoll(ptx.c_str() + at + key.size(), nullptr, 10);
  if (v < 1 || v > kLossGradBlock)
    throw Error("the GPU code of model '" + model +
                "' declares a loss tile of " + std::to_string(v) +
                " points, not 1 .. " + std::to_string(kLossGradBlock));
  return v;
}

void cuda::allowDynamicShared(const Driver &d, CUdevice dev, CUfunction fn,
                              const std::string &name, size_t bytes) {
  if (bytes == 0)
    return;
  // Above 48 KB per block (static and dynamic together) a kernel must opt
  // in; asking for what it gets anyway costs nothing.
  CUresult r = d.cuFuncSetAttribute
                   ? d.cuFuncSetAttribute(fn, kMaxDynamicSharedBytes,
                                          static_cast<int>(bytes))
                   : 0;
  if (r == 0)
    return;
  int limit = 0;
  d.cuDeviceGetAttribute(&limit, kMaxSharedPerBlockOptin, dev);
  throw Error("the GPU kernel " + name +
              " needs its static shared memory plus " + std::to_string(bytes) +
              " bytes for the parameters, more than the " +
              std::to_string(limit) + " bytes per block the device allows (" +
              d.errorName(r) + ")");
}

int cuda::pickCubin(const std::vector<Cubin> &cubins, int major, int minor) {
  int best = -1, bestMinor = -1;
  for (size_t i = 0; i < cubins.size(); ++i) {
    // "sm_XY": X the major, Y the minor (one digit each, as the driver's
    // chip names from sm_50 to sm_120 have; a third digit is a major >= 10).
    const std::string &c = cubins[i].chip;
    if (c.size() < 5 || c.size() > 6 || c.compare(0, 3, "sm_") != 0 ||
        !cubins[i].image || !cubins[i].size)
      continue;
    std::string digits = c.substr(3);
    if (digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    int ma = std::stoi(digits.substr(0, digits.size() - 1));
    int mi = digits.back() - '0';
    if (ma == major && mi <= minor && mi > bestMinor) {
      best = static_cast<int>(i);
      bestMinor = mi;
    }
  }
  return best;
}

void cuda::bindCudaKernels(CompiledModel &M, const std::vector<KernelRef> &refs,
                           bool f64, const std::string &ptx, int ordinal,
                           const std::vector<Cubin> &cubins) {
  std::vector<DeviceInfo> all = devices();
  if (ordinal < 0 || ordinal >= static_cast<int>(all.size()))
    throw Error("no CUDA device " + std::to_string(ordinal) + " (found " +
                std::to_string(all.size()) + ")");
  if (ptx.empty())
    throw Error("model '" + M.name + "' has no GPU code");
  auto gpu = std::make_shared<Gpu>(driver());
  const Driver &d = gpu->d;
  const DeviceInfo &info = all[ordinal];
  gpu->multiprocessors = std::max(1, info.multiprocessors);
  gpu->elem = f64 ? sizeof(double) : sizeof(float);
  d.check(d.cuDeviceGet(&gpu->dev, ordinal), "cuDeviceGet");
  d.check(d.cuDevicePrimaryCtxRetain(&gpu->ctx, gpu->dev),
          "cuDevicePrimaryCtxRetain");
  d.check(d.cuCtxSetCurrent(gpu->ctx), "cuCtxSetCurrent");
  // The cubin for this chip when there is one: the driver then loads
  // machine code instead of JIT-compiling the PTX (seconds for a big model,
  // at every start where its JIT cache is cold). A cubin the driver refuses
  // (another toolkit's, say) falls back to the PTX.
  std::string image, log;
  if (int c = pickCubin(cubins, info.major, info.minor); c >= 0) {
    if (d.loadModule(&gpu->mod, cubins[c].image, log) == 0)
      image = ", cubin " + cubins[c].chip;
    else
      gpu->mod = nullptr;
  }
  if (!gpu->mod)
    if (CUresult r = d.loadModule(&gpu->mod, ptx.c_str(), log))
      throw Error("the GPU code of model '" + M.name + "' does not load on " +
                  info.name + " (" + info.chip() + "): " + d.errorName(r) +
                  (log.empty() ? "" : "; the driver's JIT says: " + log));
  auto function = [&](const std::string &name) {
    CUfunction fn = nullptr;
    if (d.cuModuleGetFunction(&fn, gpu->mod, name.c_str()))
      throw Error("the GPU code of model '" + M.name + "' lacks " + name);
    return fn;
  };
  gpu->sumPartials = function(M.name + "_sum_partials");
  gpu->lossShared = stagedParamBytes(ptx, M.numParams, gpu->elem);
  gpu->lossPoints = lossPointsPerBlock(ptx, M.name);

  // Every kernel and slot is looked up before any binding changes, so a
  // module that lacks a kernel leaves `M` on the CPU as it was. physc's PTX
  // holds every kernel of the model: a missing one is an error, not a
  // silent CPU fallback.
  struct Binding {
    const KernelRef *ref;
    CUfunction fn;
    EvalFn *slot; ///< null: terms[index].lossGrad
  };
  std::vector<Binding> bindings;
  for (const KernelRef &k : refs) {
    if (k.role == KernelRef::Role::Jets)
      continue; // gradcheck's derivative chains stay on the CPU
    EvalFn *slot = evalSlot(M, k); // checks the index
    if (!slot && (k.index < 0 || k.index >= static_cast<int>(M.terms.size())))
      throw Error("kernel " + k.symbol + " is bound to term " +
                  std::to_string(k.index) + ", which the model lacks");
    bindings.push_back({&k, function(cudaName(k.symbol)), slot});
    if (!slot)
      allowDynamicShared(d, gpu->dev, bindings.back().fn, cudaName(k.symbol),
                         gpu->lossShared);
  }
  // Whole Adam steps on the device, when the module has their kernels.
  std::shared_ptr<DeviceTrainer> trainer;
  if (hasTrainKernels(d, gpu->mod, M.name)) {
    LoadedModule loaded{
        gpu->dev,        gpu->ctx,        gpu->mod, gpu->multiprocessors,
        gpu->lossShared, gpu->lossPoints, gpu};
    trainer = makeDeviceTrainer(M, refs, f64, loaded);
  }
  int64_t np = M.numParams, nrt = M.runtimeParams.size();
  for (const Binding &b : bindings) {
    const KernelRef &k = *b.ref;
    if (b.slot)
      *b.slot = evalOnGpu(gpu, b.fn, k.columns, k.outputs, np, nrt);
    else
      M.terms[k.index].lossGrad = lossGradOnGpu(gpu, b.fn, k.columns, np, nrt);
  }
  M.deviceTrainer = trainer;
  // One launch per term and step: the batch in one chunk.
  M.chunkPoints = int64_t(1) << 40;
  M.device = info.name + " (" + info.chip() + image + ")";
}
