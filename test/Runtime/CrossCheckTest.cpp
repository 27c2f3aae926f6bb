//===- CrossCheckTest.cpp - Tests of the GPU-vs-CPU check of --device auto ===//
//
// Part of physc's runtime tests. crossCheck decides whether `--device auto`
// trains on a GPU: it must accept two bindings that compute the same loss
// and gradient, and refuse one that is off, not finite, or fails, naming
// the term.
//
//===----------------------------------------------------------------------===//

#include "physrt/CrossCheck.h"
#include "physrt/Error.h"

#include "TestModels.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace physrt;

namespace {

/// `M` with its one term's loss and gradient changed by `tweak`.
CompiledModel tweaked(const CompiledModel &M,
                      std::function<void(double *, double *)> tweak) {
  CompiledModel out = M;
  LossGradFn base = M.terms[0].lossGrad;
  out.terms[0].lossGrad = [=](const double *p, const double *pts, int64_t ld,
                              int64_t n, const double *rt, double *loss,
                              double *grad) {
    base(p, pts, ld, n, rt, loss, grad);
    tweak(loss, grad);
  };
  return out;
}

std::vector<double> rtOf(const CompiledModel &M) {
  std::vector<double> rt;
  for (const RuntimeParam &P : M.runtimeParams)
    rt.push_back(P.value);
  return rt;
}

} // namespace

TEST(CrossCheck, SameKernelsAgree) {
  CompiledModel M = test::lineModel();
  CrossCheckResult R = crossCheck(M, M, rtOf(M), 7, 1e-12);
  EXPECT_TRUE(R.agree) << R.why;
  EXPECT_EQ(R.worst, 0.0);
}

TEST(CrossCheck, SmallDifferencesWithinTheTolerance) {
  CompiledModel M = test::lineModel();
  CompiledModel B = tweaked(M, [](double *loss, double *grad) {
    *loss *= 1 + 1e-7;
    grad[1] *= 1 - 1e-7;
  });
  CrossCheckResult R = crossCheck(M, B, rtOf(M), 7, 1e-4);
  EXPECT_TRUE(R.agree) << R.why;
  EXPECT_GT(R.worst, 0.0);
  EXPECT_LT(R.worst, 1e-6);
}

TEST(CrossCheck, AWrongGradientIsRefusedByName) {
  CompiledModel M = test::lineModel();
  CompiledModel B = tweaked(M, [](double *, double *grad) { grad[0] *= 1.01; });
  CrossCheckResult R = crossCheck(M, B, rtOf(M), 7, 1e-4);
  EXPECT_FALSE(R.agree);
  EXPECT_NE(R.why.find("term 'fit' differs"), std::string::npos) << R.why;
  EXPECT_NE(R.why.find("gradient by"), std::string::npos) << R.why;
}

TEST(CrossCheck, ANaNLossIsRefused) {
  CompiledModel M = test::lineModel();
  CompiledModel B = tweaked(M, [](double *loss, double *) { *loss = NAN; });
  CrossCheckResult R = crossCheck(M, B, rtOf(M), 7, 1e-4);
  EXPECT_FALSE(R.agree);
  EXPECT_NE(R.why.find("term 'fit'"), std::string::npos) << R.why;
}

TEST(CrossCheck, AFailingKernelIsRefusedWithItsError) {
  CompiledModel M = test::lineModel();
  CompiledModel B = M;
  B.terms[0].lossGrad = [](const double *, const double *, int64_t, int64_t,
                           const double *, double *, double *) {
    throw Error("cuLaunchKernel: CUDA_ERROR_LAUNCH_FAILED (719)");
  };
  CrossCheckResult R = crossCheck(M, B, rtOf(M), 7, 1e-4);
  EXPECT_FALSE(R.agree);
  EXPECT_EQ(R.why, "term 'fit' failed: cuLaunchKernel: "
                   "CUDA_ERROR_LAUNCH_FAILED (719)");
}
