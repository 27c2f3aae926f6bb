//===- Passes.h - The physc lowering pipeline -------------------*- C++ -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TRANSFORMS_PASSES_H
#define PHYSC_TRANSFORMS_PASSES_H

#include "physc/Dialect/Phys/PhysOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace physc {

#define GEN_PASS_DECL
#include "physc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "physc/Transforms/Passes.h.inc"

/// Registers the `phys-to-cpu` pipeline: scf/vector/memref/math/arith/func
/// => LLVM dialect.
void registerPhysToCPUPipeline();
void buildPhysToCPUPipeline(mlir::OpPassManager &pm);

/// Options of the `phys-to-cuda` pipeline (stage-3 kernels => PTX).
struct PhysToCUDAOptions : public mlir::PassPipelineOptions<PhysToCUDAOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU architecture: sm_80 .. sm_90"),
                           llvm::cl::init("sm_90")};
  Option<std::string> precision{
      *this, "precision", llvm::cl::desc("f32 or f64"), llvm::cl::init("f32")};
  Option<unsigned> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block of the loss kernels"),
      llvm::cl::init(128)};
  Option<bool> stageParams{
      *this, "stage-params",
      llvm::cl::desc("Stage the parameters in shared memory in loss kernels"),
      llvm::cl::init(true)};
  Option<unsigned> lanesPerPoint{
      *this, "lanes-per-point",
      llvm::cl::desc("Lanes of a warp that share one point in loss kernels"),
      llvm::cl::init(1)};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit root (libdevice and ptxas)"),
      llvm::cl::init("/usr/local/cuda")};
};

/// The chips `phys-to-cuda` targets (its PTX ISA, 8.0, knows them all).
bool isSupportedCUDAChip(llvm::StringRef chip);

/// Registers the `phys-to-cuda` pipeline: phys-kernels-to-gpu, then
/// gpu => NVVM => PTX in a gpu.binary (`#gpu.object` with format isa).
void registerPhysToCUDAPipeline();
void buildPhysToCUDAPipeline(mlir::OpPassManager &pm,
                             const PhysToCUDAOptions &options);
/// Its two halves. The first (phys-kernels-to-gpu, canonicalize, cse) is
/// cheap and leaves gpu.modules whose text determines the PTX together
/// with the chip and libdevice; the second (NVVM, LLVM's O3 and NVPTX back
/// end) takes seconds, which is why physc caches its result by that text.
void buildPhysToGPUPipeline(mlir::OpPassManager &pm,
                            const PhysToCUDAOptions &options);
void buildGPUToPTXPipeline(mlir::OpPassManager &pm,
                           const PhysToCUDAOptions &options);
/// What serialising a gpu.module to PTX needs in the context: the NVVM
/// target attribute interface and the LLVM IR translations of the GPU,
/// NVVM and LLVM dialects.
void registerCUDATarget(mlir::DialectRegistry &registry);

} // namespace physc

#endif // PHYSC_TRANSFORMS_PASSES_H
