//===- KernelsToGPU.cpp - phys.kernel => gpu.func, one point per thread ---===//
//
// Part of physc. The code generator of the CUDA path. It walks a stage-3
// kernel body with the same KernelSchedule as phys-fuse-kernels, but where
// the CPU holds `lanes` points in vector registers, a GPU thread holds one
// point in scalar registers: every scalar stays a scalar (f32 or f64), every
// row becomes a W-long private array, runs of elementwise row ops one loop
// over W. The parallelism is across threads, so nothing is vectorised here.
// That lowering of the body is shared with phys-fuse-kernels (RowCodegen);
// this file holds the scalar hooks, the kernel signature and launch shape,
// and the reduction across the block and the grid.
//
// Loss/gradient kernels need a reduction over all points. Each thread sums
// its own points (grid-stride loop) into a private accumulator [loss, grad];
// the block then reduces those accumulators through workgroup memory with a
// fixed tree (chunks of parameters at a time, so there are few barriers) and
// thread 0 writes the block's sums to its own row of a partials buffer. A
// second generated kernel adds the rows in block order. No atomics are used:
// the result is the same bit for bit from run to run.
//
//===----------------------------------------------------------------------===//

#include "RowCodegen.h"
#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace physc {
#define GEN_PASS_DEF_KERNELSTOGPU
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Parameters reduced together per round of the block tree: one barrier per
/// tree level serves this many sums.
constexpr int64_t kReduceChunk = 8;

/// Emits one phys.kernel as a gpu.func in `gpuModule`.
class GPUKernelCodegen : public RowCodegen {
public:
  GPUKernelCodegen(KernelOp kernel, FloatType elt, int64_t blockSize)
      : RowCodegen(kernel, elt), blockSize(blockSize) {
    // acc[0] is the loss: gradient entry k lives at acc[1 + k].
    gradBase = 1;
  }

  LogicalResult emit(gpu::GPUModuleOp gpuModule);

private:
  Value constant(double v) override {
    return b.create<arith::ConstantOp>(loc, b.getFloatAttr(T, v));
  }
  Value boolConstant(arith::ConstantOp c) override {
    return b.clone(*c)->getResult(0);
  }
  Value broadcast(Value scalar) override { return scalar; }
  /// Offset of column `c` of an SoA array at the current point.
  Value columnOffset(int64_t c) {
    return b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, idx(c), ld), point);
  }
  Value pointColumn(int64_t c) override {
    Value off = columnOffset(c);
    return b.create<memref::LoadOp>(loc, pts, off);
  }
  void storePointColumn(int64_t c, Value v) override {
    Value off = columnOffset(c);
    b.create<memref::StoreOp>(loc, v, out, off);
  }
  /// Only points below n are ever visited: nothing to mask.
  Value mask(Value v) override { return v; }
  /// a * b + c, allowed to contract into one fma.rn (convert-gpu-to-nvvm
  /// has no lowering of math.fma in LLVM 19).
  Value fma(Value x, Value y, Value z) override {
    auto contract = arith::FastMathFlagsAttr::get(
        b.getContext(), arith::FastMathFlags::contract);
    Value xy = b.create<arith::MulFOp>(loc, x, y, contract);
    return b.create<arith::AddFOp>(loc, xy, z, contract);
  }
  Type registerType(Type elt) override {
    return elt.isInteger(1) ? elt : Type(T);
  }
  Type rowStorageType(Value row) override {
    bool isBool = getElementTypeOrSelf(row.getType()).isInteger(1);
    return isBool ? Type(b.getI1Type()) : Type(T);
  }
  StringRef unsupportedMessage() override {
    return "cannot be lowered to a GPU kernel";
  }
  /// Block tree reduction of acc[0, total) into partials[blockId * total].
  void emitBlockReduce(Value shared, int64_t total);

  int64_t blockSize;
  Value point, acc, tid; ///< the thread's point, its [loss, grad...]
};

void GPUKernelCodegen::emitBlockReduce(Value shared, int64_t total) {
  // for c0 in [0, total) step C:
  //   shared[c * B + tid] = acc[c0 + c] (0 past the end);   barrier
  //   for s = B/2 .. 1: if tid < s: shared[c*B+tid] += shared[c*B+tid+s];
  //                     barrier
  //   tid == 0: partials[block * total + c0 + c] = shared[c * B]; barrier
  Value zero = constant(0);
  Value blockId = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value rowBase = b.create<arith::MulIOp>(loc, blockId, idx(total));
  auto chunks =
      b.create<scf::ForOp>(loc, idx(0), idx(total), idx(kReduceChunk));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(chunks.getBody()->getTerminator());
  Value c0 = chunks.getInductionVar();
  auto forEachInChunk = [&](llvm::function_ref<void(int64_t, Value)> body) {
    for (int64_t c = 0; c < kReduceChunk; ++c)
      body(c, b.create<arith::AddIOp>(loc, c0, idx(c)));
  };
  forEachInChunk([&](int64_t c, Value k) {
    Value inRange =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, k, idx(total));
    // Clamp so the load stays inside acc; the select drops the value.
    Value kc = b.create<arith::MinUIOp>(loc, k, idx(total - 1));
    Value v = b.create<arith::SelectOp>(
        loc, inRange, b.create<memref::LoadOp>(loc, acc, kc), zero);
    Value slot = b.create<arith::AddIOp>(loc, idx(c * blockSize), tid);
    b.create<memref::StoreOp>(loc, v, shared, slot);
  });
  b.create<gpu::BarrierOp>(loc);
  for (int64_t s = blockSize / 2; s >= 1; s /= 2) {
    Value active =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, tid, idx(s));
    auto ifOp = b.create<scf::IfOp>(loc, active, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      for (int64_t c = 0; c < kReduceChunk; ++c) {
        Value lo = b.create<arith::AddIOp>(loc, idx(c * blockSize), tid);
        Value hi = b.create<arith::AddIOp>(loc, lo, idx(s));
        Value sum = b.create<arith::AddFOp>(
            loc, b.create<memref::LoadOp>(loc, shared, lo),
            b.create<memref::LoadOp>(loc, shared, hi));
        b.create<memref::StoreOp>(loc, sum, shared, lo);
      }
    }
    b.create<gpu::BarrierOp>(loc);
  }
  Value first =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, tid, idx(0));
  auto ifFirst = b.create<scf::IfOp>(loc, first, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(ifFirst.thenBlock()->getTerminator());
    forEachInChunk([&](int64_t c, Value k) {
      Value inRange = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, k,
                                              idx(total));
      auto ifIn = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPoint(ifIn.thenBlock()->getTerminator());
      Value v = b.create<memref::LoadOp>(loc, shared, idx(c * blockSize));
      Value at = b.create<arith::AddIOp>(loc, rowBase, k);
      b.create<memref::StoreOp>(loc, v, out, at);
    });
  }
  // The next chunk overwrites shared memory that thread 0 just read.
  b.create<gpu::BarrierOp>(loc);
}

LogicalResult GPUKernelCodegen::emit(gpu::GPUModuleOp gpuModule) {
  bool lossGrad = kernel.getKind() == "loss_grad";
  Block &body = kernel.getBody().front();
  loc = kernel.getLoc();
  MLIRContext *ctx = kernel.getContext();
  // (params, pts, ld, n, rt, out): `out` is the SoA output of an eval
  // kernel, the partials [gridDim.x x (1 + numParams)] of a loss kernel.
  SmallVector<Type> args = argumentTypes();
  int64_t total = 1 + layout.size;
  SmallVector<Type> workgroup;
  if (lossGrad)
    workgroup.push_back(MemRefType::get(
        {kReduceChunk * blockSize}, T, AffineMap(),
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup)));
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(
      loc, functionName(), b.getFunctionType(args, {}), workgroup, TypeRange());
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  if (lossGrad)
    fn.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({static_cast<int32_t>(blockSize), 1, 1}));
  Block *entryBlock = &fn.getBody().front();
  bindArguments(entryBlock);
  b.setInsertionPointToStart(entryBlock);

  // Hoisted constants: splat rows become scalar constants.
  hoistSplatConstants(body);

  tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
  // Private arrays go in front of everything that uses them.
  entry =
      OpBuilder::InsertPoint(entryBlock, Block::iterator(tid.getDefiningOp()));
  Value bid = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  Value bdim = b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
  Value global = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, bid, bdim), tid);
  Operation *pointLoop;
  if (lossGrad) {
    // The thread's private [loss, grad...], summed over its points.
    acc = b.create<memref::AllocaOp>(loc, MemRefType::get({total}, T));
    auto z = b.create<scf::ForOp>(loc, idx(0), idx(total), idx(1));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(z.getBody()->getTerminator());
      b.create<memref::StoreOp>(loc, constant(0), acc, z.getInductionVar());
    }
    lossAcc = gradAcc = acc;
    // Grid-stride: any grid size covers all n points.
    Value stride = b.create<arith::MulIOp>(
        loc, b.create<gpu::GridDimOp>(loc, gpu::Dimension::x), bdim);
    auto loop = b.create<scf::ForOp>(loc, global, n, stride);
    point = loop.getInductionVar();
    pointLoop = loop;
    b.setInsertionPoint(loop.getBody()->getTerminator());
  } else {
    // One thread per point.
    Value inRange =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, global, n);
    auto ifOp = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
    point = global;
    pointLoop = ifOp;
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  }
  for (auto [c, arg] : llvm::enumerate(body.getArguments()))
    scalars[arg] = pointColumn(c);

  if (failed(emitBody(body)))
    return failure();

  b.setInsertionPointAfter(pointLoop);
  if (lossGrad)
    emitBlockReduce(fn.getWorkgroupAttributions().front(), total);
  b.create<gpu::ReturnOp>(loc);
  return success();
}

/// `MODEL_sum_partials(partials, blocks, out, grad)`: thread k adds column k
/// of the partials over the blocks, in block order, and accumulates it into
/// the caller's loss (k = 0) or gradient entry k - 1.
void emitSumPartials(OpBuilder &b, gpu::GPUModuleOp gpuModule, ModelOp model,
                     FloatType T) {
  Location loc = model.getLoc();
  int64_t total = 1 + ParamLayout(model).size;
  auto dyn = MemRefType::get({ShapedType::kDynamic}, T);
  SmallVector<Type> args{dyn, b.getIndexType(), dyn, dyn};
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(
      loc, (model.getSymName() + "_sum_partials").str(),
      b.getFunctionType(args, {}), TypeRange(), TypeRange());
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  Block *entry = &fn.getBody().front();
  Value partials = entry->getArgument(0), blocks = entry->getArgument(1),
        lossOut = entry->getArgument(2), gradOut = entry->getArgument(3);
  b.setInsertionPointToStart(entry);
  auto idx = [&](int64_t v) -> Value {
    return b.create<arith::ConstantIndexOp>(loc, v);
  };
  Value k = b.create<arith::AddIOp>(
      loc,
      b.create<arith::MulIOp>(
          loc, b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x),
          b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x)),
      b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x));
  Value inRange =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, k, idx(total));
  auto ifIn = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPoint(ifIn.thenBlock()->getTerminator());
  Value zero = b.create<arith::ConstantOp>(loc, b.getFloatAttr(T, 0));
  auto loop = b.create<scf::ForOp>(loc, idx(0), blocks, idx(1), zero);
  {
    OpBuilder::InsertionGuard g(b);
    Block *body = loop.getBody();
    if (!body->empty() && isa<scf::YieldOp>(body->back()))
      body->back().erase();
    b.setInsertionPointToEnd(body);
    Value at = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, loop.getInductionVar(), idx(total)),
        k);
    Value sum =
        b.create<arith::AddFOp>(loc, loop.getRegionIterArg(0),
                                b.create<memref::LoadOp>(loc, partials, at));
    b.create<scf::YieldOp>(loc, sum);
  }
  Value sum = loop.getResult(0);
  Value first = idx(0);
  Value isLoss =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, k, first);
  auto ifLoss = b.create<scf::IfOp>(loc, isLoss, /*withElseRegion=*/true);
  auto accumulate = [&](Block *block, Value dst, Value at) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(block->getTerminator());
    Value old = b.create<memref::LoadOp>(loc, dst, at);
    b.create<memref::StoreOp>(loc, b.create<arith::AddFOp>(loc, old, sum), dst,
                              at);
  };
  accumulate(ifLoss.thenBlock(), lossOut, first);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifLoss.elseBlock()->getTerminator());
    Value gk = b.create<arith::SubIOp>(loc, k, idx(1));
    accumulate(ifLoss.elseBlock(), gradOut, gk);
  }
  b.setInsertionPointAfter(ifIn);
  b.create<gpu::ReturnOp>(loc);
}

struct KernelsToGPUPass
    : public physc::impl::KernelsToGPUBase<KernelsToGPUPass> {
  using KernelsToGPUBase::KernelsToGPUBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<FloatType> elt = parsePrecision(module, precision);
    if (failed(elt))
      return signalPassFailure();
    if (blockSize < 2 || blockSize > 1024 ||
        (blockSize & (blockSize - 1)) != 0) {
      module.emitError("block-size must be a power of two in [2, 1024], got ")
          << static_cast<unsigned>(blockSize);
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    SmallVector<ModelOp> models(module.getOps<ModelOp>());
    for (ModelOp model : models) {
      b.setInsertionPointToEnd(module.getBody());
      auto gpuModule = b.create<gpu::GPUModuleOp>(
          model.getLoc(), (model.getSymName() + "_kernels").str());
      bool anyLoss = false;
      for (KernelOp k : model.getBody().front().getOps<KernelOp>()) {
        anyLoss |= k.getKind() == "loss_grad";
        GPUKernelCodegen cg(k, *elt, blockSize);
        if (failed(cg.emit(gpuModule)))
          return signalPassFailure();
      }
      if (anyLoss)
        emitSumPartials(b, gpuModule, model, *elt);
    }
    // The phys model has served its purpose; only GPU kernels remain.
    for (ModelOp m : models)
      m.erase();
  }
};

} // namespace
