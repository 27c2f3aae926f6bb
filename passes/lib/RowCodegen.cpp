//===- RowCodegen.cpp - Shared lowering of a kernel body ------------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "RowCodegen.h"

#include "llvm/ADT/ScopeExit.h"

#include <algorithm>

using namespace mlir;
using namespace physc;
using namespace physc::phys;

FailureOr<FloatType> physc::parsePrecision(ModuleOp module,
                                           StringRef precision) {
  if (precision == "f32")
    return Float32Type::get(module.getContext());
  if (precision == "f64")
    return Float64Type::get(module.getContext());
  module.emitError("precision must be f32 or f64, got ") << precision;
  return failure();
}

bool physc::isSplatConst(Operation *op) {
  auto c = dyn_cast<arith::ConstantOp>(op);
  if (!c || !isRow(c.getResult()))
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  return dense && dense.isSplat();
}

RowCodegen::RowCodegen(KernelOp kernel, FloatType elt)
    : kernel(kernel), model(kernel->getParentOfType<ModelOp>()), layout(model),
      T(elt), b(kernel.getContext()),
      loc(UnknownLoc::get(kernel.getContext())) {
  int i = 0;
  for (ParamOp p : model.getBody().front().getOps<ParamOp>())
    rtIndex[p.getSymName()] = i++;
}

std::string RowCodegen::functionName() {
  std::string name = (model.getSymName() + "_" + kernel.getSymName()).str();
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

SmallVector<Type> RowCodegen::argumentTypes() {
  auto dyn = MemRefType::get({ShapedType::kDynamic}, T);
  return {dyn, dyn, b.getIndexType(), b.getIndexType(), dyn, dyn};
}

void RowCodegen::bindArguments(Block *entryBlock) {
  params = entryBlock->getArgument(0);
  pts = entryBlock->getArgument(1);
  ld = entryBlock->getArgument(2);
  n = entryBlock->getArgument(3);
  rt = entryBlock->getArgument(4);
  out = entryBlock->getArgument(5);
}

Value RowCodegen::scalarOf(Value v) {
  auto it = scalars.find(v);
  assert(it != scalars.end() && "scalar used before definition");
  return it->second;
}

Value RowCodegen::allocRow(Value row) {
  Type elt = rowStorageType(row);
  int64_t width = rowWidth(row);
  auto &pool = freeRows[{width, elt}];
  if (!pool.empty())
    return pool.pop_back_val();
  OpBuilder::InsertionGuard g(b);
  b.restoreInsertionPoint(entry);
  auto alloca = b.create<memref::AllocaOp>(loc, MemRefType::get({width}, elt));
  if (int64_t align = rowAlignment())
    alloca.setAlignment(align);
  return alloca;
}

void RowCodegen::freeRow(Value row) {
  auto it = rowBuf.find(row);
  if (it == rowBuf.end())
    return;
  freeRows[{rowWidth(row), rowStorageType(row)}].push_back(it->second);
  rowBuf.erase(it);
}

void RowCodegen::releaseDead(int position, const KernelSchedule &schedule) {
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

Value RowCodegen::rowElem(Value row, Value j, DenseMap<Value, Value> &env) {
  if (Value v = env.lookup(row))
    return v;
  if (Value c = rowConst.lookup(row))
    return c;
  Value buf = rowBuf.lookup(row);
  assert(buf && "row has no storage");
  return b.create<memref::LoadOp>(loc, buf, j);
}

Operation *RowCodegen::cloneElementwise(Operation *op, ValueRange operands) {
  SmallVector<Type> types;
  for (Type t : op->getResultTypes())
    types.push_back(registerType(getElementTypeOrSelf(t)));
  OperationState st(loc, op->getName().getStringRef(), operands, types,
                    op->getAttrs());
  return b.create(st);
}

void RowCodegen::hoistSplatConstants(Block &body) {
  for (Operation &op : body)
    if (isSplatConst(&op)) {
      auto c = cast<arith::ConstantOp>(op);
      rowConst[c] = constant(cast<DenseElementsAttr>(c.getValue())
                                 .getSplatValue<APFloat>()
                                 .convertToDouble());
    }
}

LogicalResult RowCodegen::emitScalarOp(Operation *op) {
  loc = op->getLoc();
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      emitConstRow(c, dense);
      return success();
    }
    if (c.getType().isIndex()) {
      scalars[c] = b.clone(*op)->getResult(0);
      return success();
    }
    if (c.getType().isInteger(1))
      if (Value v = boolConstant(c)) {
        scalars[c] = v;
        return success();
      }
    auto f = dyn_cast<FloatAttr>(c.getValue());
    if (!f)
      return op->emitOpError(unsupportedMessage());
    scalars[c] = constant(f.getValueAsDouble());
    return success();
  }
  if (auto p = dyn_cast<ParamRefOp>(op)) {
    // A trainable param lives in the parameter vector, the others in rt.
    int64_t off = layout.paramOffset(p.getParam());
    Value s = off >= 0 ? b.create<memref::LoadOp>(loc, params, idx(off))
                       : b.create<memref::LoadOp>(loc, rt,
                                                  idx(rtIndex[p.getParam()]));
    scalars[p] = broadcast(s);
    return success();
  }
  if (auto o = dyn_cast<ObservedOp>(op)) {
    // Point columns after the coordinates (observations, index).
    scalars[o] =
        pointColumn(kernel.getBody().front().getNumArguments() + o.getIndex());
    return success();
  }
  if (auto acc = dyn_cast<AccumParamGradOp>(op)) {
    accumParamGrad(layout.paramOffset(acc.getParam()),
                   scalarOf(acc.getValue()));
    return success();
  }
  if (auto m = dyn_cast<MaskOp>(op)) {
    scalars[m] = mask(scalarOf(m.getValue()));
    return success();
  }
  if (auto acc = dyn_cast<AccumLossOp>(op)) {
    accumLoss(scalarOf(acc.getValue()));
    return success();
  }
  if (auto ex = dyn_cast<tensor::ExtractOp>(op)) {
    scalars[ex] = emitExtract(ex.getTensor(), scalarOf(ex.getIndices()[0]));
    return success();
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    SmallVector<Value> elems;
    for (Value e : fe.getElements())
      elems.push_back(scalarOf(e));
    emitFromElements(fe, elems);
    return success();
  }
  if (isElementwise(op)) {
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(scalarOf(v));
    scalars[op->getResult(0)] = cloneElementwise(op, operands)->getResult(0);
    return success();
  }
  return op->emitOpError(unsupportedMessage());
}

void RowCodegen::accumLoss(Value v) {
  Value old = b.create<memref::LoadOp>(loc, lossAcc, idx(0));
  Value sum = b.create<arith::AddFOp>(loc, old, v);
  b.create<memref::StoreOp>(loc, sum, lossAcc, idx(0));
}

void RowCodegen::emitConstRow(arith::ConstantOp c, DenseElementsAttr dense) {
  Value buf = allocRow(c);
  for (auto [i, v] : llvm::enumerate(dense.getValues<APFloat>()))
    b.create<memref::StoreOp>(loc, constant(v.convertToDouble()), buf, idx(i));
  rowBuf[c] = buf;
}

Value RowCodegen::emitExtract(Value row, Value i) {
  DenseMap<Value, Value> none;
  return rowElem(row, i, none);
}

void RowCodegen::emitFromElements(Value row, ArrayRef<Value> elems) {
  Value buf = allocRow(row);
  for (auto [i, e] : llvm::enumerate(elems))
    b.create<memref::StoreOp>(loc, e, buf, idx(i));
  rowBuf[row] = buf;
}

void RowCodegen::emitGroup(ArrayRef<Operation *> group, int last,
                           const KernelSchedule &schedule) {
  int64_t width = rowWidth(group.front()->getResult(0));
  DenseSet<Operation *> inGroup(group.begin(), group.end());
  // Inputs read for the last time in this loop give their storage up
  // before the outputs get theirs, so an output may write where an input
  // is read: iteration j reads element j of every input before it stores
  // element j of every output, and reads nothing else.
  DenseMap<Value, Value> inputs;
  for (Operation *op : group)
    for (Value v : op->getOperands())
      if (Value buf = rowBuf.lookup(v))
        inputs[v] = buf;
  releaseDead(last, schedule);
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
    for (Value v : op->getOperands()) {
      Value buf = env.count(v) ? Value() : inputs.lookup(v);
      operands.push_back(buf        ? b.create<memref::LoadOp>(loc, buf, j)
                         : isRow(v) ? rowElem(v, j, env)
                                    : scalarOf(v));
    }
    env[op->getResult(0)] = cloneElementwise(op, operands)->getResult(0);
  }
  for (auto [r, buf] : stores) {
    b.create<memref::StoreOp>(loc, env[r], buf, j);
    rowBuf[r] = buf;
  }
}

void RowCodegen::emitMatvec(const KernelSchedule::Matvec &mv) {
  // The matvecs the schedule put with this one (fusedMatvecs): same layer
  // and direction, so each weight load serves all of them.
  SmallVector<KernelSchedule::Matvec> fused = {mv};
  ArrayRef<Operation *> group = schedule->fusedWith(mv.op);
  for (Operation *op : group.drop_front(std::min<size_t>(group.size(), 1)))
    fused.push_back(*KernelSchedule::decodeMatvec(op));
  int64_t C = fused.size();
  StringRef net = mv.net;
  int64_t layer = mv.layer;
  bool transposed = mv.transposed;
  auto netOp = model.lookupSymbol<NetOp>(net);
  int64_t in = netOp.getFanIn(layer), outW = netOp.getFanOut(layer);
  int64_t wOff = layout.offset(net, layer, false);
  int64_t bOff = layout.offset(net, layer, true);
  // y = W x: rows of W; y = W^T x: its columns.
  int64_t nOut = transposed ? in : outW, nIn = transposed ? outW : in;
  SmallVector<Value> xbs, ybs;
  for (const KernelSchedule::Matvec &m : fused)
    xbs.push_back(rowBuf.lookup(m.x));
  for (const KernelSchedule::Matvec &m : fused)
    ybs.push_back(allocRow(m.y));
  auto weight = [&](Value o, Value i) -> Value {
    // element (o, i) of the map: W[o][i] or W[i][o]
    Value row = transposed ? i : o, col = transposed ? o : i;
    Value k = b.create<arith::AddIOp>(
        loc, idx(wOff),
        b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, row, idx(in)),
                                col));
    return broadcast(b.create<memref::LoadOp>(loc, params, k));
  };
  auto xAt = [&](int64_t c, Value i) -> Value {
    return xbs[c] ? b.create<memref::LoadOp>(loc, xbs[c], i).getResult()
                  : rowConst.lookup(fused[c].x);
  };
  int64_t block = std::max<int64_t>(1, matvecBlock());
  // Outputs [o0, o0 + count) of each fused matvec: each a sum over i in
  // order, from the bias or zero; every x[i] is loaded once for all of
  // them, every weight once for all the matvecs. Sums are [matvec][k].
  auto outputs = [&](Value o0, int64_t count) {
    SmallVector<Value> os, sums;
    // The output indices are made along with the first matvec's sums, so
    // that a lone matvec is emitted exactly as before fusion existed.
    for (const KernelSchedule::Matvec &m : fused)
      for (int64_t k = 0; k < count; ++k) {
        if (&m == &fused.front())
          os.push_back(k ? b.create<arith::AddIOp>(loc, o0, idx(k)).getResult()
                         : o0);
        sums.push_back(m.bias && !transposed
                           ? broadcast(b.create<memref::LoadOp>(
                                 loc, params,
                                 ValueRange{b.create<arith::AddIOp>(
                                     loc, idx(bOff), os[k])}))
                           : constant(0));
      }
    auto step = [&](Value i, ValueRange acc) {
      SmallVector<Value> xv;
      for (int64_t c = 0; c < C; ++c)
        xv.push_back(xAt(c, i));
      SmallVector<Value> next(acc.begin(), acc.end());
      for (int64_t k = 0; k < count; ++k) {
        Value w = weight(os[k], i);
        for (int64_t c = 0; c < C; ++c)
          next[c * count + k] = fma(w, xv[c], acc[c * count + k]);
      }
      return next;
    };
    // Where outputs are blocked (the GPU), four consecutive i per
    // iteration: a row's weights for them are adjacent, one vector load.
    int64_t unroll = block > 1 && nIn % 4 == 0 ? 4 : 1;
    sums = emitSumLoop(nIn, unroll, sums, step);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < count; ++k)
        b.create<memref::StoreOp>(loc, sums[c * count + k], ybs[c], os[k]);
  };
  // Blocks of `block` outputs, then the rest one by one.
  int64_t blocked = nOut / block * block;
  if (blocked > 0) {
    auto loop = b.create<scf::ForOp>(loc, idx(0), idx(blocked), idx(block));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    outputs(loop.getInductionVar(), block);
  }
  if (blocked < nOut) {
    auto loop = b.create<scf::ForOp>(loc, idx(blocked), idx(nOut), idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    outputs(loop.getInductionVar(), 1);
  }
  for (int64_t c = 0; c < C; ++c)
    rowBuf[fused[c].y] = ybs[c];
}

SmallVector<Value> RowCodegen::emitSumLoop(
    int64_t n, int64_t unroll, ArrayRef<Value> init,
    function_ref<SmallVector<Value>(Value, ValueRange)> step) {
  SmallVector<Value> sums(init);
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i)
      sums = step(idx(i), sums);
    return sums;
  }
  auto loop =
      b.create<scf::ForOp>(loc, idx(0), idx(n), idx(unroll), ValueRange(sums));
  OpBuilder::InsertionGuard g(b);
  // With iter_args the builder leaves the body without a yield.
  Block *body = loop.getBody();
  if (!body->empty() && isa<scf::YieldOp>(body->back()))
    body->back().erase();
  b.setInsertionPointToEnd(body);
  SmallVector<Value> acc(loop.getRegionIterArgs());
  Value i0 = loop.getInductionVar();
  for (int64_t u = 0; u < unroll; ++u)
    acc = step(u ? b.create<arith::AddIOp>(loc, i0, idx(u)).getResult() : i0,
               acc);
  b.create<scf::YieldOp>(loc, acc);
  return SmallVector<Value>(loop.getResults());
}

void RowCodegen::accumParamGrad(int64_t offset, Value v) {
  Value k = idx(gradBase + offset);
  Value old = b.create<memref::LoadOp>(loc, gradAcc, k);
  b.create<memref::StoreOp>(loc, b.create<arith::AddFOp>(loc, old, v), gradAcc,
                            k);
}

void RowCodegen::emitGradAccum() {
  GroupedGradAccums grouped = groupGradAccums(deferred);
  DenseMap<Value, Value> none;
  for (LayerGradAccums &g : grouped.weights) {
    auto net = model.lookupSymbol<NetOp>(g.net);
    int64_t in = net.getFanIn(g.layer), outW = net.getFanOut(g.layer);
    int64_t off = gradBase + layout.offset(g.net, g.layer, false);
    auto lj = b.create<scf::ForOp>(loc, idx(0), idx(outW), idx(1));
    OpBuilder::InsertionGuard g1(b);
    b.setInsertionPoint(lj.getBody()->getTerminator());
    Value j = lj.getInductionVar();
    SmallVector<Value> dys;
    for (auto &[dy, x] : g.items)
      dys.push_back(rowElem(dy, j, none));
    Value rowOff = b.create<arith::AddIOp>(
        loc, idx(off), b.create<arith::MulIOp>(loc, j, idx(in)));
    auto li = b.create<scf::ForOp>(loc, idx(0), idx(in), idx(1));
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(li.getBody()->getTerminator());
    Value i = li.getInductionVar();
    Value k = b.create<arith::AddIOp>(loc, rowOff, i);
    Value a = b.create<memref::LoadOp>(loc, gradAcc, k);
    for (auto [c, item] : llvm::enumerate(g.items))
      a = fma(dys[c], rowElem(item.second, i, none), a);
    b.create<memref::StoreOp>(loc, a, gradAcc, k);
  }
  for (LayerGradAccums &g : grouped.biases) {
    auto net = model.lookupSymbol<NetOp>(g.net);
    int64_t outW = net.getFanOut(g.layer);
    int64_t off = gradBase + layout.offset(g.net, g.layer, true);
    auto lj = b.create<scf::ForOp>(loc, idx(0), idx(outW), idx(1));
    OpBuilder::InsertionGuard g1(b);
    b.setInsertionPoint(lj.getBody()->getTerminator());
    Value j = lj.getInductionVar();
    Value k = b.create<arith::AddIOp>(loc, idx(off), j);
    Value a = b.create<memref::LoadOp>(loc, gradAcc, k);
    for (auto &item : g.items)
      a = b.create<arith::AddFOp>(loc, a, rowElem(item.first, j, none));
    b.create<memref::StoreOp>(loc, a, gradAcc, k);
  }
}

LogicalResult RowCodegen::emitBody(Block &body) {
  bool eager = eagerGradAccums();
  KernelSchedule schedule(body, isSplatConst, eager, fusedMatvecs());
  this->schedule = &schedule;
  auto forget = llvm::make_scope_exit([&] { this->schedule = nullptr; });
  KernelSchedule::Emitter emitter;
  emitter.scalar = [&](Operation *op) { return emitScalarOp(op); };
  emitter.group = [&](ArrayRef<Operation *> group, int last) {
    emitGroup(group, last, schedule);
  };
  emitter.matvec = [&](const KernelSchedule::Matvec &mv) {
    loc = mv.op->getLoc();
    emitMatvec(mv);
  };
  emitter.defer = [&](Operation *op) {
    if (!eager || !schedule.closesGradGroup(op)) {
      deferred.push_back(op);
      return;
    }
    // The last accumulation of its group: the group runs here.
    auto sameGroup = [&](Operation *o) {
      if (auto w = dyn_cast<AccumWeightGradOp>(op)) {
        auto v = dyn_cast<AccumWeightGradOp>(o);
        return v && v.getNet() == w.getNet() && v.getLayer() == w.getLayer();
      }
      auto bg = cast<AccumBiasGradOp>(op);
      auto v = dyn_cast<AccumBiasGradOp>(o);
      return v && v.getNet() == bg.getNet() && v.getLayer() == bg.getLayer();
    };
    SmallVector<Operation *> rest, group;
    for (Operation *o : deferred)
      (sameGroup(o) ? group : rest).push_back(o);
    group.push_back(op);
    deferred = std::move(group);
    loc = op->getLoc();
    emitGradAccum();
    deferred = std::move(rest);
  };
  emitter.release = [&](int position) { releaseDead(position, schedule); };
  if (failed(schedule.emit(emitter)))
    return failure();
  loc = kernel.getLoc();
  if (kernel.getKind() == "loss_grad") {
    emitGradAccum();
  } else {
    for (auto [k, v] : llvm::enumerate(body.getTerminator()->getOperands()))
      storePointColumn(k, scalarOf(v));
  }
  return success();
}
