//===- Frontend.h - Load, parse and check a .phys file ----------*- C++ -*-===//
//
// Part of physc. The one call every consumer of the frontend makes: the
// driver's subcommands, MLIRGen and the tests. It owns the source buffer, the
// AST and the CheckedModel together, since the latter two point into the
// former.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_FRONTEND_H
#define PHYSC_FRONTEND_FRONTEND_H

#include "physc/Frontend/AST.h"
#include "physc/Frontend/Sema.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>

namespace physc {

/// A parsed and checked file. The AST's Locations and the CheckedModel's
/// expression pointers stay valid as long as this object lives (moving it
/// moves the owning pointers, not the buffers).
struct LoadedModel {
  std::unique_ptr<llvm::SourceMgr> srcMgr;
  std::unique_ptr<ast::Module> module;
  CheckedModel model;
};

/// Reads `path` ("-" reads standard input) into a SourceMgr. On failure
/// reports `error: cannot read 'path': reason` to `errs` and returns null.
std::unique_ptr<llvm::SourceMgr> openSource(llvm::StringRef path,
                                            llvm::raw_ostream &errs);

/// Parses the main buffer of `srcMgr` only (no Sema). Returns null after
/// reporting errors to `errs`.
std::unique_ptr<ast::Module> parseSource(llvm::SourceMgr &srcMgr,
                                         llvm::raw_ostream &errs);

/// Loads, parses and checks `path`. Returns std::nullopt after reporting
/// every error to `errs` (`file:line:col: error: ...` with the source line and
/// a caret); on success the result has all three members set.
std::optional<LoadedModel> loadModel(llvm::StringRef path,
                                     llvm::raw_ostream &errs);

/// Like loadModel, but on `contents` (copied into the SourceMgr) rather than
/// a file; `name` is the buffer's name in diagnostics and locations. This is
/// what the fuzz target and other in-memory callers use.
std::optional<LoadedModel> loadModelFromBuffer(llvm::StringRef contents,
                                               llvm::StringRef name,
                                               llvm::raw_ostream &errs);

/// Where an ast::Location is, for mlir::FileLineColLoc: the buffer's name (as
/// given on the command line) and the 1-based line and column. An invalid
/// location resolves to the buffer name with line and column 0.
struct SourcePosition {
  std::string filename;
  unsigned line = 0;
  unsigned column = 0;
};
SourcePosition resolveLocation(const llvm::SourceMgr &srcMgr,
                               ast::Location loc);

/// Prints what Sema concluded (`physc emit checked`): coordinates with their
/// ranges, folded consts, params, nets with every default filled in, fields,
/// lets in dependency order, equations with regions, samples and loss
/// weights, optimizer stages with all arguments, sampler and exact
/// solutions. Meant for tests and for reading, not for parsing.
void dumpCheckedModel(const CheckedModel &model, const llvm::SourceMgr &srcMgr,
                      llvm::raw_ostream &os);

} // namespace physc

#endif // PHYSC_FRONTEND_FRONTEND_H
