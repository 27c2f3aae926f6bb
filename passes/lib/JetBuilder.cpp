//===- JetBuilder.cpp - Folding arithmetic on jet components --------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "JetBuilder.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace physc;

Value JetBuilder::cst(Type t, double v) {
  if (auto rt = dyn_cast<RankedTensorType>(t))
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(rt, b.getF64FloatAttr(v).getValue()));
  return b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(v));
}

std::optional<double> JetBuilder::constValue(Value v) {
  if (!v)
    return std::nullopt;
  auto c = v.getDefiningOp<arith::ConstantOp>();
  if (!c)
    return std::nullopt;
  if (auto f = dyn_cast<FloatAttr>(c.getValue()))
    return f.getValueAsDouble();
  if (auto d = dyn_cast<DenseElementsAttr>(c.getValue()))
    if (d.isSplat() && isa<FloatType>(d.getElementType()))
      return d.getSplatValue<APFloat>().convertToDouble();
  return std::nullopt;
}

bool JetBuilder::isConst(Value v, double c) {
  auto x = constValue(v);
  return x && *x == c;
}

Value JetBuilder::add(Value x, Value y) {
  if (!x || isConst(x, 0))
    return y;
  if (!y || isConst(y, 0))
    return x;
  return create<arith::AddFOp>(x, y);
}

Value JetBuilder::sub(Value x, Value y) {
  if (!y || isConst(y, 0))
    return x;
  if (!x || isConst(x, 0))
    return neg(y);
  return create<arith::SubFOp>(x, y);
}

Value JetBuilder::neg(Value x) {
  if (!x)
    return x;
  if (auto c = constValue(x))
    return cst(x.getType(), -*c);
  return create<arith::NegFOp>(x);
}

Value JetBuilder::mul(Value x, Value y) {
  if (!x || !y || isConst(x, 0) || isConst(y, 0))
    return Value();
  if (isConst(x, 1))
    return y;
  if (isConst(y, 1))
    return x;
  if (isConst(x, -1))
    return neg(y);
  if (isConst(y, -1))
    return neg(x);
  auto cx = constValue(x), cy = constValue(y);
  if (cx && cy)
    return cst(x.getType(), *cx * *cy);
  return create<arith::MulFOp>(x, y);
}

Value JetBuilder::div(Value x, Value y) {
  if (!x || isConst(x, 0))
    return Value();
  if (isConst(y, 1))
    return x;
  return create<arith::DivFOp>(x, y);
}

Value JetBuilder::scale(Value x, double s) {
  if (!x || s == 0)
    return Value();
  if (s == 1)
    return x;
  return mul(cst(x.getType(), s), x);
}

Value JetBuilder::poly(ArrayRef<double> coeffs, Value t) {
  int n = coeffs.size();
  while (n > 0 && coeffs[n - 1] == 0)
    --n;
  if (n == 0)
    return Value();
  Value acc = cst(t.getType(), coeffs[n - 1]);
  for (int i = n - 2; i >= 0; --i) {
    acc = mul(acc, t);
    if (coeffs[i] != 0)
      acc = add(acc, cst(t.getType(), coeffs[i]));
  }
  return acc;
}
