// harness.cu - checks and times the kernels of `physc emit cuda` on a GPU.
//
// Build (one binary per model; the kernels file is included at compile time):
//   nvcc -std=c++17 -O3 -arch=sm_90 -I DIR_OF_CU -DKERNELS_CU='"model.cu"' \
//        bench/gpu/harness.cu -o harness_model
// Run:
//   harness_model DUMP_DIR [--iters 30] [--warmup 5]
// where DUMP_DIR is the output of `physc dump-batch` for the same model.
//
// For every term: uploads params and points (converted to the kernels'
// precision), runs its loss_grad kernel and `<model>_reduce` for the loss and
// the gradient, and compares with the CPU f64 reference of the dump. Prints
// one JSON line per term:
//   {"term", "n", "grid", "loss_cpu", "loss_gpu", "loss_rel_err",
//    "grad_rel_err" (max_k |g_gpu - g_cpu| / max_k |g_cpu|), "status"}
// then times the first term's step (loss_grad + both reduces; 5 warm-up, 30
// timed launches, CUDA events) and prints
//   {"N", "ms" (median), "ms_min", "grid", "model", "precision"}.
// Exit status: 0 all PASS, 1 a FAIL or a bad input, 2 no usable GPU.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef KERNELS_CU
#error "define KERNELS_CU as the quoted path of a `physc emit cuda` output"
#endif
#include KERNELS_CU

#include "dump.h"

const char *const kTool = "harness";

namespace {

void check(cudaError_t e, const char *what) {
  if (e != cudaSuccess)
    die(std::string(what) + ": " + cudaGetErrorString(e));
}
#define CK(x) check((x), #x)

template <typename T> T *upload(const std::vector<double> &v) {
  std::vector<T> h(std::max<size_t>(v.size(), 1), T(0));
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = (T)v[i];
  T *d = nullptr;
  CK(cudaMalloc(&d, h.size() * sizeof(T)));
  CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

struct Term {
  std::string name, kernel;
  long long n = 0, ld = 0;
  double loss = 0;
  std::vector<double> pts, grad;
};

} // namespace

int main(int argc, char **argv) {
  typedef physc_real T;
  std::string dir;
  int iters = 30, warmup = 5;
  for (int a = 1; a < argc; ++a) {
    std::string s = argv[a];
    if (s == "--iters" && a + 1 < argc)
      iters = std::atoi(argv[++a]);
    else if (s == "--warmup" && a + 1 < argc)
      warmup = std::atoi(argv[++a]);
    else if (!s.empty() && s[0] != '-' && dir.empty())
      dir = s;
    else
      die("usage: harness DUMP_DIR [--iters N] [--warmup N]");
  }
  if (dir.empty() || iters < 1 || warmup < 0)
    die("usage: harness DUMP_DIR [--iters N] [--warmup N]");

  int devices = 0;
  cudaError_t e = cudaGetDeviceCount(&devices);
  // A GPU whose driver is older than the toolkit that built this harness
  // is there, and usable by the PTX harness: a failure, not "no GPU".
  if (e == cudaErrorInsufficientDriver) {
    int driver = 0;
    cudaDriverGetVersion(&driver);
    std::fprintf(stderr,
                 "harness: the CUDA driver (%d.%d) is older than the CUDA "
                 "runtime this harness was built with (%d.%d): rebuild the "
                 "bundle with an older toolkit\n",
                 driver / 1000, driver % 1000 / 10, CUDART_VERSION / 1000,
                 CUDART_VERSION % 1000 / 10);
    return 1;
  }
  if (e != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "harness: no CUDA device available (%s)\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    return 2;
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  CK(cudaSetDevice(0));

  auto meta = readMeta(dir);
  const long long np = std::atoll(get(meta, "num_params").c_str());
  const int coords = std::atoi(get(meta, "num_coords").c_str());
  const int nterms = std::atoi(get(meta, "num_terms").c_str());
  const int nrt = std::atoi(get(meta, "num_runtime_params").c_str());
  if (np != PHYSC_NUM_PARAMS || nterms != PHYSC_NUM_TERMS ||
      coords != PHYSC_NUM_COORDS || nrt != PHYSC_NUM_RUNTIME_PARAMS ||
      get(meta, "model") != PHYSC_MODEL_NAME)
    die("the dump in " + dir + " (model " + get(meta, "model") +
        ") does not match the kernels compiled in (model " PHYSC_MODEL_NAME
        ")");
  std::vector<double> params = readDoubles(dir + "/params.bin", np);
  std::vector<double> rt = readDoubles(dir + "/rt.bin", nrt);
  std::vector<Term> terms(nterms);
  for (int t = 0; t < nterms; ++t) {
    std::string k = "term" + std::to_string(t) + ".";
    Term &tm = terms[t];
    tm.name = get(meta, k + "name");
    tm.kernel = get(meta, k + "kernel");
    if (tm.kernel != PHYSC_TERM_KERNEL_NAMES[t])
      die("term " + std::to_string(t) + ": dump names kernel " + tm.kernel +
          ", compiled in is " + PHYSC_TERM_KERNEL_NAMES[t]);
    tm.n = std::atoll(get(meta, k + "n").c_str());
    tm.ld = std::atoll(get(meta, k + "ld").c_str());
    tm.loss = std::strtod(get(meta, k + "loss").c_str(), nullptr);
    tm.pts = readDoubles(dir + "/" + get(meta, k + "pts"),
                         termColumns(meta, t) * tm.ld);
    tm.grad = readDoubles(dir + "/" + get(meta, k + "grad"), np);
  }

  const bool f32 = sizeof(T) == 4;
  // The issue's bar for f32: within 1e-5 of the CPU (f64), relative.
  const double tol = f32 ? 1e-5 : 1e-9;
  T *dParams = upload<T>(params);
  T *dRt = upload<T>(rt);
  T *dLoss = nullptr, *dGrad = nullptr;
  CK(cudaMalloc(&dLoss, sizeof(T)));
  CK(cudaMalloc(&dGrad, np * sizeof(T)));
  // Blocks (one warp each) per SM for the timing: PHYSC_GRID_PER_SM lists
  // the values to try ("4,8,16,32" by default); each gets its own timing
  // line. Correctness runs use the first.
  std::vector<int> perSM;
  {
    const char *env = std::getenv("PHYSC_GRID_PER_SM");
    std::string list = env && *env ? env : "4,8,16,32";
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos)
        comma = list.size();
      int v = std::atoi(list.substr(pos, comma - pos).c_str());
      if (v > 0)
        perSM.push_back(v);
      pos = comma + 1;
    }
    if (perSM.empty())
      perSM.push_back(4);
  }
  const int maxGrid =
      *std::max_element(perSM.begin(), perSM.end()) * prop.multiProcessorCount;
  auto gridFor = [&](long long n, int factor) {
    long long tiles = (n + 31) / 32;
    return (int)std::max<long long>(
        1, std::min<long long>(tiles, factor * prop.multiProcessorCount));
  };
  T *dBlockLoss = nullptr, *dBlockGrad = nullptr;
  CK(cudaMalloc(&dBlockLoss, (size_t)maxGrid * sizeof(T)));
  CK(cudaMalloc(&dBlockGrad, (size_t)maxGrid * np * sizeof(T)));
  const int rb = 256;
  auto step = [&](int t, T *dPts, long long ld, long long n, int grid) {
    physc_term_fns[t]<<<grid, 32>>>(dParams, dPts, ld, n, dRt, dBlockLoss,
                                    dBlockGrad);
    PHYSC_REDUCE<<<1, rb>>>(dBlockLoss, grid, 1, dLoss);
    PHYSC_REDUCE<<<(unsigned)((np + rb - 1) / rb), rb>>>(dBlockGrad, grid, np,
                                                         dGrad);
  };

  bool allPass = true;
  std::vector<T *> dPts(nterms);
  for (int t = 0; t < nterms; ++t) {
    Term &tm = terms[t];
    dPts[t] = upload<T>(tm.pts);
    int grid = gridFor(tm.n, perSM[0]);
    step(t, dPts[t], tm.ld, tm.n, grid);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    T hLoss;
    std::vector<T> hGrad(np);
    CK(cudaMemcpy(&hLoss, dLoss, sizeof(T), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hGrad.data(), dGrad, np * sizeof(T),
                  cudaMemcpyDeviceToHost));
    Comparison c =
        compareToReference((double)hLoss, hGrad, tm.loss, tm.grad, tol);
    allPass = allPass && c.pass;
    std::printf("{\"term\": \"%s\", \"kernel\": \"%s\", \"n\": %lld, "
                "\"grid\": %d, \"loss_cpu\": %.17g, \"loss_gpu\": %.9g, "
                "\"loss_rel_err\": %.3e, \"grad_rel_err\": %.3e, \"tol\": "
                "%.0e, \"status\": \"%s\"}\n",
                tm.name.c_str(), tm.kernel.c_str(), tm.n, grid, tm.loss,
                (double)hLoss, c.lossErr, c.gradErr, tol,
                c.pass ? "PASS" : "FAIL");
    std::fflush(stdout);
  }

  // Timing: the first term's step.
  for (int factor : perSM) {
    Term &tm = terms[0];
    int grid = gridFor(tm.n, factor);
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < warmup; ++i)
      step(0, dPts[0], tm.ld, tm.n, grid);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<float> ms;
    for (int i = 0; i < iters; ++i) {
      CK(cudaEventRecord(a));
      step(0, dPts[0], tm.ld, tm.n, grid);
      CK(cudaEventRecord(b));
      CK(cudaEventSynchronize(b));
      float x = 0;
      CK(cudaEventElapsedTime(&x, a, b));
      ms.push_back(x);
    }
    CK(cudaGetLastError());
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    std::sort(ms.begin(), ms.end());
    std::printf("{\"N\": %lld, \"ms\": %.4f, \"ms_min\": %.4f, \"grid\": %d, "
                "\"model\": \"%s\", \"term\": \"%s\", \"precision\": \"%s\", "
                "\"device\": \"%s\", \"sms\": %d}\n",
                tm.n, ms[ms.size() / 2], ms[0], grid, PHYSC_MODEL_NAME,
                tm.name.c_str(), PHYSC_PRECISION, prop.name,
                prop.multiProcessorCount);
  }
  return allPass ? 0 : 1;
}
