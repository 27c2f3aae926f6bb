// RUN: physc-opt %s -split-input-file -pass-pipeline='builtin.module(phys.model(phys-rematerialize{min-gap=3}))' | FileCheck %s
// RUN: physc-opt %s -split-input-file -pass-pipeline='builtin.module(phys.model(phys-rematerialize{min-gap=3 max-cost=1}))' | FileCheck %s --check-prefix=COST1

// tanh' = 1 - h^2 is read by the forward sweep and again, several ops
// later, by the reverse sweep. h stays live until the end (the last
// gradient reads it), so 1 - h^2 is recomputed next to its late use (two
// ops: the square and the subtraction) instead of being kept; its first
// use keeps the original. With max-cost=1 the two ops are too many.

// CHECK-LABEL: phys.kernel @k.loss_grad "loss_grad"
// CHECK:         %[[H:.+]] = math.tanh %{{.+}} : tensor<3xf64>
// CHECK-NEXT:    %[[HH:.+]] = arith.mulf %[[H]], %[[H]] : tensor<3xf64>
// CHECK-NEXT:    %[[DT:.+]] = arith.subf %[[ONE:.+]], %[[HH]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @N[1] %[[DT]] bias : tensor<3xf64> -> tensor<1xf64>
// CHECK:         phys.matvec_t
// CHECK-NEXT:    arith.mulf
// CHECK-NEXT:    %[[W3:.+]] = arith.mulf %{{.+}}, %{{.+}} : tensor<3xf64>
// CHECK-NEXT:    %[[HH2:.+]] = arith.mulf %[[H]], %[[H]] : tensor<3xf64>
// CHECK-NEXT:    %[[DT2:.+]] = arith.subf %[[ONE]], %[[HH2]] : tensor<3xf64>
// CHECK-NEXT:    %[[G:.+]] = arith.mulf %[[W3]], %[[DT2]] : tensor<3xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[0] %[[G]], %{{.+}} : tensor<3xf64>, tensor<1xf64>
// CHECK-NEXT:    %[[G2:.+]] = arith.mulf %[[G]], %[[H]] : tensor<3xf64>
// COST1-LABEL: phys.kernel @k.loss_grad "loss_grad"
// COST1-COUNT-1: arith.subf
// COST1-NOT:     arith.subf
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [3], act = "tanh", init = "glorot")
  phys.kernel @k.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %one = arith.constant dense<1.0> : tensor<3xf64>
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<3xf64>
    %h = math.tanh %z : tensor<3xf64>
    %hh = arith.mulf %h, %h : tensor<3xf64>
    %dt = arith.subf %one, %hh : tensor<3xf64>
    %u = phys.matvec @N[1] %dt bias : tensor<3xf64> -> tensor<1xf64>
    %w1 = phys.matvec_t @N[1] %u : tensor<1xf64> -> tensor<3xf64>
    %w2 = arith.mulf %w1, %w1 : tensor<3xf64>
    %w3 = arith.mulf %w2, %w1 : tensor<3xf64>
    %g = arith.mulf %w3, %dt : tensor<3xf64>
    phys.accum_weight_grad @N[0] %g, %in : tensor<3xf64>, tensor<1xf64>
    %g2 = arith.mulf %g, %h : tensor<3xf64>
    phys.accum_bias_grad @N[0] %g2 : tensor<3xf64>
    phys.yield
  }
}

// -----

// Not recomputed: a row whose operand is a matvec result that is dead at
// the late use (recomputing it would need the matvec), a transcendental
// (math.tanh), and a row whose uses are close together (a gap below
// min-gap).

// CHECK-LABEL: phys.kernel @k.loss_grad "loss_grad"
// CHECK:         %[[Z:.+]] = phys.matvec @N[0]
// CHECK-NEXT:    %[[N:.+]] = arith.negf %[[Z]] : tensor<3xf64>
// CHECK-NEXT:    %[[T:.+]] = math.tanh %[[N]] : tensor<3xf64>
// CHECK-NEXT:    %[[S:.+]] = arith.addf %[[T]], %[[T]] : tensor<3xf64>
// CHECK-COUNT-4: phys.matvec
// CHECK-NEXT:    arith.mulf
// CHECK-NEXT:    arith.mulf %{{.+}}, %[[S]] : tensor<3xf64>
// CHECK-NEXT:    arith.mulf %{{.+}}, %[[S]] : tensor<3xf64>
// CHECK-NEXT:    arith.mulf %{{.+}}, %[[N]] : tensor<3xf64>
// CHECK-NEXT:    arith.mulf %{{.+}}, %[[T]] : tensor<3xf64>
// CHECK-NEXT:    phys.accum_weight_grad
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [3], act = "tanh", init = "glorot")
  phys.kernel @k.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<3xf64>
    %n = arith.negf %z : tensor<3xf64>
    %t = math.tanh %n : tensor<3xf64>
    %s = arith.addf %t, %t : tensor<3xf64>
    %u = phys.matvec @N[1] %n bias : tensor<3xf64> -> tensor<1xf64>
    %v = phys.matvec @N[1] %t bias : tensor<3xf64> -> tensor<1xf64>
    %w1 = phys.matvec_t @N[1] %u : tensor<1xf64> -> tensor<3xf64>
    %w2 = phys.matvec_t @N[1] %v : tensor<1xf64> -> tensor<3xf64>
    %w3 = arith.mulf %w1, %w2 : tensor<3xf64>
    %w4 = arith.mulf %w3, %s : tensor<3xf64>
    %w5 = arith.mulf %w4, %s : tensor<3xf64>
    %g = arith.mulf %w5, %n : tensor<3xf64>
    %g2 = arith.mulf %g, %t : tensor<3xf64>
    phys.accum_weight_grad @N[0] %g2, %in : tensor<3xf64>, tensor<1xf64>
    phys.yield
  }
}
