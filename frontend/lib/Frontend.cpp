//===- Frontend.cpp - Load, parse and check a .phys file ------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Frontend.h"
#include "physc/Frontend/Diagnostics.h"
#include "physc/Frontend/Parser.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"

using namespace physc;

std::unique_ptr<llvm::SourceMgr> physc::openSource(llvm::StringRef path,
                                                   llvm::raw_ostream &errs) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/true);
  if (std::error_code ec = buffer.getError()) {
    llvm::WithColor::error(errs)
        << "cannot read '" << path << "': " << ec.message() << "\n";
    return nullptr;
  }
  auto srcMgr = std::make_unique<llvm::SourceMgr>();
  srcMgr->AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  return srcMgr;
}

std::unique_ptr<ast::Module> physc::parseSource(llvm::SourceMgr &srcMgr,
                                                llvm::raw_ostream &errs) {
  Diagnostics diags(srcMgr, errs);
  std::unique_ptr<ast::Module> module = parseModule(diags);
  if (diags.hasErrors())
    return nullptr;
  return module;
}

/// Parses and checks the main buffer of `srcMgr` (shared by loadModel and
/// loadModelFromBuffer).
static std::optional<LoadedModel>
loadFromSourceMgr(std::unique_ptr<llvm::SourceMgr> srcMgr,
                  llvm::raw_ostream &errs) {
  LoadedModel loaded;
  loaded.srcMgr = std::move(srcMgr);
  Diagnostics diags(*loaded.srcMgr, errs);
  loaded.module = parseModule(diags);
  if (!loaded.module || diags.hasErrors())
    return std::nullopt;
  if (!analyze(*loaded.module, loaded.model, diags) || diags.hasErrors())
    return std::nullopt;
  return loaded;
}

std::optional<LoadedModel> physc::loadModel(llvm::StringRef path,
                                            llvm::raw_ostream &errs) {
  std::unique_ptr<llvm::SourceMgr> srcMgr = openSource(path, errs);
  if (!srcMgr)
    return std::nullopt;
  return loadFromSourceMgr(std::move(srcMgr), errs);
}

std::optional<LoadedModel> physc::loadModelFromBuffer(llvm::StringRef contents,
                                                      llvm::StringRef name,
                                                      llvm::raw_ostream &errs) {
  auto srcMgr = std::make_unique<llvm::SourceMgr>();
  srcMgr->AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(contents, name), llvm::SMLoc());
  return loadFromSourceMgr(std::move(srcMgr), errs);
}

SourcePosition physc::resolveLocation(const llvm::SourceMgr &srcMgr,
                                      ast::Location loc) {
  SourcePosition pos;
  unsigned id = srcMgr.getMainFileID();
  if (loc.valid()) {
    if (unsigned found = srcMgr.FindBufferContainingLoc(loc.start()))
      id = found;
  }
  pos.filename = srcMgr.getMemoryBuffer(id)->getBufferIdentifier().str();
  if (loc.valid()) {
    auto [line, column] = srcMgr.getLineAndColumn(loc.start(), id);
    pos.line = line;
    pos.column = column;
  }
  return pos;
}
