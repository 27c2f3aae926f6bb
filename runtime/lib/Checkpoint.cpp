//===- Checkpoint.cpp - Trained parameters on disk ------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Checkpoint.h"
#include "physrt/Error.h"
#include "physrt/File.h"

#include <algorithm>
#include <cstring>

using namespace physrt;

static constexpr char kMagic[8] = {'P', 'H', 'Y', 'S', 'C', 'K', 'P', 'T'};

uint64_t physrt::fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

static void putU64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

static void putU32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

static uint64_t getU(std::string_view b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i]))
         << (8 * i);
  return v;
}

std::string physrt::encodeCheckpoint(const Checkpoint &C) {
  std::string out(kMagic, sizeof kMagic);
  putU32(out, kCheckpointVersion);
  putU32(out, static_cast<uint32_t>(C.model.size()));
  out += C.model;
  putU64(out, C.params.size());
  for (double p : C.params) {
    uint64_t bits;
    std::memcpy(&bits, &p, sizeof bits);
    putU64(out, bits);
  }
  putU64(out, static_cast<uint64_t>(C.steps));
  putU64(out, fnv1a64(out));
  return out;
}

Checkpoint physrt::decodeCheckpoint(std::string_view b,
                                    const std::string &path) {
  auto fail = [&](const std::string &msg) -> Error {
    return Error(path + ": error: " + msg);
  };
  auto truncated = [&](uint64_t expected) -> Error {
    return fail("checkpoint is truncated (" + std::to_string(b.size()) +
                " bytes, expected at least " + std::to_string(expected) + ")");
  };
  size_t m = std::min(b.size(), sizeof kMagic);
  if (std::memcmp(b.data(), kMagic, m) != 0)
    throw fail("not a physc checkpoint (bad magic)");
  if (b.size() < 16)
    throw truncated(16);
  uint32_t version = static_cast<uint32_t>(getU(b, 8, 4));
  if (version != kCheckpointVersion)
    throw fail("unsupported checkpoint version " + std::to_string(version) +
               " (this runtime reads version " +
               std::to_string(kCheckpointVersion) + ")");
  uint64_t nameLen = getU(b, 12, 4);
  uint64_t need = 16 + nameLen + 8;
  if (b.size() < need)
    throw truncated(need + 16);
  uint64_t np = getU(b, 16 + nameLen, 8);
  // 8 bytes per parameter, then steps and checksum; guard the overflow of a
  // corrupted count.
  if (np > (UINT64_MAX - need - 16) / 8)
    throw fail("checkpoint is corrupted (parameter count " +
               std::to_string(np) + ")");
  uint64_t total = need + 8 * np + 16;
  if (b.size() < total)
    throw truncated(total);
  if (b.size() > total)
    throw fail("checkpoint has " + std::to_string(b.size() - total) +
               " unexpected trailing bytes");
  uint64_t stored = getU(b, total - 8, 8);
  if (fnv1a64(b.substr(0, total - 8)) != stored)
    throw fail("checkpoint is corrupted (checksum mismatch)");
  Checkpoint C;
  C.model.assign(b.data() + 16, nameLen);
  C.params.resize(np);
  for (uint64_t i = 0; i < np; ++i) {
    uint64_t bits = getU(b, need + 8 * i, 8);
    std::memcpy(&C.params[i], &bits, sizeof bits);
  }
  C.steps = static_cast<int64_t>(getU(b, need + 8 * np, 8));
  return C;
}

void physrt::saveCheckpoint(const std::string &path, const Checkpoint &C) {
  writeFileAtomic(path, encodeCheckpoint(C));
}

Checkpoint physrt::loadCheckpoint(const std::string &path) {
  return decodeCheckpoint(readFile(path), path);
}

std::vector<double> physrt::loadCheckpointFor(const std::string &path,
                                              const CompiledModel &M) {
  Checkpoint C = loadCheckpoint(path);
  if (C.model != M.name)
    throw Error(path + ": error: checkpoint is of model '" + C.model +
                "', not '" + M.name + "'");
  if (static_cast<int64_t>(C.params.size()) != M.numParams)
    throw Error(path + ": error: checkpoint has " +
                std::to_string(C.params.size()) + " parameters but model '" +
                M.name + "' has " + std::to_string(M.numParams) +
                " (was the model changed since training?)");
  return std::move(C.params);
}
