//===- KernelsToGPU.cpp - phys.kernel => gpu.func, one point per thread ---===//
//
// Part of physc. The code generator of the CUDA path. It walks a stage-3
// kernel body with the same KernelSchedule as phys-fuse-kernels, but where
// the CPU holds `lanes` points in vector registers, a GPU thread holds one
// point in scalar registers: every scalar stays a scalar (f32 or f64), every
// row becomes a W-long private array, runs of elementwise row ops one loop
// over W. The parallelism is across threads, so nothing is vectorised here.
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

#include "physc/Transforms/KernelSchedule.h"
#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <map>

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

bool isSplatConst(Operation *op) {
  auto c = dyn_cast<arith::ConstantOp>(op);
  if (!c || !isRow(c.getResult()))
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  return dense && dense.isSplat();
}

/// Emits one phys.kernel as a gpu.func in `gpuModule`.
class GPUKernelCodegen {
public:
  GPUKernelCodegen(KernelOp kernel, FloatType elt, int64_t blockSize)
      : kernel(kernel), model(kernel->getParentOfType<ModelOp>()),
        layout(model), T(elt), blockSize(blockSize), b(kernel.getContext()) {
    int i = 0;
    for (ParamOp p : model.getBody().front().getOps<ParamOp>())
      rtIndex[p.getSymName()] = i++;
  }

  LogicalResult emit(gpu::GPUModuleOp gpuModule);

private:
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value fconst(double v) {
    return b.create<arith::ConstantOp>(loc, b.getFloatAttr(T, v));
  }
  /// a * b + c, allowed to contract into one fma.rn (convert-gpu-to-nvvm
  /// has no lowering of math.fma in LLVM 19).
  Value fma(Value x, Value y, Value z) {
    auto contract = arith::FastMathFlagsAttr::get(
        b.getContext(), arith::FastMathFlags::contract);
    Value xy = b.create<arith::MulFOp>(loc, x, y, contract);
    return b.create<arith::AddFOp>(loc, xy, z, contract);
  }
  Value scalarOf(Value v);
  Value rowElem(Value row, Value j, DenseMap<Value, Value> &env);
  Value allocRow(Value row);
  void freeRow(Value row);
  Operation *cloneOnScalars(Operation *op, ValueRange operands);
  LogicalResult emitScalarOp(Operation *op);
  void emitGroup(ArrayRef<Operation *> group);
  void emitMatvec(Value x, Value y, StringRef net, int64_t layer, bool bias,
                  bool transposed);
  void emitGradAccum();
  void releaseDead(int position, const KernelSchedule &schedule);
  /// Column `c` of the SoA point array at the current point.
  Value pointColumn(int64_t c);
  /// Block tree reduction of acc[0, total) into partials[blockId * total].
  void emitBlockReduce(Value shared, int64_t total);

  KernelOp kernel;
  ModelOp model;
  ParamLayout layout;
  FloatType T;
  int64_t blockSize;
  OpBuilder b;
  Location loc = UnknownLoc::get(kernel.getContext());
  llvm::StringMap<int> rtIndex;

  Value params, pts, ld, n, rt, out, point, acc, tid;
  OpBuilder::InsertPoint entry; ///< where private arrays are allocated

  DenseMap<Value, Value> scalars;  ///< f64/i1 value => its register
  DenseMap<Value, Value> rowBuf;   ///< row value => private array
  DenseMap<Value, Value> rowConst; ///< splat row => scalar constant
  std::map<std::pair<int64_t, bool>, SmallVector<Value>> freeRows;
  SmallVector<Operation *> deferred; ///< gradient accumulations, point end
};

Value GPUKernelCodegen::scalarOf(Value v) {
  auto it = scalars.find(v);
  assert(it != scalars.end() && "scalar used before definition");
  return it->second;
}

Value GPUKernelCodegen::allocRow(Value row) {
  bool isBool = getElementTypeOrSelf(row.getType()).isInteger(1);
  int64_t width = rowWidth(row);
  auto &pool = freeRows[{width, isBool}];
  if (!pool.empty())
    return pool.pop_back_val();
  OpBuilder::InsertionGuard g(b);
  b.restoreInsertionPoint(entry);
  Type elt = isBool ? Type(b.getI1Type()) : Type(T);
  return b.create<memref::AllocaOp>(loc, MemRefType::get({width}, elt));
}

void GPUKernelCodegen::freeRow(Value row) {
  auto it = rowBuf.find(row);
  if (it == rowBuf.end())
    return;
  bool isBool = getElementTypeOrSelf(row.getType()).isInteger(1);
  freeRows[{rowWidth(row), isBool}].push_back(it->second);
  rowBuf.erase(it);
}

void GPUKernelCodegen::releaseDead(int position,
                                   const KernelSchedule &schedule) {
  SmallVector<Value> dead;
  for (auto &[v, buf] : rowBuf)
    if (schedule.lastUse(v) <= position)
      dead.push_back(v);
  // Recycle in the order the buffers were allocated: DenseMap iteration
  // order follows heap addresses, which differ from run to run.
  llvm::sort(dead, [&](Value x, Value y) {
    return rowBuf[x].getDefiningOp()->isBeforeInBlock(
        rowBuf[y].getDefiningOp());
  });
  for (Value v : dead)
    freeRow(v);
}

Value GPUKernelCodegen::rowElem(Value row, Value j,
                                DenseMap<Value, Value> &env) {
  if (Value v = env.lookup(row))
    return v;
  if (Value c = rowConst.lookup(row))
    return c;
  Value buf = rowBuf.lookup(row);
  assert(buf && "row has no storage");
  return b.create<memref::LoadOp>(loc, buf, j);
}

Operation *GPUKernelCodegen::cloneOnScalars(Operation *op,
                                            ValueRange operands) {
  SmallVector<Type> types;
  for (Type t : op->getResultTypes()) {
    Type elt = getElementTypeOrSelf(t);
    types.push_back(elt.isInteger(1) ? elt : Type(T));
  }
  OperationState st(loc, op->getName().getStringRef(), operands, types,
                    op->getAttrs());
  return b.create(st);
}

Value GPUKernelCodegen::pointColumn(int64_t c) {
  Value off = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, idx(c), ld), point);
  return b.create<memref::LoadOp>(loc, pts, off);
}

LogicalResult GPUKernelCodegen::emitScalarOp(Operation *op) {
  loc = op->getLoc();
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      // A constant row that is not a splat: e.g. a unit direction.
      Value buf = allocRow(c);
      for (auto [i, v] : llvm::enumerate(dense.getValues<APFloat>()))
        b.create<memref::StoreOp>(loc, fconst(v.convertToDouble()), buf,
                                  idx(i));
      rowBuf[c] = buf;
      return success();
    }
    if (c.getType().isIndex() || c.getType().isInteger(1)) {
      scalars[c] = b.clone(*op)->getResult(0);
      return success();
    }
    auto f = dyn_cast<FloatAttr>(c.getValue());
    if (!f)
      return op->emitOpError("cannot be lowered to a GPU kernel");
    scalars[c] = fconst(f.getValueAsDouble());
    return success();
  }
  if (auto p = dyn_cast<ParamRefOp>(op)) {
    // A trainable param lives in the parameter vector, the others in rt.
    int64_t off = layout.paramOffset(p.getParam());
    scalars[p] =
        off >= 0
            ? b.create<memref::LoadOp>(loc, params, idx(off))
            : b.create<memref::LoadOp>(loc, rt, idx(rtIndex[p.getParam()]));
    return success();
  }
  if (auto o = dyn_cast<ObservedOp>(op)) {
    // Point columns after the coordinates (observations, index).
    scalars[o] =
        pointColumn(kernel.getBody().front().getNumArguments() + o.getIndex());
    return success();
  }
  if (auto accum = dyn_cast<AccumParamGradOp>(op)) {
    Value k = idx(1 + layout.paramOffset(accum.getParam()));
    Value old = b.create<memref::LoadOp>(loc, acc, k);
    Value sum = b.create<arith::AddFOp>(loc, old, scalarOf(accum.getValue()));
    b.create<memref::StoreOp>(loc, sum, acc, k);
    return success();
  }
  if (auto m = dyn_cast<MaskOp>(op)) {
    // Only points below n are ever visited: nothing to mask.
    scalars[m] = scalarOf(m.getValue());
    return success();
  }
  if (auto accum = dyn_cast<AccumLossOp>(op)) {
    Value old = b.create<memref::LoadOp>(loc, acc, idx(0));
    Value sum = b.create<arith::AddFOp>(loc, old, scalarOf(accum.getValue()));
    b.create<memref::StoreOp>(loc, sum, acc, idx(0));
    return success();
  }
  if (auto ex = dyn_cast<tensor::ExtractOp>(op)) {
    Value i = scalarOf(ex.getIndices()[0]);
    DenseMap<Value, Value> none;
    scalars[ex] = rowElem(ex.getTensor(), i, none);
    return success();
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    Value buf = allocRow(fe);
    for (auto [i, e] : llvm::enumerate(fe.getElements()))
      b.create<memref::StoreOp>(loc, scalarOf(e), buf, idx(i));
    rowBuf[fe] = buf;
    return success();
  }
  if (isElementwise(op)) {
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(scalarOf(v));
    scalars[op->getResult(0)] = cloneOnScalars(op, operands)->getResult(0);
    return success();
  }
  return op->emitOpError("cannot be lowered to a GPU kernel");
}

void GPUKernelCodegen::emitGroup(ArrayRef<Operation *> group) {
  int64_t width = rowWidth(group.front()->getResult(0));
  DenseSet<Operation *> inGroup(group.begin(), group.end());
  // Rows read after the group need storage; the rest stay in registers.
  SmallVector<std::pair<Value, Value>> stores;
  for (Operation *op : group) {
    Value r = op->getResult(0);
    bool escapes = llvm::any_of(
        r.getUsers(), [&](Operation *u) { return !inGroup.contains(u); });
    if (escapes)
      stores.push_back({r, allocRow(r)});
  }
  loc = group.front()->getLoc();
  auto loop = b.create<scf::ForOp>(loc, idx(0), idx(width), idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  Value j = loop.getInductionVar();
  DenseMap<Value, Value> env;
  for (Operation *op : group) {
    loc = op->getLoc();
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(isRow(v) ? rowElem(v, j, env) : scalarOf(v));
    env[op->getResult(0)] = cloneOnScalars(op, operands)->getResult(0);
  }
  for (auto [r, buf] : stores) {
    b.create<memref::StoreOp>(loc, env[r], buf, j);
    rowBuf[r] = buf;
  }
}

void GPUKernelCodegen::emitMatvec(Value x, Value y, StringRef net,
                                  int64_t layer, bool bias, bool transposed) {
  auto netOp = model.lookupSymbol<NetOp>(net);
  int64_t in = netOp.getFanIn(layer), outW = netOp.getFanOut(layer);
  int64_t wOff = layout.offset(net, layer, false);
  int64_t bOff = layout.offset(net, layer, true);
  // y = W x: rows of W; y = W^T x: its columns.
  int64_t nOut = transposed ? in : outW, nIn = transposed ? outW : in;
  Value xb = rowBuf.lookup(x);
  Value yb = allocRow(y);
  auto weight = [&](Value o, Value i) -> Value {
    Value row = transposed ? i : o, col = transposed ? o : i;
    Value k = b.create<arith::AddIOp>(
        loc, idx(wOff),
        b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, row, idx(in)),
                                col));
    return b.create<memref::LoadOp>(loc, params, k);
  };
  auto loop = b.create<scf::ForOp>(loc, idx(0), idx(nOut), idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  Value o = loop.getInductionVar();
  Value sum = bias && !transposed
                  ? b.create<memref::LoadOp>(
                         loc, params,
                         ValueRange{b.create<arith::AddIOp>(loc, idx(bOff), o)})
                        .getResult()
                  : fconst(0);
  auto step = [&](Value i, Value a) -> Value {
    Value xv = xb ? b.create<memref::LoadOp>(loc, xb, i).getResult()
                  : rowConst.lookup(x);
    return fma(weight(o, i), xv, a);
  };
  if (nIn <= 8) {
    for (int64_t i = 0; i < nIn; ++i)
      sum = step(idx(i), sum);
  } else {
    auto inner =
        b.create<scf::ForOp>(loc, idx(0), idx(nIn), idx(1), ValueRange{sum});
    OpBuilder::InsertionGuard g2(b);
    Block *ib = inner.getBody();
    if (!ib->empty() && isa<scf::YieldOp>(ib->back()))
      ib->back().erase();
    b.setInsertionPointToEnd(ib);
    b.create<scf::YieldOp>(
        loc, step(inner.getInductionVar(), inner.getRegionIterArg(0)));
    sum = inner.getResult(0);
  }
  b.create<memref::StoreOp>(loc, sum, yb, o);
  rowBuf[y] = yb;
}

void GPUKernelCodegen::emitGradAccum() {
  // Group by (net, layer): one pass over dW accumulates every component.
  std::map<std::pair<std::string, int64_t>,
           SmallVector<std::pair<Value, Value>>>
      weights, biases;
  for (Operation *op : deferred) {
    if (auto w = dyn_cast<AccumWeightGradOp>(op))
      weights[{w.getNet().str(), w.getLayer()}].push_back(
          {w.getDy(), w.getX()});
    else if (auto bg = dyn_cast<AccumBiasGradOp>(op))
      biases[{bg.getNet().str(), bg.getLayer()}].push_back(
          {bg.getDy(), Value()});
  }
  DenseMap<Value, Value> none;
  for (auto &[key, items] : weights) {
    auto net = model.lookupSymbol<NetOp>(key.first);
    int64_t in = net.getFanIn(key.second), outW = net.getFanOut(key.second);
    // acc[0] is the loss: gradient entry k lives at acc[1 + k].
    int64_t off = 1 + layout.offset(key.first, key.second, false);
    auto lj = b.create<scf::ForOp>(loc, idx(0), idx(outW), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(lj.getBody()->getTerminator());
    Value j = lj.getInductionVar();
    SmallVector<Value> dys;
    for (auto &[dy, x] : items)
      dys.push_back(rowElem(dy, j, none));
    Value rowOff = b.create<arith::AddIOp>(
        loc, idx(off), b.create<arith::MulIOp>(loc, j, idx(in)));
    auto li = b.create<scf::ForOp>(loc, idx(0), idx(in), idx(1));
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(li.getBody()->getTerminator());
    Value i = li.getInductionVar();
    Value k = b.create<arith::AddIOp>(loc, rowOff, i);
    Value a = b.create<memref::LoadOp>(loc, acc, k);
    for (auto [c, item] : llvm::enumerate(items))
      a = fma(dys[c], rowElem(item.second, i, none), a);
    b.create<memref::StoreOp>(loc, a, acc, k);
  }
  for (auto &[key, items] : biases) {
    auto net = model.lookupSymbol<NetOp>(key.first);
    int64_t outW = net.getFanOut(key.second);
    int64_t off = 1 + layout.offset(key.first, key.second, true);
    auto lj = b.create<scf::ForOp>(loc, idx(0), idx(outW), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(lj.getBody()->getTerminator());
    Value j = lj.getInductionVar();
    Value k = b.create<arith::AddIOp>(loc, idx(off), j);
    Value a = b.create<memref::LoadOp>(loc, acc, k);
    for (auto &item : items)
      a = b.create<arith::AddFOp>(loc, a, rowElem(item.first, j, none));
    b.create<memref::StoreOp>(loc, a, acc, k);
  }
}

void GPUKernelCodegen::emitBlockReduce(Value shared, int64_t total) {
  // for c0 in [0, total) step C:
  //   shared[c * B + tid] = acc[c0 + c] (0 past the end);   barrier
  //   for s = B/2 .. 1: if tid < s: shared[c*B+tid] += shared[c*B+tid+s];
  //                     barrier
  //   tid == 0: partials[block * total + c0 + c] = shared[c * B]; barrier
  Value zero = fconst(0);
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
  auto dyn = MemRefType::get({ShapedType::kDynamic}, T);
  // (params, pts, ld, n, rt, out): `out` is the SoA output of an eval
  // kernel, the partials [gridDim.x x (1 + numParams)] of a loss kernel.
  SmallVector<Type> args{dyn, dyn, b.getIndexType(), b.getIndexType(),
                         dyn, dyn};
  int64_t total = 1 + layout.size;
  SmallVector<Type> workgroup;
  if (lossGrad)
    workgroup.push_back(MemRefType::get(
        {kReduceChunk * blockSize}, T, AffineMap(),
        gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup)));
  std::string name = (model.getSymName() + "_" + kernel.getSymName()).str();
  std::replace(name.begin(), name.end(), '.', '_');
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(loc, name, b.getFunctionType(args, {}),
                                     workgroup, TypeRange());
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  if (lossGrad)
    fn.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({static_cast<int32_t>(blockSize), 1, 1}));
  Block *entryBlock = &fn.getBody().front();
  params = entryBlock->getArgument(0);
  pts = entryBlock->getArgument(1);
  ld = entryBlock->getArgument(2);
  n = entryBlock->getArgument(3);
  rt = entryBlock->getArgument(4);
  out = entryBlock->getArgument(5);
  b.setInsertionPointToStart(entryBlock);

  // Hoisted constants: splat rows become scalar constants.
  for (Operation &op : body)
    if (isSplatConst(&op)) {
      auto c = cast<arith::ConstantOp>(op);
      rowConst[c] = fconst(cast<DenseElementsAttr>(c.getValue())
                               .getSplatValue<APFloat>()
                               .convertToDouble());
    }
  KernelSchedule schedule(body, isSplatConst);

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
      b.create<memref::StoreOp>(loc, fconst(0), acc, z.getInductionVar());
    }
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

  KernelSchedule::Emitter emitter;
  emitter.scalar = [&](Operation *op) { return emitScalarOp(op); };
  emitter.group = [&](ArrayRef<Operation *> group) { emitGroup(group); };
  emitter.matvec = [&](Operation *op, bool transposed) {
    loc = op->getLoc();
    if (auto mv = dyn_cast<MatvecOp>(op))
      emitMatvec(mv.getInput(), mv.getResult(), mv.getNet(), mv.getLayer(),
                 mv.getBias(), false);
    else if (auto mt = dyn_cast<MatvecTOp>(op))
      emitMatvec(mt.getInput(), mt.getResult(), mt.getNet(), mt.getLayer(),
                 false, true);
  };
  emitter.defer = [&](Operation *op) { deferred.push_back(op); };
  emitter.release = [&](int position) { releaseDead(position, schedule); };
  if (failed(schedule.emit(emitter)))
    return failure();
  loc = kernel.getLoc();
  if (lossGrad) {
    emitGradAccum();
  } else {
    for (auto [k, v] : llvm::enumerate(body.getTerminator()->getOperands())) {
      Value off = b.create<arith::AddIOp>(
          loc, b.create<arith::MulIOp>(loc, idx(k), ld), point);
      b.create<memref::StoreOp>(loc, scalarOf(v), out, off);
    }
  }

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
    FloatType elt;
    if (precision == "f32")
      elt = Float32Type::get(&getContext());
    else if (precision == "f64")
      elt = Float64Type::get(&getContext());
    else {
      module.emitError("precision must be f32 or f64, got ") << precision;
      return signalPassFailure();
    }
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
        GPUKernelCodegen cg(k, elt, blockSize);
        if (failed(cg.emit(gpuModule)))
          return signalPassFailure();
      }
      if (anyLoss)
        emitSumPartials(b, gpuModule, model, elt);
    }
    // The phys model has served its purpose; only GPU kernels remain.
    for (ModelOp m : models)
      m.erase();
  }
};

} // namespace
