//===- TrainTest.cpp - End-to-end tests of the training loop --------------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Train.h"
#include "TestFiles.h"
#include "TestModels.h"
#include "physrt/CSV.h"
#include "physrt/Checkpoint.h"
#include "physrt/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

using namespace physrt;
using physrt::test::ScratchDir;

namespace {

TrainOptions quietOptions() {
  TrainOptions o;
  o.quiet = true;
  o.threads = 2;
  o.seed = 7;
  return o;
}

std::string errorOf(const CompiledModel &M, const TrainOptions &o) {
  std::ostringstream log;
  try {
    train(M, o, log);
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST(Train, FitsALineAndWritesOutputs) {
  ScratchDir D;
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.outDir = D.file("out");
  o.summaryPath = D.file("summary.json");
  std::ostringstream log;
  TrainResult R = train(M, o, log);
  EXPECT_TRUE(log.str().empty()); // quiet

  // Adam alone gets close; L-BFGS on the exact least-squares problem
  // finishes it (and stops early on its gradient tolerance).
  EXPECT_GT(R.steps, 300);
  EXPECT_LE(R.steps, 350);
  EXPECT_NEAR(R.params[0], 2.0, 1e-6);
  EXPECT_NEAR(R.params[1], 3.0, 1e-6);
  ASSERT_EQ(R.termLoss.size(), 1u);
  EXPECT_LT(R.termLoss[0], 1e-12);
  EXPECT_DOUBLE_EQ(R.totalLoss, R.termLoss[0]);
  ASSERT_EQ(R.relL2.size(), 1u);
  EXPECT_LT(R.relL2[0], 1e-6);
  EXPECT_EQ(R.threads, 2);

  Checkpoint C = loadCheckpoint(o.outDir + "/checkpoint.bin");
  EXPECT_EQ(C.model, "line");
  EXPECT_EQ(C.params, R.params);
  EXPECT_EQ(C.steps, R.steps);

  std::vector<std::string> header;
  auto cols = loadCSV(o.outDir + "/fields.csv", 3, &header);
  EXPECT_EQ(header, (std::vector<std::string>{"x", "u", "exact_u"}));
  EXPECT_EQ(cols[0].size(), 1001u);
  for (size_t i = 0; i < cols[0].size(); ++i)
    ASSERT_NEAR(cols[1][i], cols[2][i], 1e-5);

  nlohmann::json j = nlohmann::json::parse(test::slurp(o.summaryPath));
  EXPECT_EQ(j["model"], "line");
  EXPECT_EQ(j["steps"], R.steps);
  EXPECT_GT(j["seconds"].get<double>(), 0.0);
  EXPECT_EQ(j["loss"]["fit"].get<double>(), R.termLoss[0]);
  EXPECT_EQ(j["total_loss"].get<double>(), R.totalLoss);
  EXPECT_EQ(j["rel_l2"]["u"].get<double>(), R.relL2[0]);
  EXPECT_EQ(j["params"]["k"].get<double>(), 3.0);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["precision"], "f32");
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["sampler"], "uniform");
  EXPECT_EQ(j["stages"].size(), 2u);
}

TEST(Train, SetOverridesARuntimeParam) {
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.setParams = {{"k", -1.5}};
  TrainResult R = train(M, o, std::cout);
  EXPECT_NEAR(R.params[1], -1.5, 1e-6);
  EXPECT_EQ(R.runtimeParams, std::vector<double>{-1.5});
}

TEST(Train, SetUnknownNameIsAnError) {
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.setParams = {{"kappa", 1.0}};
  EXPECT_EQ(errorOf(M, o), "--set: unknown parameter 'kappa' (known: k)");
  M.runtimeParams.clear();
  EXPECT_EQ(errorOf(M, o), "--set: unknown parameter 'kappa' (model 'line' "
                           "has no runtime parameters)");
}

TEST(Train, InvalidOptions) {
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.device = "cuda";
  EXPECT_EQ(errorOf(M, o), "device 'cuda': the model's kernels are on the CPU "
                           "(bind them with cuda::bindCudaKernels first)");
  o.device = "tpu";
  EXPECT_EQ(errorOf(M, o), "unknown device 'tpu' (known: cpu, cuda)");
  o = quietOptions();
  o.precision = "f16";
  EXPECT_EQ(errorOf(M, o), "unknown precision 'f16' (known: f32, f64)");
  o = quietOptions();
  M.stages[0].optimizer = "sgd";
  EXPECT_EQ(errorOf(M, o),
            "unknown optimizer 'sgd' (known: adam, lbfgs, multiadam)");
}

TEST(Train, UnwritableOutDirFailsBeforeTraining) {
  ScratchDir D;
  std::string file = D.write("afile", "x");
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.outDir = file + "/out";
  std::string err = errorOf(M, o);
  EXPECT_EQ(err.rfind("cannot create output directory '" + o.outDir + "': ", 0),
            0u)
      << err;
}

TEST(Train, MaxStepsCapsAllStages) {
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.maxSteps = 120;
  TrainResult R = train(M, o, std::cout);
  EXPECT_EQ(R.steps, 120);
  o.maxSteps = 0;
  R = train(M, o, std::cout);
  EXPECT_EQ(R.steps, 0);
  EXPECT_GT(R.totalLoss, 0.1); // untrained
}

TEST(Train, MlpLossDropsAndIsThreadCountIndependent) {
  CompiledModel M = test::mlpModel(8);
  TrainOptions o = quietOptions();
  M.stages[0].steps = 100;
  M.stages[1].steps = 400;
  o.threads = 1;
  TrainResult R1 = train(M, o, std::cout);
  o.threads = 2;
  TrainResult R2 = train(M, o, std::cout);
  EXPECT_EQ(R1.params, R2.params);
  EXPECT_EQ(R1.termLoss, R2.termLoss);
  EXPECT_EQ(R1.relL2, R2.relL2);

  o.maxSteps = 0;
  TrainResult R0 = train(M, o, std::cout);
  // Real fitting: Adam then L-BFGS must cut the loss of the untrained net
  // by orders of magnitude and bring u within 10% of the target.
  EXPECT_LT(R1.totalLoss, R0.totalLoss / 500)
      << R0.totalLoss << " -> " << R1.totalLoss;
  EXPECT_LT(R1.relL2[0], 0.1);
  o.seed = 8;
  o.maxSteps = 5;
  EXPECT_NE(train(M, o, std::cout).params, R1.params);
}

TEST(Train, SobolSamplerTrains) {
  CompiledModel M = test::lineModel();
  M.sampler = "sobol";
  TrainResult R = train(M, quietOptions(), std::cout);
  EXPECT_NEAR(R.params[1], 3.0, 1e-6);
}

TEST(Train, HaltonAndLhsSamplersTrain) {
  for (const char *sampler : {"halton", "lhs"}) {
    CompiledModel M = test::lineModel();
    M.sampler = sampler;
    TrainResult R = train(M, quietOptions(), std::cout);
    EXPECT_NEAR(R.params[1], 3.0, 1e-6) << sampler;
  }
}

TEST(Train, DataTermUsesItsRows) {
  // Fit u = a + b x to three observations of 1 + 2 x; the kernel reads the
  // observed value from the column after the coordinates.
  CompiledModel M = test::lineModel();
  M.terms[0].name = "obs";
  M.terms[0].data = {-1, 0, 1, /*values*/ -1, 1, 3};
  M.terms[0].dataCount = 3;
  M.terms[0].dataColumns = 2;
  M.terms[0].lossGrad = [](const double *p, const double *pts, int64_t ld,
                           int64_t n, const double *, double *loss,
                           double *grad) {
    for (int64_t i = 0; i < n; ++i) {
      double x = pts[i], r = p[0] + p[1] * x - pts[ld + i];
      *loss += r * r;
      grad[0] += 2 * r;
      grad[1] += 2 * r * x;
    }
  };
  M.exacts.clear();
  TrainResult R = train(M, quietOptions(), std::cout);
  EXPECT_NEAR(R.params[0], 1.0, 1e-6);
  EXPECT_NEAR(R.params[1], 2.0, 1e-6);
}

TEST(Train, DivergenceIsReported) {
  CompiledModel M = test::lineModel();
  M.terms[0].lossGrad = [](const double *p, const double *, int64_t, int64_t n,
                           const double *, double *loss, double *grad) {
    *loss += p[0] > -0.45 ? static_cast<double>(n) : NAN;
    grad[0] += n; // pushes p[0] down by lr per step
  };
  M.blocks[0].init = "zeros";
  M.stages = {M.stages[0]};
  M.stages[0].lr = 0.1;
  std::string err = errorOf(M, quietOptions());
  EXPECT_EQ(err, "training diverged at step 6 (adam): the loss of term 'fit' "
                 "is nan (fit nan)");
}

TEST(Train, ProgressLines) {
  CompiledModel M = test::lineModel();
  M.stages = {M.stages[0]};
  M.stages[0].steps = 100;
  TrainOptions o = quietOptions();
  o.quiet = false;
  o.logEvery = 25;
  o.tty = 0;
  std::ostringstream log;
  train(M, o, log);
  std::string s = log.str();
  EXPECT_EQ(s.find('\r'), std::string::npos);
  std::istringstream in(s);
  std::string line;
  std::vector<std::string> progress;
  while (std::getline(in, line))
    if (line.rfind("adam step", 0) == 0)
      progress.push_back(line);
  ASSERT_EQ(progress.size(), 4u) << s;
  EXPECT_EQ(progress[0].rfind("adam step 25/100  fit ", 0), 0u) << progress[0];
  EXPECT_NE(progress[0].find(" total "), std::string::npos);
  EXPECT_NE(progress[0].find(" steps/s"), std::string::npos);
  EXPECT_NE(progress[0].find("ETA"), std::string::npos);
  EXPECT_EQ(progress[3].rfind("adam step 100/100", 0), 0u);
  EXPECT_NE(s.find("trained line: 100 steps in "), std::string::npos);
  EXPECT_NE(s.find("  loss   fit"), std::string::npos);
  EXPECT_NE(s.find("  rel L2 u"), std::string::npos);

  o.tty = 1;
  std::ostringstream tty;
  train(M, o, tty);
  EXPECT_NE(tty.str().find("\radam step 100/100"), std::string::npos);
}

TEST(Train, EarlyLbfgsStopIsShown) {
  CompiledModel M = test::lineModel();
  TrainOptions o = quietOptions();
  o.quiet = false;
  o.tty = 0;
  o.logEvery = 1000;
  std::ostringstream log;
  TrainResult R = train(M, o, log);
  ASSERT_LT(R.steps, 350);
  std::string s = log.str();
  std::string n = std::to_string(R.steps);
  EXPECT_NE(s.find("lbfgs step " + n + "/" + n + "  fit "), std::string::npos)
      << s;
  EXPECT_NE(s.find("lbfgs stopped after " + std::to_string(R.steps - 300) +
                   " iterations: "),
            std::string::npos)
      << s;
}

namespace {
/// One trainable param `a` (rt slot 0, declared 0.5) whose loss
/// sum_i (a - 3)^2 pulls it to 3.
CompiledModel trainableModel(bool bounded) {
  CompiledModel M = test::lineModel();
  M.numParams = 1;
  ParamBlock B;
  B.name = "a";
  B.offset = 0;
  B.init = "constant";
  B.initValue = 0.5;
  B.runtimeParam = 0;
  B.bounded = bounded;
  B.lo = 0;
  B.hi = 1;
  M.blocks = {B};
  M.runtimeParams = {{"a", 0.5}};
  M.terms[0].lossGrad = [](const double *p, const double *, int64_t,
                           int64_t n, const double *, double *loss,
                           double *grad) {
    for (int64_t i = 0; i < n; ++i) {
      double r = p[0] - 3.0;
      *loss += r * r;
      grad[0] += 2 * r;
    }
  };
  M.fields.clear();
  M.exacts.clear();
  return M;
}
} // namespace

TEST(Train, TrainableParamIsLearned) {
  TrainOptions o = quietOptions();
  TrainResult R = train(trainableModel(false), o, std::cout);
  EXPECT_NEAR(R.params[0], 3.0, 1e-6);
}

TEST(Train, TrainableParamStaysInItsRange) {
  // Both Adam (projection) and L-BFGS (clamped objective) keep a = 1.
  CompiledModel M = trainableModel(true);
  for (const char *opt : {"adam", "lbfgs"}) {
    CompiledModel one = M;
    one.stages = {M.stages[0]};
    one.stages[0].optimizer = opt;
    one.stages[0].steps = 200;
    one.stages[0].lr = 0.05;
    TrainOptions o = quietOptions();
    TrainResult R = train(one, o, std::cout);
    EXPECT_EQ(R.params[0], 1.0) << opt;
  }
}

TEST(Train, SetGivesATrainableParamItsInitialValue) {
  TrainOptions o = quietOptions();
  o.setParams = {{"a", 0.25}};
  o.maxSteps = 0;
  o.summaryPath = "";
  TrainResult R = train(trainableModel(true), o, std::cout);
  EXPECT_EQ(R.params[0], 0.25);
  std::string json = summaryJSON(trainableModel(true), o, R);
  nlohmann::json j = nlohmann::json::parse(json);
  EXPECT_EQ(j["trainable"]["a"], 0.25);
  EXPECT_EQ(j["params"]["a"], 0.25);
}
