//===- Diagnostics.h - Errors with file:line:col and a caret ----*- C++ -*-===//
//
// Part of physc. Every frontend error goes through here so that all of them
// look the same: `file:line:col: error: message`, the source line, a caret
// under the offending range, and an optional `note:` with a hint. The printing
// itself is llvm::SourceMgr's.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_DIAGNOSTICS_H
#define PHYSC_FRONTEND_DIAGNOSTICS_H

#include "physc/Frontend/AST.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace physc {

class Diagnostics {
public:
  Diagnostics(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os = llvm::errs())
      : srcMgr(srcMgr), os(os) {}

  /// Reports an error at `loc`; `hint`, when not empty, follows as a note.
  void error(ast::Location loc, const llvm::Twine &msg,
             const llvm::Twine &hint = "");
  void note(ast::Location loc, const llvm::Twine &msg);
  unsigned errorCount() const { return errors; }
  bool hasErrors() const { return errors != 0; }
  llvm::SourceMgr &getSourceMgr() { return srcMgr; }

  /// 1-based line and column of `loc`.
  std::pair<unsigned, unsigned> lineAndColumn(ast::Location loc) const;

  /// The candidate closest to `name` by edit distance, or "" when none is
  /// close enough to be a plausible typo.
  static std::string nearest(llvm::StringRef name,
                             const std::vector<std::string> &candidates);

private:
  llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  unsigned errors = 0;
};

} // namespace physc

#endif // PHYSC_FRONTEND_DIAGNOSTICS_H
