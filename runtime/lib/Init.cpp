//===- Init.cpp - Deterministic parameter initialisation ------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Init.h"
#include "physrt/Error.h"
#include "physrt/Rng.h"

#include <cmath>
#include <string>

using namespace physrt;

/// Stream purpose tag for parameter init (see Rng.h streamSeed).
static constexpr uint64_t kInitStream = 0x494e4954; // "INIT"

std::vector<double> physrt::initParams(const CompiledModel &M, uint64_t seed) {
  if (M.numParams < 0)
    throw Error("model '" + M.name + "' has a negative parameter count");
  std::vector<double> p(static_cast<size_t>(M.numParams), 0.0);
  for (size_t b = 0; b < M.blocks.size(); ++b) {
    const ParamBlock &B = M.blocks[b];
    int64_t size = B.rows * B.cols;
    if (B.offset < 0 || B.rows < 0 || B.cols < 0 ||
        B.offset + size > M.numParams)
      throw Error("parameter block '" + B.name + "' (offset " +
                  std::to_string(B.offset) + ", " + std::to_string(B.rows) +
                  " x " + std::to_string(B.cols) +
                  ") lies outside the parameter vector of size " +
                  std::to_string(M.numParams));
    double *out = p.data() + B.offset;
    if (B.isBias || B.init == "zeros")
      continue; // already 0
    if (B.init == "constant") {
      for (int64_t i = 0; i < size; ++i)
        out[i] = B.initValue;
      continue;
    }
    if (B.fanIn <= 0 || B.fanOut <= 0)
      throw Error("parameter block '" + B.name +
                  "' has a non-positive fan-in or fan-out");
    Rng rng(streamSeed(seed, {kInitStream, b}));
    double fanIn = static_cast<double>(B.fanIn);
    double fanOut = static_cast<double>(B.fanOut);
    if (B.init == "glorot") {
      double sd = std::sqrt(2.0 / (fanIn + fanOut));
      for (int64_t i = 0; i < size; ++i)
        out[i] = sd * rng.normal();
    } else if (B.init == "glorot_uniform") {
      double a = std::sqrt(6.0 / (fanIn + fanOut));
      for (int64_t i = 0; i < size; ++i)
        out[i] = rng.uniform(-a, a);
    } else if (B.init == "he") {
      double sd = std::sqrt(2.0 / fanIn);
      for (int64_t i = 0; i < size; ++i)
        out[i] = sd * rng.normal();
    } else if (B.init == "siren_first" || B.init == "siren") {
      // SIREN (Sitzmann et al. 2020): the first layer U(-1/n, 1/n), later
      // ones U(-sqrt(6/n)/w0, sqrt(6/n)/w0), so that w0 W x has unit-scale
      // arguments in every sine.
      if (!(B.w0 > 0))
        throw Error("parameter block '" + B.name + "' has w0 " +
                    std::to_string(B.w0) + "; siren init needs w0 > 0");
      double a = B.init == "siren_first" ? 1.0 / fanIn
                                         : std::sqrt(6.0 / fanIn) / B.w0;
      for (int64_t i = 0; i < size; ++i)
        out[i] = rng.uniform(-a, a);
    } else {
      throw Error("parameter block '" + B.name + "' has unknown init '" +
                  B.init +
                  "' (known: glorot, glorot_uniform, he, siren_first, siren, "
                  "zeros, constant)");
    }
  }
  return p;
}
