//===- Rng.cpp - Portable deterministic random numbers --------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Rng.h"

#include <cmath>

using namespace physrt;

uint64_t physrt::splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t physrt::streamSeed(uint64_t seed,
                            std::initializer_list<uint64_t> indices) {
  uint64_t state = seed;
  uint64_t h = splitmix64(state);
  for (uint64_t i : indices) {
    // Mixing each index through splitmix64 with the running hash as state
    // makes (seed, a, b) and (seed, b, a) unrelated streams.
    state = h ^ (i * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    h = splitmix64(state);
  }
  return h;
}

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t &w : s)
    w = splitmix64(state);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (hasSpare) {
    hasSpare = false;
    return spare;
  }
  // u1 in (0, 1] so log(u1) is finite.
  double u1 = 1.0 - uniform();
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare = r * std::sin(theta);
  hasSpare = true;
  return r * std::cos(theta);
}
