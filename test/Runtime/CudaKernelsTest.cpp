//===- CudaKernelsTest.cpp - The GPU bindings on a fake driver ------------===//
//
// Part of physc's runtime tests. bindCudaKernels and the launches it makes
// run against FakeCuda.cpp (a driver library that executes the test model's
// kernels on the CPU with the ABI of `physc emit cuda`), so buffer sizes,
// argument order, grid shapes, the reduce sequence and the read-backs are
// checked without a GPU: a wrong one changes the numbers below. A separate
// executable, because the driver is opened once per process.
//
//===----------------------------------------------------------------------===//

#include "physrt/CudaDriver.h"
#include "physrt/CudaKernels.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/Metrics.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dlfcn.h>
#include <sstream>

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
  D.kernels = {{KernelRef::Role::LossGrad, 0, "_mlir_ciface_" + name + "_fit",
                1, 1},
               {KernelRef::Role::Field, 0, "_mlir_ciface_" + name + "_u", 1,
                1},
               {KernelRef::Role::Exact, 0, "_mlir_ciface_" + name + "_exact",
                1, 1}};
  return D;
}

long launches(const char *name) {
  static auto fn = reinterpret_cast<long (*)(const char *)>(
      dlsym(dlopen(FAKE_CUDA_PATH, RTLD_NOW), "fake_cuda_launches"));
  return fn(name);
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

/// The loss and gradient of one batch on the "GPU" equal the exact sums.
void checkLossGrad(const std::string &name, double tol) {
  ModelDescription D = lineDescription(name);
  CompiledModel &M = D.model;
  cuda::bindCudaKernels(M, D.kernels, D.precision == "f64", "//fake-ptx");
  EXPECT_EQ(M.device, "Fake GPU (sm_90)");
  EXPECT_GT(M.chunkPoints, 1 << 20);
  int64_t n = 1000, ld = 1024; // ld > n: the binding must repack
  std::vector<double> pts(ld, 99.0);
  for (int64_t i = 0; i < n; ++i)
    pts[i] = -1 + 2.0 * i / (n - 1);
  std::vector<double> params = {0.5, -0.25}, rt = {3.0};
  double loss = 1.0, grad[2] = {10, 20}; // accumulated into
  long before = launches((name + "_fit").c_str());
  M.terms[0].lossGrad(params.data(), pts.data(), ld, n, rt.data(), &loss,
                      grad);
  EXPECT_EQ(launches((name + "_fit").c_str()), before + 1);
  double l = 0, g0 = 0, g1 = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = pts[i], r = 0.5 - 0.25 * x - (2 + 3 * x);
    l += r * r;
    g0 += 2 * r;
    g1 += 2 * r * x;
  }
  EXPECT_NEAR(loss, 1.0 + l, tol * l);
  EXPECT_NEAR(grad[0], 10 + g0, tol * std::fabs(g0));
  EXPECT_NEAR(grad[1], 20 + g1, tol * std::fabs(g1));

  // Field and exact: out[i] with the caller's ld.
  std::vector<double> out(ld, -7.0);
  M.fields[0].eval(params.data(), pts.data(), ld, n, rt.data(), out.data());
  EXPECT_NEAR(out[0], 0.75, tol);
  EXPECT_NEAR(out[n - 1], 0.25, tol);
  EXPECT_EQ(out[n], -7.0); // nothing written past n
  M.exacts[0].eval(params.data(), pts.data(), ld, n, rt.data(), out.data());
  EXPECT_NEAR(out[n - 1], 5.0, tol);
}

TEST_F(CudaKernels, LossGradAndEvalF64) { checkLossGrad("line", 1e-12); }
TEST_F(CudaKernels, LossGradAndEvalF32) { checkLossGrad("linef", 1e-5); }

TEST_F(CudaKernels, TrainsWithOneLaunchPerTermAndStep) {
  ModelDescription D = lineDescription("line");
  cuda::bindCudaKernels(D.model, D.kernels, true, "//fake-ptx");
  TrainOptions opts;
  opts.device = "cuda";
  opts.precision = "f64";
  opts.quiet = true;
  opts.threads = 2;
  std::ostringstream log;
  long before = launches("line_fit");
  TrainResult R = train(D.model, opts, log);
  // 300 steps, plus the final evaluation of the term losses.
  EXPECT_EQ(launches("line_fit") - before, 301);
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

TEST_F(CudaKernels, RefusesBadModules) {
  ModelDescription D = lineDescription("line");
  try {
    cuda::bindCudaKernels(D.model, D.kernels, true, "not ptx");
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(
                  "does not load on Fake GPU (sm_90): CUDA_ERROR_INVALID_IMAGE"),
              std::string::npos)
        << e.what();
  }
  try {
    cuda::bindCudaKernels(D.model, D.kernels, true, "//fake-ptx noreduce");
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("lacks line_reduce"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(cuda::bindCudaKernels(D.model, D.kernels, true, "//fake-ptx", 1),
               Error);
  EXPECT_EQ(D.model.device, "cpu");
}

} // namespace
