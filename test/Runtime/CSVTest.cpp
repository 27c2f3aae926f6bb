//===- CSVTest.cpp - Tests of the CSV reader ------------------------------===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/CSV.h"
#include "TestFiles.h"
#include "physrt/Error.h"

#include <gtest/gtest.h>

using namespace physrt;
using physrt::test::ScratchDir;

namespace {

std::string errorOf(const std::string &path, int cols) {
  try {
    loadCSV(path, cols);
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST(CSV, ReadsRowsWithHeader) {
  ScratchDir D;
  std::string p = D.write("ref.csv", "x, t ,u\n0,0,1.5\n-1e-3,0.5,+2\n");
  std::vector<std::string> header;
  auto cols = loadCSV(p, 3, &header);
  EXPECT_EQ(header, (std::vector<std::string>{"x", "t", "u"}));
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(cols[0], (std::vector<double>{0, -1e-3}));
  EXPECT_EQ(cols[1], (std::vector<double>{0, 0.5}));
  EXPECT_EQ(cols[2], (std::vector<double>{1.5, 2}));
}

TEST(CSV, ReadsRowsWithoutHeaderCrlfCommentsAndBlankLines) {
  ScratchDir D;
  std::string p =
      D.write("ref.csv", "# reference\r\n1,2\r\n\r\n  3 ,\t4\r\n# end\r\n5,6");
  std::vector<std::string> header = {"stale"};
  auto cols = loadCSV(p, 2, &header);
  EXPECT_TRUE(header.empty());
  EXPECT_EQ(cols[0], (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(cols[1], (std::vector<double>{2, 4, 6}));
}

TEST(CSV, MissingFile) {
  ScratchDir D;
  std::string p = D.file("nope.csv");
  EXPECT_EQ(errorOf(p, 2),
            p + ": error: cannot open file: No such file or directory");
}

TEST(CSV, EmptyFile) {
  ScratchDir D;
  std::string p = D.write("empty.csv", "");
  EXPECT_EQ(errorOf(p, 2), p + ": error: file is empty");
  p = D.write("blank.csv", "\n  \n# only a comment\n");
  EXPECT_EQ(errorOf(p, 2), p + ": error: file is empty");
}

TEST(CSV, HeaderOnly) {
  ScratchDir D;
  std::string p = D.write("h.csv", "\nx,u\n");
  EXPECT_EQ(errorOf(p, 2), p + ":2: error: no data rows after the header");
}

TEST(CSV, WrongColumnCount) {
  ScratchDir D;
  std::string p = D.write("c.csv", "x,u\n1,2\n3,4,5\n");
  EXPECT_EQ(errorOf(p, 2), p + ":3: error: expected 2 columns, found 3");
  p = D.write("h.csv", "x,t,u\n1,2\n");
  EXPECT_EQ(errorOf(p, 2), p + ":1: error: expected 2 columns, found 3");
  p = D.write("e.csv", "1,2\n3,\n");
  EXPECT_EQ(errorOf(p, 2), p + ":2: error: column 2: '' is not a number");
}

TEST(CSV, NotANumber) {
  ScratchDir D;
  std::string p = D.write("n.csv", "1,2\n3,4x\n");
  EXPECT_EQ(errorOf(p, 2), p + ":2: error: column 2: '4x' is not a number");
  // A first row with any number is data, so a typo there is reported too.
  p = D.write("f.csv", "1,abc\n");
  EXPECT_EQ(errorOf(p, 2), p + ":1: error: column 2: 'abc' is not a number");
}

TEST(CSV, NonFiniteValues) {
  ScratchDir D;
  std::string p = D.write("nan.csv", "1,2\nnan,4\n");
  EXPECT_EQ(errorOf(p, 2),
            p + ":2: error: column 1: 'nan' is not a finite number");
  p = D.write("inf.csv", "1,-inf\n");
  EXPECT_EQ(errorOf(p, 2),
            p + ":1: error: column 2: '-inf' is not a finite number");
  p = D.write("big.csv", "1,1e999\n");
  EXPECT_EQ(errorOf(p, 2),
            p + ":1: error: column 2: '1e999' is not a finite number");
}

TEST(CSV, ExactTable) {
  ScratchDir D;
  std::string p = D.write("ref.csv", "x,t,u\n0,0,1\n1,0.5,2\n2,1,3\n");
  Exact E = loadExactCSV(p, 2, 4);
  EXPECT_EQ(E.field, 4);
  EXPECT_EQ(E.count, 3);
  EXPECT_EQ(E.points, (std::vector<double>{0, 1, 2, 0, 0.5, 1}));
  EXPECT_EQ(E.values, (std::vector<double>{1, 2, 3}));
}
