//===- JITModel.cpp - A .phys model compiled for the CPU ------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "JITModel.h"

#include "Commands.h"
#include "Describe.h"
#include "PTX.h"

#include "physc/Frontend/MLIRGen.h"
#include "physrt/CudaKernels.h"
#include "physrt/Error.h"
#include "physrt/KernelABI.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace physc;

JITModel::~JITModel() = default;

std::unique_ptr<JITModel> JITModel::compile(const LoadedModel &loaded,
                                            const CodegenOptions &options,
                                            llvm::raw_ostream &errs,
                                            GPUCode gpu) {
  static bool init = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)init;
  DialectRegistry registry;
  registerPhyscDialects(registry);
  MLIRContext ctx(registry);
  OwningOpRef<ModuleOp> module = mlirGen(ctx, loaded);
  if (!module || failed(lowerTo(*module, Stage::Adjoint, options)))
    return nullptr;

  std::optional<Description> described = describeModel(*module, options, errs);
  if (!described)
    return nullptr;
  std::unique_ptr<JITModel> jit(new JITModel());
  jit->opts = options;
  jit->compiled = std::move(described->desc.model);
  jit->kernelRefs = described->desc.kernels;
  if (gpu == GPUCode::Required) {
    // From the stage-3 module, before it is lowered for the CPU below.
    std::optional<std::string> text = generatePTX(
        *module, options.precision, kRuntimeChip, "physc train", errs,
        /*blockSize=*/128, /*stageParams=*/true, options.gpuLanesPerPoint,
        &jit->ptxOrigin);
    if (!text)
      return nullptr;
    jit->ptx = std::move(*text);
  } else if (gpu == GPUCode::IfPossible) {
    // Every message (the pipeline's diagnostics too) goes to ptxError.
    llvm::raw_string_ostream why(jit->ptxError);
    ScopedDiagnosticHandler capture(&ctx, [&](Diagnostic &d) {
      why << d.str() << "\n";
      return success();
    });
    std::optional<std::string> text = generatePTX(
        *module, options.precision, kRuntimeChip, "physc train", why,
        /*blockSize=*/128, /*stageParams=*/true, options.gpuLanesPerPoint,
        &jit->ptxOrigin);
    if (text)
      jit->ptx = std::move(*text);
    else if (jit->ptxError.empty())
      jit->ptxError = "the GPU code could not be generated";
  }
  for (JetsInfo &j : described->jets)
    jit->jetKernels.push_back({j.equation, j.outputs, j.checks, {}});

  if (failed(lowerTo(*module, Stage::LLVM, options, Stage::Adjoint)))
    return nullptr;
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder) {
    errs << "error: cannot target this machine: "
         << llvm::toString(tmBuilder.takeError()) << "\n";
    return nullptr;
  }
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = tmBuilder->createTargetMachine();
  if (!tm) {
    errs << "error: " << llvm::toString(tm.takeError()) << "\n";
    return nullptr;
  }
  ExecutionEngineOptions eo;
  auto transformer = makeOptimizingTransformer(3, 0, tm->get());
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(*module, eo, std::move(*tm));
  if (!engine) {
    errs << "error: JIT compilation failed: "
         << llvm::toString(engine.takeError()) << "\n";
    return nullptr;
  }
  jit->engine = std::move(*engine);
  auto lookup = [&](const std::string &symbol) -> void * {
    auto fn = jit->engine->lookup(symbol);
    if (!fn) {
      llvm::consumeError(fn.takeError());
      return nullptr;
    }
    return *fn;
  };
  bool f64 = options.precision == "f64";
  const std::vector<physrt::KernelRef> &refs = described->desc.kernels;
  try {
    physrt::bindKernels(jit->compiled, refs, f64, lookup);
  } catch (const physrt::Error &e) {
    errs << "error: " << e.what() << "\n";
    return nullptr;
  }
  const physrt::CompiledModel &M = jit->compiled;
  for (const physrt::KernelRef &k : refs) {
    if (k.role != physrt::KernelRef::Role::Jets)
      continue;
    void *fn = lookup(k.symbol);
    if (!fn) {
      errs << "error: kernel " << k.symbol << " not found\n";
      return nullptr;
    }
    jit->jetKernels[k.index].eval = physrt::bindEval(
        fn, f64, k.columns, k.outputs, M.numParams, M.runtimeParams.size());
  }
  return jit;
}

std::unique_ptr<JITModel> JITModel::compileFile(const std::string &path,
                                                const std::string &precision,
                                                llvm::raw_ostream &errs) {
  std::optional<LoadedModel> loaded = loadModel(path, errs);
  if (!loaded)
    return nullptr;
  CodegenOptions cg;
  cg.precision = precision;
  return compile(*loaded, cg, errs);
}

bool JITModel::moveToGPU(llvm::raw_ostream &errs) {
  if (ptx.empty()) {
    errs << "physc train: error: "
         << (ptxError.empty() ? "the model was compiled without its GPU code"
                              : llvm::StringRef(ptxError).trim().str())
         << "\n";
    return false;
  }
  try {
    physrt::cuda::bindCudaKernels(compiled, kernelRefs, opts.precision == "f64",
                                  ptx);
  } catch (const physrt::Error &e) {
    errs << "physc train: error: " << e.what() << "\n";
    return false;
  }
  return true;
}
