//===- Towers.h - Derivative towers of elementary functions -----*- C++ -*-===//
//
// Part of physc. A tower is f(z), f'(z), ..., f^(K)(z) as values, built so
// that the higher derivatives reuse the lower ones (tanh's are polynomials in
// tanh(z), sigmoid's in sigmoid(z), gelu's Hermite polynomials times the
// normal density). Taylor-mode composition (Faa di Bruno) consumes them.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_TOWERS_H
#define PHYSC_PASSES_TOWERS_H

#include "JetBuilder.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

namespace physc {

/// f^(k)(z) for k = 0..order. `fn` is an activation (tanh, sin, gelu,
/// softplus, swish, sigmoid, relu) or an elementary function (cos, tan, exp,
/// log, log1p, sqrt, sinh, cosh, abs, erf, recip); `p` is the exponent for
/// `powc` (z^p). Returns an empty vector for an unknown `fn`.
llvm::SmallVector<mlir::Value> buildTower(JetBuilder &jb, llvm::StringRef fn,
                                          mlir::Value z, int order,
                                          double p = 0);

/// True when PHYSC_BREAK_RULE names `rule`: lets a test prove that
/// `physc gradcheck` catches a wrong derivative rule.
bool ruleIsBroken(llvm::StringRef rule);

} // namespace physc

#endif // PHYSC_PASSES_TOWERS_H
