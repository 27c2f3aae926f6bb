//===- Eval.cpp - physc eval: trained fields at given points --------------===//
//
// Part of physc. Loads a checkpoint written by `physc train --out DIR`,
// evaluates every field at the points of a CSV file (columns: the model's
// coordinates) or on a tensor grid of the box, and writes them as CSV or as
// a NumPy .npy array (float64, one row per point: coordinates, then fields).
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "JITModel.h"

#include "physrt/CSV.h"
#include "physrt/Checkpoint.h"
#include "physrt/File.h"
#include "physrt/Metrics.h"
#include "physrt/Output.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"
#include "physrt/Train.h"

#include "llvm/Support/Format.h"

#include <cstring>

using namespace physc;
namespace cl = llvm::cl;

cl::SubCommand physc::evalCmd(
    "eval", "Evaluate the fields of a trained model at points (CSV or NPY)");
static cl::opt<std::string> input(cl::Positional, cl::desc("<file.phys>"),
                                  cl::sub(evalCmd));
static cl::opt<std::string>
    checkpoint("checkpoint",
               cl::desc("checkpoint.bin written by physc train --out"),
               cl::sub(evalCmd));
static cl::opt<std::string>
    pointsFile("points", cl::desc("CSV of points (one column per coordinate)"),
               cl::sub(evalCmd));
static cl::opt<int64_t> grid("grid",
                             cl::desc("Points per coordinate of a tensor "
                                      "grid of the box (default: as "
                                      "fields.csv)"),
                             cl::init(0), cl::sub(evalCmd));
static cl::opt<std::string> output("o", cl::desc("Output file: .csv or .npy"),
                                   cl::sub(evalCmd));

namespace {

/// A version 1.0 .npy file: magic, header dict padded to 64 bytes, then
/// little-endian float64 data in C order.
std::string npy(const std::vector<double> &rowMajor, int64_t rows,
                int64_t cols) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  uint16_t len = header.size();
  out += char(len & 0xff);
  out += char(len >> 8);
  out += header;
  out.append(reinterpret_cast<const char *>(rowMajor.data()),
             rowMajor.size() * sizeof(double));
  return out;
}

} // namespace

int physc::runEval() {
  if (input.empty())
    return usageError("eval", "expected a file: 'physc eval FILE "
                              "--checkpoint DIR/checkpoint.bin -o OUT'");
  if (checkpoint.empty())
    return usageError("eval", "expected --checkpoint DIR/checkpoint.bin");
  llvm::StringRef out(output);
  bool asNpy = out.ends_with(".npy");
  if (!asNpy && !out.ends_with(".csv"))
    return usageError("eval", "-o must name a .csv or .npy file");
  if (!pointsFile.empty() && grid != 0)
    return usageError("eval", "give --points or --grid, not both");
  if (grid < 0 || grid == 1)
    return usageError("eval", "--grid needs at least 2 points per coordinate");
  auto jit = JITModel::compileFile(input, "f64", llvm::errs());
  if (!jit)
    return 1;
  physrt::CompiledModel &M = jit->model();
  int nc = M.coords.size();
  try {
    std::vector<double> params = physrt::loadCheckpointFor(checkpoint, M);
    std::vector<double> rt = physrt::runtimeValues(M, {});
    physrt::Batch B;
    if (!pointsFile.empty()) {
      auto cols = physrt::loadCSV(pointsFile, nc);
      int64_t n = cols[0].size();
      std::vector<double> soa;
      for (auto &c : cols)
        soa.insert(soa.end(), c.begin(), c.end());
      B = physrt::makeBatch(soa.data(), n, n, nc);
    } else {
      B = physrt::tensorGrid(M, grid ? grid : physrt::gridPointsPerCoord(nc));
    }
    physrt::ThreadPool pool;
    std::vector<std::vector<double>> values;
    for (const physrt::FieldOutput &f : M.fields)
      values.push_back(physrt::evaluatePoints(f.eval, params, B, rt, pool));
    int64_t cols = nc + M.fields.size();
    if (asNpy) {
      std::vector<double> rows(B.n * cols);
      for (int64_t i = 0; i < B.n; ++i) {
        for (int c = 0; c < nc; ++c)
          rows[i * cols + c] = B.pts[c * B.ld + i];
        for (size_t f = 0; f < values.size(); ++f)
          rows[i * cols + nc + f] = values[f][i];
      }
      physrt::writeFileAtomic(output, npy(rows, B.n, cols));
    } else {
      std::string csv;
      for (int c = 0; c < nc; ++c)
        csv += (c ? "," : "") + M.coords[c].name;
      for (const physrt::FieldOutput &f : M.fields)
        csv += "," + f.name;
      csv += "\n";
      for (int64_t i = 0; i < B.n; ++i) {
        for (int c = 0; c < nc; ++c)
          csv += (c ? "," : "") + physrt::formatDouble(B.pts[c * B.ld + i]);
        for (auto &v : values)
          csv += "," + physrt::formatDouble(v[i]);
        csv += "\n";
      }
      physrt::writeFileAtomic(output, csv);
    }
  } catch (const std::exception &e) {
    llvm::errs() << "physc eval: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
