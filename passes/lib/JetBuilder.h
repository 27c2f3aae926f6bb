//===- JetBuilder.h - Folding arithmetic on jet components ------*- C++ -*-===//
//
// Part of physc. Jet components are SSA values or "structurally zero" (a null
// Value); building through these helpers never creates a product with a
// known zero or a multiplication by a known one, which is what keeps the
// expanded programs small. Works on f64 scalars and tensor<W x f64> rows.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_JETBUILDER_H
#define PHYSC_PASSES_JETBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace physc {

class JetBuilder {
public:
  JetBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::OpBuilder &builder() { return b; }
  mlir::Location getLoc() const { return loc; }
  void setLoc(mlir::Location l) { loc = l; }

  /// A constant of type `t` (f64 or a splat row).
  mlir::Value cst(mlir::Type t, double v);
  /// True if `v` is a constant (scalar or splat) equal to `c`.
  static bool isConst(mlir::Value v, double c);
  static std::optional<double> constValue(mlir::Value v);

  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value div(mlir::Value x, mlir::Value y);
  mlir::Value neg(mlir::Value x);
  /// s * x, folding s = 0 and s = 1.
  mlir::Value scale(mlir::Value x, double s);
  /// sum_i coeffs[i] * t^i by Horner's rule.
  mlir::Value poly(llvm::ArrayRef<double> coeffs, mlir::Value t);

  template <typename OpT, typename... Args> mlir::Value create(Args &&...args) {
    return b.create<OpT>(loc, std::forward<Args>(args)...).getResult();
  }

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace physc

#endif // PHYSC_PASSES_JETBUILDER_H
