//===- Train.cpp - The training loop --------------------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Train.h"
#include "physrt/Balance.h"
#include "physrt/Causal.h"
#include "physrt/Checkpoint.h"
#include "physrt/DeviceTrainer.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/File.h"
#include "physrt/Init.h"
#include "physrt/Metrics.h"
#include "physrt/Optimizers.h"
#include "physrt/Output.h"
#include "physrt/Progress.h"
#include "physrt/Resample.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

using namespace physrt;

/// Stream purposes (see streamSeed): training batches and the final
/// evaluation batch must never share points.
static constexpr uint64_t kTrainStream = 0x545241494e; // "TRAIN"
static constexpr uint64_t kEvalStream = 0x4556414c;    // "EVAL"
static constexpr uint64_t kR3Stream = 0x5233;          // "R3"

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

namespace {

/// A multiadam stage's groups as lists of term names.
nlohmann::ordered_json groupsJSON(const CompiledModel &M, const Stage &S) {
  nlohmann::ordered_json groups = nlohmann::ordered_json::array();
  for (const std::vector<int> &g : multiAdamGroups(M, S)) {
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (int t : g)
      names.push_back(M.terms[t].name);
    groups.push_back(names);
  }
  return groups;
}

/// "weighting": the scheme and its settings; "weights": the final weight of
/// each term (annealed or fixed).
void weightsJSON(nlohmann::ordered_json &j, const CompiledModel &M,
                 const TrainResult &R) {
  const Weighting &W = M.weighting;
  nlohmann::ordered_json residual = nlohmann::ordered_json::array();
  for (int t : W.residual)
    residual.push_back(M.terms[t].name);
  j["weighting"] = {{"scheme", W.scheme},
                    {"every", W.every},
                    {"alpha", W.alpha},
                    {"residual", residual}};
  nlohmann::ordered_json weights = nlohmann::ordered_json::object();
  for (size_t t = 0; t < M.terms.size(); ++t)
    weights[M.terms[t].name] =
        t < R.weights.size() ? R.weights[t] : M.terms[t].weight;
  j["weights"] = weights;
}

} // namespace

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
  // Trainable params: the learned value (the one above is the initial one).
  ordered_json learned = ordered_json::object();
  for (const ParamBlock &B : M.blocks)
    if (B.runtimeParam >= 0 && B.offset < static_cast<int64_t>(R.params.size()))
      params[B.name] = learned[B.name] = R.params[B.offset];
  j["params"] = params;
  j["trainable"] = learned;
  j["seed"] = opts.seed;
  j["device"] = opts.device;
  if (M.device != "cpu")
    j["gpu"] = M.device;
  if (M.deviceTrainer)
    j["device_steps"] = R.deviceSteps;
  j["precision"] = opts.precision;
  j["threads"] = R.threads;
  j["sampler"] = M.sampler;
  ordered_json stages = ordered_json::array();
  for (const Stage &S : M.stages) {
    ordered_json st = {{"optimizer", S.optimizer}, {"steps", S.steps}};
    if (S.optimizer == "multiadam")
      st["groups"] = groupsJSON(M, S);
    stages.push_back(st);
  }
  j["stages"] = stages;
  if (M.weighting.scheme != "fixed")
    weightsJSON(j, M, R);
  return j.dump(2) + "\n";
}

namespace {

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

bool hasBounds(const CompiledModel &M) {
  for (const ParamBlock &B : M.blocks)
    if (B.bounded)
      return true;
  return false;
}

/// Puts every bounded trainable param back into its declared range.
void projectBounds(const CompiledModel &M, std::vector<double> &params) {
  for (const ParamBlock &B : M.blocks)
    if (B.bounded && B.offset < static_cast<int64_t>(params.size()))
      params[B.offset] = std::clamp(params[B.offset], B.lo, B.hi);
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

bool allFinite(const std::vector<double> &v) {
  for (double x : v)
    if (!std::isfinite(x))
      return false;
  return true;
}

/// The report of a non-finite loss or gradient at `step` (1-based): names
/// the term at fault. A finite total with a non-finite gradient needs each
/// term's gradient on its own to find it (only on this error path).
std::string divergence(const CompiledModel &M, Evaluator &ev,
                       const std::vector<double> &params,
                       const std::vector<Batch> &batches,
                       const std::vector<double> &rt,
                       const std::vector<double> &terms, double f, int64_t step,
                       const char *stage) {
  std::string detail;
  for (size_t t = 0; t < terms.size(); ++t)
    detail += (t ? ", " : "") + M.terms[t].name + " " + sci(terms[t]);
  std::string head = "training diverged at step " + std::to_string(step) +
                     " (" + stage + "): ";
  if (!std::isfinite(f)) {
    for (size_t t = 0; t < terms.size(); ++t)
      if (!std::isfinite(terms[t]))
        return head + "the loss of term '" + M.terms[t].name + "' is " +
               sci(terms[t]) + " (" + detail + ")";
    return head + "the loss is " + sci(f) + " (" + detail + ")";
  }
  for (size_t t = 0; t < M.terms.size() && t < batches.size(); ++t) {
    CompiledModel one = M;
    one.terms = {M.terms[t]};
    std::vector<double> g;
    ev.lossAndGrad(one, params, {batches[t]}, rt, &g, nullptr);
    if (!allFinite(g))
      return head + "the gradient of term '" + M.terms[t].name +
             "' is not finite (loss " + detail + ")";
  }
  return head + "the gradient is not finite (loss " + detail + ")";
}

} // namespace

namespace {

/// Why stage `S` cannot run on the model's DeviceTrainer, or "" if it can:
/// the device runs plain Adam with fixed weights on fresh uniform points or
/// on kept ones.
std::string hostOnly(const CompiledModel &M, const Stage &S, bool causal,
                     bool annealing, ResampleKind resampling,
                     SamplerKind kind) {
  if (S.optimizer != "adam")
    return S.optimizer + " runs on the host";
  if (causal)
    return "causal weighting runs on the host";
  if (annealing)
    return "annealed loss weights run on the host";
  if (resampling == ResampleKind::R3)
    return "R3 resampling runs on the host";
  if (resampling == ResampleKind::Fresh && kind != SamplerKind::Uniform)
    return "the device draws uniform points, not '" + M.sampler + "' ones";
  return "";
}

} // namespace

uint64_t physrt::trainFingerprint(const CompiledModel &M,
                                  const std::vector<double> &rt) {
  std::string s;
  auto i64 = [&](int64_t v) {
    s.append(reinterpret_cast<const char *>(&v), 8);
  };
  auto f64 = [&](double v) { s.append(reinterpret_cast<const char *>(&v), 8); };
  auto str = [&](const std::string &x) {
    i64(static_cast<int64_t>(x.size()));
    s += x;
  };
  str(M.name);
  i64(M.numParams);
  for (const ParamBlock &B : M.blocks) {
    str(B.name);
    i64(B.offset);
    i64(B.rows);
    i64(B.cols);
  }
  for (const Coord &C : M.coords) {
    str(C.name);
    f64(C.lo);
    f64(C.hi);
  }
  for (const Term &T : M.terms) {
    str(T.name);
    i64(T.samples);
    f64(T.weight);
    i64(T.dataCount);
  }
  str(M.sampler);
  str(M.resample);
  i64(M.resampleEvery);
  f64(M.causalEps);
  i64(M.causalChunks);
  for (const Stage &S : M.stages) {
    str(S.optimizer);
    i64(S.steps);
    for (double v : {S.lr, S.beta1, S.beta2, S.eps, S.tolerance})
      f64(v);
    i64(S.history);
    for (const std::vector<int> &g : S.groups) {
      str("group");
      for (int t : g)
        i64(t);
    }
  }
  if (M.weighting.scheme != "fixed") {
    str(M.weighting.scheme);
    i64(M.weighting.every);
    f64(M.weighting.alpha);
    for (int t : M.weighting.residual)
      i64(t);
  }
  for (double v : rt)
    f64(v);
  return fnv1a64(s);
}

TrainResult physrt::train(const CompiledModel &M, const TrainOptions &opts,
                          std::ostream &log) {
  auto t0 = std::chrono::steady_clock::now();
  if (opts.device != "cpu" && opts.device != "cuda")
    throw Error("unknown device '" + opts.device + "' (known: cpu, cuda)");
  if ((opts.device == "cuda") != (M.device != "cpu"))
    throw Error(opts.device == "cuda"
                    ? "device 'cuda': the model's kernels are on the CPU "
                      "(bind them with cuda::bindCudaKernels first)"
                    : "device 'cpu': the model's kernels are on " + M.device);
  if (opts.precision != "f32" && opts.precision != "f64")
    throw Error("unknown precision '" + opts.precision + "' (known: f32, f64)");
  if (M.terms.empty())
    throw Error("model '" + M.name + "' has no loss terms to train");
  std::vector<double> rt = runtimeValues(M, opts.setParams);
  SamplerKind kind = parseSamplerKind(M.sampler);
  int64_t planned = 0;
  for (const Stage &S : M.stages) {
    if (S.optimizer != "adam" && S.optimizer != "lbfgs" &&
        S.optimizer != "multiadam")
      throw Error("unknown optimizer '" + S.optimizer +
                  "' (known: adam, lbfgs, multiadam)");
    if (S.steps < 0)
      throw Error("stage '" + S.optimizer + "' has a negative step count");
    planned += S.steps;
  }
  if (opts.maxSteps >= 0)
    planned = std::min(planned, opts.maxSteps);
  // A resumed run reads and checks its checkpoint before anything is
  // written, so a damaged one leaves the directory as it was.
  std::string outDir = opts.outDir.empty() ? opts.resumeDir : opts.outDir;
  std::string ckptPath =
      outDir.empty() ? std::string() : joinPath(outDir, "checkpoint.bin");
  uint64_t fingerprint = trainFingerprint(M, rt);
  std::optional<Checkpoint> resume;
  if (!opts.resumeDir.empty()) {
    std::string path = joinPath(opts.resumeDir, "checkpoint.bin");
    Checkpoint C = loadCheckpoint(path);
    auto refuse = [&](const std::string &why) {
      return Error(path + ": error: cannot resume: " + why);
    };
    if (C.version < 2)
      throw refuse("the checkpoint (version " + std::to_string(C.version) +
                   ") holds no training state");
    if (C.model != M.name)
      throw refuse("checkpoint is of model '" + C.model + "', not '" + M.name +
                   "'");
    if (static_cast<int64_t>(C.params.size()) != M.numParams)
      throw refuse("checkpoint has " + std::to_string(C.params.size()) +
                   " parameters but model '" + M.name + "' has " +
                   std::to_string(M.numParams));
    const TrainState &S = C.state;
    if (S.seed != opts.seed)
      throw refuse("it was written with --seed " + std::to_string(S.seed) +
                   ", not " + std::to_string(opts.seed));
    if (S.precision != opts.precision)
      throw refuse("it was written with --precision " + S.precision + ", not " +
                   opts.precision);
    if (S.fingerprint != fingerprint)
      throw refuse("the model's terms, stages, sampler or --set values "
                   "differ from those it was written with");
    bool inStage =
        S.stage >= 0 && S.stage < static_cast<int64_t>(M.stages.size());
    OptimizerStateKind want = !inStage ? OptimizerStateKind::None
                              : M.stages[S.stage].optimizer == "adam"
                                  ? OptimizerStateKind::Adam
                              : M.stages[S.stage].optimizer == "multiadam"
                                  ? OptimizerStateKind::MultiAdam
                                  : OptimizerStateKind::Lbfgs;
    if (S.stage < 0 || S.stage > static_cast<int64_t>(M.stages.size()) ||
        S.stageStep < 0 || C.steps < S.stageStep ||
        (S.kind != want && S.kind != OptimizerStateKind::None) ||
        (S.kind == OptimizerStateKind::None && S.stageStep > 0) ||
        (S.kind == OptimizerStateKind::Lbfgs &&
         static_cast<int64_t>(S.lbfgsS.size()) > M.stages[S.stage].history) ||
        (S.kind == OptimizerStateKind::MultiAdam &&
         S.multiAdam.m.size() !=
             multiAdamGroups(M, M.stages[S.stage]).size()) ||
        (!S.weights.empty() && S.weights.size() != M.terms.size()))
      throw refuse("its training state is inconsistent with the model");
    resume = std::move(C);
  }
  // Fail on an unwritable output directory before spending time training.
  if (!outDir.empty())
    createDirectories(outDir);

  TrainResult R;
  bool given = !resume && !opts.initialParams.empty();
  if (given && static_cast<int64_t>(opts.initialParams.size()) != M.numParams)
    throw Error(
        "initial parameters: " + std::to_string(opts.initialParams.size()) +
        " values, model '" + M.name + "' has " + std::to_string(M.numParams));
  R.params = resume  ? resume->params
             : given ? opts.initialParams
                     : initParams(M, opts.seed);
  if (!resume && !given)
    for (const ParamBlock &B : M.blocks)
      if (B.runtimeParam >= 0 && B.runtimeParam < static_cast<int>(rt.size()))
        R.params[B.offset] = rt[B.runtimeParam]; // declared or --set value
  // An L-BFGS iterate may have a bounded param outside its range (the
  // objective clamps it); projecting it would resume another run.
  if (!resume || resume->state.kind != OptimizerStateKind::Lbfgs)
    projectBounds(M, R.params);
  R.runtimeParams = rt;
  Evaluator ev(opts.threads);
  R.threads = ev.threads();
  // The loss weights: the model's, or annealed ones (saved in checkpoints).
  TermWeights LW(M);
  if (resume && !resume->state.weights.empty())
    LW.restore(resume->state.weights);
  bool tty = opts.tty < 0 ? isTerminal(log) : opts.tty > 0;
  int64_t every = opts.logEvery > 0 ? opts.logEvery
                                    : std::max<int64_t>(1, (planned + 19) / 20);
  std::vector<std::string> names;
  for (const Term &T : M.terms)
    names.push_back(T.name);
  Progress progress(log, tty, opts.quiet, planned, every, names);
  R.history.termNames = names;
  R.history.every = lossHistoryInterval(planned);

  int64_t step = resume ? resume->steps : 0;
  size_t firstStage = resume ? static_cast<size_t>(resume->state.stage) : 0;
  int64_t firstStageStep = resume ? resume->state.stageStep : 0;
  progress.startAt(step);
  if (resume && !opts.quiet)
    log << "resuming at step " << step << " from "
        << joinPath(opts.resumeDir, "checkpoint.bin") << "\n";

  // Checkpoints: every `ckptEvery` global steps, so where they fall does
  // not depend on where a run was resumed.
  int64_t ckptEvery = opts.checkpointEvery > 0 ? opts.checkpointEvery
                      : opts.checkpointEvery < 0
                          ? 0
                          : std::clamp<int64_t>((planned + 9) / 10, 1, 500);
  int64_t lastSaved = resume ? step : -1;
  // Kept collocation points (`resample: none|r3`): drawn once at the start,
  // or restored with the rest of the state.
  ResampleKind resampling = parseResampleKind(M.resample);
  std::vector<Batch> population;
  if (resampling != ResampleKind::Fresh) {
    if (resampling == ResampleKind::R3 && M.resampleEvery <= 0)
      throw Error("R3 resampling needs a positive interval");
    if (resume && resume->state.points.size() == M.terms.size())
      population = resume->state.points;
    else if (resume)
      throw Error(joinPath(opts.resumeDir, "checkpoint.bin") +
                  ": error: cannot resume: the checkpoint holds no "
                  "collocation points for this model's resampling");
    else
      population = drawBatches(M, kind, opts.seed, kTrainStream, 0);
  }
  R3Stats r3;
  // Causal weighting: Adam steps train the model with time-chunked terms.
  std::optional<CausalPlan> causal;
  if (M.causalEps > 0) {
    if (resampling != ResampleKind::Fresh)
      throw Error("causal weighting draws fresh points every step; it does "
                  "not combine with 'resample: " +
                  M.resample + "'");
    if (M.weighting.scheme != "fixed")
      throw Error("causal weighting does not combine with '" +
                  M.weighting.scheme + "' loss weights");
    for (const Stage &S : M.stages)
      if (S.optimizer == "multiadam")
        throw Error("causal weighting does not combine with multiadam");
    causal = planCausal(M);
  }
  /// Saves the state after `stageStep` of the `stageSteps` steps of stage
  /// `stage` (M.stages.size(): training is finished).
  auto save = [&](size_t stage, int64_t stageStep, int64_t stageSteps,
                  const Adam *A, const LbfgsHistory *H,
                  const MultiAdam *MA = nullptr) {
    if (ckptPath.empty())
      return;
    if (!allFinite(R.params))
      throw Error("training diverged at step " + std::to_string(step) +
                  ": the parameters are not finite");
    Checkpoint C;
    C.model = M.name;
    C.params = R.params;
    C.steps = step;
    TrainState &S = C.state;
    S.seed = opts.seed;
    S.precision = opts.precision;
    S.fingerprint = fingerprint;
    if (LW.annealing())
      S.weights = LW.values();
    // A finished stage is recorded as the start of the next one: nothing
    // of its optimizer is needed any more.
    if (stage >= M.stages.size() || stageStep >= stageSteps) {
      S.stage = static_cast<int64_t>(std::min(stage + 1, M.stages.size()));
      S.stageStep = 0;
    } else {
      S.stage = static_cast<int64_t>(stage);
      S.stageStep = stageStep;
      if (A) {
        S.kind = OptimizerStateKind::Adam;
        S.adam = A->state();
      } else if (MA) {
        S.kind = OptimizerStateKind::MultiAdam;
        S.multiAdam = MA->state();
      } else if (H) {
        S.kind = OptimizerStateKind::Lbfgs;
        H->pairs(S.lbfgsS, S.lbfgsY, S.lbfgsRho);
      }
    }
    S.points = population;
    saveCheckpoint(ckptPath, C);
    lastSaved = step;
  };
  auto due = [&] {
    return !ckptPath.empty() && ckptEvery > 0 && step % ckptEvery == 0;
  };
  auto kept = [&] {
    if (ckptPath.empty())
      return std::string();
    if (lastSaved < 0)
      return std::string("; no checkpoint was written");
    return "; the last checkpoint (" + ckptPath + ", step " +
           std::to_string(lastSaved) + ") is kept";
  };

  // How many of the next `left` steps a device may run before the host
  // looks: up to the first it logs, records or checkpoints.
  auto stepsToSync = [&](int64_t left) {
    for (int64_t j = 1; j < left; ++j) {
      int64_t s = step + j;
      if (s == 1 || s % every == 0 ||
          (R.history.every > 0 && s % R.history.every == 0) ||
          (!ckptPath.empty() && ckptEvery > 0 && s % ckptEvery == 0))
        return j;
    }
    return left;
  };

  // --steps stopped training inside the stage plan: the last checkpoint
  // records where, so resuming with a larger --steps continues the same run.
  bool capped = false;
  std::vector<double> grad, terms;
  // A kernel's fault ends the run where the host last looked.
  try {
    for (size_t si = firstStage; si < M.stages.size() && !capped; ++si) {
      const Stage &S = M.stages[si];
      int64_t done = si == firstStage ? firstStageStep : 0;
      int64_t stageStart = step - done;
      int64_t budget = S.steps;
      if (opts.maxSteps >= 0)
        budget = std::min(budget, opts.maxSteps - stageStart);
      if (budget <= done) {
        if (budget < S.steps) {
          capped = true;
          if (done == 0)
            save(si, 0, S.steps, nullptr, nullptr);
        }
        continue;
      }
      bool resumed = resume && si == firstStage &&
                     resume->state.kind != OptimizerStateKind::None;
      if (S.optimizer == "adam" || S.optimizer == "multiadam") {
        // MultiAdam: the same loop with one gradient per group of terms.
        bool multi = S.optimizer == "multiadam";
        AdamOptions ao{S.lr, S.beta1, S.beta2, S.eps};
        Adam A(multi ? 0 : R.params.size(), ao);
        std::vector<std::vector<int>> groups;
        std::optional<MultiAdam> MA;
        std::vector<std::vector<double>> groupGrads;
        if (multi) {
          groups = multiAdamGroups(M, S);
          MA.emplace(R.params.size(), groups.size(), ao);
        }
        if (resumed && multi)
          MA->restore(resume->state.multiAdam);
        else if (resumed)
          A.restore(resume->state.adam);
        const Adam *AP = multi ? nullptr : &A;
        const MultiAdam *MP = multi ? &*MA : nullptr;
        std::string why = M.deviceTrainer && !opts.hostOptimizer
                              ? hostOnly(M, S, causal.has_value(),
                                         LW.annealing(), resampling, kind)
                              : "-";
        if (why.empty()) {
          // Whole steps on the device; the host waits only to log, to save a
          // checkpoint and at the end of the stage (the sync points below).
          DeviceTrainer &D = *M.deviceTrainer;
          D.begin(R.params, A.state(), S, rt, opts.seed, step,
                  resampling == ResampleKind::Fresh ? nullptr : &population);
          if (!opts.quiet)
            log << "stage " << si + 1
                << " (adam) on the device: " << D.describe() << "\n";
          for (int64_t k = done; k < budget;) {
            int64_t ran = D.run(stepsToSync(budget - k));
            step += ran;
            k += ran;
            R.deviceSteps += ran;
            double f = D.losses(terms);
            AdamState state;
            D.read(R.params, state);
            A.restore(state);
            if (int64_t bad = D.divergedAt()) {
              progress.finish();
              throw Error(divergence(M, ev, R.params,
                                     drawBatches(M, kind, opts.seed,
                                                 kTrainStream, bad - 1),
                                     rt, terms, f, bad, "adam") +
                          kept());
            }
            progress.update(step, S.optimizer, terms, f);
            R.history.add(step, S.optimizer, terms, f);
            if (due())
              save(si, k, S.steps, &A, nullptr);
          }
          if (budget < S.steps) {
            capped = true;
            save(si, budget, S.steps, &A, nullptr);
          }
          continue;
        }
        if (why != "-" && !opts.quiet)
          log << "stage " << si + 1 << " (" << S.optimizer
              << ") on the host, kernels on the device: " << why << "\n";
        for (int64_t k = done; k < budget; ++k) {
          if (resampling == ResampleKind::R3 && step > 0 &&
              step % M.resampleEvery == 0)
            resampleR3(M, population,
                       drawBatches(M, kind, opts.seed, kR3Stream, step),
                       R.params, rt, ev.threadPool(), &r3);
          const CompiledModel &MS = causal ? causal->expanded : M;
          std::vector<Batch> batches =
              resampling == ResampleKind::Fresh
                  ? drawBatches(MS, kind, opts.seed, kTrainStream, step)
                  : population;
          double f;
          if (causal) {
            updateCausalWeights(*causal, R.params, batches, rt,
                                ev.threadPool());
            f = ev.lossAndGrad(MS, R.params, batches, rt, &grad, &terms);
            terms = foldCausalLosses(*causal, batches, terms, M.terms.size());
          } else {
            f = multi ? LW.groups(ev, M, groups, R.params, batches, rt, grad,
                                  terms, groupGrads)
                      : LW.adamStep(ev, M, step, R.params, batches, rt, grad,
                                    terms);
          }
          if (!std::isfinite(f) || !allFinite(grad)) {
            progress.finish();
            // (With causal weighting, the per-term check uses unsplit terms.)
            throw Error(divergence(M, ev, R.params,
                                   causal ? drawBatches(M, kind, opts.seed,
                                                        kTrainStream, step)
                                          : batches,
                                   rt, terms, f, step + 1,
                                   S.optimizer.c_str()) +
                        kept());
          }
          if (multi)
            MA->step(R.params, groupGrads);
          else
            A.step(R.params, grad);
          projectBounds(M, R.params);
          ++step;
          progress.update(step, S.optimizer, terms, f);
          R.history.add(step, S.optimizer, terms, f);
          if (due())
            save(si, k + 1, S.steps, AP, nullptr, MP);
        }
        if (budget < S.steps) {
          capped = true;
          save(si, budget, S.steps, AP, nullptr, MP);
        }
        continue;
      }
      // L-BFGS on one fixed batch, drawn at the stage's first step (also when
      // resumed, so it is the same batch).
      std::vector<Batch> batches =
          resampling == ResampleKind::Fresh
              ? drawBatches(M, kind, opts.seed, kTrainStream, stageStart)
              : population;
      // With a DeviceTrainer the batch stays on the device: L-BFGS runs there
      // whole when the GPU code has the MODEL_lbfgs_* kernels (unless
      // --host-line-search), else each evaluation is one graph launch for the
      // line search on the host.
      bool deviceEval = M.deviceTrainer && !opts.hostOptimizer;
      LbfgsOptions lo;
      lo.maxIterations = budget - done;
      lo.history = S.history;
      lo.gradTolerance = S.tolerance;
      if (deviceEval && M.deviceTrainer->hasLbfgs() && !opts.hostLineSearch) {
        DeviceTrainer &D = *M.deviceTrainer;
        LbfgsHistory H;
        if (resumed)
          H.assign(resume->state.lbfgsS, resume->state.lbfgsY,
                   resume->state.lbfgsRho);
        std::vector<double> xEval = R.params;
        projectBounds(M, xEval);
        D.beginLbfgs(R.params, xEval, H, lo, batches, LW.values(), rt);
        if (!opts.quiet)
          log << "stage " << si + 1
              << " (lbfgs) on the device: line search and updates in " << M.name
              << "_lbfgs_*, " << D.describe() << "\n";
        DeviceTrainer::LbfgsStatus st;
        int64_t stageSteps = budget - done;
        while (!st.done && st.iterations < stageSteps) {
          st = D.runLbfgs(st.iterations +
                          stepsToSync(stageSteps - st.iterations));
          int64_t before = step;
          step = stageStart + done + st.iterations;
          // Not after a failed line search, as on the host: a resume would
          // carry on where the uninterrupted run did not.
          bool ckpt =
              due() && !(st.done && st.stop == StopReason::LineSearchFailed);
          D.readLbfgs(R.params, terms, ckpt ? &H : nullptr);
          if (st.diverged) {
            progress.finish();
            step = stageStart + done + st.diverged;
            throw Error(divergence(M, ev, R.params, batches, rt, terms, st.f,
                                   step, "lbfgs") +
                        kept());
          }
          R.deviceSteps += step - before;
          if (step > before) {
            progress.update(step, "lbfgs", terms, st.f);
            R.history.add(step, "lbfgs", terms, st.f);
          }
          if (ckpt)
            save(si, step - stageStart, S.steps, nullptr, &H);
        }
        // Capped by --steps: the checkpoint keeps the iterate as it is (a
        // bounded param may lie outside its range), so that a resumed run
        // goes on exactly as this one would have.
        if (st.stop == StopReason::MaxIterations && budget < S.steps) {
          capped = true;
          D.readLbfgs(R.params, terms, &H);
          save(si, step - stageStart, S.steps, nullptr, &H);
        }
        projectBounds(M, R.params);
        if (st.done && st.stop != StopReason::MaxIterations) {
          planned -= budget - (step - stageStart);
          progress.setTotal(planned);
          if (step > stageStart) {
            progress.update(step, "lbfgs", terms, st.f, /*force=*/true);
            R.history.add(step, "lbfgs", terms, st.f);
          }
          progress.finish();
          if (!opts.quiet)
            log << "lbfgs stopped after " << (step - stageStart)
                << " iterations: " << toString(st.stop) << "\n";
        }
        continue;
      }
      if (deviceEval) {
        M.deviceTrainer->beginEvaluation(batches, LW.values(), rt);
        if (!opts.quiet)
          log << "stage " << si + 1
              << " (lbfgs): line search on the host, each evaluation one "
                 "CUDA graph on the device\n";
      }
      auto evalAt = [&](const std::vector<double> &x, std::vector<double> *g,
                        std::vector<double> &termLosses) {
        return deviceEval ? M.deviceTrainer->evaluate(x, g, termLosses)
                          : LW.eval(ev, M, x, batches, rt, g, &termLosses);
      };
      // A bounded trainable param enters as clamp(x): outside its range the
      // loss is flat in it, so the line search sees a consistent objective.
      std::vector<double> clamped;
      Objective f = [&](const std::vector<double> &x, std::vector<double> &g) {
        if (!hasBounds(M))
          return evalAt(x, &g, terms);
        clamped = x;
        projectBounds(M, clamped);
        double fx = evalAt(clamped, &g, terms);
        for (const ParamBlock &B : M.blocks)
          if (B.bounded && clamped[B.offset] != x[B.offset])
            g[B.offset] = 0;
        return fx;
      };
      // L-BFGS cannot start from a non-finite loss or gradient; report it
      // like any other step's (this evaluation changes no state).
      double f0 = evalAt(R.params, &grad, terms);
      if (!std::isfinite(f0) || !allFinite(grad)) {
        progress.finish();
        throw Error(divergence(M, ev, R.params, batches, rt, terms, f0,
                               step + 1, "lbfgs") +
                    kept());
      }
      LbfgsHistory H;
      if (resumed)
        H.assign(resume->state.lbfgsS, resume->state.lbfgsY,
                 resume->state.lbfgsRho);
      std::string badGrad;
      OptimizeResult OR = minimizeLbfgs(
          f, R.params, lo,
          [&](int64_t, double fx, const std::vector<double> &g) {
            ++step;
            if (!std::isfinite(fx) || !allFinite(g)) {
              badGrad = divergence(M, ev, R.params, batches, rt, terms, fx,
                                   step, "lbfgs");
              return false;
            }
            progress.update(step, "lbfgs", terms, fx);
            R.history.add(step, "lbfgs", terms, fx);
            // Not after a failed line search: L-BFGS stops there, and a resume
            // would carry on where the uninterrupted run did not.
            if (due() && !H.stopping)
              save(si, step - stageStart, S.steps, nullptr, &H);
            return true;
          },
          &H);
      if (!badGrad.empty()) {
        progress.finish();
        throw Error(badGrad + kept());
      }
      // Capped by --steps: saved before the projection, as above.
      if (OR.stop == StopReason::MaxIterations && budget < S.steps) {
        capped = true;
        save(si, step - stageStart, S.steps, nullptr, &H);
      }
      projectBounds(M, R.params);
      if (OR.stop != StopReason::MaxIterations) {
        // Stopped early: the remaining planned steps will not run.
        planned -= budget - (step - stageStart);
        progress.setTotal(planned);
        if (step > stageStart) {
          // Show where it stopped; `terms` may be of a rejected trial point.
          double f = evalAt(R.params, nullptr, terms);
          progress.update(step, "lbfgs", terms, f, /*force=*/true);
          R.history.add(step, "lbfgs", terms, f);
        }
        progress.finish();
        if (!opts.quiet)
          log << "lbfgs stopped after " << (step - stageStart)
              << " iterations: " << toString(OR.stop) << "\n";
      }
    }
    progress.finish();
    R.history.flush();
    // The final checkpoint first: a fault in the evaluation below then
    // loses no training.
    if (!outDir.empty() && !capped)
      save(M.stages.size(), 0, 0, nullptr, nullptr);

    // Final losses on a fresh batch: an honest estimate, not the batch the
    // last optimiser step fitted.
    std::vector<Batch> evalBatches =
        drawBatches(M, kind, opts.seed, kEvalStream, 0);
    R.totalLoss =
        LW.eval(ev, M, R.params, evalBatches, rt, nullptr, &R.termLoss);
    R.weights = LW.values();
    R.relL2 = relativeL2PerField(M, R.params, rt, ev.threadPool());
    R.steps = step;

    if (!outDir.empty()) {
      if (!M.fields.empty())
        writeFieldsCSV(joinPath(outDir, "fields.csv"), M, R.params, rt,
                       ev.threadPool());
      writePictures(outDir, M, R.params, rt, R.history, ev.threadPool());
    }
  } catch (const DeviceFault &e) {
    // The context is gone: nothing more can run on the GPU, not even the
    // final evaluation.
    progress.finish();
    throw DeviceFault("training on the device stopped after step " +
                      std::to_string(step) + ": " + e.what() + kept());
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
    if (r3.retained + r3.released > 0)
      os << "  R3: " << r3.retained << " points retained, " << r3.released
         << " released and redrawn\n";
    auto row = [&](const std::string &what, const std::string &name, double v) {
      os << "  " << what << " " << name
         << std::string(w - std::min(w, name.size()), ' ') << "  " << sci(v)
         << "\n";
    };
    for (size_t t = 0; t < M.terms.size(); ++t)
      row("loss  ", M.terms[t].name, R.termLoss[t]);
    row("loss  ", "total", R.totalLoss);
    if (LW.annealing())
      for (int t : annealedTerms(M))
        os << "  weight " << M.terms[t].name
           << std::string(w - std::min(w, M.terms[t].name.size()), ' ') << "  "
           << sci(R.weights[t]) << " (annealed)\n";
    for (size_t fi = 0; fi < M.fields.size(); ++fi)
      if (!std::isnan(R.relL2[fi]))
        row("rel L2", M.fields[fi].name, R.relL2[fi]);
    for (const ParamBlock &B : M.blocks)
      if (B.runtimeParam >= 0) {
        char v[48];
        std::snprintf(v, sizeof v, "%.6g", R.params[B.offset]);
        os << "  param  " << B.name
           << std::string(w - std::min(w, B.name.size()), ' ') << "  " << v
           << " (learned)\n";
      }
    log << os.str() << std::flush;
  }
  return R;
}
