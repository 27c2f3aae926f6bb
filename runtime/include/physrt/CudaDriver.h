//===- CudaDriver.h - The CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). The GPU is reached through the CUDA
// driver API (PTX loaded by the driver: no nvcc, no CUDA runtime library at
// run time), and libcuda itself is opened with dlopen: a physc or an AOT
// library built on a machine with the toolkit runs on machines without a
// GPU or driver, and says so when asked for one instead of failing to load.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CUDADRIVER_H
#define PHYSRT_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace physrt::cuda {

// The driver API's handle types, as cuda.h declares them (so the runtime
// builds without the toolkit's headers).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

/// The entry points physc uses, resolved from libcuda.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  /// Takes the JIT's error log (loadModule). Optional: null when the driver
  /// lacks it, and then a refused module's error names only the result.
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  /// Lets a kernel take more than 48 KB of shared memory (loss kernels that
  /// stage the parameters). Optional: null when the driver lacks it.
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);

  // Streams and graphs, for whole training steps on the device
  // (CudaTrain.cpp). Optional: null when the driver lacks them, and then
  // the host runs the optimizer.
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph,
                                          unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  /// Whether all of the stream and graph entry points are there.
  bool hasGraphs() const;

  /// "CUDA_ERROR_NO_DEVICE (100)" and the like.
  std::string errorName(CUresult r) const;
  /// Throws Error("WHAT: NAME") unless `r` is 0. A kernel's fault (an
  /// illegal address, say) is reported by whichever later call waits for
  /// the GPU, and leaves the context unusable; for those results the
  /// message says so, and how to find the kernel.
  void check(CUresult r, const char *what) const;
  /// Loads PTX or a cubin. When the driver refuses it, `log` gets what its
  /// JIT said (empty when it said nothing, or the driver has no
  /// cuModuleLoadDataEx): a bare CUDA_ERROR_INVALID_PTX names no line.
  /// Throws DeviceFault when the context is unusable after a kernel's
  /// fault.
  CUresult loadModule(CUmodule *mod, const void *image, std::string &log) const;
};

/// The driver, opened and initialised (cuInit) on first use: libcuda.so.1,
/// or the file $PHYSC_LIBCUDA names. Throws Error saying what is missing
/// (no driver library, a symbol, or cuInit's failure).
const Driver &driver();

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0; ///< compute capability
  int multiprocessors = 0;
  size_t memory = 0; ///< bytes
  /// "sm_90" and the like: the PTX target the device runs natively.
  std::string chip() const {
    return "sm_" + std::to_string(major) + std::to_string(minor);
  }
};

/// Every CUDA device. Throws Error as driver() does, and when the driver
/// reports no device.
std::vector<DeviceInfo> devices();

/// Whether a usable CUDA device is present (`--device auto`); `why` gets the
/// reason when not.
bool available(std::string *why = nullptr);

} // namespace physrt::cuda

#endif // PHYSRT_CUDADRIVER_H
