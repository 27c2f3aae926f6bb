//===- GPUKernelBuilder.h - Helpers for hand-built GPU kernels --*- C++ -*-===//
//
// Part of physc. The training kernels (TrainKernelsToGPU.cpp) and the L-BFGS
// kernels (LbfgsToGPU.cpp) are built op by op rather than lowered from the
// phys dialect; these helpers keep their arithmetic readable.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_GPUKERNELBUILDER_H
#define PHYSC_PASSES_GPUKERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <limits>

namespace physc {
namespace gpukernels {

using namespace mlir;

/// Builds one kernel's body; the small helpers keep the arithmetic readable.
struct KernelBuilder {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value i64(uint64_t v) {
    return b.create<arith::ConstantOp>(
        loc, b.getI64IntegerAttr(static_cast<int64_t>(v)));
  }
  Value f64(double v) {
    return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v));
  }
  Value load(Value mem, Value at) {
    return b.create<memref::LoadOp>(loc, mem, ValueRange{at});
  }
  void store(Value v, Value mem, Value at) {
    b.create<memref::StoreOp>(loc, v, mem, ValueRange{at});
  }
  Value toI64(Value index) {
    return b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
  }
  Value toIndex(Value i) {
    return b.create<arith::IndexCastOp>(loc, b.getIndexType(), i);
  }
  /// The global thread id: blockIdx.x * blockDim.x + threadIdx.x.
  Value globalId() {
    Value bid = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value bdim = b.create<gpu::BlockDimOp>(loc, gpu::Dimension::x);
    Value tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    return b.create<arith::AddIOp>(loc, b.create<arith::MulIOp>(loc, bid, bdim),
                                   tid);
  }
  /// splitmix64's finaliser: a bijection of 64-bit words that mixes every
  /// input bit into every output bit.
  Value mix(Value x) {
    auto xorShift = [&](Value v, int s) {
      return b.create<arith::XOrIOp>(loc, v,
                                     b.create<arith::ShRUIOp>(loc, v, i64(s)));
    };
    x = xorShift(x, 30);
    x = b.create<arith::MulIOp>(loc, x, i64(0xbf58476d1ce4e5b9ULL));
    x = xorShift(x, 27);
    x = b.create<arith::MulIOp>(loc, x, i64(0x94d049bb133111ebULL));
    return xorShift(x, 31);
  }
  /// The top 53 bits of `h` as a double in [0, 1).
  Value unit(Value h) {
    Value top = b.create<arith::ShRUIOp>(loc, h, i64(11));
    Value asF = b.create<arith::UIToFPOp>(loc, b.getF64Type(), top);
    return b.create<arith::MulFOp>(loc, asF, f64(0x1.0p-53));
  }
  Value isFinite(Value x) {
    // |x| < inf is false for NaN and for +-inf.
    Value ax = b.create<math::AbsFOp>(loc, x);
    return b.create<arith::CmpFOp>(
        loc, arith::CmpFPredicate::OLT, ax,
        b.create<arith::ConstantOp>(
            loc, b.getFloatAttr(x.getType(),
                                std::numeric_limits<double>::infinity())));
  }
  Value toF64(Value x) {
    return x.getType().isF64()
               ? x
               : b.create<arith::ExtFOp>(loc, b.getF64Type(), x).getResult();
  }
};

inline MemRefType dynMemRef(Type elt) {
  return MemRefType::get({ShapedType::kDynamic}, elt);
}

/// Creates `name(args) kernel` at the end of `gpuModule` and leaves `b` at
/// the start of its body.
inline gpu::GPUFuncOp createKernel(OpBuilder &b, gpu::GPUModuleOp gpuModule,
                                   Location loc, const std::string &name,
                                   ArrayRef<Type> args) {
  b.setInsertionPoint(gpuModule.getBody()->getTerminator());
  auto fn = b.create<gpu::GPUFuncOp>(loc, name, b.getFunctionType(args, {}),
                                     TypeRange(), TypeRange());
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  b.setInsertionPointToStart(&fn.getBody().front());
  return fn;
}

/// An scf.for over [lb, ub) with one f64/index/i64 iter_arg; `body(iv,
/// acc)` returns the next value. Returns the loop's result.
inline Value foldLoop(OpBuilder &b, Location loc, Value lb, Value ub,
                      Value init,
                      llvm::function_ref<Value(Value, Value)> body) {
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto loop = b.create<scf::ForOp>(loc, lb, ub, one, ValueRange{init});
  OpBuilder::InsertionGuard g(b);
  // With iter_args the builder leaves the body without a yield.
  b.setInsertionPointToEnd(loop.getBody());
  Value next = body(loop.getInductionVar(), loop.getRegionIterArg(0));
  b.create<scf::YieldOp>(loc, next);
  return loop.getResult(0);
}

} // namespace gpukernels
} // namespace physc

#endif // PHYSC_PASSES_GPUKERNELBUILDER_H
