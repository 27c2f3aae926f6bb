//===- File.h - Output files that are never half-written --------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Training may be interrupted or fail
// while writing results; writing to a temporary file and renaming it over
// the target means a reader sees either the old file or the complete new
// one.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_FILE_H
#define PHYSRT_FILE_H

#include <string>
#include <string_view>

namespace physrt {

/// Writes `contents` to `path` through `path.tmp.PID` and a rename. Throws
/// Error naming the path if it cannot be written; the temporary is removed.
void writeFileAtomic(const std::string &path, std::string_view contents);

/// Creates `dir` and its parents if missing. Throws Error naming the path if
/// that is impossible or `dir` exists and is not a directory.
void createDirectories(const std::string &dir);

/// Reads a whole file; throws Error naming the path if it cannot.
std::string readFile(const std::string &path);

} // namespace physrt

#endif // PHYSRT_FILE_H
