//===- Parser.h - Boost.Spirit X3 parser of .phys files ---------*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_PARSER_H
#define PHYSC_FRONTEND_PARSER_H

#include "physc/Frontend/AST.h"

#include "llvm/Support/raw_ostream.h"

#include <memory>

namespace physc {
class Diagnostics;

/// Parses the main buffer of `diags.getSourceMgr()`. Returns null after
/// reporting at least one error. Never throws, never recurses without bound
/// (nesting deeper than a fixed limit is an error, not a stack overflow).
std::unique_ptr<ast::Module> parseModule(Diagnostics &diags);

/// Prints the AST as an indented tree with line:col of every node
/// (`physc emit ast`).
void dumpAST(const ast::Module &module, Diagnostics &diags,
             llvm::raw_ostream &os);

} // namespace physc

#endif // PHYSC_FRONTEND_PARSER_H
