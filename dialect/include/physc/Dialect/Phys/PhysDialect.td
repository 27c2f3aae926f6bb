//===- PhysDialect.td - The phys dialect -------------------*- tablegen -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYS_DIALECT
#define PHYS_DIALECT

include "mlir/IR/OpBase.td"

def Phys_Dialect : Dialect {
  let name = "phys";
  let summary = "Physics-informed models: fields, derivatives, residuals, jets";
  let description = [{
    The `phys` dialect carries a `.phys` model from the frontend down to fused
    kernels. At the top level a `phys.model` holds coordinates, networks,
    fields and equations whose bodies are pointwise programs in `arith` and
    `math` plus `phys.d` (a partial derivative of any value with respect to
    coordinates). Lower down, derivatives are expanded into Taylor-mode jets
    over `phys.matvec` and elementwise ops on `tensor<W x f64>` rows, and
    `phys.kernel` ops hold one pointwise program each (eval, jets, or loss
    with its reverse sweep), before `phys-fuse-kernels` turns them into
    point-loop functions.
  }];
  let cppNamespace = "::physc::phys";
}

class Phys_Op<string mnemonic, list<Trait> traits = []> :
    Op<Phys_Dialect, mnemonic, traits>;

#endif // PHYS_DIALECT
