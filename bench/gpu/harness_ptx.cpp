// harness_ptx.cpp - checks and times the kernels of `physc emit ptx` on a GPU.
//
// The PTX path (phys-kernels-to-gpu -> NVVM -> PTX, no nvcc) is the one the
// runtime loads. This harness loads a PTX file through the driver API, so it
// exercises the same kernels and the same ABI (docs/cuda.md, "ABI in PTX"):
// every memref argument is five parameters (allocated, aligned, offset, size,
// stride), loss kernels run with blockDim.x = 128 over any grid and write
// one partials row per block, and MODEL_sum_partials adds the rows into the
// loss and the gradient. When the PTX declares an `.extern .shared` array
// (`emit ptx` stages the parameters unless --stage-params=false), loss
// kernels are launched with the parameter vector's bytes of dynamic shared
// memory, as the runtime does. When it declares
// `MODEL_loss_points_per_block = P` (`emit ptx --lanes-per-point L`, P =
// 128 / L), the grids are sized for tiles of P points, as the runtime does.
//
// Build (any C++17 compiler, the toolkit's cuda.h and libcuda stub):
//   nvcc -std=c++17 -O2 bench/gpu/harness_ptx.cpp -lcuda -o harness_ptx
// Run:
//   harness_ptx DUMP_DIR --ptx FILE.ptx [--cubin FILE.cubin] [--block 128]
//               [--iters 30] [--warmup 5]
// where DUMP_DIR is `physc dump-batch`'s output and FILE.ptx `physc emit ptx`'s
// (f32 or f64: --precision says which, default f32) for the same model;
// --block is the loss kernels' block size, `emit ptx --block-size`'s.
// --cubin loads that PTX assembled by ptxas for this GPU instead of having
// the driver JIT-compile it (seconds per model); the PTX is still read for
// the launch geometry it declares (staging, points per block).
//
// Prints one JSON line per term, as harness.cu does:
//   {"term", "kernel", "n", "grid", "loss_cpu", "loss_gpu", "loss_rel_err",
//    "grad_rel_err", "tol", "status", "kernels": "ptx"}
// then for each grid in PHYSC_PTX_GRID_PER_SM ("1,2,4,8" blocks per SM by
// default) the first term's step (zero loss and gradient, loss_grad,
// sum_partials; 5 warm-up, 30 timed, CUDA events):
//   {"N", "ms" (median), "ms_min", "grid", "block", "lanes", "staged",
//    "model", "term", "precision", "device", "sms", "kernels": "ptx",
//    "image": "cubin" or "ptx", "load_ms": the module load's wall time}
// Exit status: 0 all PASS, 1 a FAIL or a bad input, 2 no usable GPU.

#include <cuda.h>
// CUDA 12.8's cuda.h maps cuEventElapsedTime to a _v2 that older drivers
// lack; the plain symbol has the same signature and every driver has it.
#undef cuEventElapsedTime
extern "C" CUresult CUDAAPI cuEventElapsedTime(float *pMilliseconds,
                                               CUevent hStart, CUevent hEnd);

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dump.h"

const char *const kTool = "harness_ptx";

namespace {

constexpr unsigned kSumBlock = 256;

void check(CUresult r, const char *what) {
  if (r == CUDA_SUCCESS)
    return;
  const char *name = nullptr;
  cuGetErrorName(r, &name);
  die(std::string(what) + ": " + (name ? name : "unknown error"));
}
#define CK(x) check((x), #x)

/// A device array of `count` elements of the kernels' precision.
struct DeviceArray {
  CUdeviceptr ptr = 0;
  long long count = 0;
};

/// Uploads `v` converted to f32 or f64 (one element at least).
DeviceArray upload(const std::vector<double> &v, bool f32) {
  DeviceArray a;
  a.count = std::max<long long>((long long)v.size(), 1);
  size_t elem = f32 ? 4 : 8;
  std::vector<char> host(a.count * elem, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (f32) {
      float x = (float)v[i];
      std::memcpy(host.data() + i * 4, &x, 4);
    } else {
      std::memcpy(host.data() + i * 8, &v[i], 8);
    }
  }
  CK(cuMemAlloc(&a.ptr, host.size()));
  CK(cuMemcpyHtoD(a.ptr, host.data(), host.size()));
  return a;
}

DeviceArray alloc(long long count, bool f32) {
  DeviceArray a;
  a.count = std::max<long long>(count, 1);
  CK(cuMemAlloc(&a.ptr, a.count * (f32 ? 4 : 8)));
  return a;
}

/// The argument list of one launch, in MLIR's expanded memref convention.
class Args {
public:
  void memref(const DeviceArray &a) {
    push(a.ptr);
    push(a.ptr);
    push((long long)0);
    push(a.count);
    push((long long)1);
  }
  void index(long long v) { push(v); }
  void **get() {
    ptrs.clear();
    for (auto &s : slots)
      ptrs.push_back(s.get());
    return ptrs.data();
  }

private:
  template <typename T> void push(T v) {
    auto p = std::make_unique<unsigned long long>();
    std::memcpy(p.get(), &v, sizeof(T));
    slots.push_back(std::move(p));
  }
  std::vector<std::unique_ptr<unsigned long long>> slots;
  std::vector<void *> ptrs;
};

std::vector<double> download(const DeviceArray &a, long long n, bool f32) {
  size_t elem = f32 ? 4 : 8;
  std::vector<char> host(n * elem);
  CK(cuMemcpyDtoH(host.data(), a.ptr, host.size()));
  std::vector<double> v(n);
  for (long long i = 0; i < n; ++i) {
    if (f32) {
      float x;
      std::memcpy(&x, host.data() + i * 4, 4);
      v[i] = x;
    } else {
      std::memcpy(&v[i], host.data() + i * 8, 8);
    }
  }
  return v;
}

std::vector<int> listFromEnv(const char *name, const char *fallback) {
  const char *env = std::getenv(name);
  std::string list = env && *env ? env : fallback;
  std::vector<int> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (int v = std::atoi(item.c_str()); v > 0)
      out.push_back(v);
  if (out.empty())
    out.push_back(1);
  return out;
}

} // namespace

int main(int argc, char **argv) {
  std::string dir, ptxPath, cubinPath, precision = "f32";
  int iters = 30, warmup = 5;
  // The loss kernels' threads per block: what `physc emit ptx --block-size`
  // built them for (128, the runtime's, by default).
  unsigned lossBlock = 128;
  const char *usage = "usage: harness_ptx DUMP_DIR --ptx FILE [--cubin FILE] "
                      "[--precision f32|f64] [--block N] [--iters N] "
                      "[--warmup N]";
  for (int a = 1; a < argc; ++a) {
    std::string s = argv[a];
    if (s == "--iters" && a + 1 < argc)
      iters = std::atoi(argv[++a]);
    else if (s == "--warmup" && a + 1 < argc)
      warmup = std::atoi(argv[++a]);
    else if (s == "--ptx" && a + 1 < argc)
      ptxPath = argv[++a];
    else if (s == "--cubin" && a + 1 < argc)
      cubinPath = argv[++a];
    else if (s == "--precision" && a + 1 < argc)
      precision = argv[++a];
    else if (s == "--block" && a + 1 < argc)
      lossBlock = (unsigned)std::atoi(argv[++a]);
    else if (!s.empty() && s[0] != '-' && dir.empty())
      dir = s;
    else
      die(usage);
  }
  if (dir.empty() || ptxPath.empty() || iters < 1 || warmup < 0 ||
      lossBlock < 32 || lossBlock > 1024 ||
      (precision != "f32" && precision != "f64"))
    die(usage);
  const bool f32 = precision == "f32";

  std::ifstream ptxFile(ptxPath, std::ios::binary);
  if (!ptxFile)
    die("cannot read " + ptxPath);
  std::string ptx((std::istreambuf_iterator<char>(ptxFile)),
                  std::istreambuf_iterator<char>());
  std::string cubin;
  if (!cubinPath.empty()) {
    std::ifstream cubinFile(cubinPath, std::ios::binary);
    if (!cubinFile)
      die("cannot read " + cubinPath);
    cubin.assign(std::istreambuf_iterator<char>(cubinFile),
                 std::istreambuf_iterator<char>());
  }

  int devices = 0;
  CUresult init = cuInit(0);
  if (init == CUDA_SUCCESS)
    init = cuDeviceGetCount(&devices);
  if (init != CUDA_SUCCESS || devices == 0) {
    // The toolkit's stub driver answers every call with
    // CUDA_ERROR_STUB_LIBRARY (34), cuGetErrorName included: the number too.
    const char *name = nullptr;
    cuGetErrorName(init, &name);
    std::string why =
        init == CUDA_SUCCESS ? "0 devices"
        : name ? std::string(name) + " (" + std::to_string(int(init)) + ")"
               : "CUDA error " + std::to_string(int(init));
    std::fprintf(stderr, "harness_ptx: no CUDA device available (%s)\n",
                 why.c_str());
    return 2;
  }
  CUdevice dev;
  CK(cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cuCtxSetCurrent(ctx));
  char devName[256] = {0};
  CK(cuDeviceGetName(devName, sizeof devName - 1, dev));
  int sms = 1;
  CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));

  CUmodule mod;
  char log[8192] = {0};
  CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER,
                         CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[] = {log, (void *)(uintptr_t)sizeof log};
  auto loadStart = std::chrono::steady_clock::now();
  // A cubin this driver refuses (from a newer toolkit than the driver, say)
  // falls back to the PTX, as the runtime does; the timing lines then say
  // "ptx".
  if (!cubin.empty()) {
    if (CUresult r = cuModuleLoadDataEx(&mod, cubin.data(), 2, opts, vals)) {
      const char *name = nullptr;
      cuGetErrorName(r, &name);
      std::fprintf(stderr,
                   "harness_ptx: warning: the driver refuses %s (%s%s%s); "
                   "loading the PTX instead\n",
                   cubinPath.c_str(), name ? name : "?", *log ? ": " : "", log);
      cubin.clear();
      std::memset(log, 0, sizeof log);
      vals[1] = (void *)(uintptr_t)sizeof log;
      loadStart = std::chrono::steady_clock::now();
    }
  }
  const std::string &imagePath = cubin.empty() ? ptxPath : cubinPath;
  if (cubin.empty())
    if (CUresult r = cuModuleLoadDataEx(&mod, ptx.c_str(), 2, opts, vals)) {
      const char *name = nullptr;
      cuGetErrorName(r, &name);
      die("cuModuleLoadDataEx(" + imagePath + "): " + (name ? name : "?") +
          "\n" + log);
    }
  const double loadMs = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - loadStart)
                            .count();
  std::fprintf(stderr, "harness_ptx: %s loaded in %.0f ms (%s)\n",
               imagePath.c_str(), loadMs,
               cubin.empty() ? "the driver compiled the PTX" : "cubin");

  auto meta = readMeta(dir);
  const std::string model = get(meta, "model");
  const long long np = std::atoll(get(meta, "num_params").c_str());
  const int nterms = std::atoi(get(meta, "num_terms").c_str());
  const int nrt = std::atoi(get(meta, "num_runtime_params").c_str());
  CUfunction sumPartials;
  if (cuModuleGetFunction(&sumPartials, mod, (model + "_sum_partials").c_str()))
    die(ptxPath + " has no " + model + "_sum_partials: not the PTX of model " +
        model + "?");
  std::vector<double> params = readDoubles(dir + "/params.bin", np);
  std::vector<double> rt = readDoubles(dir + "/rt.bin", nrt);

  DeviceArray dParams = upload(params, f32), dRt = upload(rt, f32);
  DeviceArray dLoss = alloc(1, f32), dGrad = alloc(np, f32);
  std::vector<int> perSM = listFromEnv("PHYSC_PTX_GRID_PER_SM", "1,2,4,8");
  const long long maxGrid =
      (long long)*std::max_element(perSM.begin(), perSM.end()) * sms;
  DeviceArray dPartials = alloc(maxGrid * (1 + np), f32);
  const size_t elem = f32 ? 4 : 8;
  // The runtime's rule (CudaLaunch.h, stagedParamBytes).
  const bool staged = ptx.find(".extern .shared") != std::string::npos;
  const size_t dynShared = staged ? (size_t)np * elem : 0;
  // The runtime's rule (CudaKernels.cpp, lossPointsPerBlock): lane-split
  // loss kernels cover fewer points than threads per tile.
  long long tilePoints = lossBlock;
  {
    std::string key = " " + model + "_loss_points_per_block = ";
    size_t at = ptx.find(key);
    if (at != std::string::npos)
      tilePoints = std::atoll(ptx.c_str() + at + key.size());
    if (tilePoints < 1 || tilePoints > lossBlock)
      die(ptxPath + ": bad " + model + "_loss_points_per_block");
  }
  const long long lanes = lossBlock / tilePoints;
  auto gridFor = [&](long long n, int factor) {
    long long tiles = (n + tilePoints - 1) / tilePoints;
    return (unsigned)std::max<long long>(
        1, std::min<long long>(tiles, (long long)factor * sms));
  };

  struct Term {
    std::string name, kernel;
    CUfunction fn;
    long long n, ld;
    double loss;
    std::vector<double> grad;
    DeviceArray pts;
  };
  std::vector<Term> terms(nterms);
  for (int t = 0; t < nterms; ++t) {
    std::string k = "term" + std::to_string(t) + ".";
    Term &tm = terms[t];
    tm.name = get(meta, k + "name");
    tm.kernel = get(meta, k + "kernel");
    if (cuModuleGetFunction(&tm.fn, mod, tm.kernel.c_str()))
      die(ptxPath + " has no kernel " + tm.kernel);
    if (dynShared)
      CK(cuFuncSetAttribute(tm.fn,
                            CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                            (int)dynShared));
    tm.n = std::atoll(get(meta, k + "n").c_str());
    tm.ld = std::atoll(get(meta, k + "ld").c_str());
    tm.loss = std::strtod(get(meta, k + "loss").c_str(), nullptr);
    tm.pts = upload(readDoubles(dir + "/" + get(meta, k + "pts"),
                                termColumns(meta, t) * tm.ld),
                    f32);
    tm.grad = readDoubles(dir + "/" + get(meta, k + "grad"), np);
  }

  // One step of term t: zero loss and gradient, loss_grad, sum_partials.
  auto step = [&](Term &tm, unsigned grid) {
    CK(cuMemsetD8Async(dLoss.ptr, 0, elem, nullptr));
    CK(cuMemsetD8Async(dGrad.ptr, 0, np * elem, nullptr));
    Args a;
    a.memref(dParams);
    a.memref(tm.pts);
    a.index(tm.ld);
    a.index(tm.n);
    a.memref(dRt);
    a.memref(dPartials);
    CK(cuLaunchKernel(tm.fn, grid, 1, 1, lossBlock, 1, 1, (unsigned)dynShared,
                      nullptr, a.get(), nullptr));
    Args s;
    s.memref(dPartials);
    s.index(grid);
    s.memref(dLoss);
    s.memref(dGrad);
    CK(cuLaunchKernel(sumPartials, (unsigned)((np + kSumBlock) / kSumBlock), 1,
                      1, kSumBlock, 1, 1, 0, nullptr, s.get(), nullptr));
  };

  // The bar for f32: within 1e-5 of the CPU (f64), relative.
  const double tol = f32 ? 1e-5 : 1e-9;
  bool allPass = true;
  for (Term &tm : terms) {
    unsigned grid = gridFor(tm.n, perSM[0]);
    step(tm, grid);
    CK(cuCtxSynchronize());
    double loss = download(dLoss, 1, f32)[0];
    std::vector<double> grad = download(dGrad, np, f32);
    Comparison c = compareToReference(loss, grad, tm.loss, tm.grad, tol);
    allPass = allPass && c.pass;
    std::printf("{\"term\": \"%s\", \"kernel\": \"%s\", \"n\": %lld, "
                "\"grid\": %u, \"loss_cpu\": %.17g, \"loss_gpu\": %.9g, "
                "\"loss_rel_err\": %.3e, \"grad_rel_err\": %.3e, \"tol\": "
                "%.0e, \"status\": \"%s\", \"kernels\": \"ptx\"}\n",
                tm.name.c_str(), tm.kernel.c_str(), tm.n, grid, tm.loss, loss,
                c.lossErr, c.gradErr, tol, c.pass ? "PASS" : "FAIL");
    std::fflush(stdout);
  }

  Term &tm = terms.at(0);
  for (int factor : perSM) {
    unsigned grid = gridFor(tm.n, factor);
    CUevent a, b;
    CK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    CK(cuEventCreate(&b, CU_EVENT_DEFAULT));
    for (int i = 0; i < warmup; ++i)
      step(tm, grid);
    CK(cuCtxSynchronize());
    std::vector<float> ms;
    for (int i = 0; i < iters; ++i) {
      CK(cuEventRecord(a, nullptr));
      step(tm, grid);
      CK(cuEventRecord(b, nullptr));
      CK(cuEventSynchronize(b));
      float x = 0;
      CK(cuEventElapsedTime(&x, a, b));
      ms.push_back(x);
    }
    CK(cuEventDestroy(a));
    CK(cuEventDestroy(b));
    std::sort(ms.begin(), ms.end());
    std::printf("{\"N\": %lld, \"ms\": %.4f, \"ms_min\": %.4f, \"grid\": %u, "
                "\"block\": %u, \"lanes\": %lld, \"staged\": %s, \"model\": "
                "\"%s\", \"term\": \"%s\", \"precision\": \"%s\", "
                "\"device\": \"%s\", \"sms\": %d, \"kernels\": \"ptx\", "
                "\"image\": \"%s\", \"load_ms\": %.1f}\n",
                tm.n, ms[ms.size() / 2], ms[0], grid, lossBlock, lanes,
                staged ? "true" : "false", model.c_str(), tm.name.c_str(),
                precision.c_str(), devName, sms,
                cubin.empty() ? "ptx" : "cubin", loadMs);
    std::fflush(stdout);
  }
  return allPass ? 0 : 1;
}
