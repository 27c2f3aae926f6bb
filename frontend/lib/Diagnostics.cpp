//===- Diagnostics.cpp - Errors with file:line:col and a caret ------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Diagnostics.h"

#include <algorithm>

using namespace physc;

namespace {

/// The source line as it is safe to print: control characters become ' '
/// and non-ASCII bytes '?'. Every byte keeps its column, so the caret lines
/// up with the byte column that `file:line:col` reports (SMDiagnostic drops
/// the caret line altogether when the line is not plain ASCII).
std::string printableLine(llvm::StringRef line) {
  std::string out(line);
  for (char &c : out) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f)
      c = ' ';
    else if (u >= 0x80)
      c = '?';
  }
  return out;
}

void emit(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os, ast::Location loc,
          llvm::SourceMgr::DiagKind kind, const llvm::Twine &msg) {
  if (!loc.valid()) {
    // No location: just `note: ...` (SourceMgr would print `<unknown>:0:`).
    llvm::SMDiagnostic(/*filename=*/"", kind, msg.str()).print(nullptr, os);
    return;
  }
  llvm::SmallVector<llvm::SMRange, 1> ranges;
  if (loc.end && loc.end > loc.begin + 1)
    ranges.push_back(loc.range());
  llvm::SMDiagnostic diag = srcMgr.GetMessage(loc.start(), kind, msg, ranges);
  std::string line = printableLine(diag.getLineContents());
  llvm::SMDiagnostic clean(srcMgr, diag.getLoc(), diag.getFilename(),
                           diag.getLineNo(), diag.getColumnNo(), kind,
                           diag.getMessage(), line, diag.getRanges());
  clean.print(nullptr, os);
}

} // namespace

void Diagnostics::error(ast::Location loc, const llvm::Twine &msg,
                        const llvm::Twine &hint) {
  ++errors;
  emit(srcMgr, os, loc, llvm::SourceMgr::DK_Error, msg);
  std::string hintText = hint.str();
  if (!hintText.empty())
    emit(srcMgr, os, ast::Location(), llvm::SourceMgr::DK_Note, hintText);
}

void Diagnostics::note(ast::Location loc, const llvm::Twine &msg) {
  emit(srcMgr, os, loc, llvm::SourceMgr::DK_Note, msg);
}

std::pair<unsigned, unsigned>
Diagnostics::lineAndColumn(ast::Location loc) const {
  if (!loc.valid())
    return {0, 0};
  return srcMgr.getLineAndColumn(loc.start());
}

std::string Diagnostics::nearest(llvm::StringRef name,
                                 const std::vector<std::string> &candidates) {
  // One edit per three characters, rounded up: 'nuu' -> 'nu', 'tahn' ->
  // 'tanh' (a transposition is two edits), but not 'x' -> 'nu'.
  unsigned threshold = std::max<unsigned>(1, (name.size() + 2) / 3);
  std::string best;
  unsigned bestDistance = threshold + 1;
  for (const std::string &candidate : candidates) {
    if (candidate.empty() || candidate == name)
      continue;
    unsigned d = name.edit_distance(candidate, /*AllowReplacements=*/true,
                                    /*MaxEditDistance=*/threshold);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}
