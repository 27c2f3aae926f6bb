//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaDriver.h"

#include "physrt/Error.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace physrt;
using namespace physrt::cuda;

namespace {

/// Device attributes of cuda.h's CUdevice_attribute.
constexpr int kMultiprocessorCount = 16;
constexpr int kComputeCapabilityMajor = 75;
constexpr int kComputeCapabilityMinor = 76;

/// cuda.h's CUjit_option values for the JIT's error log.
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSizeBytes = 6;

/// Whether `r` is a fault of a kernel that ran earlier: cuda.h says each of
/// these leaves the process in an inconsistent state, and every later call
/// returns the same error.
bool isKernelFault(CUresult r) {
  switch (r) {
  case 700: // CUDA_ERROR_ILLEGAL_ADDRESS
  case 702: // CUDA_ERROR_LAUNCH_TIMEOUT
  case 710: // CUDA_ERROR_ASSERT
  case 714: // CUDA_ERROR_HARDWARE_STACK_ERROR
  case 715: // CUDA_ERROR_ILLEGAL_INSTRUCTION
  case 716: // CUDA_ERROR_MISALIGNED_ADDRESS
  case 717: // CUDA_ERROR_INVALID_ADDRESS_SPACE
  case 718: // CUDA_ERROR_INVALID_PC
  case 719: // CUDA_ERROR_LAUNCH_FAILED
    return true;
  default:
    return false;
  }
}

/// Names of the results a missing or unusable driver gives, for drivers
/// (like the toolkit's stub library) whose cuGetErrorName fails too.
const char *knownError(CUresult r) {
  switch (r) {
  case 3:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case 34:
    return "CUDA_ERROR_STUB_LIBRARY";
  case 35:
    return "CUDA_ERROR_INSUFFICIENT_DRIVER";
  case 46:
    return "CUDA_ERROR_DEVICES_UNAVAILABLE";
  case 100:
    return "CUDA_ERROR_NO_DEVICE";
  default:
    return nullptr;
  }
}

struct Loaded {
  Driver driver{};
  std::string error; ///< non-empty when the driver is unusable
};

template <typename F>
bool resolve(void *lib, const char *name, F &fn, std::string &error) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn)
    error = std::string("the CUDA driver library lacks ") + name +
            " (driver too old?)";
  return fn != nullptr;
}

Loaded load() {
  Loaded L;
  const char *env = std::getenv("PHYSC_LIBCUDA");
  std::string path = env && *env ? env : "libcuda.so.1";
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    L.error = "no CUDA driver: cannot load " + path + " (" +
              (why ? why : "unknown reason") + ")";
    return L;
  }
  Driver &d = L.driver;
  std::string &e = L.error;
  // The _v2 names are the ones cuda.h maps the API names to since CUDA 4;
  // they are still exported by CUDA 13 drivers.
  bool ok =
      resolve(lib, "cuInit", d.cuInit, e) &&
      resolve(lib, "cuDriverGetVersion", d.cuDriverGetVersion, e) &&
      resolve(lib, "cuGetErrorName", d.cuGetErrorName, e) &&
      resolve(lib, "cuDeviceGetCount", d.cuDeviceGetCount, e) &&
      resolve(lib, "cuDeviceGet", d.cuDeviceGet, e) &&
      resolve(lib, "cuDeviceGetName", d.cuDeviceGetName, e) &&
      resolve(lib, "cuDeviceGetAttribute", d.cuDeviceGetAttribute, e) &&
      resolve(lib, "cuDeviceTotalMem_v2", d.cuDeviceTotalMem, e) &&
      resolve(lib, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, e) &&
      resolve(lib, "cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease,
              e) &&
      resolve(lib, "cuCtxSetCurrent", d.cuCtxSetCurrent, e) &&
      resolve(lib, "cuCtxSynchronize", d.cuCtxSynchronize, e) &&
      resolve(lib, "cuModuleLoadData", d.cuModuleLoadData, e) &&
      resolve(lib, "cuModuleUnload", d.cuModuleUnload, e) &&
      resolve(lib, "cuModuleGetFunction", d.cuModuleGetFunction, e) &&
      resolve(lib, "cuMemAlloc_v2", d.cuMemAlloc, e) &&
      resolve(lib, "cuMemFree_v2", d.cuMemFree, e) &&
      resolve(lib, "cuMemcpyHtoD_v2", d.cuMemcpyHtoD, e) &&
      resolve(lib, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH, e) &&
      resolve(lib, "cuMemsetD8_v2", d.cuMemsetD8, e) &&
      resolve(lib, "cuLaunchKernel", d.cuLaunchKernel, e);
  if (!ok) {
    e = "no usable CUDA driver: " + e;
    return L;
  }
  // Optional: without them the optimizer runs on the host, or kernels that
  // need more than 48 KB of shared memory report that they cannot run.
  std::string optional;
  resolve(lib, "cuModuleLoadDataEx", d.cuModuleLoadDataEx, optional);
  resolve(lib, "cuFuncSetAttribute", d.cuFuncSetAttribute, optional);
  resolve(lib, "cuStreamCreate", d.cuStreamCreate, optional);
  resolve(lib, "cuStreamDestroy_v2", d.cuStreamDestroy, optional);
  resolve(lib, "cuStreamSynchronize", d.cuStreamSynchronize, optional);
  resolve(lib, "cuStreamBeginCapture_v2", d.cuStreamBeginCapture, optional);
  resolve(lib, "cuStreamEndCapture", d.cuStreamEndCapture, optional);
  resolve(lib, "cuGraphInstantiateWithFlags", d.cuGraphInstantiateWithFlags,
          optional);
  resolve(lib, "cuGraphLaunch", d.cuGraphLaunch, optional);
  resolve(lib, "cuGraphExecDestroy", d.cuGraphExecDestroy, optional);
  resolve(lib, "cuGraphDestroy", d.cuGraphDestroy, optional);
  resolve(lib, "cuMemsetD8Async", d.cuMemsetD8Async, optional);
  if (CUresult r = d.cuInit(0))
    e = "no CUDA device: cuInit failed with " + d.errorName(r);
  return L;
}

const Loaded &loaded() {
  static Loaded L = load();
  return L;
}

} // namespace

bool Driver::hasGraphs() const {
  return cuStreamCreate && cuStreamDestroy && cuStreamSynchronize &&
         cuStreamBeginCapture && cuStreamEndCapture &&
         cuGraphInstantiateWithFlags && cuGraphLaunch && cuGraphExecDestroy &&
         cuGraphDestroy && cuMemsetD8Async;
}

std::string Driver::errorName(CUresult r) const {
  const char *name = nullptr;
  if (cuGetErrorName && cuGetErrorName(r, &name) == 0 && name)
    return std::string(name) + " (" + std::to_string(r) + ")";
  if (const char *known = knownError(r))
    return std::string(known) + " (" + std::to_string(r) + ")";
  return "CUDA error " + std::to_string(r);
}

void Driver::check(CUresult r, const char *what) const {
  if (r == 0)
    return;
  std::string message = std::string(what) + ": " + errorName(r);
  if (isKernelFault(r))
    throw DeviceFault(message +
                      ": a GPU kernel failed, and the CUDA context cannot be "
                      "used any more (kernels run asynchronously: unless "
                      "CUDA_LAUNCH_BLOCKING=1, the call that reports a fault "
                      "is not the launch that caused it; compute-sanitizer "
                      "names the kernel)");
  throw Error(message);
}

CUresult Driver::loadModule(CUmodule *mod, const void *image,
                            std::string &log) const {
  log.clear();
  std::string buffer(8192, '\0');
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSizeBytes};
  void *values[] = {
      buffer.data(),
      reinterpret_cast<void *>(static_cast<uintptr_t>(buffer.size() - 1))};
  CUresult r = cuModuleLoadDataEx
                   ? cuModuleLoadDataEx(mod, image, 2, options, values)
                   : cuModuleLoadData(mod, image);
  // A context a kernel's fault left unusable refuses every module: that is
  // the error to report, not the module.
  if (isKernelFault(r))
    check(r, "cuModuleLoadData");
  if (r != 0) {
    log = buffer.c_str();
    while (!log.empty() && (log.back() == '\n' || log.back() == ' '))
      log.pop_back();
  }
  return r;
}

const Driver &cuda::driver() {
  const Loaded &L = loaded();
  if (!L.error.empty())
    throw Error(L.error);
  return L.driver;
}

std::vector<DeviceInfo> cuda::devices() {
  const Driver &d = driver();
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count))
    throw Error("no CUDA device: cuDeviceGetCount failed with " +
                d.errorName(r));
  if (count == 0)
    throw Error("no CUDA device: the driver reports none");
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    CUdevice dev;
    d.check(d.cuDeviceGet(&dev, i), "cuDeviceGet");
    DeviceInfo info;
    info.ordinal = i;
    char name[256] = {0};
    d.check(d.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName");
    info.name = name;
    d.check(d.cuDeviceGetAttribute(&info.major, kComputeCapabilityMajor, dev),
            "cuDeviceGetAttribute");
    d.check(d.cuDeviceGetAttribute(&info.minor, kComputeCapabilityMinor, dev),
            "cuDeviceGetAttribute");
    d.check(d.cuDeviceGetAttribute(&info.multiprocessors, kMultiprocessorCount,
                                   dev),
            "cuDeviceGetAttribute");
    d.check(d.cuDeviceTotalMem(&info.memory, dev), "cuDeviceTotalMem");
    out.push_back(info);
  }
  return out;
}

bool cuda::available(std::string *why) {
  try {
    return !devices().empty();
  } catch (const Error &e) {
    if (why)
      *why = e.what();
    return false;
  }
}
