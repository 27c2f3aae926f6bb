//===- CheckpointTest.cpp - Tests of checkpoint files ---------------------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Checkpoint.h"
#include "TestFiles.h"
#include "physrt/Error.h"
#include "physrt/File.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

using namespace physrt;
using physrt::test::ScratchDir;

namespace {

Checkpoint sampleCheckpoint() {
  Checkpoint C;
  C.model = "burgers";
  C.params = {1.5, -0.0, 1e-310, std::numeric_limits<double>::max(),
              -3.141592653589793};
  C.steps = 21000;
  return C;
}

std::string errorOf(const std::string &path) {
  try {
    loadCheckpoint(path);
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST(Checkpoint, Fnv1aReferenceValues) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Checkpoint, RoundTripIsBitExact) {
  ScratchDir D;
  std::string p = D.file("checkpoint.bin");
  Checkpoint C = sampleCheckpoint();
  saveCheckpoint(p, C);
  Checkpoint R = loadCheckpoint(p);
  EXPECT_EQ(R.model, C.model);
  EXPECT_EQ(R.steps, C.steps);
  ASSERT_EQ(R.params.size(), C.params.size());
  for (size_t i = 0; i < C.params.size(); ++i)
    EXPECT_EQ(std::memcmp(&R.params[i], &C.params[i], sizeof(double)), 0) << i;
  EXPECT_TRUE(std::signbit(R.params[1]));
  // No temporary file is left behind.
  size_t files = 0;
  for (auto &e : std::filesystem::directory_iterator(D.path))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(Checkpoint, LayoutIsLittleEndianAndVersioned) {
  std::string b = encodeCheckpoint(sampleCheckpoint());
  EXPECT_EQ(b.substr(0, 8), "PHYSCKPT");
  EXPECT_EQ(b[8], 3); // version 3, little-endian
  EXPECT_EQ(b[9], 0);
  EXPECT_EQ(b[12], 7); // name length
  EXPECT_EQ(b.substr(16, 7), "burgers");
  // ... steps, then the training state without optimizer state (seed,
  // empty precision, fingerprint, stage, stage step, kind), no loss
  // weights, no point batches, then the hash.
  EXPECT_EQ(b.size(),
            8 + 4 + 4 + 7 + 8 + 5 * 8 + 8 + (8 + 4 + 8 + 8 + 8 + 4) + 8 + 8 + 8u);
}

TEST(Checkpoint, EmptyModelAndNoParams) {
  Checkpoint C;
  Checkpoint R = decodeCheckpoint(encodeCheckpoint(C), "x");
  EXPECT_EQ(R.model, "");
  EXPECT_TRUE(R.params.empty());
  EXPECT_EQ(R.steps, 0);
}

TEST(Checkpoint, CorruptedByteIsDetected) {
  ScratchDir D;
  std::string b = encodeCheckpoint(sampleCheckpoint());
  b[40] ^= 0x10; // inside the parameters
  std::string p = D.write("bad.bin", b);
  EXPECT_EQ(errorOf(p),
            p + ": error: checkpoint is corrupted (checksum mismatch)");
}

TEST(Checkpoint, TruncatedFileIsDetected) {
  ScratchDir D;
  std::string b = encodeCheckpoint(sampleCheckpoint());
  std::string p = D.write("short.bin", b.substr(0, b.size() - 3));
  EXPECT_EQ(errorOf(p), p + ": error: checkpoint is truncated (140 bytes, "
                            "expected at least 143)");
  p = D.write("tiny.bin", b.substr(0, 10));
  EXPECT_EQ(errorOf(p), p + ": error: checkpoint is truncated (10 bytes, "
                            "expected at least 16)");
  p = D.write("empty.bin", "");
  EXPECT_EQ(errorOf(p), p + ": error: checkpoint is truncated (0 bytes, "
                            "expected at least 16)");
}

TEST(Checkpoint, TrailingBytesAreDetected) {
  ScratchDir D;
  std::string p =
      D.write("long.bin", encodeCheckpoint(sampleCheckpoint()) + "xy");
  EXPECT_EQ(errorOf(p),
            p + ": error: checkpoint has 2 unexpected trailing bytes");
}

TEST(Checkpoint, ForeignFileAndOtherVersion) {
  ScratchDir D;
  std::string p = D.write("model.csv", "x,u\n1,2\n");
  EXPECT_EQ(errorOf(p), p + ": error: not a physc checkpoint (bad magic)");
  std::string b = encodeCheckpoint(sampleCheckpoint());
  b[8] = 4;
  p = D.write("v4.bin", b);
  EXPECT_EQ(errorOf(p), p + ": error: unsupported checkpoint version 4 (this "
                            "runtime reads versions 1 to 3)");
}

TEST(Checkpoint, MissingFileAndUnwritablePath) {
  ScratchDir D;
  std::string p = D.file("none.bin");
  EXPECT_EQ(errorOf(p),
            p + ": error: cannot open file: No such file or directory");
  std::string q = D.file("no/such/dir/ckpt.bin");
  try {
    saveCheckpoint(q, sampleCheckpoint());
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write '" + q + "': No such file or directory");
  }
}

TEST(Checkpoint, LoadForAModelChecksNameAndSize) {
  ScratchDir D;
  std::string p = D.file("c.bin");
  saveCheckpoint(p, sampleCheckpoint());
  CompiledModel M;
  M.name = "burgers";
  M.numParams = 5;
  EXPECT_EQ(loadCheckpointFor(p, M).size(), 5u);
  M.numParams = 6;
  try {
    loadCheckpointFor(p, M);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()),
              p + ": error: checkpoint has 5 parameters but model 'burgers' "
                  "has 6 (was the model changed since training?)");
  }
  M.name = "heat";
  try {
    loadCheckpointFor(p, M);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()),
              p + ": error: checkpoint is of model 'burgers', not 'heat'");
  }
}

TEST(Checkpoint, KeptPointsRoundTrip) {
  // Version 3 carries the collocation points of `resample: none|r3` runs.
  Checkpoint C = sampleCheckpoint();
  Batch B;
  B.n = 3;
  B.ld = 4;
  B.pts = {0.1, 0.2, 0.3, 0.1, -1, -2, -3, -1};
  C.state.points = {B, Batch()};
  ScratchDir D;
  std::string p = D.write("pts.bin", encodeCheckpoint(C));
  Checkpoint R = loadCheckpoint(p);
  ASSERT_EQ(R.state.points.size(), 2u);
  EXPECT_EQ(R.state.points[0].n, 3);
  EXPECT_EQ(R.state.points[0].ld, 4);
  EXPECT_EQ(R.state.points[0].pts, B.pts);
  EXPECT_EQ(R.state.points[1].n, 0);
  // A batch whose size does not fit its leading dimension is refused.
  C.state.points[0].pts.pop_back();
  std::string q = D.write("bad.bin", encodeCheckpoint(C));
  EXPECT_EQ(errorOf(q), q + ": error: checkpoint is corrupted (point batch 0)");
}

TEST(Checkpoint, ReadsVersion2) {
  // A version 2 image: the version 3 one without the loss weights.
  Checkpoint C = sampleCheckpoint();
  C.state.kind = OptimizerStateKind::Adam;
  C.state.adam = {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, 0.5, 0.25, 3};
  std::string b = encodeCheckpoint(C);
  b = b.substr(0, b.size() - 24); // weight and batch counts (0), hash
  b[8] = 2;
  uint64_t h = fnv1a64(b);
  b.append(reinterpret_cast<const char *>(&h), 8);
  Checkpoint R = decodeCheckpoint(b, "v2.bin");
  EXPECT_EQ(R.version, 2u);
  EXPECT_EQ(R.state.kind, OptimizerStateKind::Adam);
  EXPECT_EQ(R.state.adam.m, C.state.adam.m);
  EXPECT_TRUE(R.state.weights.empty());
}

TEST(Checkpoint, RoundTripsMultiAdamStateAndWeights) {
  Checkpoint C = sampleCheckpoint();
  C.params = {1, 2};
  C.state.kind = OptimizerStateKind::MultiAdam;
  C.state.multiAdam = {{{0.1, -0.2}, {3e-9, 4}}, {{1, 2}, {5, 6}}, 0.5, 0.25, 9};
  C.state.weights = {1.0, 123.456, 0};
  Checkpoint R = decodeCheckpoint(encodeCheckpoint(C), "f.bin");
  EXPECT_EQ(R.state.multiAdam.m, C.state.multiAdam.m);
  EXPECT_EQ(R.state.multiAdam.v, C.state.multiAdam.v);
  EXPECT_EQ(R.state.multiAdam.b1t, 0.5);
  EXPECT_EQ(R.state.multiAdam.b2t, 0.25);
  EXPECT_EQ(R.state.multiAdam.t, 9);
  EXPECT_EQ(R.state.weights, C.state.weights);
  // Every truncation is detected.
  std::string b = encodeCheckpoint(C);
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_THROW(decodeCheckpoint(b.substr(0, n), "f.bin"), Error) << n;
}
