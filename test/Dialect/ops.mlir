// RUN: physc-opt %s | physc-opt | FileCheck %s
// RUN: physc-opt %s --mlir-print-op-generic | physc-opt | FileCheck %s
// RUN: physc-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of every op of the phys dialect, in the custom and in the
// generic form.

// GENERIC-LABEL: "phys.model"() <{sym_name = "all"}>
// GENERIC:       "phys.coord"() <{hi = 1.000000e+00 : f64, kind = "space", lo = -1.000000e+00 : f64, sym_name = "x"}>
// GENERIC:       "phys.param"() <{sym_name = "k", trainable, value = 2.500000e+00 : f64}>
// GENERIC:       "phys.net"() <{act = "tanh", hidden = array<i64: 4, 3>, in = 3 : i64, init = "glorot", kind = "mlp", out = 2 : i64, sym_name = "N"}>
// GENERIC:       "phys.field"() <{coords = [@x, @y, @t], sym_name = "u"}>
// GENERIC:       "phys.net_call"(%{{.*}}, %{{.*}}, %{{.*}}) <{net = @N}> : (f64, f64, f64) -> (f64, f64)
// GENERIC:       "phys.equation"() <{{[{].*}}region_kind = "interior"{{.*}}samples = 128 : i64, sym_name = "pde", weight = 1.000000e+00 : f64}>
// GENERIC:       "phys.d"(%{{.*}}) <{wrt = [@x, @y]}> : (f64) -> f64
// GENERIC:       "phys.exact"() <{field = @w, file = "w_ref.csv", sym_name = "exact_w"}> ({
// GENERIC-NEXT:  }) : () -> ()
// GENERIC:       "phys.matvec"(%{{.*}}) <{bias, layer = 0 : i64, net = @N}> : (tensor<3xf64>) -> tensor<4xf64>
// GENERIC:       "phys.kernel"() <{checks = {{\[\[}}0, 1, 2]], kind = "jets", source = @pde, sym_name = "pde.jets"}>

// CHECK-LABEL: phys.model @all {
phys.model @all {
  // CHECK-NEXT: phys.coord @x "space" [-1.000000e+00, 1.000000e+00]
  // CHECK-NEXT: phys.coord @y "space" [0.000000e+00, 2.000000e+00]
  // CHECK-NEXT: phys.coord @t "time" [0.000000e+00, 1.000000e+00]
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @y "space" [0.0, 2.0]
  phys.coord @t "time" [0.0, 1.0]

  // CHECK-NEXT: phys.param @nu = 1.000000e-02{{$}}
  // CHECK-NEXT: phys.param @k = 2.500000e+00 trainable{{$}}
  // CHECK-NEXT: phys.param @kb = 5.000000e-01 trainable {hi = 1.000000e+00 : f64, lo = 0.000000e+00 : f64}
  phys.param @nu = 0.01
  phys.param @k = 2.5 trainable
  phys.param @kb = 0.5 trainable {lo = 0.0 : f64, hi = 1.0 : f64}

  // CHECK-NEXT: phys.net @N "mlp"(in = 3, out = 2, hidden = [4, 3], act = "tanh", init = "glorot")
  // CHECK-NEXT: phys.net @M "mlp"(in = 1, out = 1, hidden = [2], act = "gelu", init = "he")
  phys.net @N "mlp"(in = 3, out = 2, hidden = [4, 3], act = "tanh", init = "glorot")
  phys.net @M "mlp"(in = 1, out = 1, hidden = [2], act = "gelu", init = "he")

  // CHECK-NEXT: phys.field @u [@x, @y, @t] {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, [[Y:%.+]]: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   [[NN:%.+]]:2 = phys.net_call @N([[X]], [[Y]], [[T]]) : (f64, f64, f64) -> (f64, f64)
  // CHECK-NEXT:   phys.yield [[NN]]#0 : f64
  // CHECK-NEXT: }
  phys.field @u [@x, @y, @t] {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %0:2 = phys.net_call @N(%x, %y, %t) : (f64, f64, f64) -> (f64, f64)
    phys.yield %0#0 : f64
  }

  // A field over a subset of the coordinates.
  // CHECK-NEXT: phys.field @w [@t] {
  // CHECK-NEXT: ^bb0([[T:%.+]]: f64):
  // CHECK-NEXT:   [[M:%.+]] = phys.net_call @M([[T]]) : (f64) -> f64
  // CHECK-NEXT:   phys.yield [[M]] : f64
  // CHECK-NEXT: }
  phys.field @w [@t] {
  ^bb0(%t: f64):
    %0 = phys.net_call @M(%t) : (f64) -> f64
    phys.yield %0 : f64
  }

  // CHECK-NEXT: phys.equation @pde "interior" samples 128 weight 1.000000e+00 {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, [[Y:%.+]]: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   [[U:%.+]] = phys.field_call @u([[X]], [[Y]], [[T]]) : (f64, f64, f64) -> f64
  // CHECK-NEXT:   [[UT:%.+]] = phys.d [[U]] wrt [@t] : f64
  // CHECK-NEXT:   [[UXY:%.+]] = phys.d [[U]] wrt [@x, @y] : f64
  // CHECK-NEXT:   [[NU:%.+]] = phys.param_ref @nu : f64
  // CHECK-NEXT:   [[A:%.+]] = arith.mulf [[NU]], [[UXY]] : f64
  // CHECK-NEXT:   [[R:%.+]] = arith.subf [[UT]], [[A]] : f64
  // CHECK-NEXT:   phys.yield [[R]] : f64
  // CHECK-NEXT: }
  phys.equation @pde "interior" samples 128 weight 1.0 {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %u = phys.field_call @u(%x, %y, %t) : (f64, f64, f64) -> f64
    %ut = phys.d %u wrt [@t] : f64
    %uxy = phys.d %u wrt [@x, @y] : f64
    %nu = phys.param_ref @nu : f64
    %a = arith.mulf %nu, %uxy : f64
    %r = arith.subf %ut, %a : f64
    phys.yield %r : f64
  }

  // CHECK-NEXT: phys.equation @bc "boundary" samples 64 weight 1.000000e+01 attributes {restrictions = {{\[\[}}@t, 0.000000e+00, 5.000000e-01]]} {
  // CHECK:        phys.yield
  phys.equation @bc "boundary" samples 64 weight 10.0 attributes {restrictions = [[@t, 0.0, 0.5]]} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %u = phys.field_call @u(%x, %y, %t) : (f64, f64, f64) -> f64
    phys.yield %u : f64
  }

  // CHECK:      phys.equation @ic "faces" samples 32 weight 1.000000e+02 attributes {faces = {{\[\[}}@t, 0.000000e+00]]} {
  // CHECK-NEXT: ^bb0({{%.+}}: f64, {{%.+}}: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   [[W:%.+]] = phys.field_call @w([[T]]) : (f64) -> f64
  // CHECK-NEXT:   phys.yield [[W]] : f64
  phys.equation @ic "faces" samples 32 weight 100.0 attributes {faces = [[@t, 0.0]]} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %w = phys.field_call @w(%t) : (f64) -> f64
    phys.yield %w : f64
  }

  // CHECK:      phys.exact @exact_u for @u {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, {{%.+}}: f64, {{%.+}}: f64):
  // CHECK-NEXT:   [[S:%.+]] = math.sin [[X]] : f64
  // CHECK-NEXT:   phys.yield [[S]] : f64
  // CHECK-NEXT: }
  phys.exact @exact_u for @u {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %s = math.sin %x : f64
    phys.yield %s : f64
  }

  // CHECK-NEXT: phys.exact @exact_w for @w file "w_ref.csv" {
  // CHECK-NEXT: }
  phys.exact @exact_w for @w file "w_ref.csv" {
  }

  // CHECK-NEXT: phys.train "uniform" [{lr = 1.000000e-03 : f64, optimizer = "adam", steps = 100 : i64}, {optimizer = "lbfgs", steps = 10 : i64}]
  phys.train "uniform" [{lr = 1.0e-03 : f64, optimizer = "adam", steps = 100 : i64}, {optimizer = "lbfgs", steps = 10 : i64}]

  // CHECK-NEXT: phys.kernel @u.eval "eval" attributes {source = @u} {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, [[Y:%.+]]: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   [[IN:%.+]] = tensor.from_elements [[X]], [[Y]], [[T]] : tensor<3xf64>
  // CHECK-NEXT:   [[H:%.+]] = phys.matvec @N[0] [[IN]] bias : tensor<3xf64> -> tensor<4xf64>
  // CHECK-NEXT:   [[G:%.+]] = phys.matvec @N[1] [[H]] : tensor<4xf64> -> tensor<3xf64>
  // CHECK-NEXT:   [[O:%.+]] = phys.matvec @N[2] [[G]] bias : tensor<3xf64> -> tensor<2xf64>
  // CHECK-NEXT:   [[C0:%.+]] = arith.constant 0 : index
  // CHECK-NEXT:   [[V:%.+]] = tensor.extract [[O]][[[C0]]] : tensor<2xf64>
  // CHECK-NEXT:   phys.yield [[V]] : f64
  // CHECK-NEXT: }
  phys.kernel @u.eval "eval" attributes {source = @u} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %in = tensor.from_elements %x, %y, %t : tensor<3xf64>
    %h = phys.matvec @N[0] %in bias : tensor<3xf64> -> tensor<4xf64>
    %g = phys.matvec @N[1] %h : tensor<4xf64> -> tensor<3xf64>
    %o = phys.matvec @N[2] %g bias : tensor<3xf64> -> tensor<2xf64>
    %c0 = arith.constant 0 : index
    %v = tensor.extract %o[%c0] : tensor<2xf64>
    phys.yield %v : f64
  }

  // CHECK-NEXT: phys.kernel @pde.jets "jets" attributes {checks = {{\[\[}}0, 1, 2]], source = @pde} {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, {{%.+}}: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   phys.yield [[X]], [[T]] : f64, f64
  // CHECK-NEXT: }
  phys.kernel @pde.jets "jets" attributes {checks = [[0, 1, 2]], source = @pde} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    phys.yield %x, %t : f64, f64
  }

  // CHECK-NEXT: phys.kernel @pde.loss_grad "loss_grad" attributes {source = @pde} {
  // CHECK-NEXT: ^bb0([[X:%.+]]: f64, [[Y:%.+]]: f64, [[T:%.+]]: f64):
  // CHECK-NEXT:   [[IN:%.+]] = tensor.from_elements [[X]], [[Y]], [[T]] : tensor<3xf64>
  // CHECK-NEXT:   [[M:%.+]] = phys.mask [[X]] : f64
  // CHECK-NEXT:   [[SQ:%.+]] = arith.mulf [[M]], [[M]] : f64
  // CHECK-NEXT:   phys.accum_loss [[SQ]] : f64
  // CHECK-NEXT:   [[DY:%.+]] = arith.constant dense<1.000000e+00> : tensor<4xf64>
  // CHECK-NEXT:   {{%.+}} = phys.matvec_t @N[0] [[DY]] : tensor<4xf64> -> tensor<3xf64>
  // CHECK-NEXT:   phys.accum_weight_grad @N[0] [[DY]], [[IN]] : tensor<4xf64>, tensor<3xf64>
  // CHECK-NEXT:   phys.accum_bias_grad @N[0] [[DY]] : tensor<4xf64>
  // CHECK-NEXT:   phys.yield{{$}}
  // CHECK-NEXT: }
  phys.kernel @pde.loss_grad "loss_grad" attributes {source = @pde} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %in = tensor.from_elements %x, %y, %t : tensor<3xf64>
    %m = phys.mask %x : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %dy = arith.constant dense<1.0> : tensor<4xf64>
    %dx = phys.matvec_t @N[0] %dy : tensor<4xf64> -> tensor<3xf64>
    phys.accum_weight_grad @N[0] %dy, %in : tensor<4xf64>, tensor<3xf64>
    phys.accum_bias_grad @N[0] %dy : tensor<4xf64>
    phys.yield
  }

  // A data term: the residual against the observed value, and a trainable
  // param's gradient.
  // CHECK-NEXT: phys.equation @obs "data" samples 1 weight 1.000000e+00 attributes {file = "obs.csv"} {
  // CHECK-NEXT: ^bb0({{%.+}}: f64, {{%.+}}: f64, {{%.+}}: f64):
  // CHECK-NEXT:   [[O:%.+]] = phys.observed 0 : f64
  // CHECK-NEXT:   phys.yield [[O]] : f64
  // CHECK-NEXT: }
  phys.equation @obs "data" samples 1 weight 1.0 attributes {file = "obs.csv"} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %o = phys.observed 0 : f64
    phys.yield %o : f64
  }
  // CHECK-NEXT: phys.kernel @obs.loss_grad "loss_grad" attributes {source = @obs} {
  // CHECK-NEXT: ^bb0({{%.+}}: f64, {{%.+}}: f64, {{%.+}}: f64):
  // CHECK-NEXT:   [[K:%.+]] = phys.param_ref @k : f64
  // CHECK-NEXT:   phys.accum_param_grad @k [[K]] : f64
  // CHECK-NEXT:   phys.yield{{$}}
  // CHECK-NEXT: }
  phys.kernel @obs.loss_grad "loss_grad" attributes {source = @obs} {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %k = phys.param_ref @k : f64
    phys.accum_param_grad @k %k : f64
    phys.yield
  }
}
// CHECK-NEXT: }

// A phys.d outside any model verifies (its coordinates cannot be checked).
// CHECK-LABEL: func.func @d_outside_model
// CHECK:         phys.d %{{.+}} wrt [@x, @x] : f64
func.func @d_outside_model(%v: f64) -> f64 {
  %0 = phys.d %v wrt [@x, @x] : f64
  return %0 : f64
}
