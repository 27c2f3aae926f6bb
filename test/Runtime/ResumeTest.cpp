//===- ResumeTest.cpp - Checkpoint v2 and resumed training ----------------===//
//
// Part of physc's runtime tests. A run interrupted at any point and resumed
// from its last checkpoint must end bit-identical to the uninterrupted run,
// and a damaged checkpoint must never be loaded.
//
//===----------------------------------------------------------------------===//

#include "TestFiles.h"
#include "TestModels.h"
#include "physrt/Checkpoint.h"
#include "physrt/Error.h"
#include "physrt/Optimizers.h"
#include "physrt/Train.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>

using namespace physrt;
using physrt::test::ScratchDir;

namespace {

Checkpoint adamCheckpoint() {
  Checkpoint C;
  C.model = "mlp";
  C.params = {1.5, -0.0, 1e-310, -3.25};
  C.steps = 123;
  C.state.seed = 42;
  C.state.precision = "f32";
  C.state.fingerprint = 0x0123456789abcdefULL;
  C.state.stage = 0;
  C.state.stageStep = 123;
  C.state.kind = OptimizerStateKind::Adam;
  C.state.adam = {
      {0.1, 0.2, -0.3, 0.4}, {1e-3, 2e-3, 3e-3, 4e-3}, 0.5, 0.75, 123};
  return C;
}

Checkpoint lbfgsCheckpoint() {
  Checkpoint C = adamCheckpoint();
  C.steps = 1234;
  C.state.stage = 1;
  C.state.stageStep = 34;
  C.state.kind = OptimizerStateKind::Lbfgs;
  C.state.adam = {};
  C.state.lbfgsS = {{1, 2, 3, 4}, {-1, -2, -3, -4}};
  C.state.lbfgsY = {{5, 6, 7, 8}, {0.5, 0.25, 0.125, 1e-300}};
  C.state.lbfgsRho = {0.01, 0.02};
  return C;
}

bool sameBits(const std::vector<double> &a, const std::vector<double> &b) {
  return a.size() == b.size() &&
         (a.empty() ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

std::string decodeError(const std::string &bytes) {
  try {
    decodeCheckpoint(bytes, "f.bin");
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

TrainOptions quietOptions() {
  TrainOptions o;
  o.quiet = true;
  o.threads = 2;
  o.seed = 7;
  o.checkpointEvery = -1;
  return o;
}

/// The MLP model with a short Adam stage and an L-BFGS stage long enough to
/// build a full history (so the ring buffer wraps).
CompiledModel resumeModel() {
  CompiledModel M = test::mlpModel(6);
  M.stages[0].steps = 60;
  M.stages[1].steps = 80;
  M.stages[1].history = 5;
  return M;
}

std::string trainError(const CompiledModel &M, const TrainOptions &o) {
  std::ostringstream log;
  try {
    train(M, o, log);
  } catch (const std::exception &e) {
    return e.what();
  }
  return "<no error>";
}

void expectSameRun(const TrainResult &A, const TrainResult &B) {
  EXPECT_EQ(A.steps, B.steps);
  EXPECT_TRUE(sameBits(A.params, B.params));
  EXPECT_TRUE(sameBits(A.termLoss, B.termLoss));
  EXPECT_EQ(std::memcmp(&A.totalLoss, &B.totalLoss, sizeof(double)), 0);
}

} // namespace

//===----------------------------------------------------------------------===//
// The file format
//===----------------------------------------------------------------------===//

TEST(CheckpointV2, RoundTripsTheTrainingState) {
  for (const Checkpoint &C : {adamCheckpoint(), lbfgsCheckpoint()}) {
    Checkpoint R = decodeCheckpoint(encodeCheckpoint(C), "f.bin");
    EXPECT_EQ(R.version, kCheckpointVersion);
    EXPECT_EQ(R.model, C.model);
    EXPECT_TRUE(sameBits(R.params, C.params));
    EXPECT_EQ(R.steps, C.steps);
    EXPECT_EQ(R.state.seed, 42u);
    EXPECT_EQ(R.state.precision, "f32");
    EXPECT_EQ(R.state.fingerprint, C.state.fingerprint);
    EXPECT_EQ(R.state.stage, C.state.stage);
    EXPECT_EQ(R.state.stageStep, C.state.stageStep);
    EXPECT_EQ(R.state.kind, C.state.kind);
    EXPECT_TRUE(sameBits(R.state.adam.m, C.state.adam.m));
    EXPECT_TRUE(sameBits(R.state.adam.v, C.state.adam.v));
    EXPECT_EQ(R.state.adam.b1t, C.state.adam.b1t);
    EXPECT_EQ(R.state.adam.b2t, C.state.adam.b2t);
    EXPECT_EQ(R.state.adam.t, C.state.adam.t);
    ASSERT_EQ(R.state.lbfgsS.size(), C.state.lbfgsS.size());
    for (size_t k = 0; k < C.state.lbfgsS.size(); ++k) {
      EXPECT_TRUE(sameBits(R.state.lbfgsS[k], C.state.lbfgsS[k]));
      EXPECT_TRUE(sameBits(R.state.lbfgsY[k], C.state.lbfgsY[k]));
    }
    EXPECT_TRUE(sameBits(R.state.lbfgsRho, C.state.lbfgsRho));
  }
}

TEST(CheckpointV2, EveryTruncationIsDetected) {
  for (const Checkpoint &C : {adamCheckpoint(), lbfgsCheckpoint()}) {
    std::string b = encodeCheckpoint(C);
    for (size_t n = 0; n < b.size(); ++n) {
      std::string err = decodeError(b.substr(0, n));
      EXPECT_EQ(err.rfind("f.bin: error: checkpoint is truncated (" +
                              std::to_string(n) + " bytes",
                          0),
                0u)
          << n << ": " << err;
    }
  }
}

TEST(CheckpointV2, EverySingleByteChangeIsDetected) {
  for (const Checkpoint &C : {adamCheckpoint(), lbfgsCheckpoint()}) {
    std::string b = encodeCheckpoint(C);
    for (size_t i = 0; i < b.size(); ++i)
      for (unsigned char flip : {0x01, 0x80, 0xff}) {
        std::string bad = b;
        bad[i] = static_cast<char>(bad[i] ^ flip);
        std::string err = decodeError(bad);
        EXPECT_EQ(err.rfind("f.bin: error: ", 0), 0u)
            << "byte " << i << " ^ " << int(flip) << ": " << err;
      }
  }
}

TEST(CheckpointV2, CorruptedCountsAreRejectedWithoutAllocating) {
  std::string b = encodeCheckpoint(adamCheckpoint());
  // The parameter count follows magic, version and the name "mlp".
  for (int i = 0; i < 8; ++i)
    b[8 + 4 + 4 + 3 + i] = '\xff';
  EXPECT_EQ(decodeError(b), "f.bin: error: checkpoint is corrupted "
                            "(parameter count 18446744073709551615)");
}

TEST(CheckpointV2, ReadsVersion1) {
  // Version 1: magic, version, name, N, params, steps, hash.
  std::string b("PHYSCKPT\x01\x00\x00\x00\x01\x00\x00\x00m", 17);
  b += std::string("\x01\0\0\0\0\0\0\0", 8);
  double p = 2.5;
  b.append(reinterpret_cast<const char *>(&p), 8);
  b += std::string("\x07\0\0\0\0\0\0\0", 8);
  uint64_t h = fnv1a64(b);
  b.append(reinterpret_cast<const char *>(&h), 8);
  Checkpoint C = decodeCheckpoint(b, "v1.bin");
  EXPECT_EQ(C.version, 1u);
  EXPECT_EQ(C.model, "m");
  EXPECT_EQ(C.params, std::vector<double>{2.5});
  EXPECT_EQ(C.steps, 7);
  EXPECT_EQ(C.state.kind, OptimizerStateKind::None);
}

TEST(CheckpointV2, SaveLeavesNoTemporary) {
  ScratchDir D;
  std::string p = D.file("checkpoint.bin");
  saveCheckpoint(p, lbfgsCheckpoint());
  saveCheckpoint(p, adamCheckpoint()); // replaces it
  EXPECT_EQ(loadCheckpoint(p).state.kind, OptimizerStateKind::Adam);
  size_t files = 0;
  for (auto &e : std::filesystem::directory_iterator(D.path))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

//===----------------------------------------------------------------------===//
// Optimizer state
//===----------------------------------------------------------------------===//

TEST(ResumeOptimizers, AdamRestoreContinuesBitExactly) {
  std::vector<double> x0 = {0.3, -1.2, 2.0}, g;
  auto grad = [](const std::vector<double> &x) {
    return std::vector<double>{2 * x[0] - x[1], std::sin(x[1]) + x[2],
                               x[2] * x[2] * x[2]};
  };
  Adam A(3, {0.01, 0.9, 0.999, 1e-8});
  std::vector<double> x = x0;
  for (int i = 0; i < 50; ++i)
    A.step(x, grad(x));
  Adam B(3, {0.01, 0.9, 0.999, 1e-8});
  std::vector<double> y = x0;
  for (int i = 0; i < 20; ++i)
    B.step(y, grad(y));
  Adam C(3, {0.01, 0.9, 0.999, 1e-8});
  C.restore(B.state());
  for (int i = 20; i < 50; ++i)
    C.step(y, grad(y));
  EXPECT_TRUE(sameBits(x, y));
  EXPECT_EQ(C.steps(), 50);
  Adam Small(2, {});
  EXPECT_THROW(Small.restore(B.state()), Error);
}

TEST(ResumeOptimizers, LbfgsHistoryContinuesBitExactly) {
  // Rosenbrock in 4 dimensions; a history of 3 so the ring buffer wraps.
  Objective f = [](const std::vector<double> &x, std::vector<double> &g) {
    g.assign(x.size(), 0.0);
    double s = 0;
    for (size_t i = 0; i + 1 < x.size(); ++i) {
      double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
      s += 100 * a * a + b * b;
      g[i] += -400 * a * x[i] - 2 * b;
      g[i + 1] += 200 * a;
    }
    return s;
  };
  LbfgsOptions o;
  o.history = 3;
  o.maxIterations = 25;
  std::vector<double> x = {-1.2, 1, -0.5, 0.8};
  minimizeLbfgs(f, x, o);

  for (int64_t cut : {1, 3, 7, 12}) {
    std::vector<double> y = {-1.2, 1, -0.5, 0.8};
    LbfgsHistory H;
    LbfgsOptions first = o;
    first.maxIterations = cut;
    minimizeLbfgs(f, y, first, {}, &H);
    // Through the checkpoint's representation: pairs oldest first.
    std::vector<std::vector<double>> S, Y;
    std::vector<double> rho;
    H.pairs(S, Y, rho);
    LbfgsHistory H2;
    H2.assign(S, Y, rho);
    LbfgsOptions rest = o;
    rest.maxIterations = 25 - cut;
    minimizeLbfgs(f, y, rest, {}, &H2);
    EXPECT_TRUE(sameBits(x, y)) << "cut at " << cut;
  }
}

//===----------------------------------------------------------------------===//
// Resumed training
//===----------------------------------------------------------------------===//

TEST(Resume, CappedRunsResumeToTheUninterruptedResult) {
  ScratchDir D;
  CompiledModel M = resumeModel();
  TrainOptions o = quietOptions();
  TrainResult full = train(M, o, std::cout);
  ASSERT_EQ(full.steps, 140);
  // Inside Adam, at the stage boundary, inside L-BFGS (a full history).
  for (int64_t cap : {25, 60, 61, 100}) {
    std::string dir = D.file("cap" + std::to_string(cap));
    TrainOptions a = quietOptions();
    a.outDir = dir;
    a.maxSteps = cap;
    train(M, a, std::cout);
    Checkpoint C = loadCheckpoint(dir + "/checkpoint.bin");
    EXPECT_EQ(C.steps, cap);
    TrainOptions b = quietOptions();
    b.resumeDir = dir;
    std::ostringstream log;
    b.quiet = false;
    b.tty = 0;
    TrainResult R = train(M, b, log);
    expectSameRun(full, R);
    EXPECT_NE(log.str().find("resuming at step " + std::to_string(cap) +
                             " from " + dir + "/checkpoint.bin\n"),
              std::string::npos)
        << log.str();
    // The finished run's checkpoint resumes to the same result at once.
    b.quiet = true;
    TrainResult again = train(M, b, std::cout);
    expectSameRun(full, again);
  }
}

TEST(Resume, CrashedRunResumesFromItsLastCheckpoint) {
  ScratchDir D;
  CompiledModel M = resumeModel();
  TrainResult full = train(M, quietOptions(), std::cout);
  // Evaluations of the "edge" term (one per loss evaluation): 60 for Adam,
  // then L-BFGS's line searches. Kill the run at several of them.
  for (int killAt : {17, 55, 75, 110}) {
    CompiledModel K = M;
    auto calls = std::make_shared<std::atomic<int>>(0);
    LossGradFn inner = K.terms[1].lossGrad;
    K.terms[1].lossGrad = [=](const double *p, const double *pts, int64_t ld,
                              int64_t n, const double *rt, double *loss,
                              double *grad) {
      if (++*calls == killAt)
        throw std::runtime_error("killed");
      inner(p, pts, ld, n, rt, loss, grad);
    };
    std::string dir = D.file("kill" + std::to_string(killAt));
    TrainOptions a = quietOptions();
    a.outDir = dir;
    a.checkpointEvery = 10;
    EXPECT_EQ(trainError(K, a), "killed");
    Checkpoint C = loadCheckpoint(dir + "/checkpoint.bin");
    EXPECT_EQ(C.steps % 10, 0);
    EXPECT_GT(C.steps, 0);
    EXPECT_LT(C.steps, killAt);
    // Mid-Adam the moments are saved, mid-L-BFGS its curvature pairs.
    if (killAt == 55) {
      EXPECT_EQ(C.state.kind, OptimizerStateKind::Adam);
    }
    if (killAt == 110) {
      EXPECT_EQ(C.state.kind, OptimizerStateKind::Lbfgs);
      EXPECT_EQ(C.state.lbfgsS.size(), 5u);
    }
    TrainOptions b = quietOptions();
    b.resumeDir = dir;
    b.checkpointEvery = 10;
    expectSameRun(full, train(M, b, std::cout));
  }
}

TEST(Resume, ForeignOrDamagedCheckpointsAreRefused) {
  ScratchDir D;
  CompiledModel M = resumeModel();
  std::string dir = D.file("run");
  TrainOptions a = quietOptions();
  a.outDir = dir;
  a.maxSteps = 30;
  train(M, a, std::cout);
  std::string path = dir + "/checkpoint.bin";
  std::string head = path + ": error: cannot resume: ";

  TrainOptions b = quietOptions();
  b.resumeDir = dir;
  b.seed = 8;
  EXPECT_EQ(trainError(M, b), head + "it was written with --seed 7, not 8");
  b = quietOptions();
  b.resumeDir = dir;
  b.precision = "f64";
  EXPECT_EQ(trainError(M, b),
            head + "it was written with --precision f32, not f64");
  CompiledModel other = M;
  other.name = "heat";
  b = quietOptions();
  b.resumeDir = dir;
  EXPECT_EQ(trainError(other, b),
            head + "checkpoint is of model 'mlp', not 'heat'");
  other = test::mlpModel(7);
  EXPECT_EQ(trainError(other, b),
            head + "checkpoint has 25 parameters but model 'mlp' has 29");
  other = M;
  other.stages[0].lr *= 2;
  EXPECT_EQ(trainError(other, b),
            head + "the model's terms, stages, sampler or --set values "
                   "differ from those it was written with");

  // A damaged file: an error naming it, and nothing is written.
  std::string good = test::slurp(path);
  for (std::string bad : {good.substr(0, good.size() / 2),
                          good.substr(0, good.size() - 1), good}) {
    if (bad == good)
      bad[bad.size() / 2] ^= 0x20;
    std::string d2 = D.file("bad" + std::to_string(bad.size()));
    std::filesystem::create_directories(d2);
    std::string p2 =
        D.write("bad" + std::to_string(bad.size()) + "/checkpoint.bin", bad);
    TrainOptions c = quietOptions();
    c.resumeDir = d2;
    c.summaryPath = d2 + "/summary.json";
    std::string err = trainError(M, c);
    EXPECT_EQ(err.rfind(p2 + ": error: checkpoint is ", 0), 0u) << err;
    size_t files = 0;
    for (auto &e : std::filesystem::directory_iterator(d2))
      files += e.is_regular_file();
    EXPECT_EQ(files, 1u);
    EXPECT_EQ(test::slurp(p2), bad);
  }
  // No checkpoint at all.
  TrainOptions c = quietOptions();
  c.resumeDir = D.file("none");
  EXPECT_EQ(trainError(M, c), D.file("none") + "/checkpoint.bin: error: "
                                               "cannot open file: No such "
                                               "file or directory");
}

TEST(Resume, NonFiniteGradientStopsAndKeepsTheLastCheckpoint) {
  ScratchDir D;
  CompiledModel M = test::lineModel();
  // A finite loss whose gradient turns NaN once p[0] falls below -0.45
  // (after 5 steps of lr 0.1 from 0).
  M.terms[0].lossGrad = [](const double *p, const double *, int64_t, int64_t n,
                           const double *, double *loss, double *grad) {
    *loss += static_cast<double>(n);
    grad[0] += p[0] > -0.45 ? static_cast<double>(n) : NAN;
  };
  M.blocks[0].init = "zeros";
  M.stages = {M.stages[0]};
  M.stages[0].lr = 0.1;
  TrainOptions o = quietOptions();
  o.outDir = D.file("out");
  o.checkpointEvery = 2;
  std::string path = o.outDir + "/checkpoint.bin";
  EXPECT_EQ(trainError(M, o),
            "training diverged at step 6 (adam): the gradient of term 'fit' "
            "is not finite (loss fit 1.000e+00); the last checkpoint (" +
                path + ", step 4) is kept");
  Checkpoint C = loadCheckpoint(path);
  EXPECT_EQ(C.steps, 4);
  for (double p : C.params)
    EXPECT_TRUE(std::isfinite(p));
  EXPECT_FALSE(std::filesystem::exists(o.outDir + "/fields.csv"));
}

TEST(Resume, NonFiniteGradientInLbfgsStopsNamingTheTerm) {
  // The loss (p0 - 1)^2 is finite everywhere, its gradient is NaN past
  // p0 = 0.5, which the first L-BFGS step from 0 crosses.
  CompiledModel M = test::lineModel();
  M.terms[0].lossGrad = [](const double *p, const double *, int64_t, int64_t n,
                           const double *, double *loss, double *grad) {
    double r = p[0] - 1;
    *loss += n * r * r;
    grad[0] += p[0] > 0.5 ? NAN : 2 * n * r;
  };
  M.blocks[0].init = "zeros";
  M.stages = {M.stages[1]};
  std::string err = trainError(M, quietOptions());
  EXPECT_EQ(err.rfind("training diverged at step 1 (lbfgs): the gradient of "
                      "term 'fit' is not finite",
                      0),
            0u)
      << err;
}

TEST(Resume, NonFiniteStartOfLbfgsNamesTheTerm) {
  CompiledModel M = test::lineModel();
  M.terms[0].lossGrad = [](const double *p, const double *, int64_t, int64_t n,
                           const double *, double *loss, double *grad) {
    *loss += n * p[0];
    grad[0] += INFINITY;
  };
  M.blocks[0].init = "zeros";
  M.stages = {M.stages[1]};
  EXPECT_EQ(trainError(M, quietOptions()),
            "training diverged at step 1 (lbfgs): the gradient of term 'fit' "
            "is not finite (loss fit 0.000e+00)");
}
