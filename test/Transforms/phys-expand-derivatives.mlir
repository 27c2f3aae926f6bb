// RUN: physc-opt %s -split-input-file -phys-expand-derivatives -verify-diagnostics | FileCheck %s

// Taylor-mode expansion. Each value becomes its coefficients c_a = d^a v / a!
// over the index set the derivative analysis gives it; phys.d reads
// coefficient g + b scaled by (g+b)!/g!; nets become one phys.matvec per
// layer and per non-zero coefficient row.

// u_xx of a tanh net with one hidden layer of 4, over (x, t). The input
// rows are the value (x, t) and the x-direction (1, 0); there is no row in t
// and no second-order input row (both are zero), so layer 0 has exactly two
// matvecs and only the value gets the bias. tanh's tower is built from
// t = tanh(z): tanh' = 1 - t^2 (as -t * t + 1), tanh'' = (2t * t - 2) * t.
// With z1 = W0 (1, 0), the hidden jet is h1 = tanh'(z0) z1 and
// h2 = tanh''(z0) / 2 * z1^2 (z2 = 0, so no tanh'(z0) z2 term); the output
// layer maps each of h0, h1, h2; u_xx = 2 c_(2,0).

// CHECK-LABEL: phys.kernel @uxx "eval" {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[IN0:%.+]] = tensor.from_elements [[X]], [[T]] : tensor<2xf64>
// CHECK-NEXT:    [[ZERO:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[IN1:%.+]] = tensor.from_elements [[ONE]], [[ZERO]] : tensor<2xf64>
// CHECK-NOT:     tensor.from_elements
// CHECK:         [[Z0:%.+]] = phys.matvec @N[0] [[IN0]] bias : tensor<2xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @N[0] [[IN1]] : tensor<2xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[Z1SQ:%.+]] = arith.mulf [[Z1]], [[Z1]] : tensor<4xf64>
// CHECK-NEXT:    [[TH:%.+]] = math.tanh [[Z0]] : tensor<4xf64>
// CHECK:         [[NEG:%.+]] = arith.negf [[TH]] : tensor<4xf64>
// CHECK-NEXT:    [[NSQ:%.+]] = arith.mulf [[NEG]], [[TH]] : tensor<4xf64>
// CHECK-NEXT:    [[C1:%.+]] = arith.constant dense<1.000000e+00> : tensor<4xf64>
// CHECK-NEXT:    [[D1:%.+]] = arith.addf [[NSQ]], [[C1]] : tensor<4xf64>
// CHECK-NEXT:    [[C2:%.+]] = arith.constant dense<2.000000e+00> : tensor<4xf64>
// CHECK-NEXT:    [[P1:%.+]] = arith.mulf [[C2]], [[TH]] : tensor<4xf64>
// CHECK-NEXT:    [[P2:%.+]] = arith.mulf [[P1]], [[TH]] : tensor<4xf64>
// CHECK-NEXT:    [[CM2:%.+]] = arith.constant dense<-2.000000e+00> : tensor<4xf64>
// CHECK-NEXT:    [[P3:%.+]] = arith.addf [[P2]], [[CM2]] : tensor<4xf64>
// CHECK-NEXT:    [[D2:%.+]] = arith.mulf [[P3]], [[TH]] : tensor<4xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.mulf [[D1]], [[Z1]] : tensor<4xf64>
// CHECK-NEXT:    [[HALF:%.+]] = arith.constant dense<5.000000e-01> : tensor<4xf64>
// CHECK-NEXT:    [[D2H:%.+]] = arith.mulf [[HALF]], [[D2]] : tensor<4xf64>
// CHECK-NEXT:    [[H2:%.+]] = arith.mulf [[D2H]], [[Z1SQ]] : tensor<4xf64>
// CHECK-NEXT:    {{%.+}} = phys.matvec @N[1] [[TH]] bias : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    {{%.+}} = phys.matvec @N[1] [[H1]] : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    [[O2:%.+]] = phys.matvec @N[1] [[H2]] : tensor<4xf64> -> tensor<1xf64>
// CHECK-NOT:     phys.matvec
// CHECK:         [[E2:%.+]] = tensor.extract [[O2]][{{%.+}}] : tensor<1xf64>
// CHECK-NEXT:    [[TWO:%.+]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    [[UXX:%.+]] = arith.mulf [[TWO]], [[E2]] : f64
// CHECK-NEXT:    phys.yield [[UXX]] : f64
// CHECK-NEXT:  }
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @uxx "eval" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %uxx = phys.d %u wrt [@x, @x] : f64
    phys.yield %uxx : f64
  }
}

// -----

// Burgers' loss kernel: u, u_x, u_t and u_xx need four coefficient rows;
// layer 0 sees three non-zero input rows ((x,t), (1,0), (0,1)) and layer 1
// four. Only the value rows carry the bias. Derivatives and net calls are
// gone; params, the mask and the loss accumulation remain.

// CHECK-LABEL: phys.kernel @pde.loss_grad "loss_grad"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-DAG:     [[IN0:%.+]] = tensor.from_elements [[X]], [[T]] : tensor<2xf64>
// CHECK-DAG:     [[INX:%.+]] = tensor.from_elements [[ONE:%.+]], [[ZERO:%.+]] : tensor<2xf64>
// CHECK-DAG:     [[INT:%.+]] = tensor.from_elements [[ZERO2:%.+]], [[ONE2:%.+]] : tensor<2xf64>
// CHECK:         [[ZV:%.+]] = phys.matvec @N[0] [[IN0]] bias : tensor<2xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[ZX:%.+]] = phys.matvec @N[0] [[INX]] : tensor<2xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[ZT:%.+]] = phys.matvec @N[0] [[INT]] : tensor<2xf64> -> tensor<4xf64>
// CHECK-NOT:     phys.matvec @N[0]
// CHECK:         [[TH:%.+]] = math.tanh [[ZV]] : tensor<4xf64>
// CHECK-NOT:     math.tanh
// CHECK:         [[OV:%.+]] = phys.matvec @N[1] [[TH]] bias : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    [[OX:%.+]] = phys.matvec @N[1] {{%.+}} : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    [[OT:%.+]] = phys.matvec @N[1] {{%.+}} : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    [[OXX:%.+]] = phys.matvec @N[1] {{%.+}} : tensor<4xf64> -> tensor<1xf64>
// CHECK-NOT:     phys.matvec
// CHECK:         [[U:%.+]] = tensor.extract [[OV]]
// CHECK-NEXT:    arith.constant 0 : index
// CHECK-NEXT:    [[UX:%.+]] = tensor.extract [[OX]]
// CHECK-NEXT:    arith.constant 0 : index
// CHECK-NEXT:    [[UT:%.+]] = tensor.extract [[OT]]
// CHECK-NEXT:    arith.constant 0 : index
// CHECK-NEXT:    [[C2:%.+]] = tensor.extract [[OXX]]
// CHECK-NEXT:    [[TWO:%.+]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    [[UXX:%.+]] = arith.mulf [[TWO]], [[C2]] : f64
// CHECK-NEXT:    [[NU:%.+]] = phys.param_ref @nu : f64
// CHECK-NEXT:    [[A:%.+]] = arith.mulf [[U]], [[UX]] : f64
// CHECK-NEXT:    [[B:%.+]] = arith.addf [[UT]], [[A]] : f64
// CHECK-NEXT:    [[C:%.+]] = arith.mulf [[NU]], [[UXX]] : f64
// CHECK-NEXT:    [[R:%.+]] = arith.subf [[B]], [[C]] : f64
// CHECK-NEXT:    [[M:%.+]] = phys.mask [[R]] : f64
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[M]], [[M]] : f64
// CHECK-NEXT:    phys.accum_loss [[SQ]] : f64
// CHECK-NEXT:    phys.yield
// CHECK-NOT:   phys.d
// CHECK-NOT:   phys.net_call
phys.model @burgers {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.0031830988618379067
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" attributes {source = @pde} {
  ^bb0(%x: f64, %t: f64):
    %0 = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %1 = phys.d %0 wrt [@t] : f64
    %2 = phys.d %0 wrt [@x] : f64
    %3 = phys.d %0 wrt [@x, @x] : f64
    %4 = phys.param_ref @nu : f64
    %5 = arith.mulf %0, %2 : f64
    %6 = arith.addf %1, %5 : f64
    %7 = arith.mulf %4, %3 : f64
    %8 = arith.subf %6, %7 : f64
    %9 = phys.mask %8 : f64
    %10 = arith.mulf %9, %9 : f64
    phys.accum_loss %10 : f64
    phys.yield
  }
}

// -----

// Without nets: elementary functions compose with their derivative towers,
// products follow Leibniz, quotients go through 1/y's tower.

// d(x sin x)/dx = x cos x + sin x: sin's tower is sin, cos, -sin, -cos; the
// product's first coefficient is x * cos(x) + 1 * sin(x).
// CHECK-LABEL: phys.kernel @leibniz "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, {{%.+}}: f64):
// CHECK:         [[S:%.+]] = math.sin [[X]] : f64
// CHECK-NEXT:    [[C:%.+]] = math.cos [[X]] : f64
// CHECK:         [[XC:%.+]] = arith.mulf [[X]], [[C]] : f64
// CHECK-NEXT:    [[D:%.+]] = arith.addf [[XC]], [[S]] : f64
// CHECK-NEXT:    phys.yield [[D]] : f64

// d^2 sin(x)/dx^2 = -sin x: c_2 = sin''(x) / 2, read back times 2! = 2.
// CHECK-LABEL: phys.kernel @sin2 "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, {{%.+}}: f64):
// CHECK:         [[S:%.+]] = math.sin [[X]] : f64
// CHECK-NEXT:    math.cos [[X]] : f64
// CHECK-NEXT:    [[NS:%.+]] = arith.negf [[S]] : f64
// CHECK:         [[HALF:%.+]] = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    [[C2:%.+]] = arith.mulf [[HALF]], [[NS]] : f64
// CHECK-NEXT:    [[TWO:%.+]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    [[D:%.+]] = arith.mulf [[TWO]], [[C2]] : f64
// CHECK-NEXT:    phys.yield [[D]] : f64

// d(t / x)/dx = t * (-1 / x^2); t's x-coefficient is zero, so there is no
// (1/x) * 0 term.
// CHECK-LABEL: phys.kernel @div "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK:         [[R:%.+]] = arith.divf {{%.+}}, [[X]] : f64
// CHECK-NEXT:    [[R2:%.+]] = arith.mulf [[R]], [[R]] : f64
// CHECK:         [[DR:%.+]] = arith.negf [[R2]] : f64
// CHECK-NEXT:    arith.mulf [[T]], [[R]] : f64
// CHECK-NEXT:    [[D:%.+]] = arith.mulf [[T]], [[DR]] : f64
// CHECK-NEXT:    phys.yield [[D]] : f64

// d^2(x^2.5)/dx^2 = 2.5 * 1.5 * x^0.5. Each derivative of the tower is its
// own powf (x^1.5, x^0.5), not x^2.5 / x^k, which is NaN at x = 0.
// CHECK-LABEL: phys.kernel @pow "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, {{%.+}}: f64):
// CHECK:         math.powf [[X]], {{%.+}} : f64
// CHECK-NEXT:    [[P1:%.+]] = arith.constant 1.500000e+00 : f64
// CHECK-NEXT:    [[X1:%.+]] = math.powf [[X]], [[P1]] : f64
// CHECK-NEXT:    [[K1:%.+]] = arith.constant 2.500000e+00 : f64
// CHECK-NEXT:    arith.mulf [[K1]], [[X1]] : f64
// CHECK-NEXT:    [[P2:%.+]] = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    [[X2:%.+]] = math.powf [[X]], [[P2]] : f64
// CHECK-NEXT:    [[K2:%.+]] = arith.constant 3.750000e+00 : f64
// CHECK-NEXT:    [[F2:%.+]] = arith.mulf [[K2]], [[X2]] : f64
// CHECK-NEXT:    [[HALF:%.+]] = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    [[C2:%.+]] = arith.mulf [[HALF]], [[F2]] : f64
// CHECK-NEXT:    [[TWO:%.+]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:    [[D:%.+]] = arith.mulf [[TWO]], [[C2]] : f64
// CHECK-NEXT:    phys.yield [[D]] : f64
// CHECK-NOT:     arith.divf

// An integer exponent: (x^2)' = 2 x^1, (x^2)'' = 2 (x^0 is folded) and the
// third derivative is exactly zero (no powf with exponent -1).
// CHECK-LABEL: phys.kernel @pow_int "eval"
// CHECK-NOT:     arith.constant -1.000000e+00
// CHECK:         math.powf
// CHECK-NEXT:    [[E1:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    {{%.+}} = math.powf {{%.+}}, [[E1]] : f64
// CHECK-NOT:     math.powf
// CHECK:         arith.constant 0.16666666666666666 : f64
// CHECK-NEXT:    [[Z:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    phys.yield [[Z]] : f64
// CHECK-NEXT:  }

// d^2(x t)/dx dt = 1, folded to a constant: the product's (1,1) coefficient
// is 1 * 1 and no other term exists.
// CHECK-LABEL: phys.kernel @mixed "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK:         phys.yield [[ONE]] : f64

// Params and constants are constant in the coordinates:
// d(nu * x)/dx = nu and d(nu)/dx = 0.
// CHECK-LABEL: phys.kernel @consts "eval"
// CHECK:         [[NU:%.+]] = phys.param_ref @nu : f64
// CHECK:         [[Z:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    phys.yield [[NU]], [[Z]] : f64, f64
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.01
  phys.kernel @leibniz "eval" {
  ^bb0(%x: f64, %t: f64):
    %s = math.sin %x : f64
    %v = arith.mulf %x, %s : f64
    %d = phys.d %v wrt [@x] : f64
    phys.yield %d : f64
  }
  phys.kernel @sin2 "eval" {
  ^bb0(%x: f64, %t: f64):
    %s = math.sin %x : f64
    %d = phys.d %s wrt [@x, @x] : f64
    phys.yield %d : f64
  }
  phys.kernel @div "eval" {
  ^bb0(%x: f64, %t: f64):
    %v = arith.divf %t, %x : f64
    %d = phys.d %v wrt [@x] : f64
    phys.yield %d : f64
  }
  phys.kernel @pow "eval" {
  ^bb0(%x: f64, %t: f64):
    %c = arith.constant 2.5 : f64
    %v = math.powf %x, %c : f64
    %d = phys.d %v wrt [@x, @x] : f64
    phys.yield %d : f64
  }
  phys.kernel @pow_int "eval" {
  ^bb0(%x: f64, %t: f64):
    %c = arith.constant 2.0 : f64
    %v = math.powf %x, %c : f64
    %d = phys.d %v wrt [@x, @x, @x] : f64
    phys.yield %d : f64
  }
  phys.kernel @mixed "eval" {
  ^bb0(%x: f64, %t: f64):
    %v = arith.mulf %x, %t : f64
    %d = phys.d %v wrt [@x, @t] : f64
    phys.yield %d : f64
  }
  phys.kernel @consts "eval" {
  ^bb0(%x: f64, %t: f64):
    %nu = phys.param_ref @nu : f64
    %v = arith.mulf %nu, %x : f64
    %d = phys.d %v wrt [@x] : f64
    %dn = phys.d %nu wrt [@x] : f64
    phys.yield %d, %dn : f64, f64
  }
}

// -----

// Functions of a structurally zero value (d(t)/dx, d^3(x^2)/dx^3): the
// tower is evaluated at a zero constant (this used to crash on the missing
// value component), and derivatives of the result are zero.

// CHECK-LABEL: phys.kernel @zero "eval"
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, {{%.+}}: f64):
// CHECK:         [[Z:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    math.sin [[Z]] : f64
// CHECK-NEXT:    [[COS:%.+]] = math.cos [[Z]] : f64
// CHECK:         [[Z2:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    [[R:%.+]] = arith.divf [[ONE]], [[Z2]] : f64
// CHECK-NEXT:    [[Q:%.+]] = arith.mulf [[X]], [[R]] : f64
// CHECK:         [[Z3:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    [[E:%.+]] = math.exp [[Z3]] : f64
// CHECK-NEXT:    [[Z4:%.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    phys.yield [[COS]], [[Q]], [[E]], [[Z4]] : f64, f64, f64, f64
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.kernel @zero "eval" {
  ^bb0(%x: f64, %t: f64):
    %d = phys.d %t wrt [@x] : f64
    %s = math.cos %d : f64
    %q = arith.divf %x, %d : f64
    %xx = arith.mulf %x, %x : f64
    %d3 = phys.d %xx wrt [@x, @x, @x] : f64
    %e = math.exp %d3 : f64
    %ex = phys.d %e wrt [@x] : f64
    phys.yield %s, %q, %e, %ex : f64, f64, f64, f64
  }
}

// -----

// A net with two outputs: each result reads its own element of the output
// rows, and only the result that is differentiated needs the t row.

// CHECK-LABEL: phys.kernel @two "eval"
// CHECK:         [[OV:%.+]] = phys.matvec @N[1] {{%.+}} bias : tensor<3xf64> -> tensor<2xf64>
// CHECK-NEXT:    [[OT:%.+]] = phys.matvec @N[1] {{%.+}} : tensor<3xf64> -> tensor<2xf64>
// CHECK-NEXT:    [[I0:%.+]] = arith.constant 0 : index
// CHECK-NEXT:    [[U:%.+]] = tensor.extract [[OV]][[[I0]]] : tensor<2xf64>
// CHECK-NEXT:    [[I1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:    tensor.extract [[OV]][[[I1]]] : tensor<2xf64>
// CHECK-NEXT:    [[J1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:    [[PT:%.+]] = tensor.extract [[OT]][[[J1]]] : tensor<2xf64>
// CHECK-NEXT:    phys.yield [[U]], [[PT]] : f64, f64
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 2, hidden = [3], act = "tanh", init = "glorot")
  phys.kernel @two "eval" {
  ^bb0(%x: f64, %t: f64):
    %u:2 = phys.net_call @N(%x, %t) : (f64, f64) -> (f64, f64)
    %pt = phys.d %u#1 wrt [@t] : f64
    phys.yield %u#0, %pt : f64, f64
  }
}

// -----

// Every activation with one x-derivative: h1 = act'(z0) * z1.

// sin: sin' = cos.
// CHECK-LABEL: phys.kernel @sin "eval"
// CHECK:         [[Z0:%.+]] = phys.matvec @S[0] {{%.+}} bias
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @S[0] {{%.+}} :
// CHECK-NEXT:    [[H0:%.+]] = math.sin [[Z0]] : tensor<3xf64>
// CHECK-NEXT:    [[C:%.+]] = math.cos [[Z0]] : tensor<3xf64>
// CHECK:         [[H1:%.+]] = arith.mulf [[C]], [[Z1]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @S[1] [[H0]] bias
// CHECK-NEXT:    phys.matvec @S[1] [[H1]] :

// sigmoid: s = 1 / (1 + exp(-z)), s' = (1 - s) * s.
// CHECK-LABEL: phys.kernel @sigmoid "eval"
// CHECK:         [[Z0:%.+]] = phys.matvec @G[0] {{%.+}} bias
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @G[0] {{%.+}} :
// CHECK-NEXT:    [[NZ:%.+]] = arith.negf [[Z0]] : tensor<3xf64>
// CHECK-NEXT:    [[E:%.+]] = math.exp [[NZ]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[DEN:%.+]] = arith.addf [[ONE]], [[E]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE2:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[S:%.+]] = arith.divf [[ONE2]], [[DEN]] : tensor<3xf64>
// CHECK:         [[NS:%.+]] = arith.negf [[S]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE3:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[OMS:%.+]] = arith.addf [[NS]], [[ONE3]] : tensor<3xf64>
// CHECK-NEXT:    [[DS:%.+]] = arith.mulf [[OMS]], [[S]] : tensor<3xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.mulf [[DS]], [[Z1]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @G[1] [[S]] bias
// CHECK-NEXT:    phys.matvec @G[1] [[H1]] :

// softplus: max(z, 0) + log1p(exp(-|z|)), softplus' = sigmoid.
// CHECK-LABEL: phys.kernel @softplus "eval"
// CHECK:         [[Z0:%.+]] = phys.matvec @P[0] {{%.+}} bias
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @P[0] {{%.+}} :
// CHECK:         [[S:%.+]] = arith.divf {{%.+}}, {{%.+}} : tensor<3xf64>
// CHECK:         [[A:%.+]] = math.absf [[Z0]] : tensor<3xf64>
// CHECK-NEXT:    [[ZERO:%.+]] = arith.constant dense<0.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[MX:%.+]] = arith.maximumf [[Z0]], [[ZERO]] : tensor<3xf64>
// CHECK-NEXT:    [[NA:%.+]] = arith.negf [[A]] : tensor<3xf64>
// CHECK-NEXT:    [[E:%.+]] = math.exp [[NA]] : tensor<3xf64>
// CHECK-NEXT:    [[L:%.+]] = math.log1p [[E]] : tensor<3xf64>
// CHECK-NEXT:    [[H0:%.+]] = arith.addf [[MX]], [[L]] : tensor<3xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.mulf [[S]], [[Z1]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @P[1] [[H0]] bias
// CHECK-NEXT:    phys.matvec @P[1] [[H1]] :

// swish: z s(z), swish' = z s' + s.
// CHECK-LABEL: phys.kernel @swish "eval"
// CHECK:         [[Z0:%.+]] = phys.matvec @W[0] {{%.+}} bias
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @W[0] {{%.+}} :
// CHECK:         [[S:%.+]] = arith.divf {{%.+}}, {{%.+}} : tensor<3xf64>
// CHECK:         [[DS:%.+]] = arith.mulf {{%.+}}, [[S]] : tensor<3xf64>
// CHECK-NEXT:    [[H0:%.+]] = arith.mulf [[Z0]], [[S]] : tensor<3xf64>
// CHECK-NEXT:    [[ZDS:%.+]] = arith.mulf [[Z0]], [[DS]] : tensor<3xf64>
// CHECK-NEXT:    [[D:%.+]] = arith.addf [[ZDS]], [[S]] : tensor<3xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.mulf [[D]], [[Z1]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @W[1] [[H0]] bias
// CHECK-NEXT:    phys.matvec @W[1] [[H1]] :

// gelu: z Phi(z) with Phi = (1 + erf(z / sqrt 2)) / 2 and
// phi = exp(-z^2 / 2) / sqrt(2 pi); gelu' = z phi + Phi.
// CHECK-LABEL: phys.kernel @gelu "eval"
// CHECK:         [[Z0:%.+]] = phys.matvec @E[0] {{%.+}} bias
// CHECK-NEXT:    [[Z1:%.+]] = phys.matvec @E[0] {{%.+}} :
// CHECK-NEXT:    [[RS2:%.+]] = arith.constant dense<0.70710678118654746> : tensor<3xf64>
// CHECK-NEXT:    [[ZS:%.+]] = arith.mulf [[RS2]], [[Z0]] : tensor<3xf64>
// CHECK-NEXT:    [[ERF:%.+]] = math.erf [[ZS]] : tensor<3xf64>
// CHECK-NEXT:    [[ONE:%.+]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK-NEXT:    [[EP1:%.+]] = arith.addf [[ERF]], [[ONE]] : tensor<3xf64>
// CHECK-NEXT:    [[HALF:%.+]] = arith.constant dense<5.000000e-01> : tensor<3xf64>
// CHECK-NEXT:    [[PHI:%.+]] = arith.mulf [[HALF]], [[EP1]] : tensor<3xf64>
// CHECK-NEXT:    [[ZZ:%.+]] = arith.mulf [[Z0]], [[Z0]] : tensor<3xf64>
// CHECK-NEXT:    [[MH:%.+]] = arith.constant dense<-5.000000e-01> : tensor<3xf64>
// CHECK-NEXT:    [[EXPARG:%.+]] = arith.mulf [[MH]], [[ZZ]] : tensor<3xf64>
// CHECK-NEXT:    [[EXP:%.+]] = math.exp [[EXPARG]] : tensor<3xf64>
// CHECK-NEXT:    [[NORM:%.+]] = arith.constant dense<0.3989422804014327> : tensor<3xf64>
// CHECK-NEXT:    [[DENS:%.+]] = arith.mulf [[NORM]], [[EXP]] : tensor<3xf64>
// CHECK:         [[H0:%.+]] = arith.mulf [[Z0]], [[PHI]] : tensor<3xf64>
// CHECK-NEXT:    [[ZD:%.+]] = arith.mulf [[Z0]], [[DENS]] : tensor<3xf64>
// CHECK-NEXT:    [[D:%.+]] = arith.addf [[ZD]], [[PHI]] : tensor<3xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.mulf [[D]], [[Z1]] : tensor<3xf64>
// CHECK-NEXT:    phys.matvec @E[1] [[H0]] bias
// CHECK-NEXT:    phys.matvec @E[1] [[H1]] :
phys.model @acts {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @S "mlp"(in = 1, out = 1, hidden = [3], act = "sin", init = "glorot")
  phys.net @G "mlp"(in = 1, out = 1, hidden = [3], act = "sigmoid", init = "glorot")
  phys.net @P "mlp"(in = 1, out = 1, hidden = [3], act = "softplus", init = "glorot")
  phys.net @W "mlp"(in = 1, out = 1, hidden = [3], act = "swish", init = "glorot")
  phys.net @E "mlp"(in = 1, out = 1, hidden = [3], act = "gelu", init = "glorot")
  phys.kernel @sin "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @S(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
  phys.kernel @sigmoid "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @G(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
  phys.kernel @softplus "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @P(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
  phys.kernel @swish "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @W(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
  phys.kernel @gelu "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @E(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'math.atan' op has no Taylor-mode rule}}
    %a = math.atan %x : f64
    %d = phys.d %a wrt [@x] : f64
    phys.yield %d : f64
  }
}

// -----

phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.kernel @k "loss_grad" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.mask' op cannot differentiate a masked value}}
    %m = phys.mask %x : f64
    %d = phys.d %m wrt [@x] : f64
    phys.accum_loss %d : f64
    phys.yield
  }
}

// -----

// u_x of a modified_mlp with hidden [4, 4] over x: the encoders are layers
// 3 (U) and 4 (V), after the stack 0-2, and read the input rows. With
// D = V - U, each layer's h = U + z D is a Cauchy product:
// h0 = U0 + z0 D0, h1 = U1 + (z0 D1 + z1 D0).

// CHECK-LABEL: phys.kernel @ux "eval" {
// CHECK:         [[ZU0:%.+]] = phys.matvec @M[3] [[IN0:%.+]] bias : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[ZU1:%.+]] = phys.matvec @M[3] [[IN1:%.+]] : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[U0:%.+]] = math.tanh [[ZU0]] : tensor<4xf64>
// CHECK:         [[U1:%.+]] = arith.mulf {{%.+}}, [[ZU1]] : tensor<4xf64>
// CHECK-NEXT:    [[ZV0:%.+]] = phys.matvec @M[4] [[IN0]] bias : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[ZV1:%.+]] = phys.matvec @M[4] [[IN1]] : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[V0:%.+]] = math.tanh [[ZV0]] : tensor<4xf64>
// CHECK:         [[V1:%.+]] = arith.mulf {{%.+}}, [[ZV1]] : tensor<4xf64>
// CHECK-NEXT:    [[D0:%.+]] = arith.subf [[V0]], [[U0]] : tensor<4xf64>
// CHECK-NEXT:    [[D1:%.+]] = arith.subf [[V1]], [[U1]] : tensor<4xf64>
// CHECK-NEXT:    [[ZZ0:%.+]] = phys.matvec @M[0] [[IN0]] bias : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[ZZ1:%.+]] = phys.matvec @M[0] [[IN1]] : tensor<1xf64> -> tensor<4xf64>
// CHECK-NEXT:    [[Z0:%.+]] = math.tanh [[ZZ0]] : tensor<4xf64>
// CHECK:         [[Z1:%.+]] = arith.mulf {{%.+}}, [[ZZ1]] : tensor<4xf64>
// CHECK-NEXT:    [[P0:%.+]] = arith.mulf [[Z0]], [[D0]] : tensor<4xf64>
// CHECK-NEXT:    [[P1A:%.+]] = arith.mulf [[Z0]], [[D1]] : tensor<4xf64>
// CHECK-NEXT:    [[P1B:%.+]] = arith.mulf [[Z1]], [[D0]] : tensor<4xf64>
// CHECK-NEXT:    [[P1:%.+]] = arith.addf [[P1A]], [[P1B]] : tensor<4xf64>
// CHECK-NEXT:    [[H0:%.+]] = arith.addf [[U0]], [[P0]] : tensor<4xf64>
// CHECK-NEXT:    [[H1:%.+]] = arith.addf [[U1]], [[P1]] : tensor<4xf64>
// CHECK-NEXT:    {{%.+}} = phys.matvec @M[1] [[H0]] bias : tensor<4xf64> -> tensor<4xf64>
// CHECK-NEXT:    {{%.+}} = phys.matvec @M[1] [[H1]] : tensor<4xf64> -> tensor<4xf64>
// CHECK:         {{%.+}} = phys.matvec @M[2] {{%.+}} bias : tensor<4xf64> -> tensor<1xf64>
// CHECK-NEXT:    [[O1:%.+]] = phys.matvec @M[2] {{%.+}} : tensor<4xf64> -> tensor<1xf64>
// CHECK-NOT:     phys.matvec
// CHECK:         [[E1:%.+]] = tensor.extract [[O1]]
// CHECK-NEXT:    phys.yield [[E1]] : f64
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @M "modified_mlp"(in = 1, out = 1, hidden = [4, 4], act = "tanh", init = "glorot")
  phys.kernel @ux "eval" {
  ^bb0(%x: f64):
    %u = phys.net_call @M(%x) : (f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    phys.yield %ux : f64
  }
}
