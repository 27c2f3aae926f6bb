//===- FuseKernels.cpp - phys.kernel => one point-loop function -----------===//
//
// Part of physc. The code generator of the CPU path. A kernel body is
// straight-line code on scalars (one value per point) and rows (W values per
// point). Points are processed in tiles of `lanes`, one vector lane each, so
// every scalar becomes a vector<lanes x T> and every row a W-long array of
// such vectors in stack scratch. Runs of elementwise row ops are fused into
// one loop over W, so intermediate rows of an activation's jet never touch
// memory; scratch rows are recycled as soon as their last reader has run.
//
//===----------------------------------------------------------------------===//

#include "physc/Transforms/KernelSchedule.h"
#include "physc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"

#include <map>

namespace physc {
#define GEN_PASS_DEF_FUSEKERNELS
#include "physc/Transforms/Passes.h.inc"
} // namespace physc

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

bool isSplatConst(Operation *op) {
  auto c = dyn_cast<arith::ConstantOp>(op);
  if (!c || !isRow(c.getResult()))
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  return dense && dense.isSplat();
}

class KernelCodegen {
public:
  KernelCodegen(KernelOp kernel, FloatType elt, unsigned lanes)
      : kernel(kernel), model(kernel->getParentOfType<ModelOp>()),
        layout(model), T(elt), P(lanes),
        VT(VectorType::get({(int64_t)lanes}, elt)),
        MT(VectorType::get({(int64_t)lanes},
                           IntegerType::get(elt.getContext(), 1))),
        b(kernel.getContext()) {
    int i = 0;
    for (ParamOp p : model.getBody().front().getOps<ParamOp>())
      rtIndex[p.getSymName()] = i++;
  }

  LogicalResult emit(ModuleOp module);

private:
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value vconst(double v) {
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(VT, b.getFloatAttr(T, v).getValue()));
  }
  /// The vector of lane values of scalar `v` at element `j` of a row loop
  /// (j is null outside row loops).
  Value scalarOf(Value v);
  Value rowElem(Value row, Value j, DenseMap<Value, Value> &env);
  Value allocRow(int64_t width);
  void freeRow(Value row);
  Operation *cloneOnVectors(Operation *op, ValueRange operands);
  LogicalResult emitScalarOp(Operation *op);
  void emitGroup(ArrayRef<Operation *> group);
  void emitMatvec(Value x, Value y, StringRef net, int64_t layer, bool bias,
                  bool transposed);
  void emitGradAccum();
  void releaseDead(int position, const KernelSchedule &schedule);

  KernelOp kernel;
  ModelOp model;
  ParamLayout layout;
  FloatType T;
  unsigned P;
  VectorType VT, MT;
  OpBuilder b;
  Location loc = UnknownLoc::get(kernel.getContext());
  llvm::StringMap<int> rtIndex;

  // Function arguments and per-tile state.
  Value params, pts, ld, n, rt, out, grad;
  Value base, laneMask, lossAcc, gradAcc;
  OpBuilder::InsertPoint entry;

  DenseMap<Value, Value> scalars;  ///< f64/i1 value => vector of lanes
  DenseMap<Value, Value> rowBuf;   ///< row value => scratch memref
  DenseMap<Value, Value> rowConst; ///< splat row => vector constant
  std::map<int64_t, SmallVector<Value>> freeRows;
  SmallVector<Operation *> deferred; ///< gradient accumulations, tile end
};

Value KernelCodegen::scalarOf(Value v) {
  auto it = scalars.find(v);
  assert(it != scalars.end() && "scalar used before definition");
  return it->second;
}

Value KernelCodegen::allocRow(int64_t width) {
  auto &pool = freeRows[width];
  if (!pool.empty())
    return pool.pop_back_val();
  OpBuilder::InsertionGuard g(b);
  b.restoreInsertionPoint(entry);
  return b.create<memref::AllocaOp>(loc, MemRefType::get({width}, VT));
}

void KernelCodegen::freeRow(Value row) {
  auto it = rowBuf.find(row);
  if (it == rowBuf.end())
    return;
  freeRows[rowWidth(row)].push_back(it->second);
  rowBuf.erase(it);
}

void KernelCodegen::releaseDead(int position, const KernelSchedule &schedule) {
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

Value KernelCodegen::rowElem(Value row, Value j, DenseMap<Value, Value> &env) {
  if (Value v = env.lookup(row))
    return v;
  if (Value c = rowConst.lookup(row))
    return c;
  Value buf = rowBuf.lookup(row);
  assert(buf && "row has no storage");
  return b.create<memref::LoadOp>(loc, buf, j);
}

Operation *KernelCodegen::cloneOnVectors(Operation *op, ValueRange operands) {
  SmallVector<Type> types;
  for (Type t : op->getResultTypes()) {
    Type elt = isa<ShapedType>(t) ? cast<ShapedType>(t).getElementType() : t;
    types.push_back(elt.isInteger(1) ? Type(MT) : Type(VT));
  }
  OperationState st(loc, op->getName().getStringRef(), operands, types,
                    op->getAttrs());
  return b.create(st);
}

LogicalResult KernelCodegen::emitScalarOp(Operation *op) {
  loc = op->getLoc();
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      // A constant row that is not a splat: e.g. a unit direction.
      Value buf = allocRow(rowWidth(c));
      for (auto [i, v] : llvm::enumerate(dense.getValues<APFloat>()))
        b.create<memref::StoreOp>(loc, vconst(v.convertToDouble()), buf,
                                  idx(i));
      rowBuf[c] = buf;
      return success();
    }
    if (c.getType().isIndex()) {
      scalars[c] = b.clone(*op)->getResult(0);
      return success();
    }
    if (auto i = dyn_cast<IntegerAttr>(c.getValue());
        i && c.getType().isInteger(1)) {
      bool v = i.getValue().getBoolValue();
      scalars[c] = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(MT, ArrayRef<bool>(v)));
      return success();
    }
    auto f = dyn_cast<FloatAttr>(c.getValue());
    if (!f)
      return op->emitOpError("cannot be fused into a CPU kernel");
    scalars[c] = vconst(f.getValueAsDouble());
    return success();
  }
  if (auto p = dyn_cast<ParamRefOp>(op)) {
    // A trainable param lives in the parameter vector, the others in rt.
    int64_t off = layout.paramOffset(p.getParam());
    Value s = off >= 0
                  ? b.create<memref::LoadOp>(loc, params, idx(off))
                  : b.create<memref::LoadOp>(loc, rt,
                                             idx(rtIndex[p.getParam()]));
    scalars[p] = b.create<vector::BroadcastOp>(loc, VT, s);
    return success();
  }
  if (auto o = dyn_cast<ObservedOp>(op)) {
    // Point column (coordinates + index), like a coordinate.
    int64_t column = kernel.getBody().front().getNumArguments() + o.getIndex();
    Value off = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, idx(column), ld), base);
    scalars[o] = b.create<vector::LoadOp>(loc, VT, pts, ValueRange{off});
    return success();
  }
  if (auto acc = dyn_cast<AccumParamGradOp>(op)) {
    Value k = idx(layout.paramOffset(acc.getParam()));
    Value old = b.create<memref::LoadOp>(loc, gradAcc, k);
    Value sum = b.create<arith::AddFOp>(loc, old, scalarOf(acc.getValue()));
    b.create<memref::StoreOp>(loc, sum, gradAcc, k);
    return success();
  }
  if (auto m = dyn_cast<MaskOp>(op)) {
    scalars[m] = b.create<arith::SelectOp>(loc, laneMask,
                                           scalarOf(m.getValue()), vconst(0));
    return success();
  }
  if (auto acc = dyn_cast<AccumLossOp>(op)) {
    Value old = b.create<memref::LoadOp>(loc, lossAcc, idx(0));
    Value sum = b.create<arith::AddFOp>(loc, old, scalarOf(acc.getValue()));
    b.create<memref::StoreOp>(loc, sum, lossAcc, idx(0));
    return success();
  }
  if (auto ex = dyn_cast<tensor::ExtractOp>(op)) {
    Value i = scalarOf(ex.getIndices()[0]);
    DenseMap<Value, Value> none;
    scalars[ex] = rowElem(ex.getTensor(), i, none);
    return success();
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    Value buf = allocRow(rowWidth(fe));
    for (auto [i, e] : llvm::enumerate(fe.getElements()))
      b.create<memref::StoreOp>(loc, scalarOf(e), buf, idx(i));
    rowBuf[fe] = buf;
    return success();
  }
  if (isElementwise(op)) {
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(scalarOf(v));
    scalars[op->getResult(0)] = cloneOnVectors(op, operands)->getResult(0);
    return success();
  }
  return op->emitOpError("cannot be fused into a CPU kernel");
}

void KernelCodegen::emitGroup(ArrayRef<Operation *> group) {
  int64_t width = rowWidth(group.front()->getResult(0));
  DenseSet<Operation *> inGroup(group.begin(), group.end());
  // Rows read after the group need storage; the rest stay in registers.
  SmallVector<std::pair<Value, Value>> stores;
  for (Operation *op : group) {
    Value r = op->getResult(0);
    bool escapes = llvm::any_of(
        r.getUsers(), [&](Operation *u) { return !inGroup.contains(u); });
    if (escapes)
      stores.push_back({r, Value()});
  }
  for (auto &s : stores)
    s.second = allocRow(width);
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
    env[op->getResult(0)] = cloneOnVectors(op, operands)->getResult(0);
  }
  for (auto [r, buf] : stores) {
    b.create<memref::StoreOp>(loc, env[r], buf, j);
    rowBuf[r] = buf;
  }
}

void KernelCodegen::emitMatvec(Value x, Value y, StringRef net, int64_t layer,
                               bool bias, bool transposed) {
  auto netOp = model.lookupSymbol<NetOp>(net);
  int64_t in = netOp.getFanIn(layer), outW = netOp.getFanOut(layer);
  int64_t wOff = layout.offset(net, layer, false);
  int64_t bOff = layout.offset(net, layer, true);
  // y = W x: rows j of W; y = W^T x: columns.
  int64_t nOut = transposed ? in : outW, nIn = transposed ? outW : in;
  Value xb = rowBuf.lookup(x);
  Value yb = allocRow(nOut);
  auto weight = [&](Value o, Value i) {
    // element (o, i) of the map: W[o][i] or W[i][o]
    Value row = transposed ? i : o, col = transposed ? o : i;
    Value k = b.create<arith::AddIOp>(
        loc, idx(wOff),
        b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, row, idx(in)),
                                col));
    Value w = b.create<memref::LoadOp>(loc, params, k);
    return b.create<vector::BroadcastOp>(loc, VT, w);
  };
  auto loop = b.create<scf::ForOp>(loc, idx(0), idx(nOut), idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value o = loop.getInductionVar();
    Value acc;
    if (bias && !transposed) {
      Value bk = b.create<arith::AddIOp>(loc, idx(bOff), o);
      Value bv = b.create<memref::LoadOp>(loc, params, bk);
      acc = b.create<vector::BroadcastOp>(loc, VT, bv);
    } else {
      acc = vconst(0);
    }
    auto step = [&](Value i, Value a) -> Value {
      Value xv = xb ? b.create<memref::LoadOp>(loc, xb, i).getResult()
                    : rowConst.lookup(x);
      return b.create<vector::FMAOp>(loc, weight(o, i), xv, a);
    };
    if (nIn <= 8) {
      for (int64_t i = 0; i < nIn; ++i)
        acc = step(idx(i), acc);
    } else {
      auto inner =
          b.create<scf::ForOp>(loc, idx(0), idx(nIn), idx(1), ValueRange{acc});
      OpBuilder::InsertionGuard g2(b);
      Block *ib = inner.getBody();
      if (!ib->empty() && isa<scf::YieldOp>(ib->back()))
        ib->back().erase();
      b.setInsertionPointToEnd(ib);
      Value a = step(inner.getInductionVar(), inner.getRegionIterArg(0));
      b.create<scf::YieldOp>(loc, a);
      acc = inner.getResult(0);
    }
    b.create<memref::StoreOp>(loc, acc, yb, o);
  }
  rowBuf[y] = yb;
}

void KernelCodegen::emitGradAccum() {
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
    int64_t off = layout.offset(key.first, key.second, false);
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
    Value a = b.create<memref::LoadOp>(loc, gradAcc, k);
    for (auto [c, item] : llvm::enumerate(items))
      a = b.create<vector::FMAOp>(loc, dys[c], rowElem(item.second, i, none),
                                  a);
    b.create<memref::StoreOp>(loc, a, gradAcc, k);
  }
  for (auto &[key, items] : biases) {
    auto net = model.lookupSymbol<NetOp>(key.first);
    int64_t outW = net.getFanOut(key.second);
    int64_t off = layout.offset(key.first, key.second, true);
    auto lj = b.create<scf::ForOp>(loc, idx(0), idx(outW), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(lj.getBody()->getTerminator());
    Value j = lj.getInductionVar();
    Value k = b.create<arith::AddIOp>(loc, idx(off), j);
    Value a = b.create<memref::LoadOp>(loc, gradAcc, k);
    for (auto &item : items)
      a = b.create<arith::AddFOp>(loc, a, rowElem(item.first, j, none));
    b.create<memref::StoreOp>(loc, a, gradAcc, k);
  }
}

LogicalResult KernelCodegen::emit(ModuleOp module) {
  bool lossGrad = kernel.getKind() == "loss_grad";
  Block &body = kernel.getBody().front();
  loc = kernel.getLoc();
  auto dyn = MemRefType::get({ShapedType::kDynamic}, T);
  SmallVector<Type> args{dyn, dyn, b.getIndexType(), b.getIndexType(),
                         dyn, dyn};
  if (lossGrad)
    args.push_back(dyn);
  std::string name = (model.getSymName() + "_" + kernel.getSymName()).str();
  std::replace(name.begin(), name.end(), '.', '_');
  b.setInsertionPointToEnd(module.getBody());
  auto fn = b.create<func::FuncOp>(loc, name, b.getFunctionType(args, {}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entryBlock = fn.addEntryBlock();
  params = entryBlock->getArgument(0);
  pts = entryBlock->getArgument(1);
  ld = entryBlock->getArgument(2);
  n = entryBlock->getArgument(3);
  rt = entryBlock->getArgument(4);
  out = entryBlock->getArgument(5);
  if (lossGrad)
    grad = entryBlock->getArgument(6);
  b.setInsertionPointToStart(entryBlock);
  entry = b.saveInsertionPoint();

  // Hoisted constants: splat rows become vector constants.
  for (Operation &op : body)
    if (isSplatConst(&op)) {
      auto c = cast<arith::ConstantOp>(op);
      double v = cast<DenseElementsAttr>(c.getValue())
                     .getSplatValue<APFloat>()
                     .convertToDouble();
      rowConst[c] = vconst(v);
    }
  entry = b.saveInsertionPoint();

  KernelSchedule schedule(body, isSplatConst);

  Value lossBuf, gradBuf;
  int64_t numParams = layout.size;
  if (lossGrad) {
    lossBuf = b.create<memref::AllocaOp>(loc, MemRefType::get({1}, VT));
    b.create<memref::StoreOp>(loc, vconst(0), lossBuf, idx(0));
    gradBuf = b.create<memref::AllocOp>(loc, MemRefType::get({numParams}, VT),
                                        b.getI64IntegerAttr(64));
    auto z = b.create<scf::ForOp>(loc, idx(0), idx(numParams), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(z.getBody()->getTerminator());
    b.create<memref::StoreOp>(loc, vconst(0), gradBuf, z.getInductionVar());
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
  for (auto [c, arg] : llvm::enumerate(body.getArguments())) {
    Value off = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, idx(c), ld), base);
    scalars[arg] = b.create<vector::LoadOp>(loc, VT, pts, ValueRange{off});
  }

  KernelSchedule::Emitter emitter;
  emitter.scalar = [&](Operation *op) {
    loc = op->getLoc();
    return emitScalarOp(op);
  };
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
          loc, b.create<arith::MulIOp>(loc, idx(k), ld), base);
      b.create<vector::StoreOp>(loc, scalarOf(v), out, ValueRange{off});
    }
  }

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
    FloatType elt;
    if (precision == "f32")
      elt = Float32Type::get(&getContext());
    else if (precision == "f64")
      elt = Float64Type::get(&getContext());
    else {
      module.emitError("precision must be f32 or f64, got ") << precision;
      return signalPassFailure();
    }
    if (lanes == 0 || 64 % lanes != 0) {
      module.emitError("lanes must divide 64, got ")
          << static_cast<unsigned>(lanes);
      return signalPassFailure();
    }
    SmallVector<KernelOp> kernels;
    module.walk([&](KernelOp k) { kernels.push_back(k); });
    for (KernelOp k : kernels) {
      KernelCodegen cg(k, elt, lanes);
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
