//===- DumpBatch.cpp - physc dump-batch: a CPU reference for other backends
//===//
//
// Part of physc. Compiles a model for the CPU in f64, initialises its
// parameters, samples one batch per term (the first term at --points), and
// writes the inputs and the CPU's per-term loss and gradient to a directory,
// so a backend that cannot run here (bench/gpu/harness.cu) can be checked
// against it elsewhere:
//
//   params.bin        numParams f64 (little endian, raw)
//   rt.bin            the runtime params (f64; may be empty)
//   term<t>_pts.bin   columns x ld f64, SoA: column c of point i at c*ld+i;
//                     the columns are the coordinates, and for a `data`
//                     term the observed values after them (its batch is
//                     its data, the same at every step)
//   term<t>_grad.bin  numParams f64: d(loss_t)/d(params)
//   meta.json, meta.txt  the same facts as JSON and as key=value lines
//
// loss_t is the unweighted sum over the batch of the squared residual.
// Everything is written to a temporary sibling directory first and renamed
// into place, so DIR is either complete or untouched.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "JITModel.h"

#include "physrt/Init.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"
#include "physrt/Train.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace physc;
namespace cl = llvm::cl;

cl::SubCommand physc::dumpBatchCmd(
    "dump-batch", "Write params, sampled points and the CPU (f64) loss and "
                  "gradient of every term, as a reference for other backends");
static cl::opt<std::string> dumpInput(cl::Positional, cl::desc("<file.phys>"),
                                      cl::sub(dumpBatchCmd));
static cl::opt<int64_t>
    dumpPoints("points",
               cl::desc("Points of the first term (default: "
                        "its `samples`; the others always "
                        "use their `samples`)"),
               cl::init(0), cl::sub(dumpBatchCmd));
static cl::opt<uint64_t> dumpSeed("seed",
                                  cl::desc("Seed of the parameters and points"),
                                  cl::init(0), cl::sub(dumpBatchCmd));
static cl::opt<std::string> dumpOut("o", cl::desc("Output directory"),
                                    cl::value_desc("dir"),
                                    cl::sub(dumpBatchCmd));

namespace {

bool writeDoubles(const std::string &path, const std::vector<double> &v,
                  std::string &err) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    err = "cannot write " + path + ": " + ec.message();
    return false;
  }
  static_assert(sizeof(double) == 8, "f64");
  // The hosts this runs on are little endian; the format says so.
  os.write(reinterpret_cast<const char *>(v.data()), v.size() * 8);
  os.close();
  if (os.has_error()) {
    err = "cannot write " + path + ": " + os.error().message();
    os.clear_error();
    return false;
  }
  return true;
}

bool writeText(const std::string &path, const std::string &text,
               std::string &err) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    err = "cannot write " + path + ": " + ec.message();
    return false;
  }
  os << text;
  os.close();
  if (os.has_error()) {
    err = "cannot write " + path + ": " + os.error().message();
    os.clear_error();
    return false;
  }
  return true;
}

std::string fmt17(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string cName(const std::string &s) {
  std::string r = s;
  for (char &ch : r)
    if (!isalnum((unsigned char)ch))
      ch = '_';
  return r;
}

} // namespace

int physc::runDumpBatch() {
  if (dumpInput.empty())
    return usageError("dump-batch", "expected a file: 'physc dump-batch FILE "
                                    "--points N --seed S -o DIR'");
  if (dumpOut.empty())
    return usageError("dump-batch", "expected an output directory: -o DIR");
  if (dumpPoints < 0)
    return usageError("dump-batch", "--points must be positive");
  auto jit = JITModel::compileFile(dumpInput, "f64", llvm::errs());
  if (!jit)
    return 1;
  physrt::CompiledModel &M = jit->model();

  // A temporary sibling of DIR, renamed into place at the end.
  llvm::SmallString<256> target(dumpOut.getValue());
  llvm::sys::path::remove_dots(target, true);
  llvm::SmallString<256> parent = llvm::sys::path::parent_path(target);
  if (parent.empty())
    parent = ".";
  if (std::error_code ec = llvm::sys::fs::create_directories(parent)) {
    llvm::errs() << "physc dump-batch: error: cannot create " << parent << ": "
                 << ec.message() << "\n";
    return 1;
  }
  llvm::SmallString<256> tmp;
  {
    llvm::SmallString<256> model(parent);
    llvm::sys::path::append(model, llvm::sys::path::filename(target) + ".tmp");
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(model, tmp)) {
      llvm::errs() << "physc dump-batch: error: cannot create a temporary "
                      "directory next to "
                   << target << ": " << ec.message() << "\n";
      return 1;
    }
  }
  auto fail = [&](const std::string &msg) {
    llvm::errs() << "physc dump-batch: error: " << msg << "\n";
    llvm::sys::fs::remove_directories(tmp);
    return 1;
  };
  auto in = [&](const std::string &name) {
    llvm::SmallString<256> p(tmp);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };

  std::string err;
  std::string modelC = cName(M.name);
  std::string metaTxt;
  llvm::json::Array termsJson;
  try {
    std::vector<double> params = physrt::initParams(M, dumpSeed);
    std::vector<double> rt = physrt::runtimeValues(M, {});
    physrt::Rng rng(dumpSeed + 1);
    if (!writeDoubles(in("params.bin"), params, err) ||
        !writeDoubles(in("rt.bin"), rt, err))
      return fail(err);
    std::string coordList;
    llvm::json::Array coordsJson;
    for (auto &c : M.coords) {
      coordList += (coordList.empty() ? "" : ",") + c.name;
      coordsJson.push_back(c.name);
    }
    metaTxt += "model=" + M.name + "\n";
    metaTxt += "num_params=" + std::to_string(M.numParams) + "\n";
    metaTxt += "num_coords=" + std::to_string(M.coords.size()) + "\n";
    metaTxt += "coords=" + coordList + "\n";
    metaTxt += "num_runtime_params=" + std::to_string(rt.size()) + "\n";
    metaTxt += "seed=" + std::to_string(dumpSeed) + "\n";
    metaTxt += "num_terms=" + std::to_string(M.terms.size()) + "\n";
    for (size_t t = 0; t < M.terms.size(); ++t) {
      physrt::Term &T = M.terms[t];
      int64_t n = t == 0 && dumpPoints > 0 ? dumpPoints.getValue() : T.samples;
      int columns = static_cast<int>(M.coords.size());
      physrt::Batch B;
      if (T.dataCount > 0) {
        columns = T.dataColumns;
        B = physrt::makeBatch(T.data.data(), T.dataCount, T.dataCount,
                              columns);
      } else {
        B = physrt::sample(M, T.region, n, rng);
      }
      double loss = 0;
      std::vector<double> grad(M.numParams, 0.0);
      T.lossGrad(params.data(), B.pts.data(), B.ld, B.n, rt.data(), &loss,
                 grad.data());
      std::string ts = "term" + std::to_string(t);
      std::string pf = ts + "_pts.bin", gf = ts + "_grad.bin";
      if (!writeDoubles(in(pf), B.pts, err) || !writeDoubles(in(gf), grad, err))
        return fail(err);
      std::string kernel = modelC + "_" + cName(T.name) + "_loss_grad";
      metaTxt += ts + ".name=" + T.name + "\n";
      metaTxt += ts + ".n=" + std::to_string(B.n) + "\n";
      metaTxt += ts + ".ld=" + std::to_string(B.ld) + "\n";
      metaTxt += ts + ".columns=" + std::to_string(columns) + "\n";
      metaTxt += ts + ".kernel=" + kernel + "\n";
      metaTxt += ts + ".weight=" + fmt17(T.weight) + "\n";
      metaTxt += ts + ".loss=" + fmt17(loss) + "\n";
      metaTxt += ts + ".pts=" + pf + "\n";
      metaTxt += ts + ".grad=" + gf + "\n";
      termsJson.push_back(llvm::json::Object{{"name", T.name},
                                             {"n", B.n},
                                             {"ld", B.ld},
                                             {"columns", columns},
                                             {"kernel", kernel},
                                             {"weight", T.weight},
                                             {"loss", loss},
                                             {"pts", pf},
                                             {"grad", gf}});
    }
    llvm::json::Object meta{{"model", M.name},
                            {"num_params", M.numParams},
                            {"coords", std::move(coordsJson)},
                            {"num_runtime_params", (int64_t)rt.size()},
                            {"seed", (int64_t)dumpSeed.getValue()},
                            {"precision", "f64"},
                            {"params", "params.bin"},
                            {"rt", "rt.bin"},
                            {"terms", std::move(termsJson)}};
    std::string json;
    llvm::raw_string_ostream js(json);
    js << llvm::formatv("{0:2}", llvm::json::Value(std::move(meta))) << "\n";
    if (!writeText(in("meta.json"), json, err) ||
        !writeText(in("meta.txt"), metaTxt, err))
      return fail(err);
  } catch (const std::exception &e) {
    return fail(e.what());
  }

  if (llvm::sys::fs::exists(target)) {
    if (std::error_code ec = llvm::sys::fs::remove_directories(target))
      return fail("cannot replace " + std::string(target) + ": " +
                  ec.message());
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, target))
    return fail("cannot rename " + std::string(tmp) + " to " +
                std::string(target) + ": " + ec.message());
  return 0;
}
