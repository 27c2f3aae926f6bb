//===- CSV.cpp - Numeric CSV tables ---------------------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/CSV.h"
#include "physrt/Error.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

using namespace physrt;

namespace {

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos)
    return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos)
      return out;
    start = comma + 1;
  }
}

/// Parses the whole of `s` as a double; a leading '+' is allowed.
bool parseNumber(std::string_view s, double &out) {
  if (!s.empty() && s[0] == '+')
    s.remove_prefix(1);
  if (s.empty())
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {
    // Overflow: report as a non-finite number below; underflow: 0 is fine.
    out = std::strtod(std::string(s).c_str(), nullptr);
    return end == s.data() + s.size();
  }
  return ec == std::errc() && end == s.data() + s.size();
}

[[noreturn]] void fail(const std::string &path, int64_t line,
                       const std::string &msg) {
  throw Error(path + ":" + std::to_string(line) + ": error: " + msg);
}

} // namespace

std::vector<std::vector<double>>
physrt::loadCSV(const std::string &path, int expectedColumns,
                std::vector<std::string> *header) {
  if (expectedColumns < 1)
    throw Error(path + ": error: a table needs at least one column");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    throw Error(path + ": error: cannot open file: " + std::strerror(err));
  }
  std::vector<std::vector<double>> cols(expectedColumns);
  if (header)
    header->clear();
  std::string line;
  int64_t lineNo = 0;
  bool sawRow = false;
  int64_t headerLine = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    std::string_view text = trim(line);
    if (text.empty() || text[0] == '#')
      continue;
    std::vector<std::string_view> fields = splitFields(text);
    if (!sawRow) {
      sawRow = true;
      bool anyNumber = false;
      double tmp;
      for (std::string_view f : fields)
        anyNumber |= parseNumber(f, tmp);
      if (!anyNumber) {
        if (static_cast<int>(fields.size()) != expectedColumns)
          fail(path, lineNo,
               "expected " + std::to_string(expectedColumns) +
                   " columns, found " + std::to_string(fields.size()));
        headerLine = lineNo;
        if (header)
          for (std::string_view f : fields)
            header->emplace_back(f);
        continue;
      }
    }
    if (static_cast<int>(fields.size()) != expectedColumns)
      fail(path, lineNo,
           "expected " + std::to_string(expectedColumns) + " columns, found " +
               std::to_string(fields.size()));
    for (int c = 0; c < expectedColumns; ++c) {
      double v;
      std::string col = "column " + std::to_string(c + 1) + ": '" +
                        std::string(fields[c]) + "' is not a ";
      if (!parseNumber(fields[c], v))
        fail(path, lineNo, col + "number");
      if (!std::isfinite(v))
        fail(path, lineNo, col + "finite number");
      cols[c].push_back(v);
    }
  }
  if (in.bad())
    throw Error(path + ": error: read failed");
  if (!sawRow)
    throw Error(path + ": error: file is empty");
  if (cols[0].empty()) // only a header
    fail(path, headerLine, "no data rows after the header");
  return cols;
}

Exact physrt::loadExactCSV(const std::string &path, int numCoords, int field) {
  std::vector<std::vector<double>> cols = loadCSV(path, numCoords + 1);
  Exact E;
  E.field = field;
  E.count = static_cast<int64_t>(cols[0].size());
  E.points.reserve(static_cast<size_t>(numCoords) * E.count);
  for (int c = 0; c < numCoords; ++c)
    E.points.insert(E.points.end(), cols[c].begin(), cols[c].end());
  E.values = std::move(cols[numCoords]);
  return E;
}
