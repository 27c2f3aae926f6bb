//===- CSV.h - Numeric CSV tables (references and observations) -*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Reads the tables behind
// `exact u = file("ref.csv")` and `data ID: u == file("obs.csv")`: rows of
// comma-separated numbers, coordinates first, then values, with an optional
// header row. Errors point at the offending line, compiler style.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_CSV_H
#define PHYSRT_CSV_H

#include "physrt/Model.h"

#include <string>
#include <vector>

namespace physrt {

/// Reads `path`, which must have `expectedColumns` numeric columns, and
/// returns them column by column (result[c][row]).
///
/// Format: one row per line, fields separated by commas, surrounding spaces
/// and tabs ignored, "\r\n" line ends accepted. Blank lines and lines whose
/// first non-blank character is '#' are skipped. The first row is a header
/// (its names are returned in `header` if non-null) exactly when none of its
/// fields is a number; so a data row with a typo is reported, not taken for
/// a header. Numbers are parsed locale-independently (std::from_chars).
///
/// Throws Error, with messages of the form
///   PATH: error: cannot open file: REASON
///   PATH: error: file is empty
///   PATH:LINE: error: no data rows after the header
///   PATH:LINE: error: expected N columns, found M
///   PATH:LINE: error: column C: 'TEXT' is not a number
///   PATH:LINE: error: column C: 'TEXT' is not a finite number
/// (lines and columns 1-based).
std::vector<std::vector<double>>
loadCSV(const std::string &path, int expectedColumns,
        std::vector<std::string> *header = nullptr);

/// Reads a reference table for field `field` of a model with `numCoords`
/// coordinates (columns: the coordinates in model order, then the value)
/// into an Exact with tabulated points.
Exact loadExactCSV(const std::string &path, int numCoords, int field);

} // namespace physrt

#endif // PHYSRT_CSV_H
