// RUN: physc-opt %s -split-input-file -verify-diagnostics

// One case per verifier error of the phys dialect (dialect/lib/PhysOps.cpp),
// plus the structural constraints ODS adds (parents, row types).

//===----------------------------------------------------------------------===//
// phys.coord
//===----------------------------------------------------------------------===//

phys.model @m {
  // expected-error @+1 {{'phys.coord' op kind must be "space", "time" or "input", got "spaze"}}
  phys.coord @x "spaze" [0.0, 1.0]
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.coord' op range is empty: [1.000000e+00, 1.000000e+00]}}
  phys.coord @x "space" [1.0, 1.0]
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.coord' op range is empty: [2.000000e+00, -1.000000e+00]}}
  phys.coord @x "time" [2.0, -1.0]
}

// -----

// expected-error @+1 {{'phys.coord' op expects parent op 'phys.model'}}
phys.coord @x "space" [0.0, 1.0]

// -----

phys.model @m {
  // expected-note @+1 {{see existing symbol definition here}}
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{redefinition of symbol named 'x'}}
  phys.coord @x "time" [0.0, 1.0]
}

//===----------------------------------------------------------------------===//
// phys.net
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op unknown kind "cnn"}}
  phys.net @N "cnn"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op in and out must be positive}}
  phys.net @N "mlp"(in = 0, out = 1, hidden = [4], act = "tanh", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op a modified_mlp needs hidden layers of equal widths}}
  phys.net @N "modified_mlp"(in = 2, out = 1, hidden = [4, 8], act = "tanh", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op in and out must be positive}}
  phys.net @N "mlp"(in = 2, out = -1, hidden = [4], act = "tanh", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op hidden widths must be positive}}
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4, 0], act = "tanh", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op unknown activation "elu"}}
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "elu", init = "glorot")
}

// -----

phys.model @m {
  // expected-error @+1 {{'phys.net' op unknown init "xavier"}}
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "xavier")
}

//===----------------------------------------------------------------------===//
// phys.field
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body takes 1 arguments but there are 2 coordinates}}
  phys.field @u [@x, @t] {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op unknown coordinate @z}}
  phys.field @u [@x, @z] {
  ^bb0(%x: f64, %z: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op coordinate argument #1 must be f64}}
  phys.field @u [@x, @t] {
  ^bb0(%x: f64, %t: f32):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body must yield 1 value(s), got 2}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield %x, %x : f64, f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body must yield 1 value(s), got 0}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body must yield f64 values}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    %c = arith.constant 1.0 : f32
    phys.yield %c : f32
  }
}

// -----

// An empty body has no terminator at all (used to crash the verifier).
phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body must end with phys.yield}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op body must end with phys.yield}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    %c = arith.constant 1.0 : f64
  }
}

//===----------------------------------------------------------------------===//
// phys.equation
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op body takes 1 arguments but there are 2 coordinates}}
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op body must yield 1 value(s), got 2}}
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x, %x : f64, f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op region must be interior, boundary, faces or data, got "volume"}}
  phys.equation @e "volume" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op faces are required exactly for a "faces" region}}
  phys.equation @e "faces" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op faces are required exactly for a "faces" region}}
  phys.equation @e "boundary" samples 8 weight 1.0 attributes {faces = [[@x, 0.0]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op each face must be [@coord, value]}}
  phys.equation @e "faces" samples 8 weight 1.0 attributes {faces = [[@x]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op each face must be [@coord, value]}}
  phys.equation @e "faces" samples 8 weight 1.0 attributes {faces = [[0.0, @x]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op face on unknown coordinate @z}}
  phys.equation @e "faces" samples 8 weight 1.0 attributes {faces = [[@z, 0.0]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op each restriction must be [@coord, lo, hi]}}
  phys.equation @e "interior" samples 8 weight 1.0 attributes {restrictions = [[@x, 0.5]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op restriction of unknown coordinate @z}}
  phys.equation @e "interior" samples 8 weight 1.0 attributes {restrictions = [[@z, 0.0, 0.5]]} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op samples must be positive}}
  phys.equation @e "interior" samples 0 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

// samples is unsigned in storage; a negative count must still be rejected.
phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op samples must be positive}}
  phys.equation @e "interior" samples -4 weight 1.0 {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

//===----------------------------------------------------------------------===//
// phys.exact
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.exact' op unknown field @v}}
  phys.exact @e for @v file "v.csv" {
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
  // expected-error @+1 {{'phys.exact' op an exact from a file has an empty body}}
  phys.exact @e for @u file "u.csv" {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
  // expected-error @+1 {{'phys.exact' op needs a body or a file}}
  phys.exact @e for @u {
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
  // An exact takes every coordinate of the model, not only the field's.
  // expected-error @+1 {{'phys.exact' op body takes 1 arguments but there are 2 coordinates}}
  phys.exact @e for @u {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.field @u [@x] {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
  // expected-error @+1 {{'phys.exact' op body must yield 1 value(s), got 0}}
  phys.exact @e for @u {
  ^bb0(%x: f64):
    phys.yield
  }
}

//===----------------------------------------------------------------------===//
// phys.d
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.d' op derivative with respect to unknown coordinate @y}}
    %d = phys.d %x wrt [@x, @y] : f64
    phys.yield %d : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.d' op needs at least one coordinate}}
    %d = phys.d %x wrt [] : f64
    phys.yield %d : f64
  }
}

// -----

func.func @d_of_non_f64(%v: f32) {
  // expected-error @+1 {{'phys.d' op operand #0 must be 64-bit float}}
  %0 = "phys.d"(%v) {wrt = [@x]} : (f32) -> f64
  return
}

//===----------------------------------------------------------------------===//
// phys.kernel
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.kernel' op kind must be eval, jets or loss_grad, got "train"}}
  phys.kernel @k "train" {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.kernel' op body must yield 0 value(s), got 1}}
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.kernel' op body must yield f64 values}}
  phys.kernel @k "jets" {
  ^bb0(%x: f64):
    %c = arith.constant 0 : index
    phys.yield %x, %c : f64, index
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  // A kernel takes every coordinate of the model.
  // expected-error @+1 {{'phys.kernel' op body takes 1 arguments but there are 2 coordinates}}
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

//===----------------------------------------------------------------------===//
// Symbol uses: field_call, net_call, param_ref
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.field_call' op unknown field @v}}
    %v = phys.field_call @v(%x) : (f64) -> f64
    phys.yield %v : f64
  }
}

// -----

// A symbol that is not a field is an unknown field.
phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.field_call' op unknown field @x}}
    %v = phys.field_call @x(%x) : (f64) -> f64
    phys.yield %v : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.field @u [@x, @t] {
  ^bb0(%x: f64, %t: f64):
    phys.yield %x : f64
  }
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64, %t: f64):
    // expected-error @+1 {{'phys.field_call' op field @u takes 2 coordinates, got 1}}
    %v = phys.field_call @u(%x) : (f64) -> f64
    phys.yield %v : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.field @u [@x] {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.net_call' op unknown net @N}}
    %v = phys.net_call @N(%x) : (f64) -> f64
    phys.yield %v : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.field @u [@x] {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.net_call' op net @N takes 2 inputs, got 1}}
    %v = phys.net_call @N(%x) : (f64) -> f64
    phys.yield %v : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.field @u [@x] {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.net_call' op net @N has 1 outputs, got 2}}
    %v:2 = phys.net_call @N(%x) : (f64) -> (f64, f64)
    phys.yield %v#0 : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.equation @e "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.param_ref' op unknown param @nu}}
    %nu = phys.param_ref @nu : f64
    phys.yield %nu : f64
  }
}

//===----------------------------------------------------------------------===//
// Layer shapes: matvec, matvec_t, accum_weight_grad, accum_bias_grad
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x, %x, %x : tensor<3xf64>
    // expected-error @+1 {{'phys.matvec' op layer 0 of @N maps 2 to 4, not 3 to 4}}
    %h = phys.matvec @N[0] %in bias : tensor<3xf64> -> tensor<4xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x, %x : tensor<2xf64>
    // expected-error @+1 {{'phys.matvec' op layer 0 of @N maps 2 to 4, not 2 to 5}}
    %h = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<5xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x, %x, %x, %x : tensor<4xf64>
    // A net with one hidden layer has layers 0 and 1.
    // expected-error @+1 {{'phys.matvec' op net @N has no layer 2}}
    %h = phys.matvec @N[2] %in : tensor<4xf64> -> tensor<1xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    // expected-error @+1 {{'phys.matvec' op net @N has no layer -1}}
    %h = phys.matvec @N[-1] %in : tensor<1xf64> -> tensor<4xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    // expected-error @+1 {{'phys.matvec' op unknown net @N}}
    %h = phys.matvec @N[0] %in : tensor<1xf64> -> tensor<4xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %in = arith.constant dense<1.0> : tensor<1xf32>
    // expected-error @+1 {{'phys.matvec' op operand #0 must be 1D tensor of 64-bit float values}}
    %h = phys.matvec @N[0] %in : tensor<1xf32> -> tensor<4xf64>
    phys.yield %x : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x : tensor<1xf64>
    // matvec_t of layer 1 maps its fan-out (1) back to its fan-in (4).
    // expected-error @+1 {{'phys.matvec_t' op layer 1 of @N maps 4 to 1, not 2 to 1}}
    %dx = phys.matvec_t @N[1] %dy : tensor<1xf64> -> tensor<2xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x, %x, %x, %x : tensor<4xf64>
    // expected-error @+1 {{'phys.matvec_t' op layer 1 of @N maps 4 to 1, not 4 to 4}}
    %dx = phys.matvec_t @N[1] %dy : tensor<4xf64> -> tensor<4xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x, %x, %x, %x : tensor<4xf64>
    %in = tensor.from_elements %x : tensor<1xf64>
    // dW_0 is 4 x 2: dy has the fan-out, x the fan-in.
    // expected-error @+1 {{'phys.accum_weight_grad' op layer 0 of @N maps 2 to 4, not 1 to 4}}
    phys.accum_weight_grad @N[0] %dy, %in : tensor<4xf64>, tensor<1xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x, %x : tensor<2xf64>
    %dy = tensor.from_elements %x, %x, %x, %x : tensor<4xf64>
    // Operands swapped: x where dy belongs.
    // expected-error @+1 {{'phys.accum_weight_grad' op layer 0 of @N maps 2 to 4, not 4 to 2}}
    phys.accum_weight_grad @N[0] %in, %dy : tensor<2xf64>, tensor<4xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x, %x : tensor<2xf64>
    // expected-error @+1 {{'phys.accum_bias_grad' op bias gradient does not match layer 0 of @N}}
    phys.accum_bias_grad @N[0] %dy : tensor<2xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x : tensor<1xf64>
    // expected-error @+1 {{'phys.accum_bias_grad' op bias gradient does not match layer 2 of @N}}
    phys.accum_bias_grad @N[2] %dy : tensor<1xf64>
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %dy = tensor.from_elements %x : tensor<1xf64>
    // expected-error @+1 {{'phys.accum_bias_grad' op unknown net @N}}
    phys.accum_bias_grad @N[0] %dy : tensor<1xf64>
    phys.yield
  }
}

//===----------------------------------------------------------------------===//
// Trainable params and data terms
//===----------------------------------------------------------------------===//

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.param @k = 1.0
  phys.kernel @k.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.accum_param_grad' op param @k is not trainable}}
    phys.accum_param_grad @k %x : f64
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.kernel @k.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.accum_param_grad' op unknown param @q}}
    phys.accum_param_grad @q %x : f64
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op reads phys.observed outside a "data" term}}
  phys.equation @pde "interior" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    %o = phys.observed 0 : f64
    phys.yield %o : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op a file is required exactly for a "data" term}}
  phys.equation @obs "data" samples 8 weight 1.0 {
  ^bb0(%x: f64):
    %o = phys.observed 0 : f64
    phys.yield %o : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.equation' op a file is required exactly for a "data" term}}
  phys.equation @pde "interior" samples 8 weight 1.0 attributes {file = "a.csv"} {
  ^bb0(%x: f64):
    phys.yield %x : f64
  }
}

//===----------------------------------------------------------------------===//
// phys.yield
//===----------------------------------------------------------------------===//

// -----

func.func @yield_in_func(%x: f64) {
  // expected-error @+1 {{'phys.yield' op expects parent op to be one of 'phys.field, phys.equation, phys.exact, phys.kernel'}}
  phys.yield %x : f64
}
