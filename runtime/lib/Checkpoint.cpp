//===- Checkpoint.cpp - Trained parameters on disk ------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Checkpoint.h"
#include "physrt/Error.h"
#include "physrt/File.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

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

namespace {

void putU64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putU32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putF64(std::string &out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  putU64(out, bits);
}

void putF64s(std::string &out, const std::vector<double> &v) {
  for (double d : v)
    putF64(out, d);
}

void putString(std::string &out, const std::string &s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

uint64_t getU(std::string_view b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(b[at + i]))
         << (8 * i);
  return v;
}

/// Reads fields in order. Every read first checks that the field and the
/// final checksum still fit, so a truncated image is reported as such, and
/// a corrupted count cannot make it allocate or read out of bounds.
class Reader {
public:
  Reader(std::string_view b, const std::string &path) : b(b), path(path) {}

  Error fail(const std::string &msg) const {
    return Error(path + ": error: " + msg);
  }
  void need(uint64_t bytes) const {
    if (bytes > b.size() || b.size() - bytes < at + 8)
      throw fail("checkpoint is truncated (" + std::to_string(b.size()) +
                 " bytes, expected at least " + std::to_string(at + bytes + 8) +
                 ")");
  }
  uint64_t u(int bytes) {
    need(bytes);
    uint64_t v = getU(b, at, bytes);
    at += bytes;
    return v;
  }
  double f64() {
    uint64_t bits = u(8);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  std::string str(uint64_t len) {
    if (len > (UINT64_MAX >> 4))
      throw fail("checkpoint is corrupted (string length " +
                 std::to_string(len) + ")");
    need(len);
    std::string s(b.data() + at, len);
    at += len;
    return s;
  }
  /// `n` doubles; `what` names the count in the message of a corrupted one.
  std::vector<double> f64s(uint64_t n, const char *what) {
    if (n > (UINT64_MAX >> 4))
      throw fail(std::string("checkpoint is corrupted (") + what + " count " +
                 std::to_string(n) + ")");
    need(8 * n);
    std::vector<double> v(n);
    for (uint64_t i = 0; i < n; ++i)
      v[i] = f64();
    return v;
  }

  std::string_view b;
  const std::string &path;
  size_t at = 0;
};

} // namespace

std::string physrt::encodeCheckpoint(const Checkpoint &C) {
  std::string out(kMagic, sizeof kMagic);
  putU32(out, kCheckpointVersion);
  putString(out, C.model);
  putU64(out, C.params.size());
  putF64s(out, C.params);
  putU64(out, static_cast<uint64_t>(C.steps));
  const TrainState &S = C.state;
  putU64(out, S.seed);
  putString(out, S.precision);
  putU64(out, S.fingerprint);
  putU64(out, static_cast<uint64_t>(S.stage));
  putU64(out, static_cast<uint64_t>(S.stageStep));
  putU32(out, static_cast<uint32_t>(S.kind));
  if (S.kind == OptimizerStateKind::Adam) {
    putU64(out, static_cast<uint64_t>(S.adam.t));
    putF64(out, S.adam.b1t);
    putF64(out, S.adam.b2t);
    putF64s(out, S.adam.m);
    putF64s(out, S.adam.v);
  } else if (S.kind == OptimizerStateKind::Lbfgs) {
    putU64(out, S.lbfgsS.size());
    for (size_t k = 0; k < S.lbfgsS.size(); ++k) {
      putF64(out, S.lbfgsRho[k]);
      putF64s(out, S.lbfgsS[k]);
      putF64s(out, S.lbfgsY[k]);
    }
  } else if (S.kind == OptimizerStateKind::MultiAdam) {
    putU64(out, static_cast<uint64_t>(S.multiAdam.t));
    putF64(out, S.multiAdam.b1t);
    putF64(out, S.multiAdam.b2t);
    putU64(out, S.multiAdam.m.size());
    for (size_t g = 0; g < S.multiAdam.m.size(); ++g) {
      putF64s(out, S.multiAdam.m[g]);
      putF64s(out, S.multiAdam.v[g]);
    }
  }
  putU64(out, S.weights.size());
  putF64s(out, S.weights);
  putU64(out, S.points.size());
  for (const Batch &B : S.points) {
    putU64(out, static_cast<uint64_t>(B.n));
    putU64(out, static_cast<uint64_t>(B.ld));
    putU64(out, B.pts.size());
    putF64s(out, B.pts);
  }
  putU64(out, fnv1a64(out));
  return out;
}

Checkpoint physrt::decodeCheckpoint(std::string_view b,
                                    const std::string &path) {
  Reader r(b, path);
  size_t m = std::min(b.size(), sizeof kMagic);
  if (std::memcmp(b.data(), kMagic, m) != 0)
    throw r.fail("not a physc checkpoint (bad magic)");
  if (b.size() < 16)
    throw r.fail("checkpoint is truncated (" + std::to_string(b.size()) +
                 " bytes, expected at least 16)");
  r.at = sizeof kMagic;
  Checkpoint C;
  C.version = static_cast<uint32_t>(getU(b, 8, 4));
  r.at += 4;
  if (C.version < 1 || C.version > kCheckpointVersion)
    throw r.fail("unsupported checkpoint version " + std::to_string(C.version) +
                 " (this runtime reads versions 1 to " +
                 std::to_string(kCheckpointVersion) + ")");
  C.model = r.str(r.u(4));
  uint64_t np = r.u(8);
  C.params = r.f64s(np, "parameter");
  C.steps = static_cast<int64_t>(r.u(8));
  if (C.version >= 2) {
    TrainState &S = C.state;
    S.seed = r.u(8);
    S.precision = r.str(r.u(4));
    S.fingerprint = r.u(8);
    S.stage = static_cast<int64_t>(r.u(8));
    S.stageStep = static_cast<int64_t>(r.u(8));
    uint64_t kind = r.u(4);
    if (kind > (C.version >= 3 ? 3 : 2))
      throw r.fail("checkpoint is corrupted (optimizer state kind " +
                   std::to_string(kind) + ")");
    S.kind = static_cast<OptimizerStateKind>(kind);
    if (S.kind == OptimizerStateKind::Adam) {
      S.adam.t = static_cast<int64_t>(r.u(8));
      S.adam.b1t = r.f64();
      S.adam.b2t = r.f64();
      S.adam.m = r.f64s(np, "moment");
      S.adam.v = r.f64s(np, "moment");
    } else if (S.kind == OptimizerStateKind::Lbfgs) {
      uint64_t pairs = r.u(8);
      // Each pair takes 8 (2 N + 1) bytes: a corrupted count must fail
      // before it reserves memory.
      if (pairs > (UINT64_MAX >> 4) / (2 * np + 1))
        throw r.fail("checkpoint is corrupted (pair count " +
                     std::to_string(pairs) + ")");
      r.need(8 * pairs * (2 * np + 1));
      for (uint64_t k = 0; k < pairs; ++k) {
        S.lbfgsRho.push_back(r.f64());
        S.lbfgsS.push_back(r.f64s(np, "pair"));
        S.lbfgsY.push_back(r.f64s(np, "pair"));
      }
    } else if (S.kind == OptimizerStateKind::MultiAdam) {
      S.multiAdam.t = static_cast<int64_t>(r.u(8));
      S.multiAdam.b1t = r.f64();
      S.multiAdam.b2t = r.f64();
      uint64_t groups = r.u(8);
      if (groups > (UINT64_MAX >> 4) / (2 * np + 1))
        throw r.fail("checkpoint is corrupted (group count " +
                     std::to_string(groups) + ")");
      r.need(8 * groups * 2 * np);
      for (uint64_t g = 0; g < groups; ++g) {
        S.multiAdam.m.push_back(r.f64s(np, "moment"));
        S.multiAdam.v.push_back(r.f64s(np, "moment"));
      }
    }
    if (C.version >= 3)
      S.weights = r.f64s(r.u(8), "weight");
    if (C.version >= 3) {
      uint64_t batches = r.u(8);
      // Each batch takes at least 24 bytes.
      r.need(batches > (UINT64_MAX >> 8) ? UINT64_MAX >> 4 : 24 * batches);
      for (uint64_t k = 0; k < batches; ++k) {
        Batch B;
        B.n = static_cast<int64_t>(r.u(8));
        B.ld = static_cast<int64_t>(r.u(8));
        B.pts = r.f64s(r.u(8), "point");
        if (B.n < 0 || B.ld < B.n ||
            (B.ld > 0 && B.pts.size() % static_cast<uint64_t>(B.ld) != 0))
          throw r.fail("checkpoint is corrupted (point batch " +
                       std::to_string(k) + ")");
        S.points.push_back(std::move(B));
      }
    }
  }
  uint64_t total = r.at + 8;
  if (b.size() > total)
    throw r.fail("checkpoint has " + std::to_string(b.size() - total) +
                 " unexpected trailing bytes");
  uint64_t stored = getU(b, r.at, 8);
  if (fnv1a64(b.substr(0, r.at)) != stored)
    throw r.fail("checkpoint is corrupted (checksum mismatch)");
  return C;
}

void physrt::saveCheckpoint(const std::string &path, const Checkpoint &C) {
  std::string bytes = encodeCheckpoint(C);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](int err) -> Error {
    return Error("cannot write '" + path + "': " + std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw fail(errno);
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  // The data must be on disk before the rename makes it the checkpoint:
  // otherwise a power loss could leave a renamed but empty file.
  if (!err && ::fsync(fd) != 0)
    err = errno;
  if (::close(fd) != 0 && !err)
    err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0)
    err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw fail(err);
  }
  // Make the rename itself durable. A directory that cannot be opened or
  // synced (some file systems refuse) leaves the rename merely atomic.
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty())
    dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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
