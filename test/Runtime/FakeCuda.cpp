//===- FakeCuda.cpp - A CUDA driver library that runs on the CPU ----------===//
//
// Part of physc's runtime tests. Loaded through PHYSC_LIBCUDA in place of
// libcuda.so.1, it implements the driver entry points physc resolves, with
// device memory in host memory (filled with NaN bytes when allocated, as
// real device memory holds garbage). It takes two kinds of module image:
//
// - "//fake-ptx [nosum] [noeval]": the kernels of the `line` (f64) and
//   `linef` (f32) test models, u(x) = a + b x fitted to 2 + k x
//   (k = rt[0]), with the ABI of physc's PTX (docs/cuda.md, "What the
//   kernels do" and "ABI in PTX"): five parameters per memref, and
//     MODEL_fit_loss_grad(params, pts, ld, n, rt, partials)  blocks of 128
//     MODEL_u_eval / MODEL_exact_eval(params, pts, ld, n, rt, out)
//     MODEL_sum_partials(partials, blocks, loss, grad)
//   Launches execute the grid sequentially with the kernels' semantics
//   (grid-stride loop, one row of partials per block, column sums added
//   into loss and grad), so the runtime's buffer sizes, argument order,
//   launch shapes, zeroing and read-backs are exercised as on a GPU.
//   "nosum" leaves out the sum_partials kernels, "noeval" the eval kernels.
// - real PTX (as physc generates it): its `.entry` names are the module's
//   functions, each checked to have the parameter count of its kind (22,
//   16 for sum_partials, 18/46/5 for sample/adam/advance). Launching one
//   checks its arguments as below, then fails with
//   CUDA_ERROR_NOT_SUPPORTED: a CPU cannot run PTX.
// - a cubin (Cubin.h) of `physc build`: refused with
//   CUDA_ERROR_NO_BINARY_FOR_GPU unless it is for sm_90 (this device), else
//   its entry kernels are the module's functions, checked and launched as
//   real PTX's are. Its loss kernels are taken to stage the parameters
//   (physc stages them whenever they fit in 56 KB, as the tests' models'
//   do); fake_cuda_cubin_loads() counts the cubins loaded.
//
// Every launch is checked as the real kernels require, and fails as a GPU
// would otherwise: a loss kernel not in blocks of exactly 128 threads, a
// grid not 1-D, dynamic shared memory, a sum_partials launch that does not
// cover every column give CUDA_ERROR_INVALID_VALUE; a memref whose five
// parameters are not (ptr, ptr, 0, size, 1) with [ptr, ptr + size) inside
// one allocation, or a buffer smaller than the kernel touches, give
// CUDA_ERROR_ILLEGAL_ADDRESS. fake_cuda_launches(NAME) and
// fake_cuda_last_launch(NAME, ...) let the tests see the launches.
//
//===----------------------------------------------------------------------===//

#include "Cubin.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

using CUresult = int;
constexpr CUresult kOk = 0, kInvalidValue = 1, kInvalidImage = 200,
                   kNoBinaryForGpu = 209, kNotFound = 500,
                   kIllegalAddress = 700, kNotSupported = 801;

/// Threads per block the loss kernels are written for (known_block_size).
constexpr unsigned kLossBlock = 128;

struct Function {
  std::string name;
  bool real = false; ///< from real PTX: checked, never run
  /// A loss kernel of real PTX that stages the parameters in dynamic shared
  /// memory (the image declares an `.extern .shared` array).
  bool staged = false;
};
/// A loaded image: its kernels by name (each module has its own, so
/// handles from other modules stay valid).
struct Module {
  std::map<std::string, Function> functions;
};
std::map<std::string, long> launches;
long cubinLoads = 0;
struct Shape {
  unsigned grid = 0, block = 0;
};
std::map<std::string, Shape> lastLaunch;
/// Live allocations: start address => bytes.
std::map<uintptr_t, size_t> allocations;

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// A memref<?xT> argument, checked against the calling convention and the
/// allocations.
template <typename T> struct View {
  T *data = nullptr;
  long long size = 0;
};

template <typename T> bool memref(void **args, int at, View<T> &v) {
  auto word = [&](int i) {
    return *static_cast<unsigned long long *>(args[at + i]);
  };
  unsigned long long alloc = word(0), aligned = word(1), offset = word(2),
                     size = word(3), stride = word(4);
  if (!alloc || alloc != aligned || offset != 0 || stride != 1 ||
      size > (1ull << 40))
    return false;
  auto it = allocations.upper_bound(aligned);
  if (it == allocations.begin())
    return false;
  --it;
  if (aligned + size * sizeof(T) > it->first + it->second)
    return false;
  v.data = reinterpret_cast<T *>(aligned);
  v.size = static_cast<long long>(size);
  return true;
}

long long index(void **args, int at) {
  return *static_cast<long long *>(args[at]);
}

/// (params, pts, ld, n, rt, out): the arguments of every kernel but
/// sum_partials.
template <typename T> struct PointArgs {
  View<T> params, pts, rt, out;
  long long ld = 0, n = 0;
};

template <typename T> CUresult pointArgs(void **args, PointArgs<T> &a) {
  if (!memref(args, 0, a.params) || !memref(args, 5, a.pts) ||
      !memref(args, 12, a.rt) || !memref(args, 17, a.out))
    return kIllegalAddress;
  a.ld = index(args, 10);
  a.n = index(args, 11);
  // The test models read one point column (coordinate c at pts[c*ld + i]).
  if (a.n < 0 || a.ld < a.n || a.pts.size < a.n)
    return kIllegalAddress;
  return kOk;
}

/// `shared`: the launch's dynamic shared bytes, which a staged kernel
/// (`staged`) needs for the whole parameter vector (f32 or f64), and the
/// others do not use.
template <typename T>
CUresult lossGrad(void **args, unsigned grid, bool run, bool staged,
                  unsigned shared) {
  PointArgs<T> a;
  if (CUresult r = pointArgs(args, a))
    return r;
  bool sharedOk =
      staged ? shared == a.params.size * 4 || shared == a.params.size * 8
             : shared == 0;
  if (!sharedOk)
    return kInvalidValue;
  long long total = 1 + a.params.size; // a partials row: loss, gradient
  if (a.out.size < grid * total ||
      (run && (a.params.size != 2 || a.rt.size < 1)))
    return kIllegalAddress;
  if (!run)
    return kOk;
  const T *p = a.params.data, *x = a.pts.data, *rt = a.rt.data;
  long long stride = static_cast<long long>(grid) * kLossBlock;
  for (unsigned b = 0; b < grid; ++b) {
    T row[3] = {0, 0, 0};
    for (unsigned t = 0; t < kLossBlock; ++t) {
      T acc[3] = {0, 0, 0};
      for (long long i = b * kLossBlock + t; i < a.n; i += stride) {
        T r = p[0] + p[1] * x[i] - (2 + rt[0] * x[i]);
        acc[0] += r * r;
        acc[1] += 2 * r;
        acc[2] += 2 * r * x[i];
      }
      for (int k = 0; k < 3; ++k)
        row[k] += acc[k];
    }
    for (int k = 0; k < 3; ++k)
      a.out.data[b * total + k] = row[k];
  }
  return kOk;
}

template <typename T>
CUresult eval(void **args, unsigned grid, unsigned block, bool exact,
              bool run) {
  PointArgs<T> a;
  if (CUresult r = pointArgs(args, a))
    return r;
  if (a.out.size < a.n || (run && (a.params.size != 2 || a.rt.size < 1)))
    return kIllegalAddress;
  if (!run)
    return kOk;
  const T *p = a.params.data, *x = a.pts.data, *rt = a.rt.data;
  for (unsigned long long i = 0; i < (unsigned long long)grid * block; ++i)
    if ((long long)i < a.n)
      a.out.data[i] = exact ? 2 + rt[0] * x[i] : p[0] + p[1] * x[i];
  return kOk;
}

template <typename T>
CUresult sumPartials(void **args, unsigned grid, unsigned block, bool run) {
  View<T> partials, loss, grad;
  if (!memref(args, 0, partials) || !memref(args, 6, loss) ||
      !memref(args, 11, grad))
    return kIllegalAddress;
  long long blocks = index(args, 5), total = 1 + grad.size;
  // Thread k sums column k: the launch must cover every column.
  if (blocks <= 0 ||
      (unsigned long long)grid * block < (unsigned long long)total)
    return kInvalidValue;
  if (partials.size < blocks * total || loss.size < 1)
    return kIllegalAddress;
  if (!run)
    return kOk;
  for (long long k = 0; k < total; ++k) {
    T s = 0;
    for (long long b = 0; b < blocks; ++b)
      s += partials.data[b * total + k];
    (k == 0 ? loss.data[0] : grad.data[k - 1]) += s;
  }
  return kOk;
}

/// The parameter count of a physc kernel by its name. The training-step
/// kernels (TrainKernelsToGPU.cpp, LbfgsToGPU.cpp): this driver has no
/// graphs, so the runtime never launches them here.
int expectedParams(const std::string &name) {
  return endsWith(name, "_sum_partials")             ? 16
         : endsWith(name, "_sample")                 ? 18
         : endsWith(name, "_adam")                   ? 46
         : endsWith(name, "_advance")                ? 5
         : name.find("_lbfgs_") != std::string::npos ? 10 * 5 + 3
                                                     : 22;
}

/// Registers the entry kernels of a cubin for this device (sm_90).
CUresult loadCubin(const void *image,
                   std::map<std::string, Function> &functions) {
  if (physc_test::cubinSM(image) != 90)
    return kNoBinaryForGpu;
  std::map<std::string, int> kernels;
  if (!physc_test::cubinKernels(image, kernels))
    return kInvalidImage;
  for (const auto &[name, params] : kernels) {
    if (params != expectedParams(name))
      return kInvalidImage;
    functions[name] = {name, true, endsWith(name, "_loss_grad")};
  }
  ++cubinLoads;
  return kOk;
}

/// Registers the `.entry` kernels of a real PTX image in `functions`; false
/// when one has a parameter count the runtime's ABI does not expect.
bool loadRealPTX(const char *image,
                 std::map<std::string, Function> &functions) {
  const char *at = image;
  while ((at = std::strstr(at, ".entry "))) {
    at += 7;
    const char *open = std::strchr(at, '(');
    const char *close = open ? std::strchr(open, ')') : nullptr;
    if (!close)
      return false;
    std::string name(at, open);
    int params = 0;
    for (const char *q = open; (q = std::strstr(q, ".param")) && q < close;
         q += 6)
      ++params;
    if (params != expectedParams(name))
      return false;
    functions[name] = {name, true,
                       endsWith(name, "_loss_grad") &&
                           std::strstr(image, ".extern .shared") != nullptr};
    at = close;
  }
  return true;
}

} // namespace

extern "C" {

long fake_cuda_launches(const char *name) { return launches[name]; }
long fake_cuda_cubin_loads() { return cubinLoads; }

/// The grid and block size of the last launch of `name`; false if none.
bool fake_cuda_last_launch(const char *name, unsigned *grid, unsigned *block) {
  auto it = lastLaunch.find(name);
  if (it == lastLaunch.end())
    return false;
  *grid = it->second.grid;
  *block = it->second.block;
  return true;
}

CUresult cuInit(unsigned) { return kOk; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kOk;
}
CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case kInvalidImage:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    break;
  case kNotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  case kIllegalAddress:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    break;
  case kNotSupported:
    *name = "CUDA_ERROR_NOT_SUPPORTED";
    break;
  default:
    *name = "CUDA_ERROR_INVALID_VALUE";
  }
  return kOk;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kOk;
}
CUresult cuDeviceGet(int *dev, int ordinal) {
  *dev = ordinal;
  return ordinal == 0 ? kOk : kInvalidValue;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  std::strncpy(name, "Fake GPU", len);
  return kOk;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 2 : 0;
  return kOk;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kOk;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kOk;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kOk; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx ? kOk : kInvalidValue; }
CUresult cuCtxSynchronize() { return kOk; }
CUresult cuModuleLoadData(void **mod, const void *data) {
  const char *image = static_cast<const char *>(data);
  auto module = new Module;
  std::map<std::string, Function> &functions = module->functions;
  if (physc_test::isCudaElf(image)) {
    if (CUresult r = loadCubin(image, functions)) {
      delete module;
      return r;
    }
  } else if (std::strncmp(image, "//fake-ptx", 10) == 0) {
    for (const char *m : {"line", "linef"})
      for (const char *k :
           {"_fit_loss_grad", "_u_eval", "_exact_eval", "_sum_partials"})
        functions[std::string(m) + k] = {std::string(m) + k};
    for (const char *m : {"line", "linef"}) {
      if (std::strstr(image, "nosum"))
        functions.erase(std::string(m) + "_sum_partials");
      if (std::strstr(image, "noeval"))
        functions.erase(std::string(m) + "_u_eval");
    }
  } else if (!std::strstr(image, "\n.version ") ||
             !loadRealPTX(image, functions)) {
    delete module;
    return kInvalidImage;
  }
  *mod = module;
  return kOk;
}
CUresult cuModuleUnload(void *mod) {
  delete static_cast<Module *>(mod);
  return kOk;
}
CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
  auto &functions = static_cast<Module *>(mod)->functions;
  auto it = functions.find(name);
  if (it == functions.end())
    return kNotFound;
  *fn = &it->second;
  return kOk;
}
CUresult cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  void *p = std::malloc(bytes);
  if (!p)
    return kInvalidValue;
  std::memset(p, 0xff, bytes); // NaN in f32 and f64
  *ptr = reinterpret_cast<unsigned long long>(p);
  allocations[*ptr] = bytes;
  return kOk;
}
CUresult cuMemFree_v2(unsigned long long ptr) {
  if (!allocations.erase(ptr))
    return kInvalidValue;
  std::free(reinterpret_cast<void *>(ptr));
  return kOk;
}
CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                         size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kOk;
}
CUresult cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes) {
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return kOk;
}
CUresult cuMemsetD8_v2(unsigned long long dst, unsigned char v, size_t n) {
  std::memset(reinterpret_cast<void *>(dst), v, n);
  return kOk;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz,
                        unsigned sharedBytes, void *, void **args, void **) {
  if (gx == 0 || bx == 0 || bx > 1024 || gy != 1 || gz != 1 || by != 1 ||
      bz != 1)
    return kInvalidValue;
  const Function &fn = *static_cast<Function *>(f);
  const std::string &name = fn.name;
  if (sharedBytes != 0 && !endsWith(name, "_loss_grad"))
    return kInvalidValue;
  bool run = !fn.real;
  // Real PTX may be f32 or f64: its buffers are checked as f32, the
  // smaller, so a correct f32 launch is never refused.
  bool f32 = fn.real || name.compare(0, 6, "linef_") == 0;
  CUresult r;
  if (endsWith(name, "_loss_grad"))
    r = bx != kLossBlock ? kInvalidValue
        : f32 ? lossGrad<float>(args, gx, run, fn.staged, sharedBytes)
              : lossGrad<double>(args, gx, run, fn.staged, sharedBytes);
  else if (endsWith(name, "_sum_partials"))
    r = f32 ? sumPartials<float>(args, gx, bx, run)
            : sumPartials<double>(args, gx, bx, run);
  else
    r = f32 ? eval<float>(args, gx, bx, endsWith(name, "_exact_eval"), run)
            : eval<double>(args, gx, bx, endsWith(name, "_exact_eval"), run);
  if (r != kOk)
    return r;
  if (fn.real)
    return kNotSupported;
  ++launches[name];
  lastLaunch[name] = {gx, bx};
  return kOk;
}

} // extern "C"
