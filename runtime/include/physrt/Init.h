//===- Init.h - Deterministic parameter initialisation ----------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Fills the flat parameter vector block
// by block from each ParamBlock's `init`, with the runtime's own RNG so the
// same seed gives the same parameters on any machine.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_INIT_H
#define PHYSRT_INIT_H

#include "physrt/Model.h"

#include <cstdint>
#include <vector>

namespace physrt {

/// Returns `M.numParams` initial parameters. Per block:
///  - bias blocks (`isBias`) and `zeros`: 0;
///  - `glorot`: Glorot (Xavier) *normal*, std sqrt(2 / (fanIn + fanOut)) --
///    the normal variant is the one PINN codes (TF/DeepXDE "Glorot normal")
///    use for tanh networks;
///  - `glorot_uniform`: uniform in +-sqrt(6 / (fanIn + fanOut));
///  - `he`: He normal, std sqrt(2 / fanIn), for relu-like activations;
///  - `siren_first` / `siren`: SIREN, U(-1/fanIn, 1/fanIn) for the first
///    layer and U(-sqrt(6/fanIn)/w0, sqrt(6/fanIn)/w0) for the others;
///  - `constant`: every entry `initValue` (trainable scalar params).
/// Each block draws from its own stream (seed, block index), so adding a
/// block does not change the values of the others. Entries covered by no
/// block are 0. Throws Error for an unknown init or a block outside
/// [0, numParams).
std::vector<double> initParams(const CompiledModel &M, uint64_t seed);

} // namespace physrt

#endif // PHYSRT_INIT_H
