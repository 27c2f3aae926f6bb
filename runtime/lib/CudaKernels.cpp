//===- CudaKernels.cpp - A model's kernels on a CUDA device ---------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaKernels.h"

#include "physrt/CudaDriver.h"
#include "physrt/Error.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

using namespace physrt;
using namespace physrt::cuda;

namespace {

/// Launch shapes of `physc emit cuda`'s kernel ABI (see its banner).
constexpr unsigned kLossGradBlock = 32; ///< one warp, 32 points per tile
constexpr unsigned kBlocksPerSM = 4;
constexpr unsigned kReduceBlock = 256;
constexpr unsigned kEvalBlock = 128;

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
  CUfunction reduce = nullptr;
  int multiprocessors = 1;
  size_t elem = 4; ///< sizeof the kernels' real type
  std::mutex mutex;
  Buffer params, rt, pts, blockLoss, blockGrad, loss, grad, out;
  std::vector<char> host; ///< staging in the kernels' precision

  explicit Gpu(const Driver &d) : d(d) {}
  ~Gpu() {
    // Errors are ignored here: at process exit the driver may already be
    // shutting down, and a destructor must not throw.
    if (!ctx)
      return;
    d.cuCtxSetCurrent(ctx);
    for (Buffer *b : {&params, &rt, &pts, &blockLoss, &blockGrad, &loss, &grad,
                      &out})
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
    d.check(d.cuMemcpyHtoD(pts.ptr, host.data(), count * elem),
            "cuMemcpyHtoD");
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

  void launch(CUfunction f, unsigned grid, unsigned block, void **args) {
    d.check(d.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, args,
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
    long long tiles = (n + kLossGradBlock - 1) / kLossGradBlock;
    unsigned grid = static_cast<unsigned>(std::min<long long>(
        tiles, static_cast<long long>(kBlocksPerSM) * g.multiprocessors));
    g.reserve(g.blockLoss, grid * g.elem);
    g.reserve(g.blockGrad, grid * numParams * g.elem);
    g.reserve(g.loss, g.elem);
    g.reserve(g.grad, numParams * g.elem);
    long long ldArg = n, nArg = n;
    void *args[] = {&g.params.ptr, &g.pts.ptr,       &ldArg,        &nArg,
                    &g.rt.ptr,     &g.blockLoss.ptr, &g.blockGrad.ptr};
    g.launch(fn, grid, kLossGradBlock, args);
    long long blocks = grid, one = 1, np = numParams;
    void *reduceLoss[] = {&g.blockLoss.ptr, &blocks, &one, &g.loss.ptr};
    g.launch(g.reduce, 1, kReduceBlock, reduceLoss);
    void *reduceGrad[] = {&g.blockGrad.ptr, &blocks, &np, &g.grad.ptr};
    g.launch(g.reduce,
             static_cast<unsigned>((numParams + kReduceBlock - 1) /
                                   kReduceBlock),
             kReduceBlock, reduceGrad);
    g.download(g.loss, 1, loss, true);
    g.download(g.grad, numParams, grad, true);
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
    long long ldArg = n, nArg = n;
    void *args[] = {&g.params.ptr, &g.pts.ptr, &ldArg, &nArg, &g.rt.ptr,
                    &g.out.ptr};
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

std::string cudaName(const std::string &symbol) {
  const std::string prefix = "_mlir_ciface_";
  return symbol.compare(0, prefix.size(), prefix) == 0
             ? symbol.substr(prefix.size())
             : symbol;
}

} // namespace

void cuda::bindCudaKernels(CompiledModel &M,
                           const std::vector<KernelRef> &refs, bool f64,
                           const std::string &ptx, int ordinal) {
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
  if (CUresult r = d.cuModuleLoadData(&gpu->mod, ptx.c_str()))
    throw Error("the GPU code of model '" + M.name + "' does not load on " +
                info.name + " (" + info.chip() + "): " + d.errorName(r));
  std::string reduceName = M.name + "_reduce";
  if (d.cuModuleGetFunction(&gpu->reduce, gpu->mod, reduceName.c_str()))
    throw Error("the GPU code of model '" + M.name + "' lacks " + reduceName);

  int64_t np = M.numParams, nrt = M.runtimeParams.size();
  for (const KernelRef &k : refs) {
    CUfunction fn = nullptr;
    if (k.role == KernelRef::Role::Jets ||
        d.cuModuleGetFunction(&fn, gpu->mod, cudaName(k.symbol).c_str()))
      continue; // stays on the CPU
    if (EvalFn *slot = evalSlot(M, k))
      *slot = evalOnGpu(gpu, fn, k.columns, k.outputs, np, nrt);
    else
      M.terms.at(k.index).lossGrad = lossGradOnGpu(gpu, fn, k.columns, np, nrt);
  }
  // One launch per term and step: the batch in one chunk.
  M.chunkPoints = int64_t(1) << 40;
  M.device = info.name + " (" + info.chip() + ")";
}
