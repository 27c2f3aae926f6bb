//===- TrainKernelsToGPU.cpp - The rest of an Adam step, on the GPU -------===//
//
// Part of physc. The loss kernels give each term's loss and gradient; a whole
// training step on the device also needs fresh points and the optimizer.
// These kernels are generated next to the loss kernels, in the same
// gpu.module, so one PTX module holds a model's whole step and the runtime
// can capture the step in a CUDA graph with no host work in between:
//
//   MODEL_sample(counters, plan, stream, seed, pts, n)
//       thread i < n: point i of a term's region, uniform, from a counter-
//       based hash of (seed, stream, step = counters[1], i, coordinate);
//       pts[c * n + i]. `plan` (f64) describes the region: lo[d], hi[d],
//       the number of faces F, then per face (coordinate, value, end),
//       points [end_{f-1}, end_f) lying on face f (the host's stratified
//       face counts, physrt::facePointCounts).
//   MODEL_adam(hyper, counters, terms, scale, losses, grads, master, m, v,
//              params)
//       thread k < numParams: g = sum_t scale[t] * grads[t * numParams + k]
//       (scale = weight / points, in f64); Adam with bias correction at
//       step counters[0] + 1 on the f64 master copy, its bounds applied,
//       and the kernels' copy params[k] = T(master[k]). hyper = [lr,
//       beta1, beta2, eps]. A non-finite loss or gradient skips the update
//       and records 1 + the step in counters[2].
//   MODEL_advance(counters)
//       one thread: unless counters[2] is set, counters[0]++ (Adam steps)
//       and counters[1]++ (global steps, the sampler's stream position).
//
// An L-BFGS stage has its own kernels, MODEL_lbfgs_* (LbfgsToGPU.cpp).
//
// All real scalars the host sets live in device arrays rather than kernel
// arguments, so a captured graph replays unchanged.
//
//===----------------------------------------------------------------------===//

#include "TrainKernelsToGPU.h"
#include "GPUKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace physc;
using namespace physc::phys;
using namespace physc::gpukernels;

namespace {

void emitSample(OpBuilder &b, gpu::GPUModuleOp gpuModule, ModelOp model,
                FloatType T) {
  Location loc = model.getLoc();
  KernelBuilder k{b, loc};
  int64_t d = llvm::range_size(model.getCoords());
  auto fn = createKernel(
      b, gpuModule, loc, (model.getSymName() + "_sample").str(),
      {dynMemRef(b.getI64Type()), dynMemRef(b.getF64Type()), b.getIndexType(),
       b.getIndexType(), dynMemRef(T), b.getIndexType()});
  Block &entry = fn.getBody().front();
  Value counters = entry.getArgument(0), plan = entry.getArgument(1),
        stream = entry.getArgument(2), seed = entry.getArgument(3),
        pts = entry.getArgument(4), n = entry.getArgument(5);
  Value i = k.globalId();
  Value inRange = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, i, n);
  auto ifIn = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPoint(ifIn.thenBlock()->getTerminator());
  // The point's key: (seed, stream) then the step, then the point.
  Value step = k.load(counters, k.idx(1));
  Value key = k.mix(b.create<arith::AddIOp>(
      loc,
      b.create<arith::MulIOp>(loc, k.toI64(seed), k.i64(0x9e3779b97f4a7c15ULL)),
      k.toI64(stream)));
  key = k.mix(b.create<arith::AddIOp>(loc, key, step));
  Value pointKey = b.create<arith::AddIOp>(
      loc, key,
      b.create<arith::MulIOp>(loc, k.toI64(i),
                              k.i64(static_cast<uint64_t>(d))));
  // The face of point i: the number of faces that end at or before i.
  Value faces = k.toIndex(b.create<arith::FPToSIOp>(
      loc, b.getI64Type(), k.load(plan, k.idx(2 * d))));
  Value face = foldLoop(
      b, loc, k.idx(0), faces, k.idx(0), [&](Value f, Value count) -> Value {
        Value at = b.create<arith::AddIOp>(
            loc, k.idx(2 * d + 3), b.create<arith::MulIOp>(loc, f, k.idx(3)));
        Value end = k.toIndex(
            b.create<arith::FPToSIOp>(loc, b.getI64Type(), k.load(plan, at)));
        Value before =
            b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ule, end, i);
        return b.create<arith::AddIOp>(
            loc, count,
            b.create<arith::SelectOp>(loc, before, k.idx(1), k.idx(0)));
      });
  // Interior (no faces): coordinate -1 matches none.
  Value onFace =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, face, faces);
  Value faceAt = b.create<arith::AddIOp>(
      loc, k.idx(2 * d + 1), b.create<arith::MulIOp>(loc, face, k.idx(3)));
  Value faceCoord = b.create<arith::SelectOp>(
      loc, onFace,
      b.create<arith::FPToSIOp>(
          loc, b.getI64Type(),
          k.load(plan,
                 b.create<arith::SelectOp>(loc, onFace, faceAt, k.idx(0)))),
      k.i64(static_cast<uint64_t>(-1)));
  Value faceValue = k.load(
      plan, b.create<arith::SelectOp>(
                loc, onFace, b.create<arith::AddIOp>(loc, faceAt, k.idx(1)),
                k.idx(0)));
  for (int64_t c = 0; c < d; ++c) {
    Value h = k.mix(b.create<arith::AddIOp>(loc, pointKey,
                                            k.i64(static_cast<uint64_t>(c))));
    Value lo = k.load(plan, k.idx(c)), hi = k.load(plan, k.idx(d + c));
    Value v = b.create<arith::AddFOp>(
        loc, lo,
        b.create<arith::MulFOp>(loc, b.create<arith::SubFOp>(loc, hi, lo),
                                k.unit(h)));
    Value isFace = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                           faceCoord, k.i64(c));
    v = b.create<arith::SelectOp>(loc, isFace, faceValue, v);
    if (!T.isF64())
      v = b.create<arith::TruncFOp>(loc, T, v);
    Value at = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, k.idx(c), n), i);
    k.store(v, pts, at);
  }
  b.setInsertionPointAfter(ifIn);
  b.create<gpu::ReturnOp>(loc);
}

} // namespace

Value physc::clampTrainable(OpBuilder &b, Location loc, ModelOp model, Value k,
                            Value x) {
  KernelBuilder kb{b, loc};
  ParamLayout layout(model);
  for (ParamOp p : model.getBody().front().getOps<ParamOp>()) {
    if (!p.getTrainable() || !p.getLo() || !p.getHi())
      continue;
    Value isThis =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, k,
                                kb.idx(layout.paramOffset(p.getSymName())));
    Value lo = kb.f64(p.getLo()->convertToDouble());
    Value hi = kb.f64(p.getHi()->convertToDouble());
    Value clamped = b.create<arith::SelectOp>(
        loc, b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, x, lo), lo,
        b.create<arith::SelectOp>(
            loc, b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, x, hi),
            hi, x));
    x = b.create<arith::SelectOp>(loc, isThis, clamped, x);
  }
  return x;
}

namespace {

void emitAdam(OpBuilder &b, gpu::GPUModuleOp gpuModule, ModelOp model,
              FloatType T) {
  Location loc = model.getLoc();
  KernelBuilder k{b, loc};
  ParamLayout layout(model);
  int64_t np = layout.size;
  Type f64 = b.getF64Type();
  auto fn =
      createKernel(b, gpuModule, loc, (model.getSymName() + "_adam").str(),
                   {dynMemRef(f64), dynMemRef(b.getI64Type()), b.getIndexType(),
                    dynMemRef(f64), dynMemRef(T), dynMemRef(T), dynMemRef(f64),
                    dynMemRef(f64), dynMemRef(f64), dynMemRef(T)});
  Block &entry = fn.getBody().front();
  Value hyper = entry.getArgument(0), counters = entry.getArgument(1),
        terms = entry.getArgument(2), scale = entry.getArgument(3),
        losses = entry.getArgument(4), grads = entry.getArgument(5),
        master = entry.getArgument(6), mMem = entry.getArgument(7),
        vMem = entry.getArgument(8), params = entry.getArgument(9);
  Value kk = k.globalId();
  Value inRange =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, kk, k.idx(np));
  auto ifIn = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPoint(ifIn.thenBlock()->getTerminator());
  // g = sum_t scale[t] * grads[t * np + k]; finite = every loss and g are.
  Value trueV = b.create<arith::ConstantOp>(loc, b.getBoolAttr(true));
  auto loop = b.create<scf::ForOp>(loc, k.idx(0), terms, k.idx(1),
                                   ValueRange{k.f64(0), trueV});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(loop.getBody());
    Value t = loop.getInductionVar();
    Value at = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, t, k.idx(np)), kk);
    Value gt = k.toF64(k.load(grads, at));
    Value sum = b.create<arith::AddFOp>(
        loc, loop.getRegionIterArg(0),
        b.create<arith::MulFOp>(loc, k.load(scale, t), gt));
    Value ok = b.create<arith::AndIOp>(loc, loop.getRegionIterArg(1),
                                       k.isFinite(k.load(losses, t)));
    b.create<scf::YieldOp>(loc, ValueRange{sum, ok});
  }
  Value g = loop.getResult(0);
  Value finite = b.create<arith::AndIOp>(loc, loop.getResult(1), k.isFinite(g));
  Value diverged = b.create<arith::CmpIOp>(
      loc, arith::CmpIPredicate::ne, k.load(counters, k.idx(2)), k.i64(0));
  Value update = b.create<arith::AndIOp>(
      loc, finite, b.create<arith::XOrIOp>(loc, diverged, trueV)); // !diverged
  auto ifUpdate = b.create<scf::IfOp>(loc, update, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(ifUpdate.thenBlock()->getTerminator());
    Value lr = k.load(hyper, k.idx(0)), b1 = k.load(hyper, k.idx(1)),
          b2 = k.load(hyper, k.idx(2)), eps = k.load(hyper, k.idx(3));
    Value one = k.f64(1);
    Value t =
        b.create<arith::AddIOp>(loc, k.load(counters, k.idx(0)), k.i64(1));
    Value tf = b.create<arith::SIToFPOp>(loc, f64, t);
    Value c1 =
        b.create<arith::SubFOp>(loc, one, b.create<math::PowFOp>(loc, b1, tf));
    Value c2 =
        b.create<arith::SubFOp>(loc, one, b.create<math::PowFOp>(loc, b2, tf));
    Value m = b.create<arith::AddFOp>(
        loc, b.create<arith::MulFOp>(loc, b1, k.load(mMem, kk)),
        b.create<arith::MulFOp>(loc, b.create<arith::SubFOp>(loc, one, b1), g));
    Value v = b.create<arith::AddFOp>(
        loc, b.create<arith::MulFOp>(loc, b2, k.load(vMem, kk)),
        b.create<arith::MulFOp>(
            loc,
            b.create<arith::MulFOp>(loc, b.create<arith::SubFOp>(loc, one, b2),
                                    g),
            g));
    Value mh = b.create<arith::DivFOp>(loc, m, c1);
    Value vh = b.create<arith::DivFOp>(loc, v, c2);
    Value stepSize = b.create<arith::DivFOp>(
        loc, b.create<arith::MulFOp>(loc, lr, mh),
        b.create<arith::AddFOp>(loc, b.create<math::SqrtOp>(loc, vh), eps));
    Value x = b.create<arith::SubFOp>(loc, k.load(master, kk), stepSize);
    // Bounded trainable params are projected back into their range.
    x = clampTrainable(b, loc, model, kk, x);
    k.store(m, mMem, kk);
    k.store(v, vMem, kk);
    k.store(x, master, kk);
    k.store(T.isF64() ? x : b.create<arith::TruncFOp>(loc, T, x).getResult(),
            params, kk);
  }
  {
    // Not finite: record 1 + the step (every such thread writes the same
    // value) unless an earlier step already did.
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(ifUpdate.elseBlock()->getTerminator());
    Value first = b.create<arith::XOrIOp>(loc, diverged, trueV);
    auto ifFirst = b.create<scf::IfOp>(loc, first, /*withElseRegion=*/false);
    b.setInsertionPoint(ifFirst.thenBlock()->getTerminator());
    Value step = k.load(counters, k.idx(1));
    k.store(b.create<arith::AddIOp>(loc, step, k.i64(1)), counters, k.idx(2));
  }
  b.setInsertionPointAfter(ifIn);
  b.create<gpu::ReturnOp>(loc);
}

void emitAdvance(OpBuilder &b, gpu::GPUModuleOp gpuModule, ModelOp model) {
  Location loc = model.getLoc();
  KernelBuilder k{b, loc};
  auto fn =
      createKernel(b, gpuModule, loc, (model.getSymName() + "_advance").str(),
                   {dynMemRef(b.getI64Type())});
  Value counters = fn.getBody().front().getArgument(0);
  Value first = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                        k.globalId(), k.idx(0));
  Value clean = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                        k.load(counters, k.idx(2)), k.i64(0));
  auto ifGo = b.create<scf::IfOp>(
      loc, b.create<arith::AndIOp>(loc, first, clean), false);
  b.setInsertionPoint(ifGo.thenBlock()->getTerminator());
  for (int64_t c : {0, 1})
    k.store(b.create<arith::AddIOp>(loc, k.load(counters, k.idx(c)), k.i64(1)),
            counters, k.idx(c));
  b.setInsertionPointAfter(ifGo);
  b.create<gpu::ReturnOp>(loc);
}

} // namespace

void physc::emitTrainKernels(OpBuilder &b, gpu::GPUModuleOp gpuModule,
                             ModelOp model, FloatType T) {
  emitSample(b, gpuModule, model, T);
  emitAdam(b, gpuModule, model, T);
  emitAdvance(b, gpuModule, model);
  emitLbfgs(b, gpuModule, model, T);
}
