//===- Rng.h - Portable deterministic random numbers ------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). "Same seed => identical results" must
// hold on every machine, so the runtime never uses the <random>
// distributions (whose output is implementation-defined). It uses
// xoshiro256** seeded through splitmix64, 53-bit uniform doubles and the
// Box-Muller transform.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_RNG_H
#define PHYSRT_RNG_H

#include <cstdint>
#include <initializer_list>

namespace physrt {

/// One step of splitmix64: advances `state` and returns a well-mixed word.
/// Used to expand a 64-bit seed into xoshiro's 256-bit state and to derive
/// independent stream seeds.
uint64_t splitmix64(uint64_t &state);

/// Derives the seed of an independent stream from a base seed and a list of
/// indices (e.g. {purpose, step, term}), so streams for different steps and
/// terms never overlap in practice and need no shared generator state.
uint64_t streamSeed(uint64_t seed, std::initializer_list<uint64_t> indices);

/// xoshiro256** (Blackman & Vigna), with portable uniform and normal draws.
/// Normal draws depend only on IEEE arithmetic and the C library's `log` and
/// `cos`/`sin`, which are correctly rounded or identical across glibc builds
/// for the arguments in question on the platforms physc supports.
class Rng {
public:
  explicit Rng(uint64_t seed = 0);

  /// The next raw 64-bit output.
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal by Box-Muller; the second value of each pair is cached.
  double normal();

private:
  uint64_t s[4];
  double spare = 0;
  bool hasSpare = false;
};

} // namespace physrt

#endif // PHYSRT_RNG_H
