//===- FuzzFrontend.cpp - libFuzzer target over the whole frontend --------===//
//
// Part of physc. Feeds each input through everything `physc emit phys` does:
// parse, semantic analysis, MLIRGen and the verifier. Diagnostics about the
// input go to llvm::nulls(); what must never happen is a crash, a sanitizer
// report, a hang, or a model that Sema accepts but MLIRGen cannot turn into a
// valid module (a physc bug by MLIRGen's contract), which aborts.
//
// Run through scripts/fuzz.sh (preset `fuzz`, build-fuzz/).
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Frontend.h"
#include "physc/Frontend/MLIRGen.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/thread.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

/// Stack of the thread that runs one input. Sema and MLIRGen recurse once per
/// nesting level (up to the parser's limits) and ASan frames are large; like
/// the driver (tools/physc/physc.cpp), run them on a thread whose stack
/// makes that safe whatever the caller's.
constexpr unsigned kFuzzStackSize = 256u << 20;

/// One input: load from memory, then MLIRGen and verify what Sema accepted.
static void runOne(llvm::StringRef contents) {
  std::optional<physc::LoadedModel> loaded =
      physc::loadModelFromBuffer(contents, "fuzz.phys", llvm::nulls());
  if (!loaded)
    return;
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  bool sawError = false;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
      sawError = true;
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = physc::mlirGen(context, *loaded);
  if (!module || sawError) {
    // Sema accepted the model, so MLIRGen failing is a bug, not bad input.
    std::fprintf(stderr, "physc-fuzz-frontend: MLIRGen failed or produced "
                         "an invalid module for a model Sema accepted\n");
    std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef contents(reinterpret_cast<const char *>(data), size);
  llvm::thread worker(std::optional<unsigned>(kFuzzStackSize),
                      [contents] { runOne(contents); });
  worker.join();
  return 0;
}
