//===- Train.cpp - physc train and physc bench ----------------------------===//
//
// Part of physc. `train` compiles a spec and hands it to the runtime's
// training loop; `bench` times one training step's loss and gradient so it
// can be compared with a framework baseline measured in the same run.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "JITModel.h"
#include "PTX.h"

#include "physrt/CrossCheck.h"
#include "physrt/CudaDriver.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/Init.h"
#include "physrt/Optimizers.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

using namespace physc;
namespace cl = llvm::cl;

// Both subcommands first: options below name them, and objects of one
// translation unit are constructed in order.
cl::SubCommand physc::trainCmd("train", "Compile a .phys file and train it");
cl::SubCommand
    physc::benchCmd("bench",
                    "Time one training step (loss and parameter gradient)");
static cl::opt<std::string> trainInput(cl::Positional, cl::desc("<file.phys>"),
                                       cl::sub(trainCmd));
static cl::opt<std::string>
    device("device", cl::desc("cpu, cuda or auto (default: auto)"),
           cl::init("auto"), cl::sub(trainCmd));
static cl::opt<int64_t> steps("steps",
                              cl::desc("Cap on the total optimizer steps"),
                              cl::init(-1), cl::sub(trainCmd));
static cl::opt<uint64_t> seed("seed", cl::desc("Random seed"), cl::init(0),
                              cl::sub(trainCmd), cl::sub(benchCmd));
static cl::list<std::string> setParams("set", cl::desc("NAME=VALUE of a param"),
                                       cl::sub(trainCmd));
static cl::opt<std::string> outDir("out",
                                   cl::desc("Directory for checkpoint and "
                                            "fields.csv"),
                                   cl::sub(trainCmd));
static cl::opt<std::string> summary("summary",
                                    cl::desc("Write a JSON summary here"),
                                    cl::sub(trainCmd));
static cl::opt<std::string> precision("precision",
                                      cl::desc("f32 (default) or f64"),
                                      cl::init("f32"), cl::sub(trainCmd),
                                      cl::sub(benchCmd));
static cl::opt<int> threads("threads",
                            cl::desc("Worker threads (default: all cores)"),
                            cl::init(0), cl::sub(trainCmd), cl::sub(benchCmd));
static cl::opt<bool> quiet("quiet", cl::desc("No progress output"),
                           cl::sub(trainCmd));
static cl::opt<bool> hostOptimizer(
    "host-optimizer",
    cl::desc("On a GPU, run the optimizer and the samplers on the host "
             "instead of whole steps on the device"),
    cl::sub(trainCmd));
static cl::opt<bool> hostLineSearch(
    "host-line-search",
    cl::desc("On a GPU, keep L-BFGS's line search and updates on the host, "
             "each evaluation one CUDA graph"),
    cl::sub(trainCmd));
static cl::opt<unsigned> lanesPerPoint("lanes-per-point",
                                       cl::desc(kLanesPerPointHelp),
                                       cl::init(1), cl::sub(trainCmd));
static cl::opt<int64_t> logEvery("log-every",
                                 cl::desc("Progress line every N steps"),
                                 cl::init(0), cl::sub(trainCmd));

static cl::opt<std::string>
    resumeDir("resume",
              cl::desc("Continue from DIR/checkpoint.bin (--out defaults "
                       "to DIR)"),
              cl::value_desc("DIR"), cl::sub(trainCmd));
static cl::opt<int64_t> checkpointEvery(
    "checkpoint-every",
    cl::desc("With --out, a checkpoint every K steps (0 = auto: ~10 per "
             "run, at most every 500; -1 = only at the end)"),
    cl::value_desc("K"), cl::init(0), cl::sub(trainCmd));

static bool checkPrecision(llvm::StringRef sub, const std::string &p) {
  if (p == "f32" || p == "f64")
    return true;
  usageError(sub, "--precision must be f32 or f64, got '" + p + "'");
  return false;
}

int physc::runTrain() {
  if (trainInput.empty())
    return usageError("train", "expected a file: 'physc train FILE'");
  if (!checkPrecision("train", precision))
    return 1;
  if (!isValidLanesPerPoint(lanesPerPoint))
    return usageError("train", badLanesPerPoint(lanesPerPoint));
  if (device != "cpu" && device != "auto" && device != "cuda")
    return usageError("train", "--device must be cpu, cuda or auto, got '" +
                                   device + "'");
  // --device cuda needs a device (and libdevice, checked when compiling).
  // `auto` takes the GPU when there is one, libdevice is found, and the
  // GPU's loss and gradient agree with the CPU's on the model (below).
  if (device == "cuda") {
    std::string why;
    if (!physrt::cuda::available(&why)) {
      llvm::errs() << "physc train: error: " << why << "; use --device cpu\n";
      return 1;
    }
  }
  std::string autoWhy;
  bool tryGPU = device == "auto" && physrt::cuda::available(&autoWhy);
  if (tryGPU && !findCUDAToolkit(autoWhy)) {
    if (!quiet)
      llvm::errs() << "physc train: note: a CUDA device is present, but "
                   << autoWhy << "; training on the CPU\n";
    tryGPU = false;
  }
  physrt::TrainOptions opts;
  for (const std::string &s : setParams) {
    size_t eq = s.find('=');
    char *end = nullptr;
    double v =
        eq == std::string::npos ? 0 : std::strtod(s.c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || !end || *end ||
        end == s.c_str() + eq + 1)
      return usageError("train", "--set expects NAME=NUMBER, got '" + s + "'");
    opts.setParams.push_back({s.substr(0, eq), v});
  }
  std::optional<LoadedModel> loaded = loadModel(trainInput, llvm::errs());
  if (!loaded)
    return 1;
  // A param's declared range binds --set too (unknown names are the
  // runtime's to report, with the list of known ones).
  std::map<std::string, double> lastSet; // the last --set of a name wins
  for (auto &[name, value] : opts.setParams)
    lastSet[name] = value;
  for (auto &[name, value] : lastSet)
    for (const CheckedParam &p : loaded->model.params)
      if (p.name == name && p.bounded && !(value >= p.lo && value <= p.hi)) {
        SourcePosition pos = resolveLocation(*loaded->srcMgr, p.loc);
        llvm::errs() << llvm::format("physc train: error: --set value %g for "
                                     "param '%s' is outside its range [%g, "
                                     "%g] (declared at %s:%u:%u)\n",
                                     value, name.c_str(), p.lo, p.hi,
                                     pos.filename.c_str(), pos.line,
                                     pos.column);
        return 1;
      }
  CodegenOptions cg;
  cg.precision = precision;
  cg.gpuLanesPerPoint = lanesPerPoint;
  bool gpu = device == "cuda" || tryGPU;
  auto jit = JITModel::compile(*loaded, cg, llvm::errs(),
                               device == "cuda" ? JITModel::GPUCode::Required
                               : tryGPU         ? JITModel::GPUCode::IfPossible
                                                : JITModel::GPUCode::None);
  if (!jit)
    return 1;
  if (const PTXOrigin &o = jit->gpuCodeOrigin(); !quiet && o.seconds > 0) {
    if (o.cached)
      llvm::errs() << llvm::format("physc train: GPU code read from the "
                                   "cache in %.1f s (%s)\n",
                                   o.seconds, o.cachePath.c_str());
    else
      llvm::errs() << llvm::format("physc train: GPU code generated in %.1f s",
                                   o.seconds)
                   << (o.cachePath.empty() ? std::string()
                                           : "; cached as " + o.cachePath)
                   << "\n";
  }
  if (device == "cuda" && !jit->moveToGPU(llvm::errs()))
    return 1;
  if (tryGPU) {
    // The CPU binding stays at hand: the GPU must agree with it on one
    // batch per term, or training stays on the CPU.
    physrt::CompiledModel cpu = jit->model();
    std::string moveErrors;
    llvm::raw_string_ostream moveLog(moveErrors);
    double tol = precision == "f64" ? 1e-9 : 1e-4;
    gpu = jit->moveToGPU(moveLog);
    physrt::CrossCheckResult check;
    if (gpu) {
      try {
        check = physrt::crossCheck(cpu, jit->model(),
                                   physrt::runtimeValues(cpu, opts.setParams),
                                   seed, tol);
      } catch (const std::exception &e) {
        // E.g. an unknown --set name: train() below reports it.
        check.agree = false;
        check.why = e.what();
      }
      gpu = check.agree;
    }
    if (!gpu) {
      jit->model() = cpu;
      // moveToGPU's lines ("physc train: error: ..."), as one reason.
      std::string why = check.why;
      if (!moveErrors.empty()) {
        llvm::SmallVector<llvm::StringRef> lines;
        llvm::StringRef(moveErrors).trim().split(lines, '\n');
        why.clear();
        for (llvm::StringRef line : lines) {
          line.consume_front("physc train: error: ");
          why += (why.empty() ? "" : "; ") + line.trim().str();
        }
      }
      if (!quiet)
        llvm::errs() << "physc train: note: not training on the CUDA device: "
                     << why
                     << "; training on the CPU (--device cuda forces the "
                        "GPU)\n";
    } else if (!quiet) {
      llvm::errs() << llvm::format(
          "physc train: on %s: every term's loss and gradient agree with "
          "the CPU's (largest relative difference %.2g); --device cpu "
          "stays on the CPU\n",
          jit->model().device.c_str(), check.worst);
    }
  }
  opts.seed = seed;
  opts.maxSteps = steps;
  opts.outDir = outDir;
  opts.summaryPath = summary;
  opts.threads = threads;
  opts.quiet = quiet;
  opts.logEvery = logEvery;
  opts.device = gpu ? "cuda" : "cpu";
  opts.precision = precision;
  opts.resumeDir = resumeDir;
  opts.checkpointEvery = checkpointEvery;
  opts.hostOptimizer = hostOptimizer;
  opts.hostLineSearch = hostLineSearch;
  try {
    physrt::train(jit->model(), opts, std::cerr);
  } catch (const std::exception &e) {
    llvm::errs() << "physc train: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// physc bench
//===----------------------------------------------------------------------===//

static cl::opt<std::string> benchInput(cl::Positional, cl::desc("<file.phys>"),
                                       cl::sub(benchCmd));
static cl::opt<int64_t> points("points",
                               cl::desc("Points of the first equation"),
                               cl::init(8192), cl::sub(benchCmd));
static cl::opt<int> iters("iters", cl::desc("Timed repetitions"), cl::init(30),
                          cl::sub(benchCmd));

namespace {
double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
} // namespace

int physc::runBench() {
  if (benchInput.empty())
    return usageError("bench", "expected a file: 'physc bench FILE'");
  if (!checkPrecision("bench", precision))
    return 1;
  if (points < 1 || iters < 1)
    return usageError("bench", "--points and --iters must be positive");
  std::optional<LoadedModel> loaded = loadModel(benchInput, llvm::errs());
  if (!loaded)
    return 1;
  CodegenOptions cg;
  cg.precision = precision;
  auto start = std::chrono::steady_clock::now();
  auto jit = JITModel::compile(*loaded, cg, llvm::errs());
  if (!jit)
    return 1;
  double compileS =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  physrt::CompiledModel &M = jit->model();
  try {
    std::vector<double> params = physrt::initParams(M, seed);
    std::vector<double> rt = physrt::runtimeValues(M, {});
    physrt::Rng rng(seed + 1);
    // The first equation alone at N points: what the framework baseline
    // (../shared/anchors/pinn_step.py) measures.
    physrt::CompiledModel one = M;
    one.terms.resize(1);
    one.terms[0].weight = 1;
    std::vector<physrt::Batch> single{
        physrt::sample(M, M.terms[0].region, points, rng)};
    // A whole Adam step: every term at its own sample count (the first at N),
    // loss, gradient and the parameter update.
    std::vector<physrt::Batch> all;
    for (size_t t = 0; t < M.terms.size(); ++t)
      all.push_back(t == 0 ? single[0]
                           : physrt::sample(M, M.terms[t].region,
                                            M.terms[t].samples, rng));
    physrt::Evaluator eval(threads);
    std::vector<double> grad;
    physrt::AdamOptions ao;
    physrt::Adam adam(M.numParams, ao);
    auto time = [&](auto &&fn) {
      for (int i = 0; i < 3; ++i)
        fn();
      std::vector<double> ts;
      for (int i = 0; i < iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        ts.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
      }
      return ts;
    };
    double loss = 0;
    auto termTimes = time([&] {
      loss = eval.lossAndGrad(one, params, single, rt, &grad, nullptr);
    });
    std::vector<double> stepParams = params;
    auto stepTimes = time([&] {
      eval.lossAndGrad(M, stepParams, all, rt, &grad, nullptr);
      adam.step(stepParams, grad);
    });
    llvm::outs() << llvm::format(
        "{\"N\": %lld, \"ms\": %.4f, \"ms_min\": %.4f, \"ms_step\": %.4f, "
        "\"term\": \"%s\", \"loss\": %.6g, \"threads\": %d, \"precision\": "
        "\"%s\", \"params\": %lld, \"compile_s\": %.2f}\n",
        (long long)points, medianOf(termTimes),
        *std::min_element(termTimes.begin(), termTimes.end()),
        medianOf(stepTimes), M.terms[0].name.c_str(), loss, eval.threads(),
        precision.c_str(), (long long)M.numParams, compileS);
  } catch (const std::exception &e) {
    llvm::errs() << "physc bench: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
