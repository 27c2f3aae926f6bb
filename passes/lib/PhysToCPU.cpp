//===- PhysToCPU.cpp - The fused kernels down to the LLVM dialect ---------===//
//
// Part of physc. Stage 6 of the pipeline: after phys-fuse-kernels only
// func/scf/vector/memref/math/arith remain, and upstream conversions take
// them to LLVM. The one choice of ours is phys-approximate-math, which keeps
// f32 activations vectorised.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

namespace physc {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;

namespace {
struct ApproximateMathPass
    : public physc::impl::ApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    MathPolynomialApproximationOptions options;
    options.enableAvx2 = false;
    populateMathPolynomialApproximationPatterns(patterns, options);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

static const char *kUpstream =
    "convert-scf-to-cf,"
    "convert-math-to-llvm,convert-math-to-libm,"
    "convert-vector-to-llvm{reassociate-fp-reductions=1},"
    "finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
    "convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts";

void physc::buildPhysToCPUPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createApproximateMath());
  if (failed(parsePassPipeline(kUpstream, pm)))
    llvm::report_fatal_error("phys-to-cpu: bad built-in pipeline");
}

void physc::registerPhysToCPUPipeline() {
  PassPipelineRegistration<>(
      "phys-to-cpu",
      "Lower fused kernels (func/scf/vector/memref/math/arith) to the LLVM "
      "dialect",
      buildPhysToCPUPipeline);
}
