//===- Evaluator.cpp - Loss and gradient over all terms -------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Evaluator.h"
#include "physrt/Error.h"

#include <algorithm>
#include <string>

using namespace physrt;

Evaluator::Evaluator(int threads) : pool(threads) {}

double Evaluator::lossAndGrad(const CompiledModel &M,
                              const std::vector<double> &params,
                              const std::vector<Batch> &batches,
                              const std::vector<double> &rt,
                              std::vector<double> *grad,
                              std::vector<double> *termLosses) {
  return lossAndGrad(M, params, batches, rt, grad, termLosses, EvalExtras());
}

double Evaluator::lossAndGrad(const CompiledModel &M,
                              const std::vector<double> &params,
                              const std::vector<Batch> &batches,
                              const std::vector<double> &rt,
                              std::vector<double> *grad,
                              std::vector<double> *termLosses,
                              const EvalExtras &extras) {
  size_t nt = M.terms.size();
  if (extras.weights && extras.weights->size() != nt)
    throw Error("model '" + M.name + "' has " + std::to_string(nt) +
                " terms but " + std::to_string(extras.weights->size()) +
                " weights were given");
  auto weightOf = [&](size_t t) {
    return extras.weights ? (*extras.weights)[t] : M.terms[t].weight;
  };
  if (batches.size() != nt)
    throw Error("model '" + M.name + "' has " + std::to_string(nt) +
                " terms but " + std::to_string(batches.size()) +
                " batches were given");
  if (static_cast<int64_t>(params.size()) != M.numParams)
    throw Error("model '" + M.name + "' has " + std::to_string(M.numParams) +
                " parameters but the parameter vector has " +
                std::to_string(params.size()));
  if (extras.onlyTerm >= static_cast<int>(nt))
    throw Error("model '" + M.name + "' has no term " +
                std::to_string(extras.onlyTerm));
  auto skipped = [&](size_t t) {
    return extras.onlyTerm >= 0 && t != static_cast<size_t>(extras.onlyTerm);
  };
  chunks.clear();
  for (size_t t = 0; t < nt; ++t) {
    if (skipped(t))
      continue;
    const Term &T = M.terms[t];
    const Batch &B = batches[t];
    if (!T.lossGrad)
      throw Error("term '" + T.name + "' has no kernel");
    if (B.n <= 0)
      throw Error("term '" + T.name + "' has no points");
    if (B.ld < B.n || B.ld % kTile != 0 ||
        static_cast<int64_t>(B.pts.size()) <
            static_cast<int64_t>(M.coords.size()) * B.ld)
      throw Error("term '" + T.name + "': malformed batch (n = " +
                  std::to_string(B.n) + ", ld = " + std::to_string(B.ld) +
                  ", " + std::to_string(B.pts.size()) + " values)");
    int64_t chunk = M.chunkPoints > 0 ? M.chunkPoints : kChunk;
    for (int64_t s = 0; s < B.n; s += chunk)
      chunks.push_back({static_cast<int>(t), s, std::min(chunk, B.n - s)});
  }

  size_t np = static_cast<size_t>(M.numParams);
  int64_t nc = static_cast<int64_t>(chunks.size());
  int64_t wave = std::min<int64_t>(kWave, nc);
  partialLoss.assign(wave, 0.0);
  partialGrad.resize(static_cast<size_t>(wave) * np);
  termSum.assign(nt, 0.0);
  if (grad)
    grad->assign(np, 0.0);
  std::vector<std::vector<double>> *TG = extras.termGrads;
  if (TG) {
    TG->resize(nt);
    for (std::vector<double> &g : *TG)
      g.assign(np, 0.0);
  }

  const double *p = params.data();
  const double *r = rt.data();
  for (int64_t w0 = 0; w0 < nc; w0 += wave) {
    int64_t wn = std::min(wave, nc - w0);
    pool.parallelFor(wn, [&](int64_t k) {
      const Chunk &C = chunks[w0 + k];
      const Batch &B = batches[C.term];
      double *g = partialGrad.data() + static_cast<size_t>(k) * np;
      std::fill(g, g + np, 0.0);
      partialLoss[k] = 0.0;
      // Coordinate c of the chunk's point j is B.pts[c * ld + start + j]:
      // offset the base pointer by start, keep ld.
      M.terms[C.term].lossGrad(p, B.pts.data() + C.start, B.ld, C.n, r,
                               &partialLoss[k], g);
    });
    // Fold in chunk order. The gradient fold is split over parameter
    // ranges; each entry still sums its chunks in chunk order.
    for (int64_t k = 0; k < wn; ++k)
      termSum[chunks[w0 + k].term] += partialLoss[k];
    if (grad && !TG) {
      constexpr int64_t kSlice = 4096;
      int64_t slices = (static_cast<int64_t>(np) + kSlice - 1) / kSlice;
      double *G = grad->data();
      pool.parallelFor(slices, [&](int64_t s) {
        size_t lo = static_cast<size_t>(s * kSlice);
        size_t hi = std::min(np, lo + kSlice);
        for (int64_t k = 0; k < wn; ++k) {
          int t = chunks[w0 + k].term;
          double scale = weightOf(t) / static_cast<double>(batches[t].n);
          const double *g = partialGrad.data() + static_cast<size_t>(k) * np;
          for (size_t j = lo; j < hi; ++j)
            G[j] += scale * g[j];
        }
      });
    } else if (TG) {
      // The same fold, also summing each term's unweighted gradient.
      constexpr int64_t kSlice = 4096;
      int64_t slices = (static_cast<int64_t>(np) + kSlice - 1) / kSlice;
      double *G = grad ? grad->data() : nullptr;
      pool.parallelFor(slices, [&](int64_t s) {
        size_t lo = static_cast<size_t>(s * kSlice);
        size_t hi = std::min(np, lo + kSlice);
        for (int64_t k = 0; k < wn; ++k) {
          int t = chunks[w0 + k].term;
          double inv = 1.0 / static_cast<double>(batches[t].n);
          double scale = weightOf(t) / static_cast<double>(batches[t].n);
          const double *g = partialGrad.data() + static_cast<size_t>(k) * np;
          double *T = (*TG)[t].data();
          for (size_t j = lo; j < hi; ++j)
            T[j] += inv * g[j];
          if (G)
            for (size_t j = lo; j < hi; ++j)
              G[j] += scale * g[j];
        }
      });
    }
  }

  double total = 0;
  if (termLosses)
    termLosses->assign(nt, 0.0);
  for (size_t t = 0; t < nt; ++t) {
    if (skipped(t))
      continue;
    double mean = termSum[t] / static_cast<double>(batches[t].n);
    if (termLosses)
      (*termLosses)[t] = mean;
    total += weightOf(t) * mean;
  }
  return total;
}

double physrt::lossAndGrad(const CompiledModel &M,
                           const std::vector<double> &params,
                           const std::vector<Batch> &batches,
                           const std::vector<double> &rt,
                           std::vector<double> *grad,
                           std::vector<double> *termLosses) {
  static Evaluator shared;
  return shared.lossAndGrad(M, params, batches, rt, grad, termLosses);
}
