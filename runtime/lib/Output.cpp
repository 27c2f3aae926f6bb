//===- Output.cpp - Trained fields on a grid (fields.csv) -----------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Output.h"
#include "physrt/Error.h"
#include "physrt/File.h"
#include "physrt/Metrics.h"

#include <charconv>

using namespace physrt;

int64_t physrt::gridPointsPerCoord(int numCoords) {
  static const int64_t table[] = {1001, 101, 41, 21, 11, 7, 5, 4};
  if (numCoords >= 1 && numCoords <= 8)
    return table[numCoords - 1];
  return 3;
}

Batch physrt::tensorGrid(const CompiledModel &M, int64_t perCoord) {
  int d = static_cast<int>(M.coords.size());
  if (d == 0)
    throw Error("model '" + M.name + "' has no coordinates");
  if (perCoord < 1)
    throw Error("a grid needs at least one point per coordinate");
  int64_t n = 1;
  for (int c = 0; c < d; ++c)
    n *= perCoord;
  Batch B;
  B.n = n;
  B.ld = paddedLd(n);
  B.pts.assign(static_cast<size_t>(d) * B.ld, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    for (int c = d - 1; c >= 0; --c) {
      int64_t k = rest % perCoord;
      rest /= perCoord;
      const Coord &C = M.coords[c];
      double x = perCoord == 1 ? 0.5 * (C.lo + C.hi)
                               : C.lo + (C.hi - C.lo) * static_cast<double>(k) /
                                            static_cast<double>(perCoord - 1);
      if (k == perCoord - 1 && perCoord > 1)
        x = C.hi; // exact endpoint despite rounding
      B.pts[c * B.ld + i] = x;
    }
  }
  fillPadding(B, d);
  return B;
}

std::string physrt::formatDouble(double x) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string physrt::fieldsCSV(const CompiledModel &M,
                              const std::vector<double> &params,
                              const std::vector<double> &rt, ThreadPool &pool) {
  int d = static_cast<int>(M.coords.size());
  Batch G = tensorGrid(M, gridPointsPerCoord(d));
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
  for (const Coord &C : M.coords)
    names.push_back(C.name);
  for (const FieldOutput &F : M.fields) {
    if (!F.eval)
      throw Error("field '" + F.name + "' has no evaluation kernel");
    names.push_back(F.name);
    values.push_back(evaluatePoints(F.eval, params, G, rt, pool));
  }
  for (const Exact &E : M.exacts) {
    if (!E.eval || E.field < 0 || E.field >= static_cast<int>(M.fields.size()))
      continue;
    names.push_back("exact_" + M.fields[E.field].name);
    values.push_back(evaluatePoints(E.eval, params, G, rt, pool));
  }
  std::string out;
  for (size_t k = 0; k < names.size(); ++k)
    out += (k ? "," : "") + names[k];
  out += '\n';
  for (int64_t i = 0; i < G.n; ++i) {
    for (int c = 0; c < d; ++c) {
      if (c)
        out += ',';
      out += formatDouble(G.pts[c * G.ld + i]);
    }
    for (const std::vector<double> &v : values) {
      out += ',';
      out += formatDouble(v[i]);
    }
    out += '\n';
  }
  return out;
}

void physrt::writeFieldsCSV(const std::string &path, const CompiledModel &M,
                            const std::vector<double> &params,
                            const std::vector<double> &rt, ThreadPool &pool) {
  writeFileAtomic(path, fieldsCSV(M, params, rt, pool));
}
