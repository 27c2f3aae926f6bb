//===- Describe.cpp - What the runtime must know of a lowered model -------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "Describe.h"

#include "physc/Dialect/Phys/PhysOps.h"
#include "physrt/CSV.h"

#include "llvm/ADT/StringMap.h"

#include <algorithm>

using namespace mlir;
using namespace physc;
using physrt::KernelRef;

namespace {

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

/// The C-interface symbol FuseKernels/PhysToCPU give kernel `kernel`.
std::string kernelSymbol(phys::ModelOp model, StringRef kernel) {
  std::string name = (model.getSymName() + "_" + kernel).str();
  std::replace(name.begin(), name.end(), '.', '_');
  return "_mlir_ciface_" + name;
}

/// Groups of loss terms by name (`[["pde"], ["ic", "bc"]]`) as indices
/// into M.terms.
std::vector<std::vector<int>> termIndices(const physrt::CompiledModel &M,
                                          ArrayAttr groups) {
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

void describeLayout(phys::ModelOp model, physrt::CompiledModel &M) {
  phys::ParamLayout layout(model);
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
}

void describeTraining(phys::TrainOp train, physrt::CompiledModel &M) {
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
}

} // namespace

std::optional<Description> physc::describeModel(ModuleOp module,
                                                const CodegenOptions &options,
                                                llvm::raw_ostream &errs) {
  Description out;
  out.desc.precision = options.precision;
  physrt::CompiledModel &M = out.desc.model;
  std::vector<KernelRef> &refs = out.desc.kernels;
  auto model = *module.getOps<phys::ModelOp>().begin();
  M.name = model.getSymName().str();
  for (phys::CoordOp c : model.getCoords())
    M.coords.push_back({c.getSymName().str(), c.getKind() == "time",
                        c.getLo().convertToDouble(),
                        c.getHi().convertToDouble(), c.getKind() == "input"});
  int coords = M.coords.size();
  describeLayout(model, M);
  Block &body = model.getBody().front();

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
        return std::nullopt;
      }
    }
    refs.push_back({KernelRef::Role::LossGrad, (int)M.terms.size(),
                    kernelSymbol(model, (eq.getSymName() + ".loss_grad").str()),
                    columns, 1});
    M.terms.push_back(std::move(t));
  }
  // Residual kernels (R3), bound to their terms.
  for (phys::KernelOp k : body.getOps<phys::KernelOp>()) {
    if (!k.getSymName().ends_with(".residual"))
      continue;
    auto it = std::find_if(M.terms.begin(), M.terms.end(),
                           [&](const physrt::Term &t) {
                             return t.name == *k.getSource();
                           });
    if (it == M.terms.end())
      continue;
    refs.push_back({KernelRef::Role::Residual, (int)(it - M.terms.begin()),
                    kernelSymbol(model, k.getSymName()), coords, 1});
  }
  llvm::StringMap<int> fieldIndex;
  for (phys::FieldOp f : body.getOps<phys::FieldOp>()) {
    int idx = M.fields.size();
    fieldIndex[f.getSymName()] = idx;
    M.fields.push_back({f.getSymName().str(), {}});
    refs.push_back({KernelRef::Role::Field, idx,
                    kernelSymbol(model, (f.getSymName() + ".eval").str()),
                    coords, 1});
    if (options.derivatives)
      refs.push_back({KernelRef::Role::Derivs, idx,
                      kernelSymbol(model, (f.getSymName() + ".derivs").str()),
                      coords, 1 + coords + coords * (coords + 1) / 2});
  }
  for (phys::ExactOp e : body.getOps<phys::ExactOp>()) {
    int field = fieldIndex.lookup(e.getField());
    if (auto file = e.getFile()) {
      try {
        M.exacts.push_back(physrt::loadExactCSV(file->str(), coords, field));
      } catch (const std::exception &ex) {
        errs << ex.what() << "\n";
        return std::nullopt;
      }
      continue;
    }
    physrt::Exact ex;
    ex.field = field;
    refs.push_back({KernelRef::Role::Exact, (int)M.exacts.size(),
                    kernelSymbol(model, (e.getSymName() + ".eval").str()),
                    coords, 1});
    M.exacts.push_back(ex);
  }
  for (phys::KernelOp k : body.getOps<phys::KernelOp>()) {
    if (k.getKind() != "jets")
      continue;
    JetsInfo j;
    j.equation = k.getSource()->str();
    j.outputs = k.getBody().front().getTerminator()->getNumOperands();
    for (Attribute c : k.getChecksAttr()) {
      auto t = cast<ArrayAttr>(c);
      j.checks.push_back({(int)cast<IntegerAttr>(t[0]).getInt(),
                          (int)cast<IntegerAttr>(t[1]).getInt(),
                          (int)cast<IntegerAttr>(t[2]).getInt()});
    }
    refs.push_back({KernelRef::Role::Jets, (int)out.jets.size(),
                    kernelSymbol(model, k.getSymName()), coords, j.outputs});
    out.jets.push_back(std::move(j));
  }
  describeTraining(*body.getOps<phys::TrainOp>().begin(), M);
  return out;
}
