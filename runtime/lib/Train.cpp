//===- Train.cpp - The training loop --------------------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Train.h"
#include "physrt/Checkpoint.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/File.h"
#include "physrt/Init.h"
#include "physrt/Metrics.h"
#include "physrt/Optimizers.h"
#include "physrt/Output.h"
#include "physrt/Progress.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

using namespace physrt;

/// Stream purposes (see streamSeed): training batches and the final
/// evaluation batch must never share points.
static constexpr uint64_t kTrainStream = 0x545241494e; // "TRAIN"
static constexpr uint64_t kEvalStream = 0x4556414c;    // "EVAL"

std::vector<double>
physrt::runtimeValues(const CompiledModel &M,
                      const std::vector<std::pair<std::string, double>> &set) {
  std::vector<double> rt;
  for (const RuntimeParam &P : M.runtimeParams)
    rt.push_back(P.value);
  for (const auto &[name, value] : set) {
    size_t i = 0;
    while (i < M.runtimeParams.size() && M.runtimeParams[i].name != name)
      ++i;
    if (i == M.runtimeParams.size()) {
      std::string known;
      for (const RuntimeParam &P : M.runtimeParams)
        known += (known.empty() ? "" : ", ") + P.name;
      throw Error("--set: unknown parameter '" + name + "' (" +
                  (known.empty()
                       ? "model '" + M.name + "' has no runtime parameters"
                       : "known: " + known) +
                  ")");
    }
    rt[i] = value;
  }
  return rt;
}

std::string physrt::summaryJSON(const CompiledModel &M,
                                const TrainOptions &opts,
                                const TrainResult &R) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["model"] = M.name;
  j["steps"] = R.steps;
  j["seconds"] = R.seconds;
  ordered_json loss = ordered_json::object();
  for (size_t t = 0; t < M.terms.size() && t < R.termLoss.size(); ++t)
    loss[M.terms[t].name] = R.termLoss[t];
  j["loss"] = loss;
  j["total_loss"] = R.totalLoss;
  ordered_json rel = ordered_json::object();
  for (size_t f = 0; f < M.fields.size() && f < R.relL2.size(); ++f)
    if (!std::isnan(R.relL2[f]))
      rel[M.fields[f].name] = R.relL2[f];
  j["rel_l2"] = rel;
  ordered_json params = ordered_json::object();
  for (size_t p = 0; p < M.runtimeParams.size(); ++p)
    params[M.runtimeParams[p].name] = p < R.runtimeParams.size()
                                          ? R.runtimeParams[p]
                                          : M.runtimeParams[p].value;
  j["params"] = params;
  j["seed"] = opts.seed;
  j["device"] = opts.device;
  j["precision"] = opts.precision;
  j["threads"] = R.threads;
  j["sampler"] = M.sampler;
  ordered_json stages = ordered_json::array();
  for (const Stage &S : M.stages)
    stages.push_back({{"optimizer", S.optimizer}, {"steps", S.steps}});
  j["stages"] = stages;
  return j.dump(2) + "\n";
}

namespace {

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

/// Draws one batch per term: data terms use their data, the others a fresh
/// sample of their region from the stream (seed, purpose, step, term).
std::vector<Batch> drawBatches(const CompiledModel &M, SamplerKind kind,
                               uint64_t seed, uint64_t purpose, int64_t step) {
  std::vector<Batch> out;
  out.reserve(M.terms.size());
  for (size_t t = 0; t < M.terms.size(); ++t) {
    const Term &T = M.terms[t];
    if (T.dataCount > 0) {
      if (T.dataColumns < static_cast<int>(M.coords.size()) ||
          static_cast<int64_t>(T.data.size()) < T.dataColumns * T.dataCount)
        throw Error("data of term '" + T.name + "' is malformed (" +
                    std::to_string(T.dataCount) + " rows of " +
                    std::to_string(T.dataColumns) + " columns, " +
                    std::to_string(T.data.size()) + " values)");
      out.push_back(
          makeBatch(T.data.data(), T.dataCount, T.dataCount, T.dataColumns));
      continue;
    }
    if (T.samples <= 0)
      throw Error("term '" + T.name + "' has no samples");
    Rng rng(streamSeed(seed, {purpose, static_cast<uint64_t>(step), t}));
    out.push_back(sample(kind, M.coords, T.region, T.samples, rng));
  }
  return out;
}

std::string joinPath(const std::string &dir, const std::string &file) {
  if (dir.empty() || dir.back() == '/')
    return dir + file;
  return dir + "/" + file;
}

} // namespace

TrainResult physrt::train(const CompiledModel &M, const TrainOptions &opts,
                          std::ostream &log) {
  auto t0 = std::chrono::steady_clock::now();
  if (opts.device != "cpu")
    throw Error("device '" + opts.device +
                "' is not available in the CPU runtime (known: cpu)");
  if (opts.precision != "f32" && opts.precision != "f64")
    throw Error("unknown precision '" + opts.precision + "' (known: f32, f64)");
  if (M.terms.empty())
    throw Error("model '" + M.name + "' has no loss terms to train");
  std::vector<double> rt = runtimeValues(M, opts.setParams);
  SamplerKind kind = parseSamplerKind(M.sampler);
  int64_t planned = 0;
  for (const Stage &S : M.stages) {
    if (S.optimizer != "adam" && S.optimizer != "lbfgs")
      throw Error("unknown optimizer '" + S.optimizer +
                  "' (known: adam, lbfgs)");
    if (S.steps < 0)
      throw Error("stage '" + S.optimizer + "' has a negative step count");
    planned += S.steps;
  }
  if (opts.maxSteps >= 0)
    planned = std::min(planned, opts.maxSteps);
  // Fail on an unwritable output directory before spending time training.
  if (!opts.outDir.empty())
    createDirectories(opts.outDir);

  TrainResult R;
  R.params = initParams(M, opts.seed);
  R.runtimeParams = rt;
  Evaluator ev(opts.threads);
  R.threads = ev.threads();
  bool tty = opts.tty < 0 ? isTerminal(log) : opts.tty > 0;
  int64_t every = opts.logEvery > 0 ? opts.logEvery
                                    : std::max<int64_t>(1, (planned + 19) / 20);
  std::vector<std::string> names;
  for (const Term &T : M.terms)
    names.push_back(T.name);
  Progress progress(log, tty, opts.quiet, planned, every, names);

  int64_t step = 0;
  std::vector<double> grad, terms;
  for (const Stage &S : M.stages) {
    int64_t budget = S.steps;
    if (opts.maxSteps >= 0)
      budget = std::min(budget, opts.maxSteps - step);
    if (budget <= 0)
      continue;
    if (S.optimizer == "adam") {
      Adam A(R.params.size(), {S.lr, S.beta1, S.beta2, S.eps});
      for (int64_t k = 0; k < budget; ++k) {
        std::vector<Batch> batches =
            drawBatches(M, kind, opts.seed, kTrainStream, step);
        double f = ev.lossAndGrad(M, R.params, batches, rt, &grad, &terms);
        if (!std::isfinite(f)) {
          progress.finish();
          std::string detail;
          for (size_t t = 0; t < terms.size(); ++t)
            detail += (t ? ", " : "") + M.terms[t].name + " " + sci(terms[t]);
          throw Error("training diverged at step " + std::to_string(step + 1) +
                      " (adam): the loss is " + sci(f) + " (" + detail + ")");
        }
        A.step(R.params, grad);
        ++step;
        progress.update(step, "adam", terms, f);
      }
      continue;
    }
    // L-BFGS on one fixed batch.
    std::vector<Batch> batches =
        drawBatches(M, kind, opts.seed, kTrainStream, step);
    LbfgsOptions lo;
    lo.maxIterations = budget;
    lo.history = S.history;
    lo.gradTolerance = S.tolerance;
    Objective f = [&](const std::vector<double> &x, std::vector<double> &g) {
      return ev.lossAndGrad(M, x, batches, rt, &g, &terms);
    };
    int64_t stageStart = step;
    OptimizeResult OR = minimizeLbfgs(
        f, R.params, lo, [&](int64_t, double fx, const std::vector<double> &) {
          ++step;
          progress.update(step, "lbfgs", terms, fx);
          return true;
        });
    if (OR.stop != StopReason::MaxIterations) {
      // Stopped early: the remaining planned steps will not run.
      planned -= budget - (step - stageStart);
      progress.setTotal(planned);
      if (step > stageStart) {
        // Show where it stopped; `terms` may be of a rejected trial point.
        double f = ev.lossAndGrad(M, R.params, batches, rt, nullptr, &terms);
        progress.update(step, "lbfgs", terms, f, /*force=*/true);
      }
      progress.finish();
      if (!opts.quiet)
        log << "lbfgs stopped after " << (step - stageStart)
            << " iterations: " << toString(OR.stop) << "\n";
    }
  }
  progress.finish();

  // Final losses on a fresh batch: an honest estimate, not the batch the
  // last optimiser step fitted.
  std::vector<Batch> evalBatches =
      drawBatches(M, kind, opts.seed, kEvalStream, 0);
  R.totalLoss =
      ev.lossAndGrad(M, R.params, evalBatches, rt, nullptr, &R.termLoss);
  R.relL2 = relativeL2PerField(M, R.params, rt, ev.threadPool());
  R.steps = step;

  if (!opts.outDir.empty()) {
    saveCheckpoint(joinPath(opts.outDir, "checkpoint.bin"),
                   {M.name, R.params, step});
    if (!M.fields.empty())
      writeFieldsCSV(joinPath(opts.outDir, "fields.csv"), M, R.params, rt,
                     ev.threadPool());
  }
  R.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!opts.summaryPath.empty())
    writeFileAtomic(opts.summaryPath, summaryJSON(M, opts, R));

  if (!opts.quiet) {
    size_t w = 5;
    for (const Term &T : M.terms)
      w = std::max(w, T.name.size());
    for (const FieldOutput &F : M.fields)
      w = std::max(w, F.name.size());
    std::ostringstream os;
    os << "trained " << M.name << ": " << step << " steps in "
       << formatDuration(R.seconds) << "\n";
    auto row = [&](const std::string &what, const std::string &name, double v) {
      os << "  " << what << " " << name
         << std::string(w - std::min(w, name.size()), ' ') << "  " << sci(v)
         << "\n";
    };
    for (size_t t = 0; t < M.terms.size(); ++t)
      row("loss  ", M.terms[t].name, R.termLoss[t]);
    row("loss  ", "total", R.totalLoss);
    for (size_t fi = 0; fi < M.fields.size(); ++fi)
      if (!std::isnan(R.relL2[fi]))
        row("rel L2", M.fields[fi].name, R.relL2[fi]);
    log << os.str() << std::flush;
  }
  return R;
}
