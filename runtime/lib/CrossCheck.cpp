//===- CrossCheck.cpp - Two bindings of a model compared on one batch -----===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/CrossCheck.h"

#include "physrt/Init.h"
#include "physrt/Rng.h"
#include "physrt/Sampler.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>

using namespace physrt;

CrossCheckResult physrt::crossCheck(const CompiledModel &a,
                                    const CompiledModel &b,
                                    const std::vector<double> &rt,
                                    uint64_t seed, double tol,
                                    int64_t maxPoints) {
  CrossCheckResult R;
  std::vector<double> params = initParams(a, seed);
  for (const ParamBlock &B : a.blocks)
    if (B.runtimeParam >= 0 && B.runtimeParam < static_cast<int>(rt.size()))
      params[B.offset] = rt[B.runtimeParam];
  Rng rng(seed ^ 0x43524f5353ULL); // "CROSS"
  size_t np = params.size();
  for (size_t t = 0; t < a.terms.size() && t < b.terms.size(); ++t) {
    const Term &T = a.terms[t];
    Batch batch =
        T.dataCount > 0
            ? makeBatch(T.data.data(), T.dataCount,
                        std::min(T.dataCount, maxPoints), T.dataColumns)
            : sample(a, T.region, std::min(T.samples, maxPoints), rng);
    double la = 0, lb = 0;
    std::vector<double> ga(np, 0.0), gb(np, 0.0);
    try {
      T.lossGrad(params.data(), batch.pts.data(), batch.ld, batch.n, rt.data(),
                 &la, ga.data());
      b.terms[t].lossGrad(params.data(), batch.pts.data(), batch.ld, batch.n,
                          rt.data(), &lb, gb.data());
    } catch (const std::exception &e) {
      R.agree = false;
      R.why = "term '" + T.name + "' failed: " + e.what();
      return R;
    }
    double lossErr = std::fabs(la - lb) / std::max(std::fabs(la), 1e-300);
    double diff = 0, scale = 0;
    for (size_t k = 0; k < np; ++k) {
      diff = std::max(diff, std::fabs(ga[k] - gb[k]));
      scale = std::max(scale, std::fabs(ga[k]));
    }
    double gradErr = np ? diff / std::max(scale, 1e-300) : 0;
    // NaN compares false: a non-finite result never agrees.
    bool ok = lossErr <= tol && gradErr <= tol;
    R.worst = std::max({R.worst, lossErr, gradErr});
    if (!ok) {
      std::ostringstream os;
      os.precision(3);
      os << "term '" << T.name << "' differs: loss by " << lossErr
         << ", gradient by " << gradErr << " (relative; tolerance " << tol
         << ")";
      R.agree = false;
      R.why = os.str();
      R.worst = std::isnan(R.worst) ? INFINITY : R.worst;
      return R;
    }
  }
  return R;
}
