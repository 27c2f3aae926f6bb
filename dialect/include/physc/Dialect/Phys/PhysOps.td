//===- PhysOps.td - Operations of the phys dialect ---------*- tablegen -*-===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#ifndef PHYS_OPS
#define PHYS_OPS

include "physc/Dialect/Phys/PhysDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def Phys_Row : 1DTensorOf<[F64]>;

//===----------------------------------------------------------------------===//
// Model structure
//===----------------------------------------------------------------------===//

def Phys_ModelOp : Phys_Op<"model", [IsolatedFromAbove, SymbolTable, Symbol,
    SingleBlock, NoTerminator, NoRegionArguments]> {
  let summary = "A whole .phys model";
  let description = [{
    Holds coordinates, params, nets, fields, equations, exacts and the
    training plan, in source order. Coordinate order is significant: every
    equation and kernel takes all coordinates as block arguments in this
    order, and points are laid out in it.

    ```mlir
    phys.model @burgers {
      phys.coord @x "space" [-1.0, 1.0]
      ...
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let extraClassDeclaration = [{
    /// The coordinates, in declaration order.
    ::llvm::SmallVector<CoordOp> getCoords();
    /// Index of coordinate `name` in getCoords(), or -1.
    int coordIndex(::llvm::StringRef name);
  }];
}

def Phys_CoordOp : Phys_Op<"coord", [Symbol, HasParent<"ModelOp">]> {
  let summary = "A coordinate and its range";
  let description = [{
    `space` coordinates are the ones `grad`, `div`, `lap` and `on boundary`
    act on; `time` coordinates only bound the box, and so do `input`
    coordinates (the parameters of a family of problems, e.g. a
    coefficient that a deeponet's branch reads).

    ```mlir
    phys.coord @t "time" [0.0, 1.0]
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind, F64Attr:$lo,
                       F64Attr:$hi);
  let assemblyFormat = "$sym_name $kind ` ` `[` $lo `,` $hi `]` attr-dict";
  let hasVerifier = 1;
}

def Phys_ParamOp : Phys_Op<"param", [Symbol, HasParent<"ModelOp">]> {
  let summary = "A runtime scalar, settable without recompiling";
  let description = [{
    A `trainable` param is learned with the network weights (inverse
    problems): it gets a slot in the flat parameter vector after the nets,
    `value` is its initial value, and `lo`/`hi` (optional) bound it.

    ```mlir
    phys.param @nu = 3.18e-03
    phys.param @kappa = 5.0e-02 trainable {hi = 1.0 : f64, lo = 1.0e-03 : f64}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, F64Attr:$value,
                       UnitAttr:$trainable, OptionalAttr<F64Attr>:$lo,
                       OptionalAttr<F64Attr>:$hi);
  let assemblyFormat = "$sym_name `=` $value (`trainable` $trainable^)? attr-dict";
}

def Phys_NetOp : Phys_Op<"net", [Symbol, HasParent<"ModelOp">]> {
  let summary = "A backbone network";
  let description = [{
    An MLP `in -> hidden[0] -> ... -> hidden[n-1] -> out` with activation
    `act` after every hidden layer and none after the last. Kinds:
    - `mlp`: h_l = act(W_l h_{l-1} + b_l);
    - `resnet`: h_l = act(W_l h_{l-1} + b_l) + h_{l-1} wherever hidden layer
      l has the width of layer l-1 (an identity skip);
    - `siren`: h_l = sin(w0 (W_l h_{l-1} + b_l)) (Sitzmann et al. 2020);
    - `modified_mlp` (Wang, Teng & Perdikaris 2021): two encoders
      U = act(W_u x + b_u), V = act(W_v x + b_v), then
      z_l = act(W_l h_{l-1} + b_l), h_l = (1 - z_l) U + z_l V; all hidden
      widths are equal. The encoders are the extra affine layers
      `hidden.size() + 1` (U) and `hidden.size() + 2` (V), after the output
      layer, so that the layers of the stack keep the indices of an mlp.
    Its parameters are, layer by layer, a row-major weight matrix (fan-out x
    fan-in) then a bias vector, packed in model order into one flat
    parameter vector.

    ```mlir
    phys.net @N "mlp"(in = 2, out = 1, hidden = [64, 64], act = "tanh", init = "glorot")
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind, I64Attr:$in,
                       I64Attr:$out, DenseI64ArrayAttr:$hidden, StrAttr:$act,
                       StrAttr:$init, OptionalAttr<F64Attr>:$w0);
  let assemblyFormat = [{
    $sym_name $kind `(` `in` `=` $in `,` `out` `=` $out `,` `hidden` `=` $hidden
    `,` `act` `=` $act `,` `init` `=` $init `)` attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of affine layers of the stack (hidden layers + the output
    /// layer): layers 0 .. getNumStackLayers() - 1 map x to the output.
    unsigned getNumStackLayers() { return getHidden().size() + 1; }
    /// Number of affine layers with parameters: the stack, plus the two
    /// encoders of a modified_mlp.
    unsigned getNumLayers() {
      return getNumStackLayers() + (isModifiedMLP() ? 2 : 0);
    }
    bool isModifiedMLP() { return getKind() == "modified_mlp"; }
    /// modified_mlp: the layer indices of the encoders U and V.
    unsigned getEncoderU() { return getNumStackLayers(); }
    unsigned getEncoderV() { return getNumStackLayers() + 1; }
    /// The name of layer `l` in parameter block names: "layer<l>", or
    /// "enc_u" / "enc_v" for a modified_mlp's encoders.
    std::string getLayerName(unsigned l);
    /// Fan-in and fan-out of affine layer `l`.
    int64_t getFanIn(unsigned l);
    int64_t getFanOut(unsigned l);
    /// Number of scalars (weights and biases) of the whole net.
    int64_t getNumParams();
  }];
}

def Phys_FieldOp : Phys_Op<"field", [Symbol, IsolatedFromAbove,
    HasParent<"ModelOp">]> {
  let summary = "A scalar field defined by an expression of nets";
  let description = [{
    The body maps the field's own coordinates to its value; it may call nets,
    read params and use any arith/math op. One op per output name: the
    outputs of a multi-output net become separate fields whose calls CSE
    into one net evaluation.

    ```mlir
    phys.field @u [@x, @t] {
    ^bb0(%x: f64, %t: f64):
      %0 = phys.net_call @N(%x, %t) : (f64, f64) -> f64
      phys.yield %0 : f64
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefArrayAttr:$coords);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name $coords attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

def Phys_EquationOp : Phys_Op<"equation", [Symbol, IsolatedFromAbove,
    HasParent<"ModelOp">]> {
  let summary = "A residual driven to zero at sampled points of a region";
  let description = [{
    The body takes every coordinate of the model and yields the residual
    `lhs - rhs`. `region_kind` is `interior`, `boundary` or `faces` (then
    `faces` lists `[@coord, value]` pairs); `restrictions` lists
    `[@coord, lo, hi]` narrowing the box. `weight` is the term's weight in
    the loss (the loss coefficient times the equation's own weight).

    `norm` "l1" makes the term's loss the mean absolute residual instead of
    the mean square (`l1(T)` in the loss).

    A `data` term (`region_kind` "data") is fitted at fixed observation
    points read from `file` (columns: every coordinate, then the observed
    value); its body reads the observed value with `phys.observed`.

    ```mlir
    phys.equation @ic "faces" samples 512 weight 100.0 {faces = [[@t, 0.0]]} {
    ^bb0(%x: f64, %t: f64):
      ...
      phys.yield %r : f64
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$region_kind,
                       I64Attr:$samples, F64Attr:$weight,
                       OptionalAttr<ArrayAttr>:$faces,
                       OptionalAttr<ArrayAttr>:$restrictions,
                       OptionalAttr<StrAttr>:$file,
                       OptionalAttr<StrAttr>:$norm);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name $region_kind `samples` $samples `weight` $weight
    attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def Phys_ExactOp : Phys_Op<"exact", [Symbol, IsolatedFromAbove,
    HasParent<"ModelOp">]> {
  let summary = "A reference solution of a field";
  let description = [{
    Either a body over all coordinates yielding the exact value, or a CSV
    file (columns: coordinates, then the value) with an empty body.

    ```mlir
    phys.exact @exact_u for @u file "burgers_ref.csv" {
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$field,
                       OptionalAttr<StrAttr>:$file);
  let regions = (region AnyRegion:$body);
  let assemblyFormat = [{
    $sym_name `for` $field (`file` $file^)? attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def Phys_TrainOp : Phys_Op<"train", [HasParent<"ModelOp">]> {
  let summary = "The training plan: optimizer stages run in sequence";
  let description = [{
    `resample` is absent (fresh points every step), "none" (points drawn
    once) or "r3" (R3 resampling every `resample_every` steps; the equations
    then get residual kernels). `causal_eps`/`causal_chunks` turn on causal
    weighting of interior terms in time chunks (also with residual kernels).

    ```mlir
    phys.train "uniform" [{lr = 1.0e-03 : f64, optimizer = "adam", steps = 20000 : i64} ]
    phys.train "sobol" [...] {resample = "r3", resample_every = 100 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$sampler, TypedArrayAttrBase<DictionaryAttr,
                       "stages">:$stages, OptionalAttr<StrAttr>:$resample,
                       OptionalAttr<I64Attr>:$resample_every,
                       OptionalAttr<F64Attr>:$causal_eps,
                       OptionalAttr<I64Attr>:$causal_chunks);
  let assemblyFormat = "$sampler $stages attr-dict";
}

def Phys_YieldOp : Phys_Op<"yield", [Pure, Terminator,
    ParentOneOf<["FieldOp", "EquationOp", "ExactOp", "KernelOp"]>]> {
  let summary = "Returns the values of a pointwise body";
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, {}); }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

//===----------------------------------------------------------------------===//
// Pointwise values
//===----------------------------------------------------------------------===//

def Phys_FieldCallOp : Phys_Op<"field_call", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "The value of a field at a point";
  let arguments = (ins FlatSymbolRefAttr:$field, Variadic<F64>:$args);
  let results = (outs F64:$result);
  let assemblyFormat = "$field `(` $args `)` attr-dict `:` functional-type($args, $result)";
}

def Phys_NetCallOp : Phys_Op<"net_call", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "A network evaluated at a point";
  let arguments = (ins FlatSymbolRefAttr:$net, Variadic<F64>:$args);
  let results = (outs Variadic<F64>:$results);
  let assemblyFormat = "$net `(` $args `)` attr-dict `:` functional-type($args, $results)";
}

def Phys_ParamRefOp : Phys_Op<"param_ref", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "The current value of a runtime param";
  let arguments = (ins FlatSymbolRefAttr:$param);
  let results = (outs F64:$result);
  let assemblyFormat = "$param attr-dict `:` type($result)";
}

def Phys_ObservedOp : Phys_Op<"observed", [Pure]> {
  let summary = "The observed value at a data point";
  let description = [{
    Only in `data` equations and their kernels: value column `index` of the
    observation file at the current point. Points of a data term carry the
    coordinates, then the observed values, so this reads point column
    (number of coordinates + index). It does not depend on the network.

    ```mlir
    %obs = phys.observed 0 : f64
    ```
  }];
  let arguments = (ins I64Attr:$index);
  let results = (outs F64:$result);
  let assemblyFormat = "$index attr-dict `:` type($result)";
}

def Phys_DOp : Phys_Op<"d", [Pure]> {
  let summary = "Partial derivative of a value with respect to coordinates";
  let description = [{
    `phys.d %v wrt [@x, @x]` is d^2 v / dx^2, where `v` is any value computed
    from the enclosing body's coordinate arguments. The derivative is exact:
    `phys-expand-derivatives` replaces it by a component of a Taylor jet.
  }];
  let arguments = (ins F64:$operand, FlatSymbolRefArrayAttr:$wrt);
  let results = (outs F64:$result);
  let assemblyFormat = "$operand `wrt` $wrt attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Jets and kernels
//===----------------------------------------------------------------------===//

def Phys_MatvecOp : Phys_Op<"matvec", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "One affine layer of a net applied to one jet component";
  let description = [{
    `y = W_l x (+ b_l if bias)`. Every Taylor component of a layer's input
    goes through the same weights; only the value component gets the bias.

    ```mlir
    %y = phys.matvec @N[0] %x bias : tensor<2xf64> -> tensor<64xf64>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$net, I64Attr:$layer, Phys_Row:$input,
                       UnitAttr:$bias);
  let results = (outs Phys_Row:$result);
  let assemblyFormat = [{
    $net `[` $layer `]` $input (`bias` $bias^)? attr-dict `:` type($input) `->` type($result)
  }];
}

def Phys_MatvecTOp : Phys_Op<"matvec_t", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "The transposed weights of a layer: dx = W_l^T dy";
  let arguments = (ins FlatSymbolRefAttr:$net, I64Attr:$layer, Phys_Row:$input);
  let results = (outs Phys_Row:$result);
  let assemblyFormat = [{
    $net `[` $layer `]` $input attr-dict `:` type($input) `->` type($result)
  }];
}

def Phys_AccumWeightGradOp : Phys_Op<"accum_weight_grad", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "dW_l += dy (x)^T, summed over the kernel's points";
  let arguments = (ins FlatSymbolRefAttr:$net, I64Attr:$layer, Phys_Row:$dy,
                       Phys_Row:$x);
  let assemblyFormat = [{
    $net `[` $layer `]` $dy `,` $x attr-dict `:` type($dy) `,` type($x)
  }];
}

def Phys_AccumBiasGradOp : Phys_Op<"accum_bias_grad", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "db_l += dy, summed over the kernel's points";
  let arguments = (ins FlatSymbolRefAttr:$net, I64Attr:$layer, Phys_Row:$dy);
  let assemblyFormat = "$net `[` $layer `]` $dy attr-dict `:` type($dy)";
}

def Phys_AccumParamGradOp : Phys_Op<"accum_param_grad", [
    MemoryEffects<[MemWrite]>, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "d(param) += value, summed over the kernel's points";
  let description = [{
    The gradient of a trainable param (an inverse problem's unknown): its
    `phys.param_ref`s are active, and the reverse sweep ends in this op.

    ```mlir
    phys.accum_param_grad @kappa %g : f64
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$param, F64:$value);
  let assemblyFormat = "$param $value attr-dict `:` type($value)";
}

def Phys_AccumLossOp : Phys_Op<"accum_loss", [MemoryEffects<[MemWrite]>]> {
  let summary = "loss += value, summed over the kernel's points";
  let arguments = (ins F64:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

def Phys_MaskOp : Phys_Op<"mask", [Pure]> {
  let summary = "The value at real points, zero at padding points";
  let description = [{
    Kernels run on whole vector tiles of points; lanes past the point count
    are padding. Masking the residual makes them contribute neither loss nor
    gradient.
  }];
  let arguments = (ins F64:$value);
  let results = (outs F64:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
}

def Phys_KernelOp : Phys_Op<"kernel", [Symbol, IsolatedFromAbove,
    HasParent<"ModelOp">]> {
  let summary = "One pointwise program, run over many points";
  let description = [{
    The body takes every coordinate of the model. `kind` is
    - `eval`: yields values, written per point (fields, exact solutions);
    - `jets`: yields a chain of derivatives for `physc gradcheck`; `checks`
      lists `[lo, hi, coord]`: yield `hi` is d/d(coord) of yield `lo`;
    - `loss_grad`: yields nothing; `phys.accum_*` ops sum the squared
      residual and the parameter gradient over points.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       OptionalAttr<FlatSymbolRefAttr>:$source,
                       OptionalAttr<ArrayAttr>:$checks);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name $kind attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

#endif // PHYS_OPS
