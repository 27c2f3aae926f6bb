//===- KernelsToGPU.cpp - phys.kernel => gpu.func, a tile per block -------===//
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
// Loss/gradient kernels need a reduction over all points. A block walks
// tiles of blockDim.x points (grid-stride), one point per thread. The loss
// and the gradient of scalar params go to private sums. The gradient of a
// layer's weights is a sum of outer products dy (x) x: a private copy per
// thread would be the whole parameter vector (51 KB for a 2-64x4-1 MLP in
// f32, in local memory), so the tile's rows are staged in workgroup memory
// instead and each thread sums a fixed 1/B of the entries over the tile's
// points, adding them into the block's own row of a partials buffer. After
// the tiles, the private sums are reduced by a fixed tree. A second
// generated kernel adds the rows in block order. No atomics are used: the
// result is the same bit for bit from run to run.
//
// Every thread of a loss kernel reads every weight, several times per
// point (the jets, then the reverse sweep). With `stage-params` the block
// first copies the parameter vector into dynamic shared memory, and those
// reads become shared loads that all threads of a warp share.
//
// With `lanes-per-point` L > 1 a loss kernel instead spreads each point over
// the L lanes of a group, every row in registers (slot k of lane q holds
// element q + kL); see "Lane-split rows" below. The reduction is the same.
//
//===----------------------------------------------------------------------===//

#include "RowCodegen.h"
#include "TrainKernelsToGPU.h"
#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <map>

namespace physc {
#define GEN_PASS_DEF_KERNELSTOGPU
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

/// Private sums reduced together per round of the block tree: one barrier
/// per tree level serves this many sums.
constexpr int64_t kReduceChunk = 8;
/// Workgroup memory for staging the rows of a tile's gradient products:
/// below the 48 KB a kernel may declare statically, and small enough that
/// several blocks share an SM.
constexpr int64_t kStageBytes = 40 * 1024;
/// Matvec outputs a thread computes together (GPUKernelCodegen::
/// matvecBlock).
constexpr int64_t kMatvecBlock = 4;
/// Rows of a layer's dW each thread sums together in the tile's gradient
/// reduction (GPUKernelCodegen::emitGradAccum).
constexpr int64_t kGradRows = 4;
/// Matvecs of one layer (the jet components of a row, or of its adjoint)
/// a lane-split kernel computes in one loop, sharing each weight load.
constexpr int64_t kMaxFusedMatvecs = 8;
/// Workgroup bytes the slices of a lane-split kernel may take before it
/// fuses fewer matvecs (kMaxFusedMatvecs, halved until they fit).
constexpr int64_t kMaxSliceBytes = 20 * 1024;
/// Largest parameter vector staged in shared memory. With kStageBytes of
/// static workgroup memory a block then needs at most 96 KB, which every
/// chip physc targets grants (sm_86 and sm_89 allow 99 KB per block, sm_80
/// 163 KB, sm_90 227 KB), and the PTX is the same for all of them.
constexpr int64_t kMaxStagedParamBytes = 56 * 1024;

/// Emits one phys.kernel as a gpu.func in `gpuModule`.
class GPUKernelCodegen : public RowCodegen {
public:
  GPUKernelCodegen(KernelOp kernel, FloatType elt, int64_t blockSize,
                   bool stageParams, int64_t lanesPerPoint)
      : RowCodegen(kernel, elt), blockSize(blockSize), stageParams(stageParams),
        lanes(kernel.getKind() == "loss_grad" ? lanesPerPoint : 1),
        tilePoints(blockSize / lanes),
        stageElems(kStageBytes / (elt.getWidth() / 8)) {}

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
  /// Eval kernels visit only points below n. In a loss kernel every thread
  /// of a tile runs the body (the block's barriers need all of them), and a
  /// thread past the end repeats point n - 1: its masked residual is zero,
  /// so it adds neither loss nor gradient.
  Value mask(Value v) override {
    return valid ? b.create<arith::SelectOp>(loc, valid, v, constant(0))
                       .getResult()
                 : v;
  }
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
  /// A thread holds one point, so a matvec is a chain of scalar fmas, each
  /// reading a weight (shared memory) and an x[i] (local memory). Four
  /// outputs at a time read each x[i] once for four fmas, and keep four
  /// independent sums in flight.
  int64_t matvecBlock() override { return kMatvecBlock; }
  int64_t rowAlignment() override { return 16; }
  /// The rows a layer's dW needs would otherwise stay in local memory until
  /// the end of the tile; each layer is reduced (with its barriers, which
  /// every thread reaches: the body is straight-line) as soon as its last
  /// dy is known.
  bool eagerGradAccums() override { return true; }
  /// Lane-split kernels compute the matvecs of a layer together
  /// (emitMatvec). A point per thread does not: its rows live in local
  /// memory, and moving the later matvecs up keeps more of them alive at
  /// once (the bench pde kernel's stack grows from 8,720 to 10,768 bytes),
  /// while its weight loads are already warp-wide broadcasts.
  int64_t fusedMatvecs() override { return laneSplit() ? fuseWidth : 1; }
  /// Scalar params (trainable `param`s) are few: the thread sums them
  /// privately, next to the loss, and the block tree reduces them once.
  void accumParamGrad(int64_t offset, Value v) override {
    v = firstLaneOnly(v);
    Value k = idx(privateSlot.lookup(offset));
    Value old = b.create<memref::LoadOp>(loc, acc, k);
    b.create<memref::StoreOp>(loc, b.create<arith::AddFOp>(loc, old, v), acc,
                              k);
  }
  void emitGradAccum() override;
  void accumLoss(Value v) override { RowCodegen::accumLoss(firstLaneOnly(v)); }

  //===--- Lane-split loss kernels (lanes-per-point L > 1) ------------===//
  // The L lanes of a group hold one point: slot k of a row is element
  // lane + L * k, so a 64-wide row is two registers per lane when L = 32,
  // and the rows never leave the register file. Scalars are computed by
  // every lane of the group alike. A matvec or an extract that needs
  // another lane's elements goes through the group's slice of workgroup
  // memory (lanes write, the warp syncs, lanes read).

  bool laneSplit() const { return lanes > 1; }
  /// Registers per lane of a row of `width` elements.
  int64_t slots(int64_t width) const { return (width + lanes - 1) / lanes; }
  /// Index lane + L * k of slot k.
  Value slotIndex(int64_t k) {
    return k ? b.create<arith::AddIOp>(loc, lane, idx(k * lanes)).getResult()
             : lane;
  }
  /// Whether slot k of a `width`-wide row holds an element on this lane;
  /// null when it does on every lane.
  Value slotValid(int64_t width, int64_t k) {
    if ((k + 1) * lanes <= width)
      return Value();
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, lane,
                                   idx(width - k * lanes));
  }
  /// Slot k of `row`: a register, or the hoisted splat.
  Value laneElem(Value row, int64_t k) {
    if (Value c = rowConst.lookup(row))
      return c;
    auto it = laneRows.find(row);
    assert(it != laneRows.end() && "row used before definition");
    return it->second[k];
  }
  /// `v` on the group's first lane, 0 on the others: what every lane
  /// computes alike is counted once.
  Value firstLaneOnly(Value v) {
    if (!laneSplit())
      return v;
    Value first =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lane, idx(0));
    return b.create<arith::SelectOp>(loc, first, v, constant(0));
  }
  /// Runs `body` under `cond` (unconditionally when `cond` is null).
  void guarded(Value cond, llvm::function_ref<void()> body) {
    if (!cond)
      return body();
    auto ifOp = b.create<scf::IfOp>(loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }
  /// __syncwarp(): the lanes of a group are in one warp (L <= 32).
  void syncWarp() {
    b.create<NVVM::SyncWarpOp>(
        loc, b.create<arith::ConstantIntOp>(loc, -1, 32).getResult());
  }
  /// Stores the elements of `rows` (each `width` wide) into the group's
  /// next slice, interleaved (element j of rows[c] at j * stride + c),
  /// syncs the warp and returns the slice's offset in `shared`. The slices
  /// alternate: a lane that writes slice s has passed the sync that
  /// followed the last write of the other one, so every lane has finished
  /// reading s before.
  Value rowsToSlice(ArrayRef<Value> rows, int64_t width, int64_t stride);
  Value rowToSlice(Value row, int64_t width) {
    return rowsToSlice(row, width, 1);
  }
  /// Index of weight (r, c) of a layer with `in` inputs whose weights
  /// start at `wOff`; in the staged copy, rows of 32k weights are
  /// swizzled (c ^ (r & 31)), so that lanes reading one column of
  /// different rows, or one row, hit different banks.
  Value weightIndex(int64_t wOff, int64_t in, Value r, Value c);
  bool swizzled(int64_t in) const {
    return laneSplit() && paramsStaged && in % 32 == 0;
  }

  void emitConstRow(arith::ConstantOp c, DenseElementsAttr dense) override;
  Value emitExtract(Value row, Value i) override;
  void emitFromElements(Value row, ArrayRef<Value> elems) override;
  void emitGroup(ArrayRef<Operation *> group, int last,
                 const KernelSchedule &schedule) override;
  void emitMatvec(const KernelSchedule::Matvec &mv) override;
  void releaseDead(int position, const KernelSchedule &schedule) override;

  /// Row strides of a layer's staged dy and x rows. Weights of layers
  /// whose fan-out is a multiple of kGradRows are reduced kGradRows rows
  /// of dW at a time (emitGradAccum): their dy rows start at multiples of
  /// four elements, 16 bytes in f32, so a thread reads its four dy with one
  /// vector load. The other strides are odd, W + 1: threads storing the
  /// same column of their rows hit different banks.
  static std::pair<int64_t, int64_t> stageStrides(int64_t in, int64_t outW,
                                                  bool isBias) {
    if (isBias)
      return {outW + 1, 0};
    bool blocked = outW % kGradRows == 0;
    return {blocked ? outW + kGradRows : outW + 1, in + 1};
  }
  /// Points staged per round for rows of `perPoint` elements, or 0 if not
  /// even one point's rows fit.
  int64_t pointsPerRound(int64_t perPoint) {
    return std::min(tilePoints, std::max<int64_t>(stageElems, 0) / perPoint);
  }
  /// Stores row `row` of the thread's point into stage[base + p * stride +
  /// j], j < width.
  void stageRow(Value row, Value base, Value p, int64_t stride, int64_t width);
  /// Adds `sum` into the block's partials entry `column`.
  void addToPartials(Value column, Value sum);
  /// Block tree reduction of the private sums into their partials columns.
  void emitBlockReduce(ArrayRef<int64_t> columns);
  /// Copies the parameters into dynamic shared memory (thread t copies
  /// entries t, t + B, ...) and points `params` at the copy. The caller
  /// places a barrier before the first read.
  void emitStageParams();

  int64_t blockSize;
  bool stageParams;
  /// Lanes per point (1 but in lane-split loss kernels) and the points of
  /// a tile, blockSize / lanes.
  int64_t lanes, tilePoints;
  /// Workgroup elements for staging a round of rows (kStageBytes, less
  /// the slices of a lane-split kernel).
  int64_t stageElems;
  /// Whether `params` points at the staged copy.
  bool paramsStaged = false;
  Value point, tid, rowBase;
  /// Lane-split: the thread's lane in its group (tid % L), its group
  /// (tid / L, the point of the tile), the slots of each live row, and the
  /// groups' slices in `shared` (two of sliceStride elements each).
  Value lane, group;
  llvm::DenseMap<Value, SmallVector<Value>> laneRows;
  int64_t sliceBase = 0, sliceStride = 0;
  int sliceUses = 0;
  /// Lane-split: how many matvecs of one layer one loop may compute (the
  /// slices hold that many interleaved rows).
  int64_t fuseWidth = 1;
  /// In a loss kernel: whether the thread's point is a real one.
  Value valid;
  /// The thread's private [loss, scalar-param grads...] and the partials
  /// column of each; layout offset of a scalar param => its private slot.
  Value acc;
  SmallVector<int64_t> privateColumns;
  llvm::DenseMap<int64_t, int64_t> privateSlot;
  /// Workgroup memory: the staged rows, then the block tree.
  Value shared;
};

void GPUKernelCodegen::stageRow(Value row, Value base, Value p, int64_t stride,
                                int64_t width) {
  DenseMap<Value, Value> none;
  Value start = b.create<arith::AddIOp>(
      loc, base, b.create<arith::MulIOp>(loc, p, idx(stride)));
  if (laneSplit()) {
    // Each lane stores its slots: consecutive lanes, consecutive banks.
    for (int64_t k = 0, e = slots(width); k < e; ++k)
      guarded(slotValid(width, k), [&] {
        b.create<memref::StoreOp>(
            loc, laneElem(row, k), shared,
            ValueRange{b.create<arith::AddIOp>(loc, start, slotIndex(k))});
      });
    return;
  }
  auto lj = b.create<scf::ForOp>(loc, idx(0), idx(width), idx(1));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(lj.getBody()->getTerminator());
  Value j = lj.getInductionVar();
  b.create<memref::StoreOp>(loc, rowElem(row, j, none), shared,
                            ValueRange{b.create<arith::AddIOp>(loc, start, j)});
}

void GPUKernelCodegen::addToPartials(Value column, Value sum) {
  Value k = b.create<arith::AddIOp>(loc, rowBase, column);
  Value old = b.create<memref::LoadOp>(loc, out, k);
  b.create<memref::StoreOp>(loc, b.create<arith::AddFOp>(loc, old, sum), out,
                            k);
}

// The gradient of a layer is a sum of outer products dy (x) x over the
// points and jet components. One thread per point would need the whole
// gradient privately; instead the tile's rows go through workgroup memory:
//   for each round of P points: those threads store their dy and x rows
//     (row stride W+1, so neither the stores nor the reads conflict on
//     banks); barrier; thread t sums entries e = t, t + B, ... of dW over
//     the round's points and components and adds them into the block's
//     partials row; barrier.
// Entry e always belongs to thread e mod B, so the block's row needs no
// atomics, and the order of the sums is fixed.
void GPUKernelCodegen::emitGradAccum() {
  GroupedGradAccums grouped = groupGradAccums(deferred);
  auto accumulate = [&](const LayerGradAccums &g, bool isBias) {
    auto net = model.lookupSymbol<NetOp>(g.net);
    int64_t in = isBias ? 0 : net.getFanIn(g.layer);
    int64_t outW = net.getFanOut(g.layer);
    int64_t entries = isBias ? outW : outW * in;
    int64_t column = 1 + layout.offset(g.net, g.layer, isBias);
    int64_t items = g.items.size();
    auto [dyStride, xStride] = stageStrides(in, outW, isBias);
    // Weights reduced kGradRows rows of dW at a time (see stageStrides).
    bool rows4 = !isBias && outW % kGradRows == 0;
    int64_t P = pointsPerRound(items * (dyStride + xStride));
    assert(P >= 1 && "layer checked in emit()");
    // The thread's point in the tile: its group when lanes share points.
    Value pointInTile = laneSplit() ? group : tid;
    for (int64_t p0 = 0; p0 < tilePoints; p0 += P) {
      int64_t round = std::min(P, tilePoints - p0);
      int64_t xBase = items * P * dyStride;
      // Stage: threads p0 .. p0 + round - 1 (all of them when one round
      // holds the tile).
      auto stage = [&](Value p) {
        for (auto [c, item] : llvm::enumerate(g.items)) {
          stageRow(item.first, idx(c * P * dyStride), p, dyStride, outW);
          if (!isBias)
            stageRow(item.second, idx(xBase + c * P * xStride), p, xStride, in);
        }
      };
      if (round == tilePoints) {
        stage(pointInTile);
      } else {
        Value inRound = b.create<arith::AndIOp>(
            loc,
            b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::uge, pointInTile,
                                    idx(p0)),
            b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, pointInTile,
                                    idx(p0 + round)));
        auto ifIn = b.create<scf::IfOp>(loc, inRound, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard g1(b);
        b.setInsertionPoint(ifIn.thenBlock()->getTerminator());
        stage(b.create<arith::SubIOp>(loc, pointInTile, idx(p0)));
      }
      b.create<gpu::BarrierOp>(loc);
      // Reduce: thread t owns entries t, t + B, ... (with rows4, blocks
      // of entries (j0 .. j0 + 3, i): one x and one vector of four dy per
      // point and component, for four fmas).
      int64_t rows = rows4 ? kGradRows : 1;
      int64_t units = entries / rows;
      auto le = b.create<scf::ForOp>(loc, tid, idx(units), idx(blockSize));
      {
        OpBuilder::InsertionGuard g1(b);
        b.setInsertionPoint(le.getBody()->getTerminator());
        Value e = le.getInductionVar();
        Value j0 = isBias ? e : b.create<arith::DivUIOp>(loc, e, idx(in));
        if (rows > 1)
          j0 = b.create<arith::MulIOp>(loc, j0, idx(rows));
        Value i = isBias ? Value() : b.create<arith::RemUIOp>(loc, e, idx(in));
        SmallVector<Value> zeros(rows, constant(0));
        auto lp = b.create<scf::ForOp>(loc, idx(0), idx(round), idx(1),
                                       ValueRange(zeros));
        {
          OpBuilder::InsertionGuard g2(b);
          // With iter_args the builder leaves the body without a yield.
          Block *body = lp.getBody();
          b.setInsertionPointToEnd(body);
          Value p = lp.getInductionVar();
          SmallVector<Value> acc(lp.getRegionIterArgs());
          Value dyAt = b.create<arith::AddIOp>(
              loc, b.create<arith::MulIOp>(loc, p, idx(dyStride)), j0);
          Value xAt =
              isBias
                  ? Value()
                  : b.create<arith::AddIOp>(
                        loc, b.create<arith::MulIOp>(loc, p, idx(xStride)), i);
          for (int64_t c = 0; c < items; ++c) {
            Value x = isBias
                          ? Value()
                          : b.create<memref::LoadOp>(
                                 loc, shared,
                                 ValueRange{b.create<arith::AddIOp>(
                                     loc, xAt, idx(xBase + c * P * xStride))})
                                .getResult();
            for (int64_t r = 0; r < rows; ++r) {
              Value dy = b.create<memref::LoadOp>(
                  loc, shared,
                  ValueRange{b.create<arith::AddIOp>(
                      loc, dyAt, idx(c * P * dyStride + r))});
              acc[r] =
                  isBias ? b.create<arith::AddFOp>(loc, acc[r], dy).getResult()
                         : fma(dy, x, acc[r]);
            }
          }
          b.create<scf::YieldOp>(loc, acc);
        }
        for (int64_t r = 0; r < rows; ++r) {
          // Entry (j0 + r, i) of dW, or j0 of db.
          Value entry = j0;
          if (r)
            entry = b.create<arith::AddIOp>(loc, j0, idx(r));
          if (!isBias)
            entry = b.create<arith::AddIOp>(
                loc, b.create<arith::MulIOp>(loc, entry, idx(in)), i);
          addToPartials(b.create<arith::AddIOp>(loc, entry, idx(column)),
                        lp.getResult(r));
        }
      }
      // The next round overwrites the staged rows.
      b.create<gpu::BarrierOp>(loc);
    }
  };
  for (LayerGradAccums &g : grouped.weights)
    accumulate(g, false);
  for (LayerGradAccums &g : grouped.biases)
    accumulate(g, true);
}

//===----------------------------------------------------------------------===//
// Lane-split rows
//===----------------------------------------------------------------------===//

Value GPUKernelCodegen::rowsToSlice(ArrayRef<Value> rows, int64_t width,
                                    int64_t stride) {
  int64_t which = sliceUses++ % 2;
  Value base = b.create<arith::AddIOp>(
      loc, idx(sliceBase + which * sliceStride),
      b.create<arith::MulIOp>(loc, group, idx(2 * sliceStride)));
  for (int64_t k = 0, e = slots(width); k < e; ++k)
    guarded(slotValid(width, k), [&] {
      Value at = slotIndex(k);
      if (stride > 1)
        at = b.create<arith::MulIOp>(loc, at, idx(stride));
      at = b.create<arith::AddIOp>(loc, base, at);
      for (auto [c, row] : llvm::enumerate(rows))
        b.create<memref::StoreOp>(
            loc, laneElem(row, k), shared,
            ValueRange{c ? b.create<arith::AddIOp>(loc, at, idx(c)).getResult()
                         : at});
    });
  syncWarp();
  return base;
}

Value GPUKernelCodegen::weightIndex(int64_t wOff, int64_t in, Value r,
                                    Value c) {
  if (swizzled(in))
    c = b.create<arith::XOrIOp>(loc, c,
                                b.create<arith::AndIOp>(loc, r, idx(31)));
  return b.create<arith::AddIOp>(
      loc, idx(wOff),
      b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, r, idx(in)),
                              c));
}

void GPUKernelCodegen::emitConstRow(arith::ConstantOp c,
                                    DenseElementsAttr dense) {
  if (!laneSplit())
    return RowCodegen::emitConstRow(c, dense);
  SmallVector<Value> elems;
  for (APFloat v : dense.getValues<APFloat>())
    elems.push_back(constant(v.convertToDouble()));
  emitFromElements(c, elems);
}

Value GPUKernelCodegen::emitExtract(Value row, Value i) {
  if (!laneSplit())
    return RowCodegen::emitExtract(row, i);
  if (Value c = rowConst.lookup(row))
    return c;
  // Element i lives on one lane: through the slice, every lane reads it.
  Value base = rowToSlice(row, rowWidth(row));
  return b.create<memref::LoadOp>(
      loc, shared, ValueRange{b.create<arith::AddIOp>(loc, base, i)});
}

void GPUKernelCodegen::emitFromElements(Value row, ArrayRef<Value> elems) {
  if (!laneSplit())
    return RowCodegen::emitFromElements(row, elems);
  // Slot k takes element lane + L * k: a chain of selects on the lane.
  int64_t width = elems.size();
  SmallVector<Value> regs;
  for (int64_t k = 0, e = slots(width); k < e; ++k) {
    Value v = elems[k * lanes];
    for (int64_t j = k * lanes + 1; j < std::min(width, (k + 1) * lanes); ++j) {
      Value here = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lane,
                                           idx(j - k * lanes));
      v = b.create<arith::SelectOp>(loc, here, elems[j], v);
    }
    regs.push_back(v);
  }
  laneRows[row] = std::move(regs);
}

void GPUKernelCodegen::emitGroup(ArrayRef<Operation *> group, int last,
                                 const KernelSchedule &schedule) {
  if (!laneSplit())
    return RowCodegen::emitGroup(group, last, schedule);
  // The loop over the row becomes its slots, unrolled: every value stays
  // in a register.
  int64_t width = rowWidth(group.front()->getResult(0));
  DenseSet<Operation *> inGroup(group.begin(), group.end());
  SmallVector<Value> escaping;
  for (Operation *op : group) {
    Value r = op->getResult(0);
    if (llvm::any_of(r.getUsers(),
                     [&](Operation *u) { return !inGroup.contains(u); }))
      escaping.push_back(r);
  }
  llvm::DenseMap<Value, SmallVector<Value>> results;
  for (int64_t k = 0, e = slots(width); k < e; ++k) {
    DenseMap<Value, Value> env;
    for (Operation *op : group) {
      loc = op->getLoc();
      SmallVector<Value> operands;
      for (Value v : op->getOperands())
        operands.push_back(env.count(v) ? env[v]
                           : isRow(v)   ? laneElem(v, k)
                                        : scalarOf(v));
      env[op->getResult(0)] = cloneElementwise(op, operands)->getResult(0);
    }
    for (Value r : escaping)
      results[r].push_back(env[r]);
  }
  releaseDead(last, schedule);
  for (Value r : escaping)
    laneRows[r] = std::move(results[r]);
}

void GPUKernelCodegen::releaseDead(int position,
                                   const KernelSchedule &schedule) {
  if (!laneSplit())
    return RowCodegen::releaseDead(position, schedule);
  // Registers need no recycling; forgetting dead rows keeps the map small.
  SmallVector<Value> dead;
  for (auto &[v, regs] : laneRows)
    if (schedule.lastUse(v) <= position)
      dead.push_back(v);
  for (Value v : dead)
    laneRows.erase(v);
}

// y = W x (+ b) or W^T x with the point's rows spread over the lanes:
//   x => the group's slice; syncwarp
//   lane q, slot k: y[o] = b[o] + sum_i W(o, i) * slice[i], o = q + L k
// Every x[i] is one broadcast load for all of the lane's slots; the weights
// of one i are read by the group's lanes from different banks (swizzled
// rows, weightIndex).
//
// The schedule puts the later matvecs of the same layer (and direction)
// with this one (KernelSchedule::fusedWith), and they are computed in the
// same loop: the jets push every component of a row through W (value,
// d/dx, d/dt, d2/dx2), and the reverse sweep pulls every component of its
// adjoint through W^T. Their inputs go into the slice interleaved, so
// that one i's inputs are one vector load, and each weight load then
// serves C fmas instead of one: a warp-wide weight load is a shared-memory
// wavefront, and an SM serves one wavefront per cycle while it issues four
// warp-wide fmas. Each output is still the same sum in the same order, so
// the results do not change.
void GPUKernelCodegen::emitMatvec(const KernelSchedule::Matvec &mv) {
  if (!laneSplit())
    return RowCodegen::emitMatvec(mv);
  SmallVector<KernelSchedule::Matvec> fused = {mv};
  ArrayRef<Operation *> group = schedule->fusedWith(mv.op);
  for (Operation *op : group.drop_front(std::min<size_t>(group.size(), 1)))
    fused.push_back(*KernelSchedule::decodeMatvec(op));
  auto netOp = model.lookupSymbol<NetOp>(mv.net);
  int64_t in = netOp.getFanIn(mv.layer), outW = netOp.getFanOut(mv.layer);
  int64_t wOff = layout.offset(mv.net, mv.layer, false);
  int64_t bOff = layout.offset(mv.net, mv.layer, true);
  bool transposed = mv.transposed;
  int64_t nOut = transposed ? in : outW, nIn = transposed ? outW : in;
  // Inputs that are splat constants stay registers; the others go to the
  // slice, `stride` apart (a power of two: whole, aligned vector loads).
  SmallVector<Value> xConst, sliced;
  SmallVector<int64_t> column;
  for (const KernelSchedule::Matvec &m : fused) {
    xConst.push_back(rowConst.lookup(m.x));
    column.push_back(xConst.back() ? -1 : sliced.size());
    if (!xConst.back())
      sliced.push_back(m.x);
  }
  int64_t stride = llvm::PowerOf2Ceil(std::max<size_t>(sliced.size(), 1));
  Value base = sliced.empty() ? Value() : rowsToSlice(sliced, nIn, stride);
  // The lane's outputs; a slot past the row reads output nOut - 1's weights
  // (its result is never read). Sums are [matvec][slot].
  int64_t S = slots(nOut);
  SmallVector<Value> os, sums;
  for (int64_t k = 0; k < S; ++k) {
    Value o = slotIndex(k);
    if (slotValid(nOut, k))
      o = b.create<arith::MinUIOp>(loc, o, idx(nOut - 1));
    os.push_back(o);
  }
  for (const KernelSchedule::Matvec &m : fused)
    for (Value o : os)
      sums.push_back(
          m.bias && !transposed
              ? b.create<memref::LoadOp>(
                     loc, params,
                     ValueRange{b.create<arith::AddIOp>(loc, idx(bOff), o)})
                    .getResult()
              : constant(0));
  auto step = [&](Value i, ValueRange acc) {
    Value at = i;
    if (stride > 1)
      at = b.create<arith::MulIOp>(loc, i, idx(stride));
    if (base)
      at = b.create<arith::AddIOp>(loc, base, at);
    SmallVector<Value> xv;
    for (auto [c, x] : llvm::enumerate(xConst))
      xv.push_back(x ? x
                     : b.create<memref::LoadOp>(
                            loc, shared,
                            ValueRange{column[c] ? b.create<arith::AddIOp>(
                                                        loc, at, idx(column[c]))
                                                       .getResult()
                                                 : at})
                           .getResult());
    SmallVector<Value> next(acc.begin(), acc.end());
    for (auto [k, o] : llvm::enumerate(os)) {
      Value w =
          b.create<memref::LoadOp>(loc, params,
                                   transposed ? weightIndex(wOff, in, i, o)
                                              : weightIndex(wOff, in, o, i));
      for (size_t c = 0; c < fused.size(); ++c)
        next[c * S + k] = fma(w, xv[c], acc[c * S + k]);
    }
    return next;
  };
  SmallVector<Value> result =
      emitSumLoop(nIn, nIn % 4 == 0 ? 4 : 1, sums, step);
  for (auto [c, m] : llvm::enumerate(fused))
    laneRows[m.y] = SmallVector<Value>(result.begin() + c * S,
                                       result.begin() + (c + 1) * S);
}

void GPUKernelCodegen::emitStageParams() {
  MLIRContext *ctx = b.getContext();
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Value bytes = b.create<gpu::DynamicSharedMemoryOp>(
      loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), AffineMap(),
                           workgroup));
  Value staged = b.create<memref::ViewOp>(
      loc, MemRefType::get({layout.size}, T, AffineMap(), workgroup), bytes,
      idx(0), ValueRange());
  paramsStaged = true;
  // Thread t copies entries t, t + B, ... of [begin, end); with `in`, the
  // block is a weight matrix of rows of `in`, stored swizzled.
  auto copy = [&](int64_t begin, int64_t end, int64_t in) {
    auto loop =
        b.create<scf::ForOp>(loc, tid, idx(end - begin), idx(blockSize));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value e = loop.getInductionVar();
    Value from =
        begin ? b.create<arith::AddIOp>(loc, idx(begin), e).getResult() : e;
    Value to =
        in ? weightIndex(begin, in, b.create<arith::DivUIOp>(loc, e, idx(in)),
                         b.create<arith::RemUIOp>(loc, e, idx(in)))
           : from;
    b.create<memref::StoreOp>(loc, b.create<memref::LoadOp>(loc, params, from),
                              staged, to);
  };
  int64_t plain = 0; // start of the run of entries copied as they are
  for (const ParamLayout::Block &blk : layout.blocks) {
    if (blk.isBias || blk.isParam || !swizzled(blk.cols))
      continue;
    if (plain < blk.offset)
      copy(plain, blk.offset, 0);
    copy(blk.offset, blk.offset + blk.rows * blk.cols, blk.cols);
    plain = blk.offset + blk.rows * blk.cols;
  }
  if (plain < layout.size)
    copy(plain, layout.size, 0);
  params = staged;
}

void GPUKernelCodegen::emitBlockReduce(ArrayRef<int64_t> columns) {
  // Per chunk of C private sums:
  //   shared[c * B + tid] = acc[c0 + c];   barrier
  //   for s = B/2 .. 1: if tid < s: shared[c*B+tid] += shared[c*B+tid+s];
  //                     barrier
  //   tid == 0: partials[row + columns[c0 + c]] = shared[c * B]; barrier
  int64_t total = columns.size();
  for (int64_t c0 = 0; c0 < total; c0 += kReduceChunk) {
    int64_t chunk = std::min(kReduceChunk, total - c0);
    for (int64_t c = 0; c < chunk; ++c) {
      Value v = b.create<memref::LoadOp>(loc, acc, ValueRange{idx(c0 + c)});
      Value slot = b.create<arith::AddIOp>(loc, idx(c * blockSize), tid);
      b.create<memref::StoreOp>(loc, v, shared, slot);
    }
    b.create<gpu::BarrierOp>(loc);
    for (int64_t s = blockSize / 2; s >= 1; s /= 2) {
      Value active =
          b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, tid, idx(s));
      auto ifOp = b.create<scf::IfOp>(loc, active, /*withElseRegion=*/false);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        for (int64_t c = 0; c < chunk; ++c) {
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
      for (int64_t c = 0; c < chunk; ++c) {
        Value v = b.create<memref::LoadOp>(loc, shared,
                                           ValueRange{idx(c * blockSize)});
        Value at = b.create<arith::AddIOp>(loc, rowBase, idx(columns[c0 + c]));
        b.create<memref::StoreOp>(loc, v, out, at);
      }
    }
    // The next chunk overwrites shared memory that thread 0 just read.
    b.create<gpu::BarrierOp>(loc);
  }
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
  if (lossGrad) {
    // The private sums: the loss, then each scalar param's gradient.
    privateColumns.push_back(0);
    body.walk([&](AccumParamGradOp a) {
      int64_t off = layout.paramOffset(a.getParam());
      if (privateSlot.try_emplace(off, privateColumns.size()).second)
        privateColumns.push_back(1 + off);
    });
    // Lane-split: two slices per group, after the staging area (which
    // other groups may be using at the time); an odd stride puts the groups
    // of a warp reading the same element on different banks. They come out
    // of the staging budget.
    int64_t sliceElems = 0;
    if (laneSplit()) {
      int64_t widest = 1;
      body.walk([&](Operation *op) {
        for (Value r : op->getResults())
          if (isRow(r))
            widest = std::max(widest, rowWidth(r));
      });
      // Room for as many interleaved rows as the most matvecs of one
      // layer (emitMatvec), as long as the slices stay small. With C > 1
      // rows the stride is C (W + 1): a multiple of C, so that the loads
      // of one i's C inputs stay one aligned vector load, and the groups
      // of a warp start on different banks.
      std::map<std::tuple<std::string, int64_t, bool>, int64_t> perLayer;
      fuseWidth = 1;
      body.walk([&](Operation *op) {
        if (auto m = KernelSchedule::decodeMatvec(op))
          fuseWidth = std::max(
              fuseWidth, ++perLayer[{m->net.str(), m->layer, m->transposed}]);
      });
      fuseWidth =
          std::min<int64_t>(llvm::PowerOf2Ceil(fuseWidth), kMaxFusedMatvecs);
      auto strideFor = [&](int64_t c) {
        return c == 1 ? widest | 1 : c * (widest + 1);
      };
      while (fuseWidth > 1 &&
             tilePoints * 2 * strideFor(fuseWidth) * (T.getWidth() / 8) >
                 kMaxSliceBytes)
        fuseWidth /= 2;
      sliceStride = strideFor(fuseWidth);
      sliceElems = tilePoints * 2 * sliceStride;
      stageElems -= sliceElems + fuseWidth;
    }
    // Workgroup memory: the largest round of staged rows, or the tree.
    int64_t sharedSize = kReduceChunk * blockSize;
    std::vector<Operation *> accums;
    body.walk([&](Operation *op) {
      if (isGradAccum(op))
        accums.push_back(op);
    });
    GroupedGradAccums grouped = groupGradAccums(accums);
    for (auto [groups, isBias] : {std::make_pair(&grouped.weights, false),
                                  std::make_pair(&grouped.biases, true)})
      for (LayerGradAccums &g : *groups) {
        auto net = model.lookupSymbol<NetOp>(g.net);
        auto [dyStride, xStride] =
            stageStrides(net.getFanIn(g.layer), net.getFanOut(g.layer), isBias);
        int64_t perPoint = g.items.size() * (dyStride + xStride);
        int64_t P = pointsPerRound(perPoint);
        if (P < 1) {
          InFlightDiagnostic d =
              kernel.emitOpError("layer ")
              << g.layer << " of net '" << g.net
              << "' is too wide for the GPU kernel's workgroup memory";
          if (laneSplit())
            d << " with " << lanes
              << " lanes per point (more lanes per point leave it more room)";
          return d;
        }
        sharedSize = std::max(sharedSize, P * perPoint);
      }
    if (laneSplit()) {
      // Aligned for vector loads of fuseWidth elements.
      sliceBase = llvm::alignTo(sharedSize, fuseWidth);
      sharedSize = sliceBase + sliceElems;
      if (sharedSize * (T.getWidth() / 8) > 48 * 1024)
        return kernel.emitOpError("needs ")
               << sharedSize * (T.getWidth() / 8)
               << " bytes of workgroup memory with " << lanes
               << " lanes per point, more than 48 KB";
    }
    workgroup.push_back(MemRefType::get(
        {sharedSize}, T, AffineMap(),
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup)));
  }
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(
      loc, functionName(), b.getFunctionType(args, {}), workgroup, TypeRange());
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  if (lossGrad) {
    fn.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({static_cast<int32_t>(blockSize), 1, 1}));
    // 16 bytes, so that four staged f32 at a multiple of four elements are
    // one vector load (stageStrides).
    fn.setWorkgroupAttributionAttr(0, LLVM::LLVMDialect::getAlignAttrName(),
                                   b.getI64IntegerAttr(16));
  }
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
  if (laneSplit()) {
    lane = b.create<arith::RemUIOp>(loc, tid, idx(lanes));
    group = b.create<arith::DivUIOp>(loc, tid, idx(lanes));
  }
  Operation *pointLoop;
  if (lossGrad) {
    shared = fn.getWorkgroupAttributions().front();
    // The block owns row bid of the partials: zero it.
    rowBase = b.create<arith::MulIOp>(loc, bid, idx(total));
    auto z = b.create<scf::ForOp>(loc, tid, idx(total), idx(blockSize));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(z.getBody()->getTerminator());
      b.create<memref::StoreOp>(loc, constant(0), out,
                                ValueRange{b.create<arith::AddIOp>(
                                    loc, rowBase, z.getInductionVar())});
    }
    int64_t paramBytes = layout.size * (T.getWidth() / 8);
    if (stageParams && layout.size > 0 && paramBytes <= kMaxStagedParamBytes)
      emitStageParams();
    // Entries are zeroed and then summed by different threads; the staged
    // parameters are written and then read by different threads.
    b.create<gpu::BarrierOp>(loc);
    int64_t numPrivate = privateColumns.size();
    acc = b.create<memref::AllocaOp>(loc, MemRefType::get({numPrivate}, T));
    for (int64_t q = 0; q < numPrivate; ++q)
      b.create<memref::StoreOp>(loc, constant(0), acc, ValueRange{idx(q)});
    lossAcc = acc;
    // Tiles of B / L points, grid-stride: any grid size covers all n
    // points, and the loop bounds are the same for every thread of a block.
    Value tiles = b.create<arith::DivUIOp>(
        loc, b.create<arith::AddIOp>(loc, n, idx(tilePoints - 1)),
        idx(tilePoints));
    Value grid = b.create<gpu::GridDimOp>(loc, gpu::Dimension::x);
    auto loop = b.create<scf::ForOp>(loc, bid, tiles, grid);
    pointLoop = loop;
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value i = b.create<arith::AddIOp>(
        loc,
        b.create<arith::MulIOp>(loc, loop.getInductionVar(), idx(tilePoints)),
        laneSplit() ? group : tid);
    valid = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, i, n);
    point = b.create<arith::SelectOp>(loc, valid, i,
                                      b.create<arith::SubIOp>(loc, n, idx(1)));
  } else {
    // One thread per point.
    Value bdim = b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
    Value global = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, bid, bdim), tid);
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
    emitBlockReduce(privateColumns);
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
    if (lanesPerPoint < 1 || lanesPerPoint > 32 ||
        (lanesPerPoint & (lanesPerPoint - 1)) != 0 ||
        lanesPerPoint > blockSize) {
      module.emitError("lanes-per-point must be a power of two in [1, 32], "
                       "at most block-size, got ")
          << static_cast<unsigned>(lanesPerPoint);
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
        GPUKernelCodegen cg(k, *elt, blockSize, stageParams, lanesPerPoint);
        if (failed(cg.emit(gpuModule)))
          return signalPassFailure();
      }
      if (anyLoss && lanesPerPoint > 1) {
        // The launch contract the runtime reads from the PTX: a loss
        // kernel's block covers blockDim.x / L points per tile, so its
        // grid is sized by this, not by blockDim.x.
        b.setInsertionPoint(gpuModule.getBody()->getTerminator());
        b.create<LLVM::GlobalOp>(
            model.getLoc(), b.getI32Type(), /*isConstant=*/true,
            LLVM::Linkage::External,
            (model.getSymName() + "_loss_points_per_block").str(),
            b.getI32IntegerAttr(blockSize / lanesPerPoint));
      }
      if (anyLoss) {
        emitSumPartials(b, gpuModule, model, *elt);
        emitTrainKernels(b, gpuModule, model, *elt);
      }
    }
    // The phys model has served its purpose; only GPU kernels remain.
    for (ModelOp m : models)
      m.erase();
  }
};

} // namespace
