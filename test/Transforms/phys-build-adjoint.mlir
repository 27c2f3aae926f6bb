// RUN: physc-opt %s -split-input-file -phys-build-adjoint -verify-diagnostics | FileCheck %s

// The reverse sweep of loss_grad kernels, appended after the forward
// program: seeded with 1 at each phys.accum_loss, it gives every value that
// depends on network weights an adjoint and ends in phys.accum_*_grad.

// loss = mask(u - sin x)^2 with u = N(x, t) through one tanh layer.
// - d(m * m) = m + m; the mask passes the adjoint through a mask of its own
//   (padding lanes get no gradient);
// - u - sin(x): sin(x) depends on coordinates only, so it gets no adjoint
//   (no math.cos is built);
// - the output layer: dW += dy h^T, db += dy, dh = W^T dy;
// - tanh: dz = dh * (1 - h^2);
// - the first layer: dW and db, but no matvec_t: its input (x, t) is not a
//   function of the weights.

// CHECK-LABEL: phys.kernel @value.loss_grad "loss_grad"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[IN:%.+]] = tensor.from_elements [[X]], [[T]] : tensor<2xf64>
// CHECK-NEXT:    [[Z:%.+]] = phys.matvec @N[0] [[IN]] bias : tensor<2xf64> -> tensor<3xf64>
// CHECK-NEXT:    [[H:%.+]] = math.tanh [[Z]] : tensor<3xf64>
// CHECK-NEXT:    [[O:%.+]] = phys.matvec @N[1] [[H]] bias : tensor<3xf64> -> tensor<1xf64>
// CHECK:         [[R:%.+]] = arith.subf
// CHECK-NEXT:    [[M:%.+]] = phys.mask [[R]] : f64
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[M]], [[M]] : f64
// CHECK-NEXT:    phys.accum_loss [[SQ]] : f64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[DM:%.+]] = arith.addf [[M]], [[M]] : f64
// CHECK-NEXT:    [[DR:%.+]] = phys.mask [[DM]] : f64
// CHECK-NOT:     math.cos
// CHECK:         [[DY:%.+]] = tensor.from_elements [[DR]] : tensor<1xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[1] [[DY]], [[H]] : tensor<1xf64>, tensor<3xf64>
// CHECK-NEXT:    phys.accum_bias_grad @N[1] [[DY]] : tensor<1xf64>
// CHECK-NEXT:    [[DH:%.+]] = phys.matvec_t @N[1] [[DY]] : tensor<1xf64> -> tensor<3xf64>
// CHECK-NEXT:    [[HH:%.+]] = arith.mulf [[H]], [[H]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[DT:%.+]] = arith.subf [[ONE]], [[HH]] : tensor<3xf64>
// CHECK-NEXT:    [[DZ:%.+]] = arith.mulf [[DH]], [[DT]] : tensor<3xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[0] [[DZ]], [[IN]] : tensor<3xf64>, tensor<2xf64>
// CHECK-NEXT:    phys.accum_bias_grad @N[0] [[DZ]] : tensor<3xf64>
// CHECK-NEXT:    phys.yield
// CHECK-NOT:     phys.matvec_t @N[0]
// CHECK-NOT:     math.cos
// CHECK:       }
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [3], act = "tanh", init = "glorot")
  phys.kernel @value.loss_grad "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<3xf64>
    %h = math.tanh %z : tensor<3xf64>
    %o = phys.matvec @N[1] %h bias : tensor<3xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %s = math.sin %x : f64
    %r = arith.subf %u, %s : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
}

// -----

// Three layers, a derivative row and scalar rules.
// - loss = exp(x / u): d(exp) = dr * exp; d(a / b) wrt b = -(dr * r) / b;
// - every matvec that gets an adjoint accumulates its weight gradient, but
//   only the ones with `bias` (value rows) accumulate a bias gradient;
// - matvec_t for layers 2 and 1, none for layer 0, whose inputs (the value
//   row and the constant direction row) are coordinate-only;
// - d(a * b) on rows: da = dr * b, db = dr * a.
// Eval kernels are left alone.

// CHECK-LABEL: phys.kernel @deep.loss_grad "loss_grad"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64):
// CHECK-NEXT:    [[IN:%.+]] = tensor.from_elements [[X]] : tensor<1xf64>
// CHECK-NEXT:    [[DIR:%.+]] = arith.constant dense<1.000000e+00> : tensor<1xf64>
// CHECK-NEXT:    [[Z0:%.+]] = phys.matvec @N[0] [[IN]] bias
// CHECK-NEXT:    [[Z0X:%.+]] = phys.matvec @N[0] [[DIR]] :
// CHECK-NEXT:    [[H0:%.+]] = math.tanh [[Z0]]
// CHECK-NEXT:    [[H0X:%.+]] = arith.mulf [[Z0X]], [[H0]]
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @N[1] [[H0X]] :
// CHECK-NEXT:    [[Z2:%.+]] = phys.matvec @N[2] [[Z1]] bias
// CHECK-NEXT:    arith.constant 0 : index
// CHECK-NEXT:    [[U:%.+]] = tensor.extract [[Z2]]
// CHECK-NEXT:    [[Q:%.+]] = arith.divf [[X]], [[U]] : f64
// CHECK-NEXT:    [[E:%.+]] = math.exp [[Q]] : f64
// CHECK-NEXT:    [[M:%.+]] = phys.mask [[E]] : f64
// CHECK-NEXT:    phys.accum_loss [[M]] : f64
// CHECK-NEXT:    [[SEED:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[G:%.+]] = phys.mask [[SEED]] : f64
// CHECK-NEXT:    [[GQ:%.+]] = arith.mulf [[G]], [[E]] : f64
// CHECK-NEXT:    arith.divf [[GQ]], [[U]] : f64
// CHECK-NEXT:    [[GQR:%.+]] = arith.mulf [[GQ]], [[Q]] : f64
// CHECK-NEXT:    [[GQRB:%.+]] = arith.divf [[GQR]], [[U]] : f64
// CHECK-NEXT:    [[GU:%.+]] = arith.negf [[GQRB]] : f64
// CHECK-NEXT:    [[DY2:%.+]] = tensor.from_elements [[GU]] : tensor<1xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[2] [[DY2]], [[Z1]] : tensor<1xf64>, tensor<2xf64>
// CHECK-NEXT:    phys.accum_bias_grad @N[2] [[DY2]] : tensor<1xf64>
// CHECK-NEXT:    [[DY1:%.+]] = phys.matvec_t @N[2] [[DY2]] : tensor<1xf64> -> tensor<2xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[1] [[DY1]], [[H0X]] : tensor<2xf64>, tensor<3xf64>
// CHECK-NEXT:    [[DH0X:%.+]] = phys.matvec_t @N[1] [[DY1]] : tensor<2xf64> -> tensor<3xf64>
// CHECK-NEXT:    [[DZ0X:%.+]] = arith.mulf [[DH0X]], [[H0]] : tensor<3xf64>
// CHECK-NEXT:    [[DH0:%.+]] = arith.mulf [[DH0X]], [[Z0X]] : tensor<3xf64>
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[H0]], [[H0]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[DTANH:%.+]] = arith.subf [[ONE]], [[SQ]] : tensor<3xf64>
// CHECK-NEXT:    [[DZ0:%.+]] = arith.mulf [[DH0]], [[DTANH]] : tensor<3xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[0] [[DZ0X]], [[DIR]] : tensor<3xf64>, tensor<1xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[0] [[DZ0]], [[IN]] : tensor<3xf64>, tensor<1xf64>
// CHECK-NEXT:    phys.accum_bias_grad @N[0] [[DZ0]] : tensor<3xf64>
// CHECK-NEXT:    phys.yield

// CHECK-LABEL: phys.kernel @u.eval "eval"
// CHECK-NOT:     phys.accum
// CHECK-NOT:     phys.matvec_t
// CHECK:         phys.yield
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [3, 2], act = "tanh", init = "glorot")
  phys.kernel @deep.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %dir = arith.constant dense<1.0> : tensor<1xf64>
    %z0 = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<3xf64>
    %z0x = phys.matvec @N[0] %dir : tensor<1xf64> -> tensor<3xf64>
    %h0 = math.tanh %z0 : tensor<3xf64>
    %h0x = arith.mulf %z0x, %h0 : tensor<3xf64>
    %z1 = phys.matvec @N[1] %h0x : tensor<3xf64> -> tensor<2xf64>
    %z2 = phys.matvec @N[2] %z1 bias : tensor<2xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %z2[%c0] : tensor<1xf64>
    %q = arith.divf %x, %u : f64
    %e = math.exp %q : f64
    %m = phys.mask %e : f64
    phys.accum_loss %m : f64
    phys.yield
  }
  phys.kernel @u.eval "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z0 = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<3xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %z0[%c0] : tensor<3xf64>
    phys.yield %u : f64
  }
}

// -----

// Two loss terms in one kernel are both seeded, and adjoints of a value
// used twice are summed. A residual without nets has no adjoint at all.

// d(u + 2u)/du = 1 + 1 * 2, with the product by the seed 1 folded.
// CHECK-LABEL: phys.kernel @two.loss_grad "loss_grad"
// CHECK:         [[U:%.+]] = tensor.extract
// CHECK-NEXT:    [[TWO:%.+]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    [[V:%.+]] = arith.mulf [[U]], [[TWO]] : f64
// CHECK-NEXT:    phys.accum_loss [[U]] : f64
// CHECK-NEXT:    phys.accum_loss [[V]] : f64
// CHECK-NEXT:    [[S1:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[SUM:%.+]] = arith.addf [[S1]], [[TWO]] : f64
// CHECK-NEXT:    [[DY:%.+]] = tensor.from_elements [[SUM]] : tensor<1xf64>
// CHECK-NEXT:    phys.accum_weight_grad @N[1] [[DY]]
// CHECK-NEXT:    phys.accum_bias_grad @N[1] [[DY]]

// CHECK-LABEL: phys.kernel @coords.loss_grad "loss_grad"
// CHECK:         phys.accum_loss
// CHECK-NOT:     phys.accum_weight_grad
// CHECK-NOT:     phys.accum_bias_grad
// CHECK-NOT:     phys.matvec_t
// CHECK:         phys.yield
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @two.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<2xf64>
    %h = math.tanh %z : tensor<2xf64>
    %o = phys.matvec @N[1] %h bias : tensor<2xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %two = arith.constant 2.0 : f64
    %v = arith.mulf %u, %two : f64
    phys.accum_loss %u : f64
    phys.accum_loss %v : f64
    phys.yield
  }
  phys.kernel @coords.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %s = math.sin %x : f64
    %m = phys.mask %s : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
}

// -----

// select and maximumf route the adjoint to the branch taken.

// CHECK-LABEL: phys.kernel @branch.loss_grad "loss_grad"
// CHECK:         [[U:%.+]] = tensor.extract
// CHECK-NEXT:    [[C:%.+]] = arith.cmpf olt, [[X:%.+]], [[U]] : f64
// CHECK-NEXT:    [[S:%.+]] = arith.select [[C]], [[U]], [[X]] : f64
// CHECK-NEXT:    [[MX:%.+]] = arith.maximumf [[S]], [[U]] : f64
// CHECK-NEXT:    phys.accum_loss [[MX]] : f64
// CHECK-NEXT:    [[G:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[GE:%.+]] = arith.cmpf oge, [[S]], [[U]] : f64
// CHECK-NEXT:    [[Z:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[GS:%.+]] = arith.select [[GE]], [[G]], [[Z]] : f64
// CHECK-NEXT:    [[GU1:%.+]] = arith.select [[GE]], [[Z]], [[G]] : f64
// CHECK-NEXT:    [[Z2:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[GU2:%.+]] = arith.select [[C]], [[GS]], [[Z2]] : f64
// CHECK-NEXT:    [[GU:%.+]] = arith.addf [[GU1]], [[GU2]] : f64
// CHECK-NEXT:    arith.select [[C]], [[Z2]], [[GS]] : f64
// CHECK-NEXT:    tensor.from_elements [[GU]] : tensor<1xf64>
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @branch.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<2xf64>
    %h = math.tanh %z : tensor<2xf64>
    %o = phys.matvec @N[1] %h bias : tensor<2xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %c = arith.cmpf olt, %x, %u : f64
    %s = arith.select %c, %u, %x : f64
    %mx = arith.maximumf %s, %u : f64
    phys.accum_loss %mx : f64
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %o = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<2xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<2xf64>
    // expected-error @+1 {{'math.atan' op has no adjoint rule}}
    %a = math.atan %u : f64
    phys.accum_loss %a : f64
    phys.yield
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    %n = arith.fptoui %x : f64 to i64
    %i = arith.index_cast %n : i64 to index
    %in = tensor.from_elements %x : tensor<1xf64>
    %o = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<2xf64>
    // expected-error @+1 {{'tensor.extract' op needs a constant index to be differentiated}}
    %u = tensor.extract %o[%i] : tensor<2xf64>
    phys.accum_loss %u : f64
    phys.yield
  }
}

// -----

// A trainable param is active like a weight: loss = mask(k * x - obs)^2
// gives dk += dr * x, ending in phys.accum_param_grad; the observed value
// and the non-trainable param c get no adjoint.

// CHECK-LABEL: phys.kernel @obs.loss_grad "loss_grad"
// CHECK:         [[K:%.+]] = phys.param_ref @k : f64
// CHECK:         phys.accum_loss
// CHECK:         [[DR:%.+]] = phys.mask {{%.+}} : f64
// CHECK:         [[DK:%.+]] = arith.mulf [[DR]], %arg0 : f64
// CHECK-NOT:     phys.accum_param_grad @c
// CHECK:         phys.accum_param_grad @k [[DK]] : f64
// CHECK-NEXT:    phys.yield
phys.model @m {
  phys.coord @x "space" [0.0, 1.0]
  phys.param @k = 0.5 trainable
  phys.param @c = 2.0
  phys.kernel @obs.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %k = phys.param_ref @k : f64
    %c = phys.param_ref @c : f64
    %kx = arith.mulf %k, %x : f64
    %o = phys.observed 0 : f64
    %oc = arith.mulf %o, %c : f64
    %r = arith.subf %kx, %oc : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
}
