//===- Emit.cpp - physc emit STAGE: print any stage of the pipeline -------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Pipeline.h"

#include "physc/Frontend/MLIRGen.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

using namespace mlir;

int physc::emitStage(llvm::StringRef stageName, const std::string &file,
                     const std::string &precision) {
  Stage stage = llvm::StringSwitch<Stage>(stageName)
                    .Case("phys", Stage::Phys)
                    .Case("jets", Stage::Jets)
                    .Case("adjoint", Stage::Adjoint)
                    .Case("kernels", Stage::Kernels)
                    .Default(Stage::LLVM);
  DialectRegistry registry;
  registerPhyscDialects(registry);
  MLIRContext ctx(registry);
  CodegenOptions options;
  options.precision = precision;
  OwningOpRef<ModuleOp> module = loadAndLower(file, ctx, stage, options);
  if (!module)
    return 1;
  if (stage != Stage::LLVM) {
    module->print(llvm::outs(), OpPrintingFlags().enableDebugInfo(false));
    return 0;
  }
  llvm::LLVMContext llvmCtx;
  auto llvmModule = translateModuleToLLVMIR(*module, llvmCtx, file);
  if (!llvmModule) {
    llvm::errs() << "error: translation to LLVM IR failed\n";
    return 1;
  }
  llvmModule->print(llvm::outs(), nullptr);
  return 0;
}
