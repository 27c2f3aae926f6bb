//===- emucuda-graph.cpp - Stream capture and graph replay in EmuCuda -----===//
//
// Part of physc's tests (emucuda.test). Linked against libphysc-emucuda,
// it captures the step the runtime will put in a CUDA graph, two memsets
// and a MODEL_sum_partials launch of `physc emit ptx`'s PTX, then replays
// it three times and checks the sums, what ran when (emu_cuda_count), and
// the driver's errors for misuse: synchronizing during a capture
// invalidates it, a destroyed graph exec cannot be launched, a block past
// the PTX's `.maxntid` is refused. Prints one
// line per check for FileCheck; exits 1 on the first failed expectation.
//
// Usage: emucuda-graph FILE.ptx MODEL NUM_PARAMS   (an f64 PTX)
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" long emu_cuda_count(const char *what);

namespace {

const char *name(CUresult r) {
  const char *s = nullptr;
  cuGetErrorName(r, &s);
  return s ? s : "?";
}

/// Prints `WHAT: RESULT` and stops unless the call returned `want`.
void expect(CUresult got, CUresult want, const char *what) {
  std::printf("%s: %s\n", what, name(got));
  if (got != want) {
    std::printf("FAILED: expected %s\n", name(want));
    std::exit(1);
  }
}
#define OK(call) expect((call), CUDA_SUCCESS, #call)

void count(const char *what) {
  std::printf("count %s = %ld\n", what, emu_cuda_count(what));
}

/// One memref in MLIR's expanded PTX convention: five 8-byte parameters.
void pushMemref(std::vector<unsigned long long> &slots, CUdeviceptr p,
                long long n) {
  slots.insert(slots.end(), {p, p, 0, (unsigned long long)n, 1});
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: emucuda-graph FILE.ptx MODEL NUM_PARAMS\n");
    return 2;
  }
  FILE *f = std::fopen(argv[1], "rb");
  if (!f)
    return 2;
  std::string ptx;
  for (int c; (c = std::fgetc(f)) != EOF;)
    ptx += (char)c;
  std::fclose(f);
  const std::string model = argv[2];
  const long long np = std::atoll(argv[3]), width = np + 1, blocks = 3;

  OK(cuInit(0));
  CUdevice dev;
  CUcontext ctx;
  OK(cuDeviceGet(&dev, 0));
  OK(cuDevicePrimaryCtxRetain(&ctx, dev));
  OK(cuCtxSetCurrent(ctx));
  CUmodule mod;
  OK(cuModuleLoadData(&mod, ptx.c_str()));
  CUfunction sum;
  OK(cuModuleGetFunction(&sum, mod, (model + "_sum_partials").c_str()));

  // Partials with small integers, so the sums are exact in f64.
  std::vector<double> partials(blocks * width);
  for (long long b = 0; b < blocks; ++b)
    for (long long k = 0; k < width; ++k)
      partials[b * width + k] = (double)((b + 1) * (k % 7 + 1));
  CUdeviceptr dPartials, dLoss, dGrad;
  OK(cuMemAlloc(&dPartials, partials.size() * 8));
  OK(cuMemAlloc(&dLoss, 8));
  OK(cuMemAlloc(&dGrad, np * 8));
  OK(cuMemcpyHtoD(dPartials, partials.data(), partials.size() * 8));

  CUstream stream;
  OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUevent start, stop;
  OK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  OK(cuEventCreate(&stop, CU_EVENT_DEFAULT));

  // The capture: nothing runs, and the launch's parameters are copied.
  OK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  OK(cuEventRecord(start, stream));
  OK(cuMemsetD8Async(dLoss, 0, 8, stream));
  OK(cuMemsetD8Async(dGrad, 0, np * 8, stream));
  {
    std::vector<unsigned long long> slots;
    pushMemref(slots, dPartials, blocks * width);
    slots.push_back(blocks);
    pushMemref(slots, dLoss, 1);
    pushMemref(slots, dGrad, np);
    std::vector<void *> args;
    for (auto &s : slots)
      args.push_back(&s);
    const unsigned sumBlock = 256;
    OK(cuLaunchKernel(sum, (unsigned)((width + sumBlock - 1) / sumBlock), 1, 1,
                      sumBlock, 1, 1, 0, stream, args.data(), nullptr));
    // A replay must not read these temporaries again.
    std::memset(slots.data(), 0xab, slots.size() * 8);
  }
  OK(cuEventRecord(stop, stream));
  CUstreamCaptureStatus status;
  OK(cuStreamIsCapturing(stream, &status));
  std::printf("capturing: %d\n", status == CU_STREAM_CAPTURE_STATUS_ACTIVE);
  count((model + "_sum_partials").c_str());
  count("memset");
  CUgraph graph;
  OK(cuStreamEndCapture(stream, &graph));
  CUgraphExec exec;
  OK(cuGraphInstantiate(&exec, graph, 0));

  std::vector<double> loss(1), grad(np);
  for (int replay = 1; replay <= 3; ++replay) {
    // Garbage first: the replayed memsets must clear it.
    OK(cuMemsetD8(dLoss, 0x7f, 8));
    OK(cuMemsetD8(dGrad, 0x7f, np * 8));
    OK(cuGraphLaunch(exec, stream));
    OK(cuStreamSynchronize(stream));
    OK(cuMemcpyDtoH(loss.data(), dLoss, 8));
    OK(cuMemcpyDtoH(grad.data(), dGrad, np * 8));
    long long bad = 0;
    for (long long k = 0; k < width; ++k) {
      double want = 0;
      for (long long b = 0; b < blocks; ++b)
        want += partials[b * width + k];
      bad += (k == 0 ? loss[0] : grad[k - 1]) != want;
    }
    std::printf("replay %d: loss %g, %lld wrong sums\n", replay, loss[0], bad);
    if (bad)
      return 1;
  }
  float ms = -1;
  OK(cuEventElapsedTime(&ms, start, stop));
  std::printf("replayed events timed: %d\n", ms >= 0);
  count((model + "_sum_partials").c_str());
  count("graph_launch");
  count("graph_instantiate");
  count("memset");
  count("stream_sync");
  count("memcpy_dtoh");

  // Synchronizing or a synchronous copy during a global capture is an
  // error and invalidates the capture; nothing in it may run.
  OK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  OK(cuMemsetD8Async(dLoss, 0, 8, stream));
  OK(cuEventRecord(stop, stream));
  expect(cuEventSynchronize(stop), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
         "sync on a captured event");
  expect(cuStreamSynchronize(stream), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
         "sync during capture");
  expect(cuCtxSynchronize(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
         "ctx sync during capture");
  expect(cuMemcpyDtoH(loss.data(), dLoss, 8),
         CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "dtoh during capture");
  expect(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
         CUDA_ERROR_ILLEGAL_STATE, "second begin");
  CUgraph broken = reinterpret_cast<CUgraph>(1);
  expect(cuStreamEndCapture(stream, &broken),
         CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "end of invalidated capture");
  std::printf("invalidated graph is null: %d\n", broken == nullptr);
  expect(cuStreamEndCapture(stream, &broken), CUDA_ERROR_ILLEGAL_STATE,
         "end without capture");

  // A relaxed capture allows the synchronous calls.
  OK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED));
  OK(cuMemcpyDtoH(loss.data(), dLoss, 8));
  CUgraph relaxed;
  OK(cuStreamEndCapture(stream, &relaxed));
  OK(cuGraphDestroy(relaxed));

  // Even relaxed, the legacy stream may not join a capturing blocking
  // stream.
  CUstream blocking;
  OK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  OK(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_RELAXED));
  expect(cuMemsetD8Async(dLoss, 0, 8, nullptr),
         CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "legacy stream during capture");
  expect(cuStreamEndCapture(blocking, &relaxed),
         CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "end after the legacy stream");
  OK(cuStreamDestroy(blocking));

  OK(cuGraphExecDestroy(exec));
  expect(cuGraphLaunch(exec, stream), CUDA_ERROR_INVALID_HANDLE,
         "launch of a destroyed exec");
  OK(cuGraphDestroy(graph));
  expect(cuGraphDestroy(graph), CUDA_ERROR_INVALID_VALUE,
         "second graph destroy");
  expect(cuMemsetD8(dLoss, 0, 16), CUDA_ERROR_INVALID_VALUE,
         "memset past the allocation");
  // The loss kernels' PTX says `.maxntid 128`: a GPU refuses 256 threads.
  CUfunction lossGrad;
  OK(cuModuleGetFunction(&lossGrad, mod, (model + "_pde_loss_grad").c_str()));
  std::vector<unsigned long long> zeros(22);
  std::vector<void *> zeroArgs;
  for (auto &z : zeros)
    zeroArgs.push_back(&z);
  expect(cuLaunchKernel(lossGrad, 1, 1, 1, 256, 1, 1, 0, nullptr,
                        zeroArgs.data(), nullptr),
         CUDA_ERROR_INVALID_VALUE, "loss kernel with 256 threads");
  expect(cuLaunchKernel(lossGrad, 1, 2, 1, 128, 1, 1, 0, nullptr,
                        zeroArgs.data(), nullptr),
         CUDA_ERROR_NOT_SUPPORTED, "2-D grid");
  count((model + "_sum_partials").c_str());
  count("graph_launch");

  OK(cuEventDestroy(start));
  OK(cuEventDestroy(stop));
  OK(cuStreamDestroy(stream));
  OK(cuMemFree(dPartials));
  OK(cuMemFree(dLoss));
  OK(cuMemFree(dGrad));
  OK(cuModuleUnload(mod));
  OK(cuDevicePrimaryCtxRelease(dev));
  std::printf("done\n");
  return 0;
}
