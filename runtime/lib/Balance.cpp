//===- Balance.cpp - Balancing the loss terms -----------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Balance.h"
#include "physrt/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

using namespace physrt;

std::vector<int> physrt::annealedTerms(const CompiledModel &M) {
  std::vector<int> out;
  const std::vector<int> &res = M.weighting.residual;
  for (size_t t = 0; t < M.terms.size(); ++t)
    if (M.terms[t].weight > 0 &&
        std::find(res.begin(), res.end(), static_cast<int>(t)) == res.end())
      out.push_back(static_cast<int>(t));
  return out;
}

std::vector<double>
physrt::annealWeights(const CompiledModel &M,
                      const std::vector<std::vector<double>> &termGrads,
                      std::vector<double> &weights) {
  size_t nt = M.terms.size();
  if (termGrads.size() != nt || weights.size() != nt)
    throw Error("annealing: expected one gradient and one weight per term");
  size_t np = static_cast<size_t>(M.numParams);
  // Gradient of the (weighted) residual loss L_r, summed in term order.
  std::vector<double> gr(np, 0.0);
  for (int r : M.weighting.residual) {
    if (r < 0 || static_cast<size_t>(r) >= nt)
      throw Error("annealing: residual term index out of range");
    for (size_t j = 0; j < np; ++j)
      gr[j] += weights[r] * termGrads[r][j];
  }
  double maxR = 0;
  for (double g : gr)
    maxR = std::max(maxR, std::abs(g));
  double alpha = M.weighting.alpha;
  std::vector<double> hat(nt, std::numeric_limits<double>::quiet_NaN());
  for (int i : annealedTerms(M)) {
    double sum = 0;
    for (double g : termGrads[i])
      sum += std::abs(g);
    double mean = np ? sum / static_cast<double>(np) : 0.0;
    if (!(mean > 0) || !std::isfinite(mean) || !std::isfinite(maxR))
      continue;
    hat[i] = maxR / (weights[i] * mean);
    weights[i] = (1.0 - alpha) * weights[i] + alpha * hat[i];
  }
  return hat;
}

std::vector<std::vector<int>> physrt::multiAdamGroups(const CompiledModel &M,
                                                      const Stage &S) {
  if (!S.groups.empty())
    return S.groups;
  std::vector<std::vector<int>> out;
  for (size_t t = 0; t < M.terms.size(); ++t)
    if (M.terms[t].weight > 0)
      out.push_back({static_cast<int>(t)});
  if (out.empty())
    throw Error("multiadam: no loss term has a weight > 0");
  return out;
}

void physrt::groupGradients(const std::vector<std::vector<int>> &groups,
                            const std::vector<double> &weights,
                            const std::vector<std::vector<double>> &termGrads,
                            std::vector<std::vector<double>> &out) {
  out.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<double> &o = out[g];
    o.assign(termGrads.empty() ? 0 : termGrads[0].size(), 0.0);
    for (int t : groups[g]) {
      if (t < 0 || static_cast<size_t>(t) >= termGrads.size() ||
          static_cast<size_t>(t) >= weights.size())
        throw Error("multiadam: group term index out of range");
      double wt = weights[t];
      const std::vector<double> &tg = termGrads[t];
      for (size_t j = 0; j < o.size(); ++j)
        o[j] += wt * tg[j];
    }
  }
}

TermWeights::TermWeights(const CompiledModel &M)
    : anneal(M.weighting.scheme == "annealing") {
  if (M.weighting.scheme != "fixed" && M.weighting.scheme != "annealing")
    throw Error("unknown weighting '" + M.weighting.scheme +
                "' (known: fixed, annealing)");
  if (anneal && M.weighting.every < 1)
    throw Error("annealing: 'every' must be at least 1");
  for (const Term &T : M.terms)
    w.push_back(T.weight);
}

void TermWeights::restore(const std::vector<double> &saved) {
  if (saved.size() != w.size())
    throw Error("saved loss weights are " + std::to_string(saved.size()) +
                ", expected " + std::to_string(w.size()));
  w = saved;
}

double TermWeights::eval(Evaluator &ev, const CompiledModel &M,
                         const std::vector<double> &params,
                         const std::vector<Batch> &batches,
                         const std::vector<double> &rt,
                         std::vector<double> *grad,
                         std::vector<double> *termLosses) {
  if (!anneal)
    return ev.lossAndGrad(M, params, batches, rt, grad, termLosses);
  EvalExtras x;
  x.weights = &w;
  return ev.lossAndGrad(M, params, batches, rt, grad, termLosses, x);
}

double TermWeights::adamStep(Evaluator &ev, const CompiledModel &M,
                             int64_t step, const std::vector<double> &params,
                             const std::vector<Batch> &batches,
                             const std::vector<double> &rt,
                             std::vector<double> &grad,
                             std::vector<double> &termLosses) {
  if (!anneal || step % M.weighting.every != 0)
    return eval(ev, M, params, batches, rt, &grad, &termLosses);
  EvalExtras x;
  x.weights = &w;
  x.termGrads = &termGrads;
  double f = ev.lossAndGrad(M, params, batches, rt, nullptr, &termLosses, x);
  if (!std::isfinite(f))
    return f; // the caller reports it; the weights stay as they were
  annealWeights(M, termGrads, w);
  // The loss and gradient with the new weights, from the same terms (the
  // loss summed like the Evaluator does).
  size_t np = static_cast<size_t>(M.numParams);
  grad.assign(np, 0.0);
  f = 0;
  for (size_t t = 0; t < M.terms.size(); ++t) {
    f += w[t] * termLosses[t];
    for (size_t j = 0; j < np; ++j)
      grad[j] += w[t] * termGrads[t][j];
  }
  return f;
}

double TermWeights::groups(Evaluator &ev, const CompiledModel &M,
                           const std::vector<std::vector<int>> &groups,
                           const std::vector<double> &params,
                           const std::vector<Batch> &batches,
                           const std::vector<double> &rt,
                           std::vector<double> &grad,
                           std::vector<double> &termLosses,
                           std::vector<std::vector<double>> &groupGrads) {
  EvalExtras x;
  x.weights = &w;
  x.termGrads = &termGrads;
  double f = ev.lossAndGrad(M, params, batches, rt, &grad, &termLosses, x);
  groupGradients(groups, w, termGrads, groupGrads);
  return f;
}
