//===- CudaTrain.cpp - Adam steps on a CUDA device, one graph per step ----===//
//
// Part of physc's runtime (libphysrt). The DeviceTrainer of a model whose
// kernels run on a GPU. One step is a fixed sequence of device work:
//
//   memset losses, memset grads
//   per term t:  MODEL_sample       (sampled terms: its points for this step)
//                MODEL_TERM_loss_grad -> partials
//                MODEL_sum_partials  -> losses[t], grads[t * numParams ...]
//   MODEL_adam      weighted sum of the terms' gradients, Adam on the f64
//                   master copy, the kernels' copy of the parameters
//   MODEL_advance   step counters
//
// An L-BFGS stage is another fixed sequence, on fixed batches: the losses of
// every term at the trial point, then the MODEL_lbfgs_* kernels, which take
// one step of the line search (or accept, and start the next) and write the
// next trial point. One launch of that graph is one evaluation.
//
// Everything a step reads lives on the device (the step number too), so the
// sequence is captured once in a CUDA graph and launched as a whole per
// step. The host waits only in run(), after a batch of steps: to log, to
// save a checkpoint, or at the end of the stage.
//
//===----------------------------------------------------------------------===//

#include "CudaLaunch.h"
#include "physrt/CudaDriver.h"
#include "physrt/DeviceLbfgs.h"
#include "physrt/Error.h"
#include "physrt/Optimizers.h"
#include "physrt/Sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>

using namespace physrt;
using namespace physrt::cuda;

namespace {

/// A device allocation of `count` elements of `elem` bytes.
struct DeviceArray {
  CUdeviceptr ptr = 0;
  int64_t count = 0;
  size_t elem = 0;
  size_t bytes() const { return static_cast<size_t>(count) * elem; }
};

/// Appends each array as a memref argument (its whole length).
void memrefs(LaunchArgs &a, std::initializer_list<const DeviceArray *> arrays) {
  for (const DeviceArray *x : arrays)
    a.memref(x->ptr, x->count);
}

class CudaTrainer : public DeviceTrainer {
public:
  CudaTrainer(const CompiledModel &M, const std::vector<KernelRef> &refs,
              bool f64, const LoadedModule &module);
  ~CudaTrainer() override;

  void begin(const std::vector<double> &params, const AdamState &state,
             const Stage &S, const std::vector<double> &rt, uint64_t seed,
             int64_t step, const std::vector<Batch> *fixed) override;
  int64_t run(int64_t steps) override;
  int64_t divergedAt() override;
  double losses(std::vector<double> &terms) override;
  void read(std::vector<double> &params, AdamState &state) override;
  std::string describe() const override;
  void beginEvaluation(const std::vector<Batch> &batches,
                       const std::vector<double> &weights,
                       const std::vector<double> &rt) override;
  double evaluate(const std::vector<double> &params, std::vector<double> *grad,
                  std::vector<double> &terms) override;
  bool hasLbfgs() const override { return !lbfgs.empty(); }
  void beginLbfgs(const std::vector<double> &x,
                  const std::vector<double> &xEval, const LbfgsHistory &H,
                  const LbfgsOptions &o, const std::vector<Batch> &batches,
                  const std::vector<double> &weights,
                  const std::vector<double> &rt) override;
  LbfgsStatus runLbfgs(int64_t iterations) override;
  void readLbfgs(std::vector<double> &x, std::vector<double> &terms,
                 LbfgsHistory *H) override;

private:
  /// What a step needs of a term, copied: the model may move after binding.
  struct TermGpu {
    std::string name;
    Region region;
    int64_t samples = 0;
    double weight = 1;
    std::vector<double> data;
    int64_t dataCount = 0;
    int dataColumns = 0;
    CUfunction lossGrad = nullptr;
    DeviceArray pts, plan;
    int64_t n = 0, ld = 0;
    bool sampled = false;
    unsigned grid = 1;
  };

  DeviceArray alloc(int64_t count, size_t elem);
  void free(DeviceArray &a);
  /// Uploads doubles as the kernels' real type (or as f64 with `asF64`).
  void upload(DeviceArray &a, const std::vector<double> &v, bool asF64);
  std::vector<double> download(const DeviceArray &a, bool asF64);
  /// Launches on the trainer's stream; `shared` bytes of dynamic shared
  /// memory (the staged parameters of a loss kernel).
  void launch(CUfunction f, unsigned grid, unsigned block, LaunchArgs &args,
              size_t shared = 0);
  void releaseGraph();
  /// Each term's points (the sampler's buffer, or `fixed[t]` / its data
  /// uploaded), scales, and the loss, gradient and partials buffers.
  void setUpTerms(const std::vector<Batch> *fixed,
                  const std::vector<double> &termWeights);
  /// Enqueues on `stream` (being captured): zero the losses and gradients,
  /// then per term its points (with `sampled`), loss kernel and
  /// sum_partials.
  void enqueueLosses(uint64_t seed);
  /// Captures what `enqueue` issues on `stream` into `g` and instantiates
  /// it; a failure ends the capture and drops what was captured.
  void capture(const std::function<void()> &enqueue, CUgraph &g,
               CUgraphExec &e);
  void current() const { d.check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent"); }

  const Driver &d;
  std::string model;
  std::vector<Coord> coords;
  LoadedModule module; ///< owns the context and the module
  CUcontext ctx = nullptr;
  CUstream stream = nullptr;
  CUfunction sample = nullptr, adam = nullptr, advance = nullptr,
             sumPartials = nullptr;
  /// MODEL_lbfgs_{grad,search,dots,total,update,trial}, when the module has
  /// them (PTX from an older physc does not).
  std::vector<CUfunction> lbfgs;
  int multiprocessors = 1;
  size_t elem = 4;
  int64_t np = 0;
  std::vector<TermGpu> terms;
  std::vector<double> weights;
  DeviceArray params, master, m, v, hyper, counters, scale, lossBuf, grads,
      partials, rtBuf;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  /// The loss and gradient alone, on fixed batches (beginEvaluation).
  CUgraph evalGraph = nullptr;
  CUgraphExec evalExec = nullptr;
  /// L-BFGS (beginLbfgs): its state (physrt/DeviceLbfgs.h), term losses,
  /// vectors, curvature pairs, their products and the grid's partial sums;
  /// the graph of one evaluation.
  DeviceArray lbState, lbTerms, lbVectors, lbHistory, lbSmall, lbPartials;
  int64_t lbHistoryCap = 0;
  CUgraph lbGraph = nullptr;
  CUgraphExec lbExec = nullptr;
  int launchesPerStep = 0;
  double beta1 = 0.9, beta2 = 0.999;
};

std::string kernelName(const std::string &symbol) {
  const std::string prefix = "_mlir_ciface_";
  return symbol.compare(0, prefix.size(), prefix) == 0
             ? symbol.substr(prefix.size())
             : symbol;
}

CudaTrainer::CudaTrainer(const CompiledModel &M,
                         const std::vector<KernelRef> &refs, bool f64,
                         const LoadedModule &loaded)
    : d(driver()), model(M.name), coords(M.coords), module(loaded),
      ctx(loaded.ctx), multiprocessors(loaded.multiprocessors),
      elem(f64 ? sizeof(double) : sizeof(float)), np(M.numParams) {
  current();
  auto function = [&](const std::string &name) {
    CUfunction f = nullptr;
    if (d.cuModuleGetFunction(&f, module.mod, name.c_str()))
      throw Error("the GPU code of model '" + M.name + "' lacks " + name);
    return f;
  };
  sample = function(M.name + "_sample");
  adam = function(M.name + "_adam");
  advance = function(M.name + "_advance");
  sumPartials = function(M.name + "_sum_partials");
  for (const char *k : {"grad", "search", "dots", "total", "update", "trial"}) {
    CUfunction f = nullptr;
    std::string name = M.name + "_lbfgs_" + k;
    if (d.cuModuleGetFunction(&f, module.mod, name.c_str())) {
      lbfgs.clear();
      break;
    }
    lbfgs.push_back(f);
  }
  terms.resize(M.terms.size());
  for (size_t t = 0; t < terms.size(); ++t) {
    const Term &T = M.terms[t];
    TermGpu &G = terms[t];
    G.name = T.name;
    G.region = T.region;
    G.samples = T.samples;
    G.weight = T.weight;
    G.data = T.data;
    G.dataCount = T.dataCount;
    G.dataColumns = T.dataColumns;
  }
  for (const KernelRef &k : refs)
    if (k.role == KernelRef::Role::LossGrad) {
      std::string name = kernelName(k.symbol);
      CUfunction f = function(name);
      allowDynamicShared(d, module.dev, f, name, module.lossShared);
      terms.at(k.index).lossGrad = f;
    }
  for (size_t t = 0; t < terms.size(); ++t)
    if (!terms[t].lossGrad)
      throw Error("model '" + M.name + "' has no loss kernel for term '" +
                  M.terms[t].name + "'");
  d.check(d.cuStreamCreate(&stream, 0), "cuStreamCreate");
}

CudaTrainer::~CudaTrainer() {
  // Errors are ignored: at process exit the driver may be shutting down.
  d.cuCtxSetCurrent(ctx);
  releaseGraph();
  for (DeviceArray *a :
       {&params, &master, &m, &v, &hyper, &counters, &scale, &lossBuf, &grads,
        &partials, &rtBuf, &lbState, &lbTerms, &lbVectors, &lbHistory, &lbSmall,
        &lbPartials})
    if (a->ptr)
      d.cuMemFree(a->ptr);
  for (TermGpu &T : terms)
    for (DeviceArray *a : {&T.pts, &T.plan})
      if (a->ptr)
        d.cuMemFree(a->ptr);
  if (stream)
    d.cuStreamDestroy(stream);
}

DeviceArray CudaTrainer::alloc(int64_t count, size_t size) {
  DeviceArray a;
  a.count = std::max<int64_t>(count, 1);
  a.elem = size;
  d.check(d.cuMemAlloc(&a.ptr, a.bytes()), "cuMemAlloc");
  return a;
}

void CudaTrainer::free(DeviceArray &a) {
  if (a.ptr)
    d.check(d.cuMemFree(a.ptr), "cuMemFree");
  a = DeviceArray();
}

void CudaTrainer::upload(DeviceArray &a, const std::vector<double> &src,
                         bool asF64) {
  size_t size = asF64 ? sizeof(double) : elem;
  if (a.elem != size || a.count < static_cast<int64_t>(src.size())) {
    free(a);
    a = alloc(static_cast<int64_t>(src.size()), size);
  }
  std::vector<char> host(a.bytes(), 0);
  for (size_t i = 0; i < src.size(); ++i) {
    if (size == sizeof(double)) {
      std::memcpy(host.data() + i * size, &src[i], size);
    } else {
      float x = static_cast<float>(src[i]);
      std::memcpy(host.data() + i * size, &x, size);
    }
  }
  d.check(d.cuMemcpyHtoD(a.ptr, host.data(), host.size()), "cuMemcpyHtoD");
}

std::vector<double> CudaTrainer::download(const DeviceArray &a, bool asF64) {
  size_t size = asF64 ? sizeof(double) : elem;
  std::vector<char> host(a.bytes());
  d.check(d.cuMemcpyDtoH(host.data(), a.ptr, host.size()), "cuMemcpyDtoH");
  std::vector<double> out(a.count);
  for (int64_t i = 0; i < a.count; ++i) {
    if (size == sizeof(double)) {
      std::memcpy(&out[i], host.data() + i * size, size);
    } else {
      float x;
      std::memcpy(&x, host.data() + i * size, size);
      out[i] = x;
    }
  }
  return out;
}

void CudaTrainer::launch(CUfunction f, unsigned grid, unsigned block,
                         LaunchArgs &args, size_t shared) {
  d.check(d.cuLaunchKernel(f, grid, 1, 1, block, 1, 1,
                           static_cast<unsigned>(shared), stream, args.get(),
                           nullptr),
          "cuLaunchKernel");
  ++launchesPerStep;
}

void CudaTrainer::releaseGraph() {
  for (CUgraphExec *e : {&exec, &evalExec, &lbExec})
    if (*e)
      d.cuGraphExecDestroy(*e);
  for (CUgraph *g : {&graph, &evalGraph, &lbGraph})
    if (*g)
      d.cuGraphDestroy(*g);
  exec = evalExec = lbExec = nullptr;
  graph = evalGraph = lbGraph = nullptr;
}

void CudaTrainer::begin(const std::vector<double> &p, const AdamState &state,
                        const Stage &S, const std::vector<double> &rt,
                        uint64_t seed, int64_t step,
                        const std::vector<Batch> *fixed) {
  current();
  releaseGraph();
  if (static_cast<int64_t>(p.size()) != np ||
      (!state.m.empty() && static_cast<int64_t>(state.m.size()) != np) ||
      state.m.size() != state.v.size())
    throw Error("device training: parameters and Adam moments of model '" +
                model + "' must have " + std::to_string(np) + " entries");
  if (fixed && fixed->size() != terms.size())
    throw Error("device training: expected one batch per term");
  beta1 = S.beta1;
  beta2 = S.beta2;
  upload(params, p, false);
  upload(master, p, true);
  std::vector<double> zeros(np, 0.0);
  upload(m, state.m.empty() ? zeros : state.m, true);
  upload(v, state.v.empty() ? zeros : state.v, true);
  upload(hyper, {S.lr, S.beta1, S.beta2, S.eps}, true);
  std::vector<double> rtv = rt;
  rtv.push_back(0); // never empty
  upload(rtBuf, rtv, false);

  // Counters (i64): Adam steps done, the global step, the divergence flag.
  if (!counters.ptr)
    counters = alloc(3, sizeof(int64_t));
  int64_t c[3] = {state.t, step, 0};
  d.check(d.cuMemcpyHtoD(counters.ptr, c, sizeof c), "cuMemcpyHtoD");

  setUpTerms(fixed, {});

  // Capture one step.
  launchesPerStep = 0;
  capture(
      [&] {
        enqueueLosses(seed);
        int64_t nt = static_cast<int64_t>(terms.size());
        LaunchArgs a;
        memrefs(a, {&hyper, &counters});
        a.index(nt);
        memrefs(a, {&scale, &lossBuf, &grads, &master, &m, &v, &params});
        launch(adam, static_cast<unsigned>((np + kSumBlock - 1) / kSumBlock),
               kSumBlock, a);
        LaunchArgs c1;
        c1.memref(counters.ptr, counters.count);
        launch(advance, 1, 1, c1);
      },
      graph, exec);
}

void CudaTrainer::capture(const std::function<void()> &enqueue, CUgraph &g,
                          CUgraphExec &e) {
  d.check(d.cuStreamBeginCapture(stream, kCaptureModeRelaxed),
          "cuStreamBeginCapture");
  try {
    enqueue();
  } catch (...) {
    CUgraph broken = nullptr;
    d.cuStreamEndCapture(stream, &broken);
    if (broken)
      d.cuGraphDestroy(broken);
    throw;
  }
  d.check(d.cuStreamEndCapture(stream, &g), "cuStreamEndCapture");
  d.check(d.cuGraphInstantiateWithFlags(&e, g, 0),
          "cuGraphInstantiateWithFlags");
}

void CudaTrainer::setUpTerms(const std::vector<Batch> *fixed,
                             const std::vector<double> &termWeights) {
  // Each term's points: its data, the kept batch, or a device buffer the
  // sampler fills every step.
  int64_t nt = static_cast<int64_t>(terms.size());
  int64_t dims = static_cast<int64_t>(coords.size());
  weights.clear();
  for (int64_t t = 0; t < nt; ++t)
    weights.push_back(termWeights.empty() ? terms[t].weight : termWeights[t]);
  std::vector<double> scales(nt);
  unsigned maxGrid = 1;
  for (int64_t t = 0; t < nt; ++t) {
    TermGpu &G = terms[t];
    G.sampled = !fixed && G.dataCount == 0;
    if (G.sampled) {
      G.n = G.samples;
      G.ld = G.samples;
      if (G.n <= 0)
        throw Error("term '" + G.name + "' has no samples");
      upload(G.plan, devicePlan(coords, G.region, G.n), true);
      if (G.pts.elem != elem || G.pts.count < G.n * dims) {
        free(G.pts);
        G.pts = alloc(G.n * dims, elem);
      }
    } else {
      Batch B = fixed ? (*fixed)[t]
                      : makeBatch(G.data.data(), G.dataCount, G.dataCount,
                                  G.dataColumns);
      if (B.n <= 0)
        throw Error("term '" + G.name + "' has no points");
      G.n = B.n;
      G.ld = B.ld;
      upload(G.pts, B.pts, false);
    }
    scales[t] = weights[t] / static_cast<double>(G.n);
    G.grid = lossGrid(G.n, multiprocessors, module.lossPoints);
    maxGrid = std::max(maxGrid, G.grid);
  }
  upload(scale, scales, true);
  if (!lossBuf.ptr || lossBuf.elem != elem) {
    free(lossBuf);
    lossBuf = alloc(nt, elem);
  }
  if (!grads.ptr || grads.elem != elem) {
    free(grads);
    grads = alloc(nt * np, elem);
  }
  if (partials.elem != elem ||
      partials.count < static_cast<int64_t>(maxGrid) * (1 + np)) {
    free(partials);
    partials = alloc(static_cast<int64_t>(maxGrid) * (1 + np), elem);
  }
}

void CudaTrainer::enqueueLosses(uint64_t seed) {
  d.check(d.cuMemsetD8Async(lossBuf.ptr, 0, lossBuf.bytes(), stream),
          "cuMemsetD8Async");
  d.check(d.cuMemsetD8Async(grads.ptr, 0, grads.bytes(), stream),
          "cuMemsetD8Async");
  int64_t nt = static_cast<int64_t>(terms.size());
  for (int64_t t = 0; t < nt; ++t) {
    TermGpu &G = terms[t];
    if (G.sampled) {
      LaunchArgs a;
      a.memref(counters.ptr, counters.count);
      a.memref(G.plan.ptr, G.plan.count);
      a.index(t);
      a.index(static_cast<int64_t>(seed & 0x7fffffffffffffffULL));
      a.memref(G.pts.ptr, G.pts.count);
      a.index(G.n);
      launch(sample, static_cast<unsigned>((G.n + kEvalBlock - 1) / kEvalBlock),
             kEvalBlock, a);
    }
    LaunchArgs a;
    a.memref(params.ptr, params.count);
    a.memref(G.pts.ptr, G.pts.count);
    a.index(G.ld);
    a.index(G.n);
    a.memref(rtBuf.ptr, rtBuf.count);
    a.memref(partials.ptr, partials.count);
    launch(G.lossGrad, G.grid, kLossGradBlock, a, module.lossShared);
    LaunchArgs s;
    s.memref(partials.ptr, partials.count);
    s.index(G.grid);
    s.memref(lossBuf.ptr + t * elem, 1);
    s.memref(grads.ptr + t * np * elem, np);
    launch(sumPartials, static_cast<unsigned>((np + kSumBlock) / kSumBlock),
           kSumBlock, s);
  }
}

void CudaTrainer::beginEvaluation(const std::vector<Batch> &batches,
                                  const std::vector<double> &termWeights,
                                  const std::vector<double> &rt) {
  current();
  releaseGraph(); // the step graph's buffers may move below
  if (batches.size() != terms.size() || termWeights.size() != terms.size())
    throw Error("device evaluation: expected one batch and one weight per "
                "term");
  std::vector<double> rtv = rt;
  rtv.push_back(0); // never empty
  upload(rtBuf, rtv, false);
  if (params.elem != elem || params.count < np) {
    free(params);
    params = alloc(np, elem);
  }
  setUpTerms(&batches, termWeights);
  capture([&] { enqueueLosses(0); }, evalGraph, evalExec);
}

double CudaTrainer::evaluate(const std::vector<double> &x,
                             std::vector<double> *grad,
                             std::vector<double> &termLosses) {
  if (!evalExec)
    throw Error("device evaluation: evaluate() before beginEvaluation()");
  current();
  upload(params, x, false);
  d.check(d.cuGraphLaunch(evalExec, stream), "cuGraphLaunch");
  d.check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
  double total = losses(termLosses);
  if (grad) {
    // Summed on the host in term order, in f64, as the Evaluator does.
    std::vector<double> perTerm = download(grads, false);
    grad->assign(np, 0.0);
    for (size_t t = 0; t < terms.size(); ++t) {
      double s = weights[t] / static_cast<double>(terms[t].n);
      const double *g = perTerm.data() + t * np;
      for (int64_t k = 0; k < np; ++k)
        (*grad)[k] += s * g[k];
    }
  }
  return total;
}

void CudaTrainer::beginLbfgs(const std::vector<double> &x,
                             const std::vector<double> &xEval,
                             const LbfgsHistory &H, const LbfgsOptions &o,
                             const std::vector<Batch> &batches,
                             const std::vector<double> &termWeights,
                             const std::vector<double> &rt) {
  using namespace lbfgs;
  if (lbfgs.empty())
    throw Error("the GPU code of model '" + model + "' lacks " + model +
                "_lbfgs_*");
  current();
  releaseGraph();
  int64_t hm = o.history;
  if (static_cast<int64_t>(x.size()) != np ||
      static_cast<int64_t>(xEval.size()) != np)
    throw Error("device L-BFGS: the parameters of model '" + model +
                "' must have " + std::to_string(np) + " entries");
  if (hm < 1 || static_cast<int64_t>(H.count) > hm)
    throw Error("device L-BFGS: the history holds " + std::to_string(H.count) +
                " pairs, more than the " + std::to_string(hm) + " allowed");
  if (batches.size() != terms.size() || termWeights.size() != terms.size())
    throw Error("device L-BFGS: expected one batch and one weight per term");
  std::vector<double> rtv = rt;
  rtv.push_back(0); // never empty
  upload(rtBuf, rtv, false);
  upload(params, xEval, false);
  setUpTerms(&batches, termWeights);

  std::vector<double> st(kSlots, 0.0);
  st[kPhase] = Start;
  st[kMaxIterations] = static_cast<double>(o.maxIterations);
  st[kGradTol] = o.gradTolerance;
  st[kC1] = o.c1;
  st[kC2] = o.c2;
  st[kMaxEvals] = o.maxLineSearchEvals;
  st[kCurvEps] = o.curvatureEps;
  // The pairs in logical order into slots 0, 1, ... (head 0).
  std::vector<std::vector<double>> S, Y;
  std::vector<double> rho;
  H.pairs(S, Y, rho);
  std::vector<double> hist(2 * hm * np, 0.0);
  for (size_t k = 0; k < S.size(); ++k) {
    if (static_cast<int64_t>(S[k].size()) != np ||
        static_cast<int64_t>(Y[k].size()) != np)
      throw Error("device L-BFGS: the saved history is not of size " +
                  std::to_string(np));
    std::copy(S[k].begin(), S[k].end(), hist.begin() + k * np);
    std::copy(Y[k].begin(), Y[k].end(), hist.begin() + (hm + k) * np);
  }
  // Resumed pairs: their products first (phase Setup), as they came out
  // when each was accepted.
  st[kCount] = static_cast<double>(S.size());
  if (!S.empty())
    st[kPhase] = Setup;
  std::vector<double> vecs(kVectors * np, 0.0);
  std::copy(x.begin(), x.end(), vecs.begin() + kX * np);
  std::copy(x.begin(), x.end(), vecs.begin() + kXt * np);
  upload(lbState, st, true);
  upload(lbVectors, vecs, true);
  upload(lbHistory, hist, true);
  upload(lbTerms, std::vector<double>(2 * terms.size(), 0.0), true);
  upload(lbSmall, std::vector<double>(smallSize(hm), 0.0), true);
  // About eight entries per thread; the single-block kernels add up each
  // partial sum over the blocks.
  int64_t blocks = std::clamp<int64_t>(
      (np + 8 * kLbfgsBlock - 1) / (8 * kLbfgsBlock), 1, 8 * multiprocessors);
  upload(lbPartials, std::vector<double>(dotCount(hm) * blocks, 0.0), true);
  lbHistoryCap = hm;

  launchesPerStep = 0;
  capture(
      [&] {
        enqueueLosses(0);
        LaunchArgs a;
        memrefs(a, {&lbState, &scale});
        a.index(static_cast<int64_t>(terms.size()));
        memrefs(a, {&lossBuf, &grads, &lbTerms, &lbVectors, &lbHistory,
                    &lbSmall, &lbPartials, &params});
        a.index(hm);
        a.index(blocks);
        // grad (grid), search (one thread), dots (grid), total (a thread
        // per partial sum), update (one block), trial (grid).
        const unsigned grid = static_cast<unsigned>(blocks);
        const unsigned block = static_cast<unsigned>(kLbfgsBlock);
        const unsigned rows = static_cast<unsigned>(
            (dotCount(hm) + kLbfgsBlock - 1) / kLbfgsBlock);
        launch(lbfgs[0], grid, block, a);
        launch(lbfgs[1], 1, 1, a);
        launch(lbfgs[2], grid, block, a);
        launch(lbfgs[3], rows, block, a);
        launch(lbfgs[4], 1, block, a);
        launch(lbfgs[5], grid, block, a);
      },
      lbGraph, lbExec);
}

DeviceTrainer::LbfgsStatus CudaTrainer::runLbfgs(int64_t iterations) {
  using namespace lbfgs;
  if (!lbExec)
    throw Error("device L-BFGS: runLbfgs() before beginLbfgs()");
  current();
  double st[kSlots];
  auto readState = [&] {
    d.check(d.cuMemcpyDtoH(st, lbState.ptr, sizeof st), "cuMemcpyDtoH");
  };
  readState();
  // Every iteration takes at least one evaluation (the start one more, and
  // a resumed pair's products one each), so this many launches cannot
  // overshoot `iterations`.
  for (;;) {
    int64_t done = static_cast<int64_t>(st[kIterations]);
    if (st[kPhase] == Done || done >= iterations)
      break;
    int64_t launches = iterations - done;
    if (st[kPhase] == Start)
      launches += 1;
    else if (st[kPhase] == Setup)
      launches += 1 + static_cast<int64_t>(st[kCount] - st[kSetupPair]);
    for (int64_t i = 0; i < launches; ++i)
      d.check(d.cuGraphLaunch(lbExec, stream), "cuGraphLaunch");
    d.check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
    readState();
  }
  LbfgsStatus R;
  R.iterations = static_cast<int64_t>(st[kIterations]);
  R.done = st[kPhase] == Done;
  switch (static_cast<int64_t>(st[kStop])) {
  case GradientTolerance:
    R.stop = StopReason::GradientTolerance;
    break;
  case LineSearchFailed:
  case Diverged:
    R.stop = StopReason::LineSearchFailed;
    break;
  default:
    R.stop = StopReason::MaxIterations;
  }
  R.diverged = static_cast<int64_t>(st[kDiverged]);
  R.f = st[kF];
  R.evaluations = static_cast<int64_t>(st[kEvaluations]);
  return R;
}

void CudaTrainer::readLbfgs(std::vector<double> &x, std::vector<double> &out,
                            LbfgsHistory *H) {
  using namespace lbfgs;
  current();
  std::vector<double> vecs = download(lbVectors, true);
  x.assign(vecs.begin() + kX * np, vecs.begin() + (kX + 1) * np);
  std::vector<double> tl = download(lbTerms, true);
  out.assign(terms.size(), 0.0);
  for (size_t t = 0; t < terms.size(); ++t)
    out[t] = tl[t] / static_cast<double>(terms[t].n);
  if (!H)
    return;
  int64_t hm = lbHistoryCap;
  std::vector<double> st = download(lbState, true);
  std::vector<double> hist = download(lbHistory, true);
  std::vector<double> small = download(lbSmall, true);
  int64_t count = static_cast<int64_t>(st[kCount]);
  int64_t head = static_cast<int64_t>(st[kHead]);
  std::vector<std::vector<double>> S, Y;
  std::vector<double> rho;
  for (int64_t k = 0; k < count; ++k) {
    int64_t j = (head + k) % hm;
    S.emplace_back(hist.begin() + j * np, hist.begin() + (j + 1) * np);
    Y.emplace_back(hist.begin() + (hm + j) * np,
                   hist.begin() + (hm + j + 1) * np);
    rho.push_back(1.0 / small[j * hm + j]); // 1 / s_j'y_j
  }
  H->assign(std::move(S), std::move(Y), std::move(rho));
  H->stopping =
      st[kPhase] == Done && static_cast<int64_t>(st[kStop]) == LineSearchFailed;
}

int64_t CudaTrainer::run(int64_t steps) {
  if (!exec)
    throw Error("device training: run() before begin()");
  current();
  int64_t before[3], after[3];
  d.check(d.cuMemcpyDtoH(before, counters.ptr, sizeof before), "cuMemcpyDtoH");
  for (int64_t i = 0; i < steps; ++i)
    d.check(d.cuGraphLaunch(exec, stream), "cuGraphLaunch");
  d.check(d.cuStreamSynchronize(stream), "cuStreamSynchronize");
  d.check(d.cuMemcpyDtoH(after, counters.ptr, sizeof after), "cuMemcpyDtoH");
  return after[1] - before[1];
}

int64_t CudaTrainer::divergedAt() {
  current();
  int64_t c[3];
  d.check(d.cuMemcpyDtoH(c, counters.ptr, sizeof c), "cuMemcpyDtoH");
  return c[2];
}

double CudaTrainer::losses(std::vector<double> &out) {
  current();
  std::vector<double> sums = download(lossBuf, false);
  out.assign(terms.size(), 0.0);
  double total = 0;
  for (size_t t = 0; t < terms.size(); ++t) {
    out[t] = sums[t] / static_cast<double>(terms[t].n);
    total += weights[t] * out[t];
  }
  return total;
}

void CudaTrainer::read(std::vector<double> &p, AdamState &state) {
  current();
  p = download(master, true);
  p.resize(np);
  state.m = download(m, true);
  state.m.resize(np);
  state.v = download(v, true);
  state.v.resize(np);
  int64_t c[3];
  d.check(d.cuMemcpyDtoH(c, counters.ptr, sizeof c), "cuMemcpyDtoH");
  state.t = c[0];
  state.b1t = std::pow(beta1, static_cast<double>(c[0]));
  state.b2t = std::pow(beta2, static_cast<double>(c[0]));
}

std::string CudaTrainer::describe() const {
  return "one CUDA graph of " + std::to_string(launchesPerStep) +
         " kernel launches per " + (lbExec ? "evaluation" : "step");
}

} // namespace

bool cuda::hasTrainKernels(const Driver &d, CUmodule mod,
                           const std::string &model) {
  CUfunction f = nullptr;
  return d.hasGraphs() &&
         d.cuModuleGetFunction(&f, mod, (model + "_adam").c_str()) == 0;
}

std::shared_ptr<DeviceTrainer>
cuda::makeDeviceTrainer(const CompiledModel &M,
                        const std::vector<KernelRef> &refs, bool f64,
                        const LoadedModule &module) {
  return std::make_shared<CudaTrainer>(M, refs, f64, module);
}
