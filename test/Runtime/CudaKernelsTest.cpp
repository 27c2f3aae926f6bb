//===- CudaKernelsTest.cpp - The GPU bindings on a fake driver ------------===//
//
// Part of physc's runtime tests. bindCudaKernels and the launches it makes
// run against FakeCuda.cpp (a driver library that executes the test model's
// kernels on the CPU with the ABI of physc's PTX: five parameters per
// memref, loss kernels in blocks of 128 writing rows of partials,
// sum_partials adding them into the loss and gradient), so buffer sizes,
// argument order, launch shapes, the zeroing before sum_partials and the
// read-backs are checked without a GPU: a wrong one is refused by the fake
// driver or changes the numbers below. A separate executable, because the
// driver is opened once per process.
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaKernels.h"
#include "physrt/CudaDriver.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/Metrics.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <sstream>
#include <string>
#include <utility>

using namespace physrt;

namespace {

/// u(x) = a + b x on [-1, 1] fitted to 2 + k x; `name` picks the fake
/// kernels' precision ("line": f64, "linef": f32).
ModelDescription lineDescription(const std::string &name) {
  ModelDescription D;
  D.precision = name == "line" ? "f64" : "f32";
  CompiledModel &M = D.model;
  M.name = name;
  M.coords = {{"x", false, -1.0, 1.0}};
  M.numParams = 2;
  ParamBlock B;
  B.name = "w";
  B.rows = 1;
  B.cols = 2;
  M.blocks = {B};
  M.runtimeParams = {{"k", 3.0}};
  Term T;
  T.name = "fit";
  T.samples = 3000; // several blocks, a partial last tile
  M.terms = {T};
  M.fields = {{"u", {}}};
  Exact E;
  E.field = 0;
  M.exacts = {E};
  Stage S;
  S.optimizer = "adam";
  S.steps = 300;
  S.lr = 0.05;
  M.stages = {S};
  D.kernels = {
      {KernelRef::Role::LossGrad, 0, "_mlir_ciface_" + name + "_fit_loss_grad",
       1, 1},
      {KernelRef::Role::Field, 0, "_mlir_ciface_" + name + "_u_eval", 1, 1},
      {KernelRef::Role::Exact, 0, "_mlir_ciface_" + name + "_exact_eval", 1,
       1}};
  return D;
}

void *fake() {
  static void *lib = dlopen(FAKE_CUDA_PATH, RTLD_NOW);
  return lib;
}

long launches(const std::string &name) {
  static auto fn = reinterpret_cast<long (*)(const char *)>(
      dlsym(fake(), "fake_cuda_launches"));
  return fn(name.c_str());
}

/// {grid, block} of the last launch of `name`.
std::pair<unsigned, unsigned> lastLaunch(const std::string &name) {
  static auto fn =
      reinterpret_cast<bool (*)(const char *, unsigned *, unsigned *)>(
          dlsym(fake(), "fake_cuda_last_launch"));
  unsigned grid = 0, block = 0;
  EXPECT_TRUE(fn(name.c_str(), &grid, &block)) << "no launch of " << name;
  return {grid, block};
}

class CudaKernels : public ::testing::Test {
protected:
  static void SetUpTestSuite() { ::setenv("PHYSC_LIBCUDA", FAKE_CUDA_PATH, 1); }
};

TEST_F(CudaKernels, SeesTheDevice) {
  std::vector<cuda::DeviceInfo> devs = cuda::devices();
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].name, "Fake GPU");
  EXPECT_EQ(devs[0].chip(), "sm_90");
  EXPECT_EQ(devs[0].multiprocessors, 2);
}

/// The exact loss and gradient of u = 0.5 - 0.25 x against 2 + 3 x over
/// the first `n` points.
void exactLossGrad(const std::vector<double> &pts, int64_t n, double &l,
                   double &g0, double &g1) {
  l = g0 = g1 = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = pts[i], r = 0.5 - 0.25 * x - (2 + 3 * x);
    l += r * r;
    g0 += 2 * r;
    g1 += 2 * r * x;
  }
}

/// The loss and gradient of batches on the "GPU" equal the exact sums,
/// accumulated into the caller's; the launches have the shapes the kernels
/// require.
void checkLossGrad(const std::string &name, double tol) {
  ModelDescription D = lineDescription(name);
  CompiledModel &M = D.model;
  cuda::bindCudaKernels(M, D.kernels, D.precision == "f64", "//fake-ptx");
  EXPECT_EQ(M.device, "Fake GPU (sm_90)");
  EXPECT_GT(M.chunkPoints, 1 << 20);
  int64_t ld = 4096; // ld > n: the binding must repack
  std::vector<double> pts(ld, 99.0);
  std::vector<double> params = {0.5, -0.25}, rt = {3.0};
  std::string lossName = name + "_fit_loss_grad",
              sumName = name + "_sum_partials";
  // 300 points: ceil(300 / 128) = 3 blocks; 3000: 24, capped at 4 blocks
  // per SM (the fake has 2). Each call's sums start from zero on the
  // device (the fake fills new memory with NaN, and the second call reuses
  // the buffers of the first), and are added into loss and grad.
  for (auto [n, grid] : {std::pair<int64_t, unsigned>{300, 3}, {3000, 8}}) {
    for (int64_t i = 0; i < n; ++i)
      pts[i] = -1 + 2.0 * i / (n - 1);
    double loss = 1.0, grad[2] = {10, 20};
    long before = launches(lossName), sumsBefore = launches(sumName);
    for (int call = 0; call < 2; ++call)
      M.terms[0].lossGrad(params.data(), pts.data(), ld, n, rt.data(), &loss,
                          grad);
    EXPECT_EQ(launches(lossName), before + 2);
    EXPECT_EQ(launches(sumName), sumsBefore + 2);
    EXPECT_EQ(lastLaunch(lossName), std::make_pair(grid, 128u));
    EXPECT_EQ(lastLaunch(sumName), std::make_pair(1u, 256u));
    double l, g0, g1;
    exactLossGrad(pts, n, l, g0, g1);
    EXPECT_NEAR(loss, 1.0 + 2 * l, tol * l) << n;
    EXPECT_NEAR(grad[0], 10 + 2 * g0, tol * std::fabs(g0)) << n;
    EXPECT_NEAR(grad[1], 20 + 2 * g1, tol * std::fabs(g1)) << n;
  }

  // Field and exact: out[i] with the caller's ld.
  int64_t n = 1000;
  for (int64_t i = 0; i < n; ++i)
    pts[i] = -1 + 2.0 * i / (n - 1);
  std::vector<double> out(ld, -7.0);
  M.fields[0].eval(params.data(), pts.data(), ld, n, rt.data(), out.data());
  EXPECT_EQ(lastLaunch(name + "_u_eval"), std::make_pair(8u, 128u));
  EXPECT_NEAR(out[0], 0.75, tol);
  EXPECT_NEAR(out[n - 1], 0.25, tol);
  EXPECT_EQ(out[n], -7.0); // nothing written past n
  M.exacts[0].eval(params.data(), pts.data(), ld, n, rt.data(), out.data());
  EXPECT_NEAR(out[n - 1], 5.0, tol);
}

TEST_F(CudaKernels, LossGradAndEvalF64) { checkLossGrad("line", 1e-12); }
TEST_F(CudaKernels, LossGradAndEvalF32) { checkLossGrad("linef", 1e-5); }

/// The fake driver refuses the launches the real kernels cannot take, so
/// the tests above would catch a runtime that made them.
TEST_F(CudaKernels, FakeDriverChecksTheKernelABI) {
  const cuda::Driver &d = cuda::driver();
  cuda::CUmodule mod = nullptr;
  ASSERT_EQ(d.cuModuleLoadData(&mod, "//fake-ptx"), 0);
  cuda::CUfunction loss = nullptr;
  ASSERT_EQ(d.cuModuleGetFunction(&loss, mod, "line_fit_loss_grad"), 0);
  cuda::CUdeviceptr params = 0, pts = 0, rt = 0, partials = 0;
  ASSERT_EQ(d.cuMemAlloc(&params, 2 * sizeof(double)), 0);
  ASSERT_EQ(d.cuMemAlloc(&pts, 256 * sizeof(double)), 0);
  ASSERT_EQ(d.cuMemAlloc(&rt, sizeof(double)), 0);
  ASSERT_EQ(d.cuMemAlloc(&partials, 2 * 3 * sizeof(double)), 0);
  // (params, pts, ld, n, rt, partials): 5 + 5 + 1 + 1 + 5 + 5 values.
  unsigned long long v[22] = {params, params,   0,        2,   1,  pts, pts, 0,
                              256,    1,        256,      256, rt, rt,  0,   1,
                              1,      partials, partials, 0,   6,  1};
  void *args[22];
  for (int i = 0; i < 22; ++i)
    args[i] = &v[i];
  auto launch = [&](unsigned grid, unsigned block) {
    return d.cuLaunchKernel(loss, grid, 1, 1, block, 1, 1, 0, nullptr, args,
                            nullptr);
  };
  EXPECT_EQ(launch(2, 128), 0);
  EXPECT_EQ(d.errorName(launch(2, 64)), "CUDA_ERROR_INVALID_VALUE (1)");
  EXPECT_EQ(d.errorName(launch(3, 128)), "CUDA_ERROR_ILLEGAL_ADDRESS (700)")
      << "partials too small for 3 blocks";
  v[21] = 2; // a stride other than 1
  EXPECT_EQ(d.errorName(launch(2, 128)), "CUDA_ERROR_ILLEGAL_ADDRESS (700)");
  v[21] = 1;
  v[8] = 512; // a size past the allocation
  EXPECT_EQ(d.errorName(launch(2, 128)), "CUDA_ERROR_ILLEGAL_ADDRESS (700)");
  for (cuda::CUdeviceptr p : {params, pts, rt, partials})
    EXPECT_EQ(d.cuMemFree(p), 0);
  EXPECT_EQ(d.cuModuleUnload(mod), 0);
}

TEST_F(CudaKernels, TrainsWithOneLaunchPerTermAndStep) {
  ModelDescription D = lineDescription("line");
  cuda::bindCudaKernels(D.model, D.kernels, true, "//fake-ptx");
  TrainOptions opts;
  opts.device = "cuda";
  opts.precision = "f64";
  opts.quiet = true;
  opts.threads = 2;
  std::ostringstream log;
  long before = launches("line_fit_loss_grad");
  long sumsBefore = launches("line_sum_partials");
  TrainResult R = train(D.model, opts, log);
  // 300 steps, plus the final evaluation of the term losses: one loss_grad
  // and one sum_partials launch each.
  EXPECT_EQ(launches("line_fit_loss_grad") - before, 301);
  EXPECT_EQ(launches("line_sum_partials") - sumsBefore, 301);
  EXPECT_NEAR(R.params[0], 2, 1e-3);
  EXPECT_NEAR(R.params[1], 3, 1e-3);
  ASSERT_EQ(R.relL2.size(), 1u);
  EXPECT_LT(R.relL2[0], 1e-3);
  EXPECT_NE(summaryJSON(D.model, opts, R).find("\"gpu\": \"Fake GPU (sm_90)\""),
            std::string::npos);
  // The CPU runtime refuses to train GPU kernels as "cpu" and vice versa.
  opts.device = "cpu";
  EXPECT_THROW(train(D.model, opts, log), Error);
}

/// `image` is refused with an error that holds `what`, and the model keeps
/// its CPU bindings.
void expectRefused(const char *image, const std::string &what,
                   int ordinal = 0) {
  ModelDescription D = lineDescription("line");
  try {
    cuda::bindCudaKernels(D.model, D.kernels, true, image, ordinal);
    ADD_FAILURE() << "no error for " << image;
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  EXPECT_EQ(D.model.device, "cpu");
  EXPECT_FALSE(D.model.fields[0].eval);
  EXPECT_FALSE(D.model.terms[0].lossGrad);
}

TEST_F(CudaKernels, RefusesBadModules) {
  expectRefused("not ptx",
                "does not load on Fake GPU (sm_90): CUDA_ERROR_INVALID_IMAGE");
  expectRefused("//fake-ptx nosum",
                "the GPU code of model 'line' lacks line_sum_partials");
  expectRefused("//fake-ptx noeval",
                "the GPU code of model 'line' lacks line_u_eval");
  expectRefused("//fake-ptx", "no CUDA device 1 (found 1)", 1);
  expectRefused("", "model 'line' has no GPU code");
  expectRefused("//fake-ptx\n.visible .global .align 4 .u32 "
                "line_loss_points_per_block = 0;",
                "the GPU code of model 'line' declares a loss tile of 0 "
                "points, not 1 .. 128");
}

/// Lane-split loss kernels (`physc emit ptx --lanes-per-point 32`) cover
/// 128 / 32 = 4 points a block, which their PTX records: the grid is sized
/// by it, not by blockDim.x, and the sums stay exact.
TEST_F(CudaKernels, LossGridFollowsThePointsPerBlock) {
  ModelDescription D = lineDescription("line");
  CompiledModel &M = D.model;
  cuda::bindCudaKernels(M, D.kernels, true,
                        "//fake-ptx\n.visible .global .align 4 .u32 "
                        "line_loss_points_per_block = 4;\n");
  std::vector<double> params = {0.5, -0.25}, rt = {3.0};
  // 20 points: 5 blocks of 4 (a point per thread: 1 block); 300: 75,
  // capped at 4 blocks per SM.
  for (auto [n, grid] : {std::pair<int64_t, unsigned>{20, 5}, {300, 8}}) {
    std::vector<double> pts(n);
    for (int64_t i = 0; i < n; ++i)
      pts[i] = -1 + 2.0 * i / (n - 1);
    double loss = 0, grad[2] = {0, 0};
    M.terms[0].lossGrad(params.data(), pts.data(), n, n, rt.data(), &loss,
                        grad);
    EXPECT_EQ(lastLaunch("line_fit_loss_grad"), std::make_pair(grid, 128u));
    double l, g0, g1;
    exactLossGrad(pts, n, l, g0, g1);
    EXPECT_NEAR(loss, l, 1e-12 * l) << n;
    EXPECT_NEAR(grad[0], g0, 1e-12 * std::fabs(g0)) << n;
    EXPECT_NEAR(grad[1], g1, 1e-12 * std::fabs(g1)) << n;
  }
}

/// The cubin a device runs: its own chip's, else the newest of its major
/// with a lower minor; never one of another major or a newer minor.
TEST(CudaCubins, PickCubinFollowsTheDriversRules) {
  static const char elf[] = "\x7f"
                            "ELF";
  auto cubins = [&](std::initializer_list<const char *> chips) {
    std::vector<cuda::Cubin> v;
    for (const char *c : chips)
      v.push_back({c, elf, sizeof elf});
    return v;
  };
  auto both = cubins({"sm_80", "sm_90"});
  EXPECT_EQ(cuda::pickCubin(both, 9, 0), 1);
  EXPECT_EQ(cuda::pickCubin(both, 8, 0), 0);
  EXPECT_EQ(cuda::pickCubin(both, 8, 6), 0); // A10, RTX 30xx: sm_80 code
  EXPECT_EQ(cuda::pickCubin(both, 8, 9), 0);
  EXPECT_EQ(cuda::pickCubin(both, 10, 0), -1); // Blackwell: the PTX
  EXPECT_EQ(cuda::pickCubin(both, 7, 5), -1);
  EXPECT_EQ(cuda::pickCubin(cubins({"sm_80", "sm_86", "sm_89"}), 8, 7), 1);
  EXPECT_EQ(cuda::pickCubin(cubins({"sm_86"}), 8, 0), -1);
  EXPECT_EQ(cuda::pickCubin(cubins({"sm_100", "sm_90"}), 10, 0), 0);
  EXPECT_EQ(cuda::pickCubin(cubins({"sm_9x", "sm90", "compute_90"}), 9, 0), -1);
  EXPECT_EQ(cuda::pickCubin({{"sm_90", nullptr, 0}}, 9, 0), -1);
  EXPECT_EQ(cuda::pickCubin({}, 9, 0), -1);
}

/// A cubin the driver refuses (not machine code for this device) falls
/// back to the PTX, which then runs as usual; the device name says which
/// was loaded.
TEST_F(CudaKernels, RefusedCubinFallsBackToThePTX) {
  ModelDescription D = lineDescription("line");
  CompiledModel &M = D.model;
  static const char notElf[] = "not a cubin";
  cuda::bindCudaKernels(M, D.kernels, true, "//fake-ptx", 0,
                        {{"sm_90", notElf, sizeof notElf}});
  EXPECT_EQ(M.device, "Fake GPU (sm_90)");
  std::vector<double> pts = {-1, 0, 1}, params = {0.5, -0.25}, rt = {3.0};
  double loss = 0, grad[2] = {0, 0}, l, g0, g1;
  M.terms[0].lossGrad(params.data(), pts.data(), 3, 3, rt.data(), &loss, grad);
  exactLossGrad(pts, 3, l, g0, g1);
  EXPECT_NEAR(loss, l, 1e-12 * l);
}

} // namespace
