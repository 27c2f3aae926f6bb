//===- Commands.h - The subcommands of the physc driver ---------*- C++ -*-===//
//
// Part of physc. Each subcommand lives in its own file with its options;
// main() in physc.cpp only dispatches.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_COMMANDS_H
#define PHYSC_TOOLS_COMMANDS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/CommandLine.h"

#include <optional>
#include <string>

namespace physc {

extern llvm::cl::SubCommand trainCmd, gradcheckCmd, benchCmd, dumpBatchCmd,
    evalCmd, buildCmd, devicesCmd;
int runTrain();
int runGradcheck();
int runBench();
/// `physc dump-batch FILE --points N --seed S -o DIR` (DumpBatch.cpp).
int runDumpBatch();
int runEval();
/// `physc build FILE -o DIR`: the AOT library package (Build.cpp).
int runBuild();
/// `physc devices` (Devices.cpp).
int runDevices();

/// `physc emit phys|jets|adjoint|kernels|llvm FILE`.
int emitStage(llvm::StringRef stage, const std::string &file,
              const std::string &precision);

/// `physc emit cuda FILE`: the kernels as CUDA C++ (EmitCUDA.cpp).
int emitCUDA(const std::string &file, const std::string &precision);

/// The CUDA C++ of a module at stage 3 (adjoint); `file` is named in its
/// banner. Null after reporting an error through the context.
std::optional<std::string> cudaSource(mlir::ModuleOp module,
                                      const std::string &precision,
                                      llvm::StringRef file);

/// `physc emit gpu|ptx FILE`: the kernels as a gpu.module, or as PTX for
/// `chip` (EmitPTX.cpp); `stageParams` false keeps the loss kernels'
/// weight reads in global memory (for benchmarks).
int emitGPU(llvm::StringRef kind, const std::string &file,
            const std::string &precision, const std::string &chip,
            unsigned blockSize, bool stageParams, unsigned lanesPerPoint);

/// Reports a misuse of a subcommand; returns the exit status 1.
int usageError(llvm::StringRef subcommand, const llvm::Twine &msg);

} // namespace physc

#endif // PHYSC_TOOLS_COMMANDS_H
