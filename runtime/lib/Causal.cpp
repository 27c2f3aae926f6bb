//===- Causal.cpp - Causal weighting of time-dependent residuals ----------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Causal.h"
#include "physrt/Error.h"
#include "physrt/Metrics.h"

#include <cmath>

using namespace physrt;

CausalPlan physrt::planCausal(const CompiledModel &M) {
  CausalPlan P;
  P.chunks = static_cast<int>(M.causalChunks);
  P.eps = M.causalEps;
  if (P.chunks < 1 || !(P.eps > 0))
    throw Error("causal weighting needs chunks >= 1 and eps > 0");
  int time = -1;
  for (size_t c = 0; c < M.coords.size() && time < 0; ++c)
    if (M.coords[c].isTime)
      time = static_cast<int>(c);
  if (time < 0)
    throw Error("causal weighting needs a 'time' coordinate in model '" +
                M.name + "'");
  P.expanded = M;
  P.expanded.terms.clear();
  for (size_t t = 0; t < M.terms.size(); ++t) {
    const Term &T = M.terms[t];
    bool causal = T.dataCount == 0 && T.residual &&
                  T.region.kind == Region::Kind::Interior;
    double lo = M.coords[time].lo, hi = M.coords[time].hi;
    for (const Region::Restriction &r : T.region.restrictions)
      if (r.coord == time) {
        lo = r.lo;
        hi = r.hi;
      }
    if (!causal) {
      P.expanded.terms.push_back(T);
      P.origin.push_back(static_cast<int>(t));
      P.chunk.push_back(-1);
      P.baseWeight.push_back(T.weight);
      continue;
    }
    int64_t per = (T.samples + P.chunks - 1) / P.chunks;
    for (int i = 0; i < P.chunks; ++i) {
      Term S = T;
      S.name = T.name + "[" + std::to_string(i) + "]";
      S.samples = per;
      S.region.restrictions.clear();
      for (const Region::Restriction &r : T.region.restrictions)
        if (r.coord != time)
          S.region.restrictions.push_back(r);
      S.region.restrictions.push_back(
          {time, lo + (hi - lo) * i / P.chunks,
           lo + (hi - lo) * (i + 1) / P.chunks});
      P.expanded.terms.push_back(S);
      P.origin.push_back(static_cast<int>(t));
      P.chunk.push_back(i);
      P.baseWeight.push_back(T.weight);
    }
  }
  bool any = false;
  for (int c : P.chunk)
    any |= c >= 0;
  if (!any)
    throw Error("causal weighting found no interior term to weight in model '" +
                M.name + "'");
  P.lastWeights.assign(P.chunks, 1.0);
  return P;
}

void physrt::updateCausalWeights(CausalPlan &P,
                                 const std::vector<double> &params,
                                 const std::vector<Batch> &batches,
                                 const std::vector<double> &rt,
                                 ThreadPool &pool) {
  // Chunk losses of each causal term, in time order, then the cumulative
  // weights. Several causal terms share the chunk weights (the sum of
  // their chunk losses), as in the paper's single residual.
  std::vector<double> chunkLoss(P.chunks, 0.0);
  for (size_t j = 0; j < P.expanded.terms.size(); ++j) {
    if (P.chunk[j] < 0 || batches[j].n == 0)
      continue;
    std::vector<double> r = evaluatePoints(P.expanded.terms[j].residual,
                                           params, batches[j], rt, pool);
    double s = 0;
    for (double v : r)
      s += v * v;
    chunkLoss[P.chunk[j]] += s / static_cast<double>(r.size());
  }
  double cum = 0;
  for (int i = 0; i < P.chunks; ++i) {
    P.lastWeights[i] = std::exp(-P.eps * cum);
    cum += chunkLoss[i];
  }
  for (size_t j = 0; j < P.expanded.terms.size(); ++j)
    P.expanded.terms[j].weight =
        P.chunk[j] < 0 ? P.baseWeight[j]
                       : P.baseWeight[j] * P.lastWeights[P.chunk[j]] / P.chunks;
}

std::vector<double> physrt::foldCausalLosses(const CausalPlan &P,
                                             const std::vector<Batch> &batches,
                                             const std::vector<double> &sub,
                                             size_t terms) {
  std::vector<double> sum(terms, 0.0), count(terms, 0.0);
  for (size_t j = 0; j < sub.size() && j < P.origin.size(); ++j) {
    double n = static_cast<double>(batches[j].n);
    sum[P.origin[j]] += sub[j] * n;
    count[P.origin[j]] += n;
  }
  for (size_t t = 0; t < terms; ++t)
    if (count[t] > 0)
      sum[t] /= count[t];
  return sum;
}
