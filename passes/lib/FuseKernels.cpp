//===- FuseKernels.cpp - phys.kernel => one point-loop function -----------===//
//
// Part of physc. The code generator of the CPU path. A kernel body is
// straight-line code on scalars (one value per point) and rows (W values per
// point). Points are processed in tiles of `lanes`, one vector lane each, so
// every scalar becomes a vector<lanes x T> and every row a W-long array of
// such vectors in stack scratch. Runs of elementwise row ops are fused into
// one loop over W, so intermediate rows of an activation's jet never touch
// memory; scratch rows are recycled as soon as their last reader has run.
// That lowering of the body is shared with phys-kernels-to-gpu (RowCodegen);
// this file holds what is particular to the CPU: the vector hooks, the
// function signature, the tile loop and the final reduction of the lanes.
//
//===----------------------------------------------------------------------===//

#include "RowCodegen.h"
#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"

namespace physc {
#define GEN_PASS_DEF_FUSEKERNELS
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Emits one phys.kernel as a function over tiles of `lanes` points.
class KernelCodegen : public RowCodegen {
public:
  KernelCodegen(KernelOp kernel, FloatType elt, unsigned lanes)
      : RowCodegen(kernel, elt), P(lanes),
        VT(VectorType::get({(int64_t)lanes}, elt)),
        MT(VectorType::get({(int64_t)lanes},
                           IntegerType::get(elt.getContext(), 1))) {}

  LogicalResult emit(ModuleOp module);

private:
  Value constant(double v) override {
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(VT, b.getFloatAttr(T, v).getValue()));
  }
  Value boolConstant(arith::ConstantOp c) override {
    auto i = dyn_cast<IntegerAttr>(c.getValue());
    if (!i)
      return {};
    bool v = i.getValue().getBoolValue();
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(MT, ArrayRef<bool>(v)));
  }
  Value broadcast(Value scalar) override {
    return b.create<vector::BroadcastOp>(loc, VT, scalar);
  }
  /// The lanes of the tile: column c at points base .. base + P - 1.
  Value columnOffset(int64_t c) {
    return b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, idx(c), ld), base);
  }
  Value pointColumn(int64_t c) override {
    Value off = columnOffset(c);
    return b.create<vector::LoadOp>(loc, VT, pts, ValueRange{off});
  }
  void storePointColumn(int64_t c, Value v) override {
    Value off = columnOffset(c);
    b.create<vector::StoreOp>(loc, v, out, ValueRange{off});
  }
  /// Lanes past n (in the last tile) must not reach a loss.
  Value mask(Value v) override {
    return b.create<arith::SelectOp>(loc, laneMask, v, constant(0));
  }
  Value fma(Value x, Value y, Value z) override {
    return b.create<vector::FMAOp>(loc, x, y, z);
  }
  Type registerType(Type elt) override {
    return elt.isInteger(1) ? Type(MT) : Type(VT);
  }
  Type rowStorageType(Value row) override { return VT; }
  StringRef unsupportedMessage() override {
    return "cannot be fused into a CPU kernel";
  }
  /// A matvec over a tile is, per weight, a broadcast load and then a
  /// vector load of x[i] for one vector fma: two loads per fma, where a
  /// core issues two loads and two fmas per cycle. Fused, the matvecs of a
  /// layer's jet components share the broadcast (1 + C loads per C fmas).
  /// Measured with `physc bench --precision f32 --points 8192` (medians of
  /// 5, 2 threads): bench_burgers64 38.4 => 27.3 ms, kovasznay 17.3 =>
  /// 11.9 ms; 4 at a time gave 27.7 and 13.5 ms.
  int64_t fusedMatvecs() override { return 8; }

  unsigned P;
  VectorType VT, MT;
  Value grad;           ///< the caller's gradient (loss kernels)
  Value base, laneMask; ///< first point of the tile, lanes below n
};

LogicalResult KernelCodegen::emit(ModuleOp module) {
  bool lossGrad = kernel.getKind() == "loss_grad";
  Block &body = kernel.getBody().front();
  loc = kernel.getLoc();
  // (params, pts, ld, n, rt, out[, grad]): a loss kernel adds its loss to
  // out[0] and its gradient to grad.
  SmallVector<Type> args = argumentTypes();
  if (lossGrad)
    args.push_back(args.front());
  b.setInsertionPointToEnd(module.getBody());
  auto fn =
      b.create<func::FuncOp>(loc, functionName(), b.getFunctionType(args, {}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entryBlock = fn.addEntryBlock();
  bindArguments(entryBlock);
  if (lossGrad)
    grad = entryBlock->getArgument(6);
  b.setInsertionPointToStart(entryBlock);

  // Hoisted constants: splat rows become vector constants.
  hoistSplatConstants(body);

  Value lossBuf, gradBuf;
  int64_t numParams = layout.size;
  if (lossGrad) {
    lossBuf = b.create<memref::AllocaOp>(loc, MemRefType::get({1}, VT));
    b.create<memref::StoreOp>(loc, constant(0), lossBuf, idx(0));
    gradBuf = b.create<memref::AllocOp>(loc, MemRefType::get({numParams}, VT),
                                        b.getI64IntegerAttr(64));
    auto z = b.create<scf::ForOp>(loc, idx(0), idx(numParams), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(z.getBody()->getTerminator());
    b.create<memref::StoreOp>(loc, constant(0), gradBuf, z.getInductionVar());
  }
  lossAcc = lossBuf;
  gradAcc = gradBuf;

  // The tile loop. Scratch rows are allocated in front of it.
  Value lanes = idx(P);
  entry = OpBuilder::InsertPoint(entryBlock,
                                 Block::iterator(lanes.getDefiningOp()));
  Value ntiles = b.create<arith::DivUIOp>(
      loc, b.create<arith::AddIOp>(loc, n, idx(P - 1)), lanes);
  auto tiles = b.create<scf::ForOp>(loc, idx(0), ntiles, idx(1));
  b.setInsertionPoint(tiles.getBody()->getTerminator());
  base = b.create<arith::MulIOp>(loc, tiles.getInductionVar(), lanes);
  Value rem = b.create<arith::SubIOp>(loc, n, base);
  laneMask = b.create<vector::CreateMaskOp>(loc, MT, ValueRange{rem});
  for (auto [c, arg] : llvm::enumerate(body.getArguments()))
    scalars[arg] = pointColumn(c);
  if (failed(emitBody(body)))
    return failure();

  // After the tiles: reduce the lanes into the caller's accumulators.
  b.setInsertionPointAfter(tiles);
  if (lossGrad) {
    auto add = [&](Value acc, Value dst, Value k) {
      Value s =
          b.create<vector::ReductionOp>(loc, vector::CombiningKind::ADD, acc);
      Value old = b.create<memref::LoadOp>(loc, dst, k);
      b.create<memref::StoreOp>(loc, b.create<arith::AddFOp>(loc, old, s), dst,
                                k);
    };
    add(b.create<memref::LoadOp>(loc, lossBuf, idx(0)), out, idx(0));
    auto r = b.create<scf::ForOp>(loc, idx(0), idx(numParams), idx(1));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(r.getBody()->getTerminator());
      Value k = r.getInductionVar();
      add(b.create<memref::LoadOp>(loc, gradBuf, k), grad, k);
    }
    b.create<memref::DeallocOp>(loc, gradBuf);
  }
  b.create<func::ReturnOp>(loc);
  return success();
}

struct FuseKernelsPass : public physc::impl::FuseKernelsBase<FuseKernelsPass> {
  using FuseKernelsBase::FuseKernelsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<FloatType> elt = parsePrecision(module, precision);
    if (failed(elt))
      return signalPassFailure();
    if (lanes == 0 || 64 % lanes != 0) {
      module.emitError("lanes must divide 64, got ")
          << static_cast<unsigned>(lanes);
      return signalPassFailure();
    }
    SmallVector<KernelOp> kernels;
    module.walk([&](KernelOp k) { kernels.push_back(k); });
    for (KernelOp k : kernels) {
      KernelCodegen cg(k, *elt, lanes);
      if (failed(cg.emit(module)))
        return signalPassFailure();
    }
    // The phys model has served its purpose; only functions remain.
    SmallVector<ModelOp> models(module.getOps<ModelOp>());
    for (ModelOp m : models)
      m.erase();
  }
};

} // namespace
