//===- Embed.cpp - The C API of libraries built by physc build ------------===//
//
// Part of physc's runtime (libphysc_embed). Parses the model description a
// spec carries, binds its kernels by symbol, and serves the C API on top of
// libphysrt. Every entry point catches what the runtime throws: no C++
// exception crosses the C boundary.
//
//===----------------------------------------------------------------------===//

#include "physc_embed.h"

#include "physrt/Checkpoint.h"
#include "physrt/CrossCheck.h"
#include "physrt/CudaDriver.h"
#include "physrt/CudaKernels.h"
#include "physrt/Error.h"
#include "physrt/Evaluator.h"
#include "physrt/Init.h"
#include "physrt/Metrics.h"
#include "physrt/ModelJSON.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

using namespace physrt;

struct physc_model {
  CompiledModel M;
  std::string precision;
  uint64_t seed = 0;
  std::vector<double> params;
  std::vector<std::pair<std::string, double>> set; ///< like --set
  int threads = 0;                                 ///< <= 0: all cores
  std::unique_ptr<Evaluator> lazyEvaluator;        ///< made on first use

  std::vector<double> rt() const { return runtimeValues(M, set); }
  Evaluator &evaluator() {
    if (!lazyEvaluator)
      lazyEvaluator = std::make_unique<Evaluator>(threads);
    return *lazyEvaluator;
  }
  ThreadPool &pool() { return evaluator().threadPool(); }
};

namespace {

thread_local std::string lastError;

/// Runs `f`, turning any exception into -1 and physc_last_error's text.
template <typename F> int guard(F &&f) {
  try {
    f();
    return 0;
  } catch (const std::exception &e) {
    lastError = e.what();
  } catch (...) {
    lastError = "unknown error";
  }
  return -1;
}

void require(bool ok, const std::string &why) {
  if (!ok)
    throw Error(why);
}

void checkModel(const physc_model *m) { require(m, "the model is NULL"); }

/// Row-major points (n x columns) as a padded SoA batch.
Batch toBatch(const double *points, int64_t n, int columns) {
  require(points || n == 0, "the points are NULL");
  require(n >= 0, "the number of points is negative");
  std::vector<double> soa(static_cast<size_t>(n) * columns);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < columns; ++c)
      soa[c * n + i] = points[i * columns + c];
  return makeBatch(soa.data(), n, n, columns);
}

} // namespace

extern "C" {

const char *physc_last_error(void) { return lastError.c_str(); }

physc_model *physc_model_create(const physc_spec *spec, const char *device,
                                uint64_t seed) {
  std::unique_ptr<physc_model> m;
  int status = guard([&] {
    require(spec, "the spec is NULL");
    require(spec->version == PHYSC_EMBED_VERSION,
            "the spec was built for version " + std::to_string(spec->version) +
                " of the embedding API, this runtime is version " +
                std::to_string(PHYSC_EMBED_VERSION));
    std::string dev = device ? device : "auto";
    require(dev == "cpu" || dev == "auto" || dev == "cuda",
            "unknown device '" + dev + "' (expected cpu, cuda or auto)");
    require(dev != "cuda" || spec->ptx,
            "device 'cuda': this library holds CPU code only (build it with "
            "`physc build --target cpu,cuda`)");
    ModelDescription D = readModelJSON(spec->description);
    std::unordered_map<std::string, void *> symbols;
    for (int64_t k = 0; k < spec->num_kernels; ++k)
      symbols[spec->kernels[k].symbol] = spec->kernels[k].fn;
    bindKernels(D.model, D.kernels, D.precision == "f64",
                [&](const std::string &s) -> void * {
                  auto it = symbols.find(s);
                  return it == symbols.end() ? nullptr : it->second;
                });
    bool f64 = D.precision == "f64";
    std::vector<cuda::Cubin> cubins;
    for (int64_t c = 0; c < spec->num_cubins; ++c)
      cubins.push_back({spec->cubins[c].chip, spec->cubins[c].image,
                        static_cast<size_t>(spec->cubins[c].size)});
    if (dev == "cuda")
      cuda::bindCudaKernels(D.model, D.kernels, f64, spec->ptx, 0, cubins);
    if (dev == "auto" && spec->ptx && cuda::available()) {
      // The GPU when its loss and gradient agree with the CPU's on a first
      // batch (as `physc train --device auto`); else the CPU, quietly.
      CompiledModel cpu = D.model;
      try {
        cuda::bindCudaKernels(D.model, D.kernels, f64, spec->ptx, 0, cubins);
        std::vector<double> rt;
        for (const RuntimeParam &P : cpu.runtimeParams)
          rt.push_back(P.value);
        if (!crossCheck(cpu, D.model, rt, seed, f64 ? 1e-9 : 1e-4).agree)
          D.model = cpu;
      } catch (const Error &) {
        D.model = cpu;
      }
    }
    m = std::make_unique<physc_model>();
    m->M = std::move(D.model);
    m->precision = D.precision;
    m->seed = seed;
    m->params = initParams(m->M, seed);
    std::vector<double> rt = m->rt();
    for (const ParamBlock &B : m->M.blocks)
      if (B.runtimeParam >= 0)
        m->params[B.offset] = rt[B.runtimeParam];
  });
  return status == 0 ? m.release() : nullptr;
}

void physc_model_destroy(physc_model *m) { delete m; }

const char *physc_model_name(const physc_model *m) {
  return m ? m->M.name.c_str() : nullptr;
}
const char *physc_model_device(const physc_model *m) {
  return m ? m->M.device.c_str() : nullptr;
}
int64_t physc_model_num_params(const physc_model *m) {
  return m ? m->M.numParams : -1;
}
int physc_model_num_coords(const physc_model *m) {
  return m ? static_cast<int>(m->M.coords.size()) : -1;
}
int physc_model_num_terms(const physc_model *m) {
  return m ? static_cast<int>(m->M.terms.size()) : -1;
}
int physc_model_num_fields(const physc_model *m) {
  return m ? static_cast<int>(m->M.fields.size()) : -1;
}

const char *physc_model_coord_name(const physc_model *m, int i) {
  return m && i >= 0 && i < (int)m->M.coords.size()
             ? m->M.coords[i].name.c_str()
             : nullptr;
}
const char *physc_model_term_name(const physc_model *m, int i) {
  return m && i >= 0 && i < (int)m->M.terms.size() ? m->M.terms[i].name.c_str()
                                                   : nullptr;
}
const char *physc_model_field_name(const physc_model *m, int i) {
  return m && i >= 0 && i < (int)m->M.fields.size()
             ? m->M.fields[i].name.c_str()
             : nullptr;
}
int physc_model_term_index(const physc_model *m, const char *name) {
  if (m && name)
    for (size_t i = 0; i < m->M.terms.size(); ++i)
      if (m->M.terms[i].name == name)
        return static_cast<int>(i);
  return -1;
}
int physc_model_field_index(const physc_model *m, const char *name) {
  if (m && name)
    for (size_t i = 0; i < m->M.fields.size(); ++i)
      if (m->M.fields[i].name == name)
        return static_cast<int>(i);
  return -1;
}
int physc_model_term_columns(const physc_model *m, int term) {
  if (!m || term < 0 || term >= (int)m->M.terms.size())
    return -1;
  const Term &t = m->M.terms[term];
  return t.dataColumns ? t.dataColumns : static_cast<int>(m->M.coords.size());
}

int physc_model_get_params(const physc_model *m, double *params) {
  return guard([&] {
    checkModel(m);
    require(params, "the parameter buffer is NULL");
    std::copy(m->params.begin(), m->params.end(), params);
  });
}

int physc_model_set_params(physc_model *m, const double *params) {
  return guard([&] {
    checkModel(m);
    require(params, "the parameter buffer is NULL");
    for (int64_t i = 0; i < m->M.numParams; ++i)
      require(std::isfinite(params[i]),
              "parameter " + std::to_string(i) + " is not finite");
    m->params.assign(params, params + m->M.numParams);
  });
}

int physc_model_set_value(physc_model *m, const char *name, double value) {
  return guard([&] {
    checkModel(m);
    require(name, "the name is NULL");
    auto set = m->set;
    set.emplace_back(name, value);
    std::vector<double> rt = runtimeValues(m->M, set); // checks the name
    m->set = std::move(set);
    for (const ParamBlock &B : m->M.blocks)
      if (B.runtimeParam >= 0 &&
          m->M.runtimeParams[B.runtimeParam].name == name)
        m->params[B.offset] = rt[B.runtimeParam];
  });
}

int physc_model_save(const physc_model *m, const char *path) {
  return guard([&] {
    checkModel(m);
    require(path, "the path is NULL");
    Checkpoint C;
    C.model = m->M.name;
    C.params = m->params;
    C.state.seed = m->seed;
    C.state.precision = m->precision;
    C.state.fingerprint = trainFingerprint(m->M, m->rt());
    C.state.stage = static_cast<int64_t>(m->M.stages.size()); // finished
    saveCheckpoint(path, C);
  });
}

int physc_model_load(physc_model *m, const char *path) {
  return guard([&] {
    checkModel(m);
    require(path, "the path is NULL");
    m->params = loadCheckpointFor(path, m->M);
  });
}

int physc_model_set_threads(physc_model *m, int threads) {
  return guard([&] {
    checkModel(m);
    if (threads != m->threads)
      m->lazyEvaluator.reset();
    m->threads = threads;
  });
}

int physc_model_eval(const physc_model *cm, int field, const double *points,
                     int64_t n, double *out) {
  return guard([&] {
    checkModel(cm);
    auto *m = const_cast<physc_model *>(cm); // the pool is a cache
    require(field >= 0 && field < (int)m->M.fields.size(),
            "field index " + std::to_string(field) + " out of range");
    require(out || n == 0, "the output buffer is NULL");
    if (n == 0)
      return;
    Batch B = toBatch(points, n, m->M.coords.size());
    std::vector<double> v = evaluatePoints(m->M.fields[field].eval, m->params,
                                           B, m->rt(), m->pool());
    std::copy(v.begin(), v.end(), out);
  });
}

int physc_model_num_derivatives(const physc_model *m) {
  if (!m)
    return -1;
  int d = static_cast<int>(m->M.coords.size());
  return 1 + d + d * (d + 1) / 2;
}

int physc_model_eval_derivatives(const physc_model *cm, int field,
                                 const double *points, int64_t n, double *out) {
  return guard([&] {
    checkModel(cm);
    auto *m = const_cast<physc_model *>(cm);
    require(field >= 0 && field < (int)m->M.fields.size(),
            "field index " + std::to_string(field) + " out of range");
    const EvalFn &fn = m->M.fields[field].derivs;
    require(static_cast<bool>(fn),
            "field '" + m->M.fields[field].name +
                "' has no derivative kernel in this library");
    require(out || n == 0, "the output buffer is NULL");
    if (n == 0)
      return;
    int K = physc_model_num_derivatives(m);
    Batch B = toBatch(points, n, m->M.coords.size());
    std::vector<double> soa =
        evaluatePoints(fn, m->params, B, m->rt(), m->pool(), K);
    for (int64_t i = 0; i < n; ++i)
      for (int k = 0; k < K; ++k)
        out[i * K + k] = soa[k * n + i];
  });
}

int physc_model_term_loss(const physc_model *m, int term, const double *points,
                          int64_t n, double *loss, double *grad) {
  return guard([&] {
    checkModel(m);
    require(term >= 0 && term < (int)m->M.terms.size(),
            "term index " + std::to_string(term) + " out of range");
    require(loss, "the loss pointer is NULL");
    require(n > 0, "a loss needs at least one point");
    auto *mm = const_cast<physc_model *>(m);
    std::vector<Batch> batches(m->M.terms.size());
    batches[term] = toBatch(points, n, physc_model_term_columns(m, term));
    // The Evaluator `physc train` uses, on all cores: fixed chunks whose
    // partial sums are folded in chunk order, so the result depends on the
    // points alone, not on the thread count.
    EvalExtras only;
    only.onlyTerm = term;
    std::vector<double> weights(m->M.terms.size(), 0.0);
    weights[term] = 1.0;
    only.weights = &weights;
    std::vector<double> g;
    *loss = mm->evaluator().lossAndGrad(m->M, m->params, batches, m->rt(),
                                        grad ? &g : nullptr, nullptr, only);
    if (grad)
      std::copy(g.begin(), g.end(), grad);
  });
}

int physc_model_rel_l2(const physc_model *cm, int field, double *err) {
  return guard([&] {
    checkModel(cm);
    auto *m = const_cast<physc_model *>(cm);
    require(field >= 0 && field < (int)m->M.fields.size(),
            "field index " + std::to_string(field) + " out of range");
    require(err, "the output pointer is NULL");
    std::vector<double> e =
        relativeL2PerField(m->M, m->params, m->rt(), m->pool());
    require(!std::isnan(e[field]), "field '" + m->M.fields[field].name +
                                       "' has no exact solution in the spec");
    *err = e[field];
  });
}

void physc_train_options_init(physc_train_options *opts) {
  if (!opts)
    return;
  opts->max_steps = -1;
  opts->threads = 0;
  opts->quiet = 0;
  opts->out_dir = nullptr;
}

int physc_model_train(physc_model *m, const physc_train_options *opts,
                      physc_train_result *result) {
  return guard([&] {
    checkModel(m);
    physc_train_options o;
    physc_train_options_init(&o);
    if (opts)
      o = *opts;
    TrainOptions T;
    T.seed = m->seed;
    T.maxSteps = o.max_steps;
    T.threads = o.threads;
    T.quiet = o.quiet != 0;
    T.outDir = o.out_dir ? o.out_dir : "";
    T.precision = m->precision;
    T.device = m->M.device == "cpu" ? "cpu" : "cuda";
    T.setParams = m->set;
    T.initialParams = m->params;
    T.tty = 0;
    std::ostringstream sink;
    TrainResult R = train(m->M, T, T.quiet ? sink : std::cerr);
    m->params = R.params;
    if (result) {
      result->steps = R.steps;
      result->seconds = R.seconds;
      result->total_loss = R.totalLoss;
      result->device_steps = R.deviceSteps;
    }
  });
}

} // extern "C"
