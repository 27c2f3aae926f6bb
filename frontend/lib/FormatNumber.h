//===- FormatNumber.h - Shortest round-trip decimal form --------*- C++ -*-===//
//
// Part of physc. Private to the frontend: messages and the AST dump print
// numbers as the user would write them (0.01, not 0.010000000000000000208).
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_LIB_FORMATNUMBER_H
#define PHYSC_FRONTEND_LIB_FORMATNUMBER_H

#include <charconv>
#include <cmath>
#include <string>

namespace physc {

/// The shortest form of `v` that reads back as exactly `v` (100, 0.001,
/// 1e-08, 0.003183098861837907); integers are written out (1000000000).
inline std::string formatNumber(double v) {
  char buf[64];
  if (v < 1e16 && v > -1e16 && v == std::trunc(v))
    return std::to_string(static_cast<long long>(v));
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

} // namespace physc

#endif // PHYSC_FRONTEND_LIB_FORMATNUMBER_H
