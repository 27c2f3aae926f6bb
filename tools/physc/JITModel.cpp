//===- JITModel.cpp - A .phys model compiled for the CPU ------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "JITModel.h"

#include "physc/Dialect/Phys/PhysOps.h"
#include "physc/Frontend/MLIRGen.h"
#include "physrt/CSV.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace physc;

namespace {

template <typename T> using Desc = StridedMemRefType<T, 1>;
template <typename T> Desc<T> desc(T *p, int64_t n) {
  return Desc<T>{p, p, 0, {n}, {1}};
}
template <typename T>
using LossGradC = void (*)(Desc<T> *, Desc<T> *, int64_t, int64_t, Desc<T> *,
                           Desc<T> *, Desc<T> *);
template <typename T>
using EvalC = void (*)(Desc<T> *, Desc<T> *, int64_t, int64_t, Desc<T> *,
                       Desc<T> *);

int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/// Per-thread staging buffers for f32 kernels.
struct F32Buffers {
  std::vector<float> params, pts, rt, out, grad;
};
thread_local F32Buffers f32;

void toF32(std::vector<float> &dst, const double *src, int64_t n) {
  dst.resize(std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i)
    dst[i] = (float)src[i];
}

/// Copies `n` points (SoA, stride `ld`) into a float buffer with stride
/// `ld2`, padding the tail of each coordinate with its last point.
void pointsToF32(std::vector<float> &dst, const double *pts, int64_t ld,
                 int64_t n, int coords, int64_t ld2) {
  dst.resize(std::max<int64_t>(coords * ld2, 1));
  for (int c = 0; c < coords; ++c) {
    const double *src = pts + c * ld;
    float *d = dst.data() + c * ld2;
    for (int64_t i = 0; i < n; ++i)
      d[i] = (float)src[i];
    for (int64_t i = n; i < ld2; ++i)
      d[i] = n ? (float)src[n - 1] : 0.f;
  }
}

physrt::LossGradFn bindLossGrad(void *fn, bool f64, int coords,
                                int64_t numParams, int64_t numRt) {
  if (f64) {
    auto k = (LossGradC<double>)fn;
    return [=](const double *params, const double *pts, int64_t ld, int64_t n,
               const double *rt, double *loss, double *grad) {
      if (n <= 0)
        return;
      auto p = desc(const_cast<double *>(params), numParams);
      auto x = desc(const_cast<double *>(pts), coords * ld);
      auto r = desc(const_cast<double *>(rt), numRt);
      auto l = desc(loss, 1);
      auto g = desc(grad, numParams);
      k(&p, &x, ld, n, &r, &l, &g);
    };
  }
  auto k = (LossGradC<float>)fn;
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *loss, double *grad) {
    if (n <= 0)
      return;
    F32Buffers &b = f32;
    int64_t ld2 = roundUp(n, 64);
    toF32(b.params, params, numParams);
    toF32(b.rt, rt, numRt);
    pointsToF32(b.pts, pts, ld, n, coords, ld2);
    b.out.assign(1, 0.f);
    b.grad.assign(numParams, 0.f);
    auto p = desc(b.params.data(), numParams);
    auto x = desc(b.pts.data(), coords * ld2);
    auto r = desc(b.rt.data(), numRt);
    auto l = desc(b.out.data(), 1);
    auto g = desc(b.grad.data(), numParams);
    k(&p, &x, ld2, n, &r, &l, &g);
    *loss += b.out[0];
    for (int64_t i = 0; i < numParams; ++i)
      grad[i] += b.grad[i];
  };
}

physrt::EvalFn bindEval(void *fn, bool f64, int coords, int outputs,
                        int64_t numParams, int64_t numRt) {
  if (f64) {
    auto k = (EvalC<double>)fn;
    return [=](const double *params, const double *pts, int64_t ld, int64_t n,
               const double *rt, double *out) {
      if (n <= 0)
        return;
      auto p = desc(const_cast<double *>(params), numParams);
      auto x = desc(const_cast<double *>(pts), coords * ld);
      auto r = desc(const_cast<double *>(rt), numRt);
      auto o = desc(out, outputs * ld);
      k(&p, &x, ld, n, &r, &o);
    };
  }
  auto k = (EvalC<float>)fn;
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *out) {
    if (n <= 0)
      return;
    F32Buffers &b = f32;
    int64_t ld2 = roundUp(n, 64);
    toF32(b.params, params, numParams);
    toF32(b.rt, rt, numRt);
    pointsToF32(b.pts, pts, ld, n, coords, ld2);
    b.out.assign(outputs * ld2, 0.f);
    auto p = desc(b.params.data(), numParams);
    auto x = desc(b.pts.data(), coords * ld2);
    auto r = desc(b.rt.data(), numRt);
    auto o = desc(b.out.data(), outputs * ld2);
    k(&p, &x, ld2, n, &r, &o);
    for (int j = 0; j < outputs; ++j)
      for (int64_t i = 0; i < n; ++i)
        out[j * ld + i] = b.out[j * ld2 + i];
  };
}

physrt::Region regionOf(phys::EquationOp eq, phys::ModelOp model) {
  physrt::Region r;
  StringRef kind = eq.getRegionKind();
  r.kind = kind == "interior" || kind == "data"
               ? physrt::Region::Kind::Interior
           : kind == "boundary" ? physrt::Region::Kind::Boundary
                                : physrt::Region::Kind::Faces;
  for (Attribute a : eq.getFacesAttr() ? eq.getFacesAttr().getValue()
                                       : ArrayRef<Attribute>()) {
    auto pair = cast<ArrayAttr>(a);
    r.faces.push_back(
        {model.coordIndex(cast<FlatSymbolRefAttr>(pair[0]).getValue()),
         cast<FloatAttr>(pair[1]).getValueAsDouble()});
  }
  for (Attribute a : eq.getRestrictionsAttr()
                         ? eq.getRestrictionsAttr().getValue()
                         : ArrayRef<Attribute>()) {
    auto t = cast<ArrayAttr>(a);
    r.restrictions.push_back(
        {model.coordIndex(cast<FlatSymbolRefAttr>(t[0]).getValue()),
         cast<FloatAttr>(t[1]).getValueAsDouble(),
         cast<FloatAttr>(t[2]).getValueAsDouble()});
  }
  return r;
}

std::string kernelSymbol(phys::ModelOp model, StringRef kernel) {
  std::string name = (model.getSymName() + "_" + kernel).str();
  std::replace(name.begin(), name.end(), '.', '_');
  return "_mlir_ciface_" + name;
}

} // namespace

JITModel::~JITModel() = default;

/// Groups of loss terms by name (`[["pde"], ["ic", "bc"]]`) as indices
/// into M.terms.
static std::vector<std::vector<int>>
termIndices(const physrt::CompiledModel &M, ArrayAttr groups) {
  std::vector<std::vector<int>> out;
  for (Attribute g : groups) {
    std::vector<int> group;
    for (Attribute name : cast<ArrayAttr>(g)) {
      StringRef n = cast<StringAttr>(name).getValue();
      for (size_t t = 0; t < M.terms.size(); ++t)
        if (M.terms[t].name == n)
          group.push_back(static_cast<int>(t));
    }
    out.push_back(group);
  }
  return out;
}

std::unique_ptr<JITModel> JITModel::compile(const LoadedModel &loaded,
                                            const CodegenOptions &options,
                                            llvm::raw_ostream &errs) {
  static bool init = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)init;
  DialectRegistry registry;
  registerPhyscDialects(registry);
  MLIRContext ctx(registry);
  OwningOpRef<ModuleOp> module = mlirGen(ctx, loaded);
  if (!module || failed(lowerTo(*module, Stage::Adjoint, options)))
    return nullptr;

  std::unique_ptr<JITModel> jit(new JITModel());
  jit->opts = options;
  physrt::CompiledModel &M = jit->compiled;
  auto model = *module->getOps<phys::ModelOp>().begin();
  phys::ParamLayout layout(model);
  M.name = model.getSymName().str();
  for (phys::CoordOp c : model.getCoords())
    M.coords.push_back({c.getSymName().str(), c.getKind() == "time",
                        c.getLo().convertToDouble(),
                        c.getHi().convertToDouble()});
  int coords = M.coords.size();
  M.numParams = layout.size;
  Block &body = model.getBody().front();
  llvm::StringMap<int> rtIndexOf;
  for (phys::ParamOp p : body.getOps<phys::ParamOp>())
    rtIndexOf[p.getSymName()] = rtIndexOf.size();
  for (const auto &blk : layout.blocks) {
    physrt::ParamBlock pb;
    if (blk.isParam) {
      auto p = model.lookupSymbol<phys::ParamOp>(blk.net);
      pb.name = blk.net;
      pb.offset = blk.offset;
      pb.init = "constant";
      pb.initValue = p.getValue().convertToDouble();
      pb.runtimeParam = rtIndexOf.lookup(blk.net);
      if (p.getLo() && p.getHi()) {
        pb.bounded = true;
        pb.lo = p.getLo()->convertToDouble();
        pb.hi = p.getHi()->convertToDouble();
      }
      M.blocks.push_back(pb);
      continue;
    }
    auto net = model.lookupSymbol<phys::NetOp>(blk.net);
    pb.name = blk.net + "." + net.getLayerName(blk.layer) +
              (blk.isBias ? ".bias" : ".weight");
    pb.offset = blk.offset;
    pb.rows = blk.rows;
    pb.cols = blk.cols;
    pb.isBias = blk.isBias;
    pb.init = blk.isBias ? "zeros" : net.getInit().str();
    if (pb.init == "siren") // layers reading the input have their own range
      pb.init = blk.layer == 0 || blk.layer >= net.getNumStackLayers()
                    ? "siren_first"
                    : "siren";
    if (auto w0 = net.getW0())
      pb.w0 = w0->convertToDouble();
    pb.fanIn = net.getFanIn(blk.layer);
    pb.fanOut = net.getFanOut(blk.layer);
    M.blocks.push_back(pb);
  }
  for (phys::ParamOp p : body.getOps<phys::ParamOp>())
    M.runtimeParams.push_back(
        {p.getSymName().str(), p.getValue().convertToDouble()});
  int64_t numRt = M.runtimeParams.size();

  // Kernel names now; addresses after the JIT has run.
  struct Pending {
    std::string symbol;
    std::function<void(void *)> bind;
  };
  std::vector<Pending> pending;
  bool f64 = options.precision == "f64";
  int64_t numParams = M.numParams;
  for (phys::EquationOp eq : body.getOps<phys::EquationOp>()) {
    physrt::Term t;
    t.name = eq.getSymName().str();
    t.region = regionOf(eq, model);
    t.samples = eq.getSamples();
    t.weight = eq.getWeight().convertToDouble();
    int columns = coords;
    if (auto file = eq.getFile()) {
      // Observations: the coordinates, then one value per point.
      columns = coords + 1;
      try {
        std::vector<std::vector<double>> cols =
            physrt::loadCSV(file->str(), columns);
        t.dataCount = cols[0].size();
        t.dataColumns = columns;
        t.samples = t.dataCount;
        for (auto &c : cols)
          t.data.insert(t.data.end(), c.begin(), c.end());
      } catch (const std::exception &ex) {
        errs << ex.what() << "\n";
        return nullptr;
      }
    }
    size_t idx = M.terms.size();
    M.terms.push_back(std::move(t));
    pending.push_back({kernelSymbol(model, (eq.getSymName() + ".loss_grad").str()),
                       [&M, idx, f64, columns, numParams, numRt](void *fn) {
                         M.terms[idx].lossGrad =
                             bindLossGrad(fn, f64, columns, numParams, numRt);
                       }});
  }
  // Residual kernels (R3), bound to their terms.
  for (phys::KernelOp k : body.getOps<phys::KernelOp>()) {
    if (!k.getSymName().ends_with(".residual"))
      continue;
    size_t idx = 0;
    while (idx < M.terms.size() && M.terms[idx].name != *k.getSource())
      ++idx;
    if (idx == M.terms.size())
      continue;
    pending.push_back({kernelSymbol(model, k.getSymName()),
                       [&M, idx, f64, coords, numParams, numRt](void *fn) {
                         M.terms[idx].residual =
                             bindEval(fn, f64, coords, 1, numParams, numRt);
                       }});
  }
  llvm::StringMap<int> fieldIndex;
  for (phys::FieldOp f : body.getOps<phys::FieldOp>()) {
    size_t idx = M.fields.size();
    fieldIndex[f.getSymName()] = idx;
    M.fields.push_back({f.getSymName().str(), {}});
    pending.push_back({kernelSymbol(model, (f.getSymName() + ".eval").str()),
                       [&M, idx, f64, coords, numParams, numRt](void *fn) {
                         M.fields[idx].eval =
                             bindEval(fn, f64, coords, 1, numParams, numRt);
                       }});
  }
  for (phys::ExactOp e : body.getOps<phys::ExactOp>()) {
    int field = fieldIndex.lookup(e.getField());
    if (auto file = e.getFile()) {
      try {
        M.exacts.push_back(physrt::loadExactCSV(file->str(), coords, field));
      } catch (const std::exception &ex) {
        errs << ex.what() << "\n";
        return nullptr;
      }
      continue;
    }
    size_t idx = M.exacts.size();
    physrt::Exact ex;
    ex.field = field;
    M.exacts.push_back(ex);
    pending.push_back({kernelSymbol(model, (e.getSymName() + ".eval").str()),
                       [&M, idx, f64, coords, numParams, numRt](void *fn) {
                         M.exacts[idx].eval =
                             bindEval(fn, f64, coords, 1, numParams, numRt);
                       }});
  }
  for (phys::KernelOp k : body.getOps<phys::KernelOp>()) {
    if (k.getKind() != "jets")
      continue;
    Jets j;
    j.equation = k.getSource()->str();
    j.outputs = k.getBody().front().getTerminator()->getNumOperands();
    ArrayAttr checks = k.getChecksAttr();
    for (Attribute c : checks) {
      auto t = cast<ArrayAttr>(c);
      j.checks.push_back({(int)cast<IntegerAttr>(t[0]).getInt(),
                          (int)cast<IntegerAttr>(t[1]).getInt(),
                          (int)cast<IntegerAttr>(t[2]).getInt()});
    }
    size_t idx = jit->jetKernels.size();
    int outputs = j.outputs;
    jit->jetKernels.push_back(std::move(j));
    JITModel *self = jit.get();
    pending.push_back(
        {kernelSymbol(model, k.getSymName()),
         [self, idx, f64, coords, outputs, numParams, numRt](void *fn) {
           self->jetKernels[idx].eval =
               bindEval(fn, f64, coords, outputs, numParams, numRt);
         }});
  }
  auto train = *body.getOps<phys::TrainOp>().begin();
  M.sampler = train.getSampler().str();
  if (train.getResample())
    M.resample = train.getResample()->str();
  if (train.getResampleEvery())
    M.resampleEvery = *train.getResampleEvery();
  if (auto eps = train.getCausalEps()) {
    M.causalEps = eps->convertToDouble();
    M.causalChunks = train.getCausalChunks().value_or(32);
  }
  for (Attribute a : train.getStages()) {
    auto d = cast<DictionaryAttr>(a);
    physrt::Stage s;
    s.optimizer = cast<StringAttr>(d.get("optimizer")).str();
    s.steps = cast<IntegerAttr>(d.get("steps")).getInt();
    auto num = [&](StringRef key, double &dst) {
      if (auto f = dyn_cast_or_null<FloatAttr>(d.get(key)))
        dst = f.getValueAsDouble();
    };
    num("lr", s.lr);
    num("beta1", s.beta1);
    num("beta2", s.beta2);
    num("eps", s.eps);
    num("tolerance", s.tolerance);
    double history = s.history;
    num("history", history);
    s.history = (int64_t)history;
    if (auto groups = dyn_cast_or_null<ArrayAttr>(d.get("groups")))
      s.groups = termIndices(M, groups);
    M.stages.push_back(s);
  }
  if (auto w = train->getAttrOfType<DictionaryAttr>("weighting")) {
    M.weighting.scheme = cast<StringAttr>(w.get("scheme")).str();
    M.weighting.every = cast<IntegerAttr>(w.get("every")).getInt();
    M.weighting.alpha = cast<FloatAttr>(w.get("alpha")).getValueAsDouble();
    for (auto &g : termIndices(
             M, ArrayAttr::get(w.getContext(), {w.get("residual")})))
      M.weighting.residual = g;
  }

  if (failed(lowerTo(*module, Stage::LLVM, options, Stage::Adjoint)))
    return nullptr;
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder) {
    errs << "error: cannot target this machine: "
         << llvm::toString(tmBuilder.takeError()) << "\n";
    return nullptr;
  }
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = tmBuilder->createTargetMachine();
  if (!tm) {
    errs << "error: " << llvm::toString(tm.takeError()) << "\n";
    return nullptr;
  }
  ExecutionEngineOptions eo;
  auto transformer = makeOptimizingTransformer(3, 0, tm->get());
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(*module, eo, std::move(*tm));
  if (!engine) {
    errs << "error: JIT compilation failed: "
         << llvm::toString(engine.takeError()) << "\n";
    return nullptr;
  }
  jit->engine = std::move(*engine);
  for (Pending &p : pending) {
    auto fn = jit->engine->lookup(p.symbol);
    if (!fn) {
      errs << "error: kernel " << p.symbol
           << " not found: " << llvm::toString(fn.takeError()) << "\n";
      return nullptr;
    }
    p.bind(*fn);
  }
  return jit;
}

std::unique_ptr<JITModel> JITModel::compileFile(const std::string &path,
                                                const std::string &precision,
                                                llvm::raw_ostream &errs) {
  std::optional<LoadedModel> loaded = loadModel(path, errs);
  if (!loaded)
    return nullptr;
  CodegenOptions cg;
  cg.precision = precision;
  return compile(*loaded, cg, errs);
}
