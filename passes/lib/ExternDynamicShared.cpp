//===- ExternDynamicShared.cpp - `.extern .shared` for dynamic smem -------===//
//
// Part of physc. A loss kernel that stages the parameters reads them from
// dynamic shared memory (gpu.dynamic_shared_memory). LLVM 19's
// convert-gpu-to-nvvm gives the global behind it internal linkage; the
// NVPTX printer then demotes it into the kernel as a one-byte static
// `.shared` variable, which is not where the driver places the launch's
// dynamic bytes. External linkage gives the declaration nvcc writes for
// `extern __shared__`: `.extern .shared .align 16 .b8 NAME[];`.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace physc {
#define GEN_PASS_DEF_EXTERNDYNAMICSHARED
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;

namespace {

/// NVPTX's shared address space (NVVM::NVVMMemorySpace::kSharedMemorySpace).
constexpr unsigned kSharedAddressSpace = 3;

struct ExternDynamicSharedPass
    : public physc::impl::ExternDynamicSharedBase<ExternDynamicSharedPass> {
  void runOnOperation() override {
    for (auto global : getOperation().getOps<LLVM::GlobalOp>()) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      // Only the zero-length arrays that stand for dynamic shared memory:
      // static workgroup buffers keep their size and linkage.
      if (global.getAddrSpace() != kSharedAddressSpace || !array ||
          array.getNumElements() != 0 || global.getValueOrNull())
        continue;
      global.setLinkage(LLVM::Linkage::External);
    }
  }
};

} // namespace
