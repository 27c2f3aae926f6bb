//===- ModelJSON.h - A compiled model's description as JSON -----*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Everything of a CompiledModel except
// its kernels (coordinates, parameter layout, terms with their data, exacts,
// stages, sampler, weighting), plus the symbol of each kernel and what it is
// bound to. `physc build` embeds this text in the libraries it writes; the
// embedding API parses it back and binds the kernels by symbol. The JIT goes
// through the same bindKernels, so both paths bind kernels identically.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_MODELJSON_H
#define PHYSRT_MODELJSON_H

#include "physrt/Model.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace physrt {

/// One compiled kernel and the slot of the model it fills.
struct KernelRef {
  enum class Role {
    LossGrad, ///< terms[index].lossGrad
    Residual, ///< terms[index].residual (R3)
    Field,    ///< fields[index].eval
    Exact,    ///< exacts[index].eval
    Jets,     ///< a derivative chain for gradcheck; not bound here
    Derivs    ///< fields[index].derivs
  };
  Role role = Role::LossGrad;
  int index = 0;
  std::string symbol; ///< the C-interface function's name
  int columns = 0;    ///< point columns it reads (coords, + 1 for data terms)
  int outputs = 1;    ///< values per point (eval kernels)
};

struct ModelDescription {
  CompiledModel model; ///< without kernels
  std::string precision = "f32";
  std::vector<KernelRef> kernels;
};

/// The JSON text of `D` (doubles round-trip exactly).
std::string writeModelJSON(const ModelDescription &D);

/// Parses writeModelJSON's text; throws Error naming what is malformed.
ModelDescription readModelJSON(std::string_view text);

/// The EvalFn slot of `M` an eval-type kernel fills (Residual, Field, Exact,
/// Derivs); null for LossGrad and Jets. Throws Error when `k.index` is out
/// of range for its role.
EvalFn *evalSlot(CompiledModel &M, const KernelRef &k);

/// Binds every kernel of `refs` but the Jets into `M`; `lookup` returns a
/// symbol's address or null (then Error names the symbol).
void bindKernels(CompiledModel &M, const std::vector<KernelRef> &refs,
                 bool f64,
                 const std::function<void *(const std::string &)> &lookup);

} // namespace physrt

#endif // PHYSRT_MODELJSON_H
