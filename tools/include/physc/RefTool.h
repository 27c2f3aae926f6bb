//===- RefTool.h - Shared plumbing of the reference-solution tools -*- C++ -*-===//
//
// Part of physc. physc-burgers-ref and physc-allen-cahn-ref are standalone
// programs (no LLVM/MLIR, so a reference stays independent of the compiler
// it checks) with the same command-line conventions and the same output: a
// CSV 'x,t,u' over a tensor grid, written atomically. This header holds
// that common part; each tool keeps its own numerics.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_REFTOOL_H
#define PHYSC_TOOLS_REFTOOL_H

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace physc::ref {

/// Parses a decimal integer in [Lo, Hi]; reports "TOOL: OPT expects ..." and
/// returns false otherwise.
inline bool parseInt(const char *Tool, const char *Opt, const char *Text,
                     int Lo, int Hi, int &Out) {
  errno = 0;
  char *End = nullptr;
  long V = std::strtol(Text, &End, 10);
  if (errno || End == Text || *End != '\0' || V < Lo || V > Hi) {
    std::fprintf(stderr, "%s: %s expects an integer in [%d, %d], got '%s'\n",
                 Tool, Opt, Lo, Hi, Text);
    return false;
  }
  Out = static_cast<int>(V);
  return true;
}

/// Writes the grid as CSV 'x,t,u' (x fastest) to `Out`; false on a write
/// error. `U(I, J)` is the value at (G.x(I), G.t(J)).
template <typename GridT, typename ValueFn>
bool writeGridCsv(FILE *Out, const GridT &G, ValueFn U) {
  if (std::fputs("x,t,u\n", Out) < 0)
    return false;
  for (int J = 0; J < G.Nt; ++J)
    for (int I = 0; I < G.Nx; ++I)
      if (std::fprintf(Out, "%.10g,%.10g,%.10g\n", G.x(I), G.t(J), U(I, J)) <
          0)
        return false;
  return true;
}

/// writeGridCsv to `Path` ('-' = standard output) through a temporary file
/// in the same directory and a rename, so a reader never sees a
/// half-written reference. Returns the exit status (0, or 1 after a
/// message).
template <typename GridT, typename ValueFn>
int writeGridCsvFile(const char *Tool, const std::string &Path,
                     const GridT &G, ValueFn U) {
  if (Path == "-")
    return writeGridCsv(stdout, G, U) && std::fflush(stdout) == 0 ? 0 : 1;
  std::string Tmp = Path + ".tmp." + std::to_string(getpid());
  FILE *F = std::fopen(Tmp.c_str(), "w");
  if (!F) {
    std::fprintf(stderr, "%s: cannot open '%s': %s\n", Tool, Tmp.c_str(),
                 std::strerror(errno));
    return 1;
  }
  bool Ok = writeGridCsv(F, G, U);
  Ok = (std::fclose(F) == 0) && Ok;
  if (!Ok) {
    std::fprintf(stderr, "%s: error writing '%s'\n", Tool, Tmp.c_str());
    std::remove(Tmp.c_str());
    return 1;
  }
  if (std::rename(Tmp.c_str(), Path.c_str()) != 0) {
    std::fprintf(stderr, "%s: cannot rename '%s' to '%s': %s\n", Tool,
                 Tmp.c_str(), Path.c_str(), std::strerror(errno));
    std::remove(Tmp.c_str());
    return 1;
  }
  return 0;
}

} // namespace physc::ref

#endif // PHYSC_TOOLS_REFTOOL_H
