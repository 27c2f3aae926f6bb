//===- Resample.cpp - R3 resampling of collocation points -----------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Resample.h"
#include "physrt/Error.h"
#include "physrt/Metrics.h"

#include <cmath>

using namespace physrt;

ResampleKind physrt::parseResampleKind(const std::string &name) {
  if (name.empty() || name == "fresh")
    return ResampleKind::Fresh;
  if (name == "none")
    return ResampleKind::None;
  if (name == "r3")
    return ResampleKind::R3;
  throw Error("unknown resampling '" + name + "' (known: fresh, none, r3)");
}

void physrt::resampleR3(const CompiledModel &M, std::vector<Batch> &pop,
                        const std::vector<Batch> &fresh,
                        const std::vector<double> &params,
                        const std::vector<double> &rt, ThreadPool &pool,
                        R3Stats *stats) {
  int columns = static_cast<int>(M.coords.size());
  for (size_t t = 0; t < M.terms.size() && t < pop.size(); ++t) {
    const Term &T = M.terms[t];
    Batch &B = pop[t];
    if (T.dataCount > 0 || !T.residual || B.n == 0)
      continue;
    if (t >= fresh.size() || fresh[t].n < B.n)
      throw Error("R3: too few fresh points for term '" + T.name + "'");
    std::vector<double> r = evaluatePoints(T.residual, params, B, rt, pool);
    double mean = 0;
    for (double v : r)
      mean += std::abs(v);
    mean /= static_cast<double>(B.n);
    // Retained points move to the front, in order; fresh ones fill the rest.
    int64_t kept = 0;
    for (int64_t i = 0; i < B.n; ++i) {
      if (!(std::abs(r[i]) > mean))
        continue;
      for (int c = 0; c < columns; ++c)
        B.pts[c * B.ld + kept] = B.pts[c * B.ld + i];
      ++kept;
    }
    const Batch &F = fresh[t];
    for (int64_t i = kept; i < B.n; ++i)
      for (int c = 0; c < columns; ++c)
        B.pts[c * B.ld + i] = F.pts[c * F.ld + (i - kept)];
    fillPadding(B, columns);
    if (stats) {
      stats->retained += kept;
      stats->released += B.n - kept;
    }
  }
}
