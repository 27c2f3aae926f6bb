//===- ModelJSON.cpp - A compiled model's description as JSON -------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/ModelJSON.h"

#include "physrt/Error.h"
#include "physrt/KernelABI.h"

#include <nlohmann/json.hpp>

using namespace physrt;
using json = nlohmann::ordered_json;

namespace {

const char *const kRoles[] = {"loss_grad", "residual", "field", "exact",
                              "jets",      "derivs"};
const char *const kRegionKinds[] = {"interior", "boundary", "faces"};

/// The format's version: a library written by another physc refuses to load
/// rather than misreading its model.
constexpr int kVersion = 1;

json regionJSON(const Region &r) {
  json faces = json::array(), restrictions = json::array();
  for (const Region::Face &f : r.faces)
    faces.push_back({f.coord, f.value});
  for (const Region::Restriction &t : r.restrictions)
    restrictions.push_back({t.coord, t.lo, t.hi});
  return {{"kind", kRegionKinds[static_cast<int>(r.kind)]},
          {"faces", faces},
          {"restrictions", restrictions}};
}

template <typename T> T get(const json &j, const char *key) {
  auto it = j.find(key);
  if (it == j.end())
    throw Error(std::string("model description: missing '") + key + "'");
  return it->get<T>();
}

template <typename T> void opt(const json &j, const char *key, T &dst) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null())
    dst = it->get<T>();
}

int indexOf(const char *const *names, int count, const std::string &s,
            const char *what) {
  for (int i = 0; i < count; ++i)
    if (s == names[i])
      return i;
  throw Error(std::string("model description: unknown ") + what + " '" + s +
              "'");
}

} // namespace

std::string physrt::writeModelJSON(const ModelDescription &D) {
  const CompiledModel &M = D.model;
  json j;
  j["physc_model"] = kVersion;
  j["name"] = M.name;
  j["precision"] = D.precision;
  json coords = json::array();
  for (const Coord &c : M.coords)
    coords.push_back({{"name", c.name},
                      {"time", c.isTime},
                      {"input", c.isInput},
                      {"lo", c.lo},
                      {"hi", c.hi}});
  j["coords"] = coords;
  j["num_params"] = M.numParams;
  json blocks = json::array();
  for (const ParamBlock &b : M.blocks)
    blocks.push_back({{"name", b.name},
                      {"offset", b.offset},
                      {"rows", b.rows},
                      {"cols", b.cols},
                      {"bias", b.isBias},
                      {"init", b.init},
                      {"w0", b.w0},
                      {"fan_in", b.fanIn},
                      {"fan_out", b.fanOut},
                      {"init_value", b.initValue},
                      {"runtime_param", b.runtimeParam},
                      {"bounded", b.bounded},
                      {"lo", b.lo},
                      {"hi", b.hi}});
  j["blocks"] = blocks;
  json rt = json::array();
  for (const RuntimeParam &p : M.runtimeParams)
    rt.push_back({{"name", p.name}, {"value", p.value}});
  j["runtime_params"] = rt;
  json terms = json::array();
  for (const Term &t : M.terms)
    terms.push_back({{"name", t.name},
                     {"region", regionJSON(t.region)},
                     {"samples", t.samples},
                     {"weight", t.weight},
                     {"data_count", t.dataCount},
                     {"data_columns", t.dataColumns},
                     {"data", t.data}});
  j["terms"] = terms;
  json fields = json::array();
  for (const FieldOutput &f : M.fields)
    fields.push_back(f.name);
  j["fields"] = fields;
  json exacts = json::array();
  for (const Exact &e : M.exacts)
    exacts.push_back({{"field", e.field},
                      {"count", e.count},
                      {"points", e.points},
                      {"values", e.values}});
  j["exacts"] = exacts;
  json stages = json::array();
  for (const Stage &s : M.stages)
    stages.push_back({{"optimizer", s.optimizer},
                      {"steps", s.steps},
                      {"lr", s.lr},
                      {"beta1", s.beta1},
                      {"beta2", s.beta2},
                      {"eps", s.eps},
                      {"history", s.history},
                      {"tolerance", s.tolerance},
                      {"groups", s.groups}});
  j["stages"] = stages;
  j["sampler"] = M.sampler;
  j["resample"] = M.resample;
  j["resample_every"] = M.resampleEvery;
  j["causal_eps"] = M.causalEps;
  j["causal_chunks"] = M.causalChunks;
  j["weighting"] = {{"scheme", M.weighting.scheme},
                    {"every", M.weighting.every},
                    {"alpha", M.weighting.alpha},
                    {"residual", M.weighting.residual}};
  json kernels = json::array();
  for (const KernelRef &k : D.kernels)
    kernels.push_back({{"role", kRoles[static_cast<int>(k.role)]},
                       {"index", k.index},
                       {"symbol", k.symbol},
                       {"columns", k.columns},
                       {"outputs", k.outputs}});
  j["kernels"] = kernels;
  return j.dump();
}

ModelDescription physrt::readModelJSON(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception &e) {
    throw Error(std::string("model description: ") + e.what());
  }
  ModelDescription D;
  CompiledModel &M = D.model;
  try {
    int version = get<int>(j, "physc_model");
    if (version != kVersion)
      throw Error("model description: version " + std::to_string(version) +
                  " (this runtime reads version " + std::to_string(kVersion) +
                  "); rebuild the library with this physc");
    M.name = get<std::string>(j, "name");
    D.precision = get<std::string>(j, "precision");
    for (const json &c : get<json>(j, "coords"))
      M.coords.push_back({get<std::string>(c, "name"), get<bool>(c, "time"),
                          get<double>(c, "lo"), get<double>(c, "hi"),
                          c.contains("input") && get<bool>(c, "input")});
    M.numParams = get<int64_t>(j, "num_params");
    for (const json &b : get<json>(j, "blocks")) {
      ParamBlock p;
      p.name = get<std::string>(b, "name");
      p.offset = get<int64_t>(b, "offset");
      p.rows = get<int64_t>(b, "rows");
      p.cols = get<int64_t>(b, "cols");
      p.isBias = get<bool>(b, "bias");
      p.init = get<std::string>(b, "init");
      opt(b, "w0", p.w0);
      p.fanIn = get<int64_t>(b, "fan_in");
      p.fanOut = get<int64_t>(b, "fan_out");
      opt(b, "init_value", p.initValue);
      p.runtimeParam = get<int>(b, "runtime_param");
      p.bounded = get<bool>(b, "bounded");
      opt(b, "lo", p.lo);
      opt(b, "hi", p.hi);
      M.blocks.push_back(p);
    }
    for (const json &p : get<json>(j, "runtime_params"))
      M.runtimeParams.push_back(
          {get<std::string>(p, "name"), get<double>(p, "value")});
    for (const json &t : get<json>(j, "terms")) {
      Term term;
      term.name = get<std::string>(t, "name");
      const json &r = get<json>(t, "region");
      term.region.kind = static_cast<Region::Kind>(
          indexOf(kRegionKinds, 3, get<std::string>(r, "kind"), "region"));
      for (const json &f : get<json>(r, "faces"))
        term.region.faces.push_back({f.at(0).get<int>(), f.at(1).get<double>()});
      for (const json &s : get<json>(r, "restrictions"))
        term.region.restrictions.push_back(
            {s.at(0).get<int>(), s.at(1).get<double>(), s.at(2).get<double>()});
      term.samples = get<int64_t>(t, "samples");
      term.weight = get<double>(t, "weight");
      term.dataCount = get<int64_t>(t, "data_count");
      term.dataColumns = get<int>(t, "data_columns");
      term.data = get<std::vector<double>>(t, "data");
      if (static_cast<int64_t>(term.data.size()) !=
          term.dataCount * term.dataColumns)
        throw Error("model description: term '" + term.name +
                    "' has a data table of the wrong size");
      M.terms.push_back(std::move(term));
    }
    for (const json &f : get<json>(j, "fields"))
      M.fields.push_back({f.get<std::string>(), {}});
    for (const json &e : get<json>(j, "exacts")) {
      Exact ex;
      ex.field = get<int>(e, "field");
      ex.count = get<int64_t>(e, "count");
      ex.points = get<std::vector<double>>(e, "points");
      ex.values = get<std::vector<double>>(e, "values");
      M.exacts.push_back(std::move(ex));
    }
    for (const json &s : get<json>(j, "stages")) {
      Stage st;
      st.optimizer = get<std::string>(s, "optimizer");
      st.steps = get<int64_t>(s, "steps");
      st.lr = get<double>(s, "lr");
      st.beta1 = get<double>(s, "beta1");
      st.beta2 = get<double>(s, "beta2");
      st.eps = get<double>(s, "eps");
      st.history = get<int64_t>(s, "history");
      st.tolerance = get<double>(s, "tolerance");
      st.groups = get<std::vector<std::vector<int>>>(s, "groups");
      M.stages.push_back(std::move(st));
    }
    M.sampler = get<std::string>(j, "sampler");
    M.resample = get<std::string>(j, "resample");
    M.resampleEvery = get<int64_t>(j, "resample_every");
    M.causalEps = get<double>(j, "causal_eps");
    M.causalChunks = get<int64_t>(j, "causal_chunks");
    const json &w = get<json>(j, "weighting");
    M.weighting.scheme = get<std::string>(w, "scheme");
    M.weighting.every = get<int64_t>(w, "every");
    M.weighting.alpha = get<double>(w, "alpha");
    M.weighting.residual = get<std::vector<int>>(w, "residual");
    for (const json &k : get<json>(j, "kernels")) {
      KernelRef ref;
      ref.role = static_cast<KernelRef::Role>(
          indexOf(kRoles, 6, get<std::string>(k, "role"), "kernel role"));
      ref.index = get<int>(k, "index");
      ref.symbol = get<std::string>(k, "symbol");
      ref.columns = get<int>(k, "columns");
      ref.outputs = get<int>(k, "outputs");
      D.kernels.push_back(std::move(ref));
    }
  } catch (const json::exception &e) {
    throw Error(std::string("model description: ") + e.what());
  }
  return D;
}

EvalFn *physrt::evalSlot(CompiledModel &M, const KernelRef &k) {
  using Role = KernelRef::Role;
  size_t size = k.role == Role::Field || k.role == Role::Derivs ? M.fields.size()
                : k.role == Role::Exact ? M.exacts.size()
                                        : M.terms.size();
  if (k.index < 0 || static_cast<size_t>(k.index) >= size)
    throw Error("kernel " + k.symbol + " is bound to slot " +
                std::to_string(k.index) + ", which the model lacks");
  switch (k.role) {
  case Role::Residual:
    return &M.terms[k.index].residual;
  case Role::Field:
    return &M.fields[k.index].eval;
  case Role::Exact:
    return &M.exacts[k.index].eval;
  case Role::Derivs:
    return &M.fields[k.index].derivs;
  case Role::LossGrad:
  case Role::Jets:
    break;
  }
  return nullptr;
}

void physrt::bindKernels(
    CompiledModel &M, const std::vector<KernelRef> &refs, bool f64,
    const std::function<void *(const std::string &)> &lookup) {
  int64_t numParams = M.numParams;
  int64_t numRt = M.runtimeParams.size();
  for (const KernelRef &k : refs) {
    if (k.role == KernelRef::Role::Jets)
      continue;
    EvalFn *slot = evalSlot(M, k); // checks the index
    void *fn = lookup(k.symbol);
    if (!fn)
      throw Error("kernel " + k.symbol + " not found");
    if (slot)
      *slot = bindEval(fn, f64, k.columns, k.outputs, numParams, numRt);
    else
      M.terms[k.index].lossGrad =
          bindLossGrad(fn, f64, k.columns, numParams, numRt);
  }
}
