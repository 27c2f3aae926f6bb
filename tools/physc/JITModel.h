//===- JITModel.h - A .phys model compiled for the CPU ----------*- C++ -*-===//
//
// Part of physc. Runs the whole pipeline on a loaded model, JIT-compiles the
// kernels with MLIR's ExecutionEngine, and binds them into the runtime's
// physrt::CompiledModel. The kernels compute in f32 or f64; the runtime
// always speaks f64, so f32 kernels are wrapped by converting adapters.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_JITMODEL_H
#define PHYSC_TOOLS_JITMODEL_H

#include "PTX.h"
#include "Pipeline.h"

#include "physc/Frontend/Frontend.h"
#include "physrt/Model.h"
#include "physrt/ModelJSON.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace physc {

class JITModel {
public:
  /// Whether compile() also generates the kernels' PTX (generatePTX,
  /// PTX.h) for moveToGPU(): not at all, as a must (a failure fails the
  /// compilation), or if it can (`--device auto`: a failure is kept for
  /// moveToGPU to report, and the CPU code is still built).
  enum class GPUCode { None, Required, IfPossible };
  /// Returns null after printing errors to `errs`.
  static std::unique_ptr<JITModel> compile(const LoadedModel &loaded,
                                           const CodegenOptions &options,
                                           llvm::raw_ostream &errs,
                                           GPUCode gpu = GPUCode::None);
  /// Loads and checks `path`, then compiles it in `precision`.
  static std::unique_ptr<JITModel> compileFile(const std::string &path,
                                               const std::string &precision,
                                               llvm::raw_ostream &errs);
  ~JITModel();

  physrt::CompiledModel &model() { return compiled; }

  /// A `jets` kernel: for `physc gradcheck`, the chain of derivatives an
  /// equation takes; yield `hi` must equal d/d(coord) of yield `lo`.
  struct Jets {
    std::string equation;
    int outputs = 0;
    std::vector<std::array<int, 3>> checks; ///< {lo, hi, coord}
    physrt::EvalFn eval;
  };
  const std::vector<Jets> &jets() const { return jetKernels; }
  const CodegenOptions &options() const { return opts; }

  /// Loads the kernels' PTX on CUDA device 0 and rebinds the model's kernels
  /// to it (physrt::cuda::bindCudaKernels). Needs compile(..., cuda = true).
  /// False after printing why to `errs`.
  bool moveToGPU(llvm::raw_ostream &errs);
  /// Where the PTX came from (generated, or read from the code cache).
  const PTXOrigin &gpuCodeOrigin() const { return ptxOrigin; }

private:
  JITModel() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  physrt::CompiledModel compiled;
  std::vector<Jets> jetKernels;
  CodegenOptions opts;
  std::vector<physrt::KernelRef> kernelRefs;
  std::string ptx;      ///< for moveToGPU(); empty without GPU code
  std::string ptxError; ///< why there is no PTX (GPUCode::IfPossible)
  PTXOrigin ptxOrigin;
};

} // namespace physc

#endif // PHYSC_TOOLS_JITMODEL_H
