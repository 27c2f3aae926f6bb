//===- FakeCuda.cpp - A CUDA driver library that runs on the CPU ----------===//
//
// Part of physc's runtime tests. Loaded through PHYSC_LIBCUDA in place of
// libcuda.so.1, it implements the driver entry points physc resolves:
// device memory is host memory, and a "module" is any image starting with
// "//fake-ptx" that provides the kernels of the `line` (f64) and `linef`
// (f32) test models with the ABI of `physc emit cuda` (see its banner):
//   MODEL_fit(params, pts, ld, n, rt, block_loss, block_grad)  one warp/block
//   MODEL_u / MODEL_exact(params, pts, ld, n, rt, out)          a thread/point
//   MODEL_reduce(block_vals, blocks, count, out)
// for u(x) = a + b x fitted to 2 + k x (k = rt[0]). Launches execute the
// grid sequentially with the kernels' semantics, so the runtime's buffer
// sizes, argument order, grid shapes and read-backs are exercised exactly
// as on a GPU. fake_cuda_launches(NAME) counts launches for the tests.
//
//===----------------------------------------------------------------------===//

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

using CUresult = int;
constexpr CUresult kOk = 0, kInvalidValue = 1, kInvalidImage = 200,
                   kNotFound = 500;

std::map<std::string, long> launches;

struct Function {
  std::string name;
};
std::map<std::string, Function> functions;

template <typename T>
void fit(void **args, unsigned grid, unsigned block) {
  const T *p = *static_cast<T **>(args[0]);
  const T *pts = *static_cast<T **>(args[1]);
  long long ld = *static_cast<long long *>(args[2]);
  long long n = *static_cast<long long *>(args[3]);
  const T *rt = *static_cast<T **>(args[4]);
  T *blockLoss = *static_cast<T **>(args[5]);
  T *blockGrad = *static_cast<T **>(args[6]);
  (void)ld;
  if (block != 32)
    std::abort(); // the kernels are written for one warp per block
  long long tiles = (n + 31) / 32;
  for (unsigned b = 0; b < grid; ++b) {
    T *g = blockGrad + 2 * b;
    g[0] = g[1] = 0;
    blockLoss[b] = 0;
    for (long long tile = b; tile < tiles; tile += grid)
      for (int lane = 0; lane < 32; ++lane) {
        long long i = tile * 32 + lane;
        if (i >= n)
          continue;
        T x = pts[i];
        T r = p[0] + p[1] * x - (2 + rt[0] * x);
        blockLoss[b] += r * r;
        g[0] += 2 * r;
        g[1] += 2 * r * x;
      }
  }
}

template <typename T>
void eval(void **args, unsigned grid, unsigned block, bool exact) {
  const T *p = *static_cast<T **>(args[0]);
  const T *pts = *static_cast<T **>(args[1]);
  long long n = *static_cast<long long *>(args[3]);
  const T *rt = *static_cast<T **>(args[4]);
  T *out = *static_cast<T **>(args[5]);
  for (unsigned long long i = 0; i < (unsigned long long)grid * block; ++i)
    if ((long long)i < n)
      out[i] = exact ? 2 + rt[0] * pts[i] : p[0] + p[1] * pts[i];
}

template <typename T> void reduce(void **args, unsigned grid, unsigned block) {
  const T *vals = *static_cast<T **>(args[0]);
  long long blocks = *static_cast<long long *>(args[1]);
  long long count = *static_cast<long long *>(args[2]);
  T *out = *static_cast<T **>(args[3]);
  for (unsigned long long k = 0; k < (unsigned long long)grid * block; ++k) {
    if ((long long)k >= count)
      continue;
    T s = 0;
    for (long long b = 0; b < blocks; ++b)
      s += vals[b * count + k];
    out[k] = s;
  }
}

} // namespace

extern "C" {

long fake_cuda_launches(const char *name) { return launches[name]; }

CUresult cuInit(unsigned) { return kOk; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kOk;
}
CUresult cuGetErrorName(CUresult r, const char **name) {
  *name = r == kInvalidImage ? "CUDA_ERROR_INVALID_IMAGE"
          : r == kNotFound   ? "CUDA_ERROR_NOT_FOUND"
                             : "CUDA_ERROR_INVALID_VALUE";
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
CUresult cuModuleLoadData(void **mod, const void *image) {
  if (std::strncmp(static_cast<const char *>(image), "//fake-ptx", 10) != 0)
    return kInvalidImage;
  static int module;
  *mod = &module;
  for (const char *m : {"line", "linef"})
    for (const char *k : {"_fit", "_u", "_exact", "_reduce"})
      functions[std::string(m) + k] = {std::string(m) + k};
  // An image "//fake-ptx noreduce" lacks the reduce kernels.
  if (std::strstr(static_cast<const char *>(image), "noreduce")) {
    functions.erase("line_reduce");
    functions.erase("linef_reduce");
  }
  return kOk;
}
CUresult cuModuleUnload(void *) { return kOk; }
CUresult cuModuleGetFunction(void **fn, void *, const char *name) {
  auto it = functions.find(name);
  if (it == functions.end())
    return kNotFound;
  *fn = &it->second;
  return kOk;
}
CUresult cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  *ptr = reinterpret_cast<unsigned long long>(std::calloc(bytes, 1));
  return *ptr ? kOk : kInvalidValue;
}
CUresult cuMemFree_v2(unsigned long long ptr) {
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
                        unsigned bx, unsigned by, unsigned bz, unsigned,
                        void *, void **args, void **) {
  if (gx == 0 || bx == 0 || gy != 1 || gz != 1 || by != 1 || bz != 1)
    return kInvalidValue;
  const std::string &name = static_cast<Function *>(f)->name;
  ++launches[name];
  bool f32 = name.compare(0, 5, "linef") == 0;
  std::string kernel = name.substr(name.find('_'));
  if (kernel == "_fit")
    f32 ? fit<float>(args, gx, bx) : fit<double>(args, gx, bx);
  else if (kernel == "_u" || kernel == "_exact")
    f32 ? eval<float>(args, gx, bx, kernel == "_exact")
        : eval<double>(args, gx, bx, kernel == "_exact");
  else
    f32 ? reduce<float>(args, gx, bx) : reduce<double>(args, gx, bx);
  return kOk;
}

} // extern "C"
