// RUN: physc-opt %s -split-input-file -phys-outline-kernels -verify-diagnostics | FileCheck %s

// Burgers: one field, one equation with first and second derivatives. The
// model keeps its description ops; kernels are appended in the order
// fields, exacts, equations (loss_grad, then jets).

// CHECK-LABEL: phys.model @burgers
// CHECK:         phys.field @u [@x, @t]
// CHECK:         phys.equation @pde "interior"
// CHECK:         phys.train "uniform"

// The field kernel: the field's body over all coordinates.
// CHECK:       phys.kernel @u.eval "eval" attributes {source = @u} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[N:%.+]] = phys.net_call @N([[X]], [[T]]) : (f64, f64) -> f64
// CHECK-NEXT:    phys.yield [[N]] : f64
// CHECK-NEXT:  }

// The loss kernel: the residual with the field call inlined, then the masked
// square accumulated; it yields nothing.
// CHECK:       phys.kernel @pde.loss_grad "loss_grad" attributes {source = @pde} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[U:%.+]] = phys.net_call @N([[X]], [[T]]) : (f64, f64) -> f64
// CHECK-NEXT:    [[UT:%.+]] = phys.d [[U]] wrt [@t] : f64
// CHECK-NEXT:    [[UX:%.+]] = phys.d [[U]] wrt [@x] : f64
// CHECK-NEXT:    [[UXX:%.+]] = phys.d [[U]] wrt [@x, @x] : f64
// CHECK-NEXT:    [[NU:%.+]] = phys.param_ref @nu : f64
// CHECK-NEXT:    [[A:%.+]] = arith.mulf [[U]], [[UX]] : f64
// CHECK-NEXT:    [[B:%.+]] = arith.addf [[UT]], [[A]] : f64
// CHECK-NEXT:    [[C:%.+]] = arith.mulf [[NU]], [[UXX]] : f64
// CHECK-NEXT:    [[R:%.+]] = arith.subf [[B]], [[C]] : f64
// CHECK-NEXT:    [[M:%.+]] = phys.mask [[R]] : f64
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[M]], [[M]] : f64
// CHECK-NEXT:    phys.accum_loss [[SQ]] : f64
// CHECK-NEXT:    phys.yield{{$}}
// CHECK-NEXT:  }

// The jets kernel: for each phys.d, the chain v, d(v,a), d(v,a,b) with checks
// [lo, hi, coord]: yield hi is d/d(coord) of yield lo (x is coordinate 0,
// t is coordinate 1).
// CHECK:       phys.kernel @pde.jets "jets" attributes {checks = {{\[\[}}0, 1, 1], [2, 3, 0], [4, 5, 0], [5, 6, 0]], source = @pde} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[U:%.+]] = phys.net_call @N([[X]], [[T]]) : (f64, f64) -> f64
// The residual is cloned too (dead here), then come the chains.
// CHECK:         arith.subf
// CHECK-NEXT:    [[JT:%.+]] = phys.d [[U]] wrt [@t] : f64
// CHECK-NEXT:    [[JX:%.+]] = phys.d [[U]] wrt [@x] : f64
// CHECK-NEXT:    [[JX2:%.+]] = phys.d [[U]] wrt [@x] : f64
// CHECK-NEXT:    [[JXX:%.+]] = phys.d [[U]] wrt [@x, @x] : f64
// CHECK-NEXT:    phys.yield [[U]], [[JT]], [[U]], [[JX]], [[U]], [[JX2]], [[JXX]] : f64, f64, f64, f64, f64, f64, f64
// CHECK-NEXT:  }
// CHECK-NOT:   phys.kernel
phys.model @burgers {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.0031830988618379067
  phys.net @N "mlp"(in = 2, out = 1, hidden = [8, 8], act = "tanh", init = "glorot")
  phys.field @u [@x, @t] {
  ^bb0(%x: f64, %t: f64):
    %0 = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    phys.yield %0 : f64
  }
  phys.equation @pde "interior" samples 64 weight 1.0 {
  ^bb0(%x: f64, %t: f64):
    %u = phys.field_call @u(%x, %t) : (f64, f64) -> f64
    %ut = phys.d %u wrt [@t] : f64
    %ux = phys.d %u wrt [@x] : f64
    %uxx = phys.d %u wrt [@x, @x] : f64
    %nu = phys.param_ref @nu : f64
    %a = arith.mulf %u, %ux : f64
    %b = arith.addf %ut, %a : f64
    %c = arith.mulf %nu, %uxx : f64
    %r = arith.subf %b, %c : f64
    phys.yield %r : f64
  }
  phys.train "uniform" [{lr = 1.0e-03 : f64, optimizer = "adam", steps = 100 : i64}]
}

// -----

// A field over a subset of the coordinates: its kernel still takes every
// coordinate, and the field's arguments map to the right ones. A field call
// with other arguments is inlined with those arguments.

// CHECK-LABEL: phys.model @subset
// CHECK:       phys.kernel @w.eval "eval" attributes {source = @w} {
// CHECK-NEXT:  ^bb0({{%.+}}: f64, {{%.+}}: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[S:%.+]] = math.sin [[T]] : f64
// CHECK-NEXT:    phys.yield [[S]] : f64
// CHECK:       phys.kernel @bc.loss_grad "loss_grad" attributes {source = @bc} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[Y:%.+]]: f64, {{%.+}}: f64):
// CHECK-NEXT:    [[XY:%.+]] = arith.addf [[X]], [[Y]] : f64
// CHECK-NEXT:    [[S:%.+]] = math.sin [[XY]] : f64
// CHECK-NEXT:    [[M:%.+]] = phys.mask [[S]] : f64
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[M]], [[M]] : f64
// CHECK-NEXT:    phys.accum_loss [[SQ]] : f64
// An equation without derivatives has no jets kernel.
// CHECK-NOT:   @bc.jets
phys.model @subset {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @y "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.field @w [@t] {
  ^bb0(%t: f64):
    %0 = math.sin %t : f64
    phys.yield %0 : f64
  }
  phys.equation @bc "boundary" samples 16 weight 1.0 {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %s = arith.addf %x, %y : f64
    %w = phys.field_call @w(%s) : (f64) -> f64
    phys.yield %w : f64
  }
}

// -----

// Exacts: one given by an expression gets an eval kernel, one read from a
// file does not. Fields calling fields are inlined transitively.

// CHECK-LABEL: phys.model @exacts
// CHECK:       phys.kernel @u.eval "eval" attributes {source = @u} {
// CHECK:       phys.kernel @v.eval "eval" attributes {source = @v} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64):
// CHECK-NEXT:    [[N:%.+]] = phys.net_call @N([[X]]) : (f64) -> f64
// CHECK-NEXT:    [[SQ:%.+]] = arith.mulf [[N]], [[N]] : f64
// CHECK-NEXT:    phys.yield [[SQ]] : f64
// CHECK-NOT:     phys.field_call
// CHECK:       phys.kernel @exact_u.eval "eval" attributes {source = @exact_u} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64):
// CHECK-NEXT:    [[C:%.+]] = math.cos [[X]] : f64
// CHECK-NEXT:    phys.yield [[C]] : f64
// CHECK-NOT:   @exact_v.eval
phys.model @exacts {
  phys.coord @x "space" [0.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.field @u [@x] {
  ^bb0(%x: f64):
    %0 = phys.net_call @N(%x) : (f64) -> f64
    phys.yield %0 : f64
  }
  phys.field @v [@x] {
  ^bb0(%x: f64):
    %0 = phys.field_call @u(%x) : (f64) -> f64
    %1 = arith.mulf %0, %0 : f64
    phys.yield %1 : f64
  }
  phys.exact @exact_u for @u {
  ^bb0(%x: f64):
    %0 = math.cos %x : f64
    phys.yield %0 : f64
  }
  phys.exact @exact_v for @v file "v.csv" {
  }
}

// -----

// Several derivatives in one equation: every phys.d gets its own chain
// (operand, then one more coordinate of its wrt list at a time), even when
// two d's share an operand; a nested d's chain starts at the inner d.

// CHECK-LABEL: phys.model @chains
// CHECK:       phys.kernel @e.jets "jets" attributes {checks = {{\[\[}}0, 1, 0], [2, 3, 1], [4, 5, 0], [5, 6, 1]], source = @e} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[V:%.+]] = arith.mulf [[X]], [[T]] : f64
// CHECK-NEXT:    [[VX:%.+]] = phys.d [[V]] wrt [@x] : f64
// CHECK-NEXT:    {{%.+}} = phys.d [[VX]] wrt [@t] : f64
// CHECK-NEXT:    {{%.+}} = phys.d [[V]] wrt [@x, @t] : f64
// CHECK-NEXT:    {{%.+}} = arith.subf
// CHECK-NEXT:    [[C1:%.+]] = phys.d [[V]] wrt [@x] : f64
// CHECK-NEXT:    [[C2:%.+]] = phys.d [[VX]] wrt [@t] : f64
// CHECK-NEXT:    [[C3:%.+]] = phys.d [[V]] wrt [@x] : f64
// CHECK-NEXT:    [[C4:%.+]] = phys.d [[V]] wrt [@x, @t] : f64
// CHECK-NEXT:    phys.yield [[V]], [[C1]], [[VX]], [[C2]], [[V]], [[C3]], [[C4]] : f64, f64, f64, f64, f64, f64, f64
phys.model @chains {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.equation @e "interior" samples 16 weight 1.0 {
  ^bb0(%x: f64, %t: f64):
    %v = arith.mulf %x, %t : f64
    %vx = phys.d %v wrt [@x] : f64
    %vxt = phys.d %vx wrt [@t] : f64
    %vxt2 = phys.d %v wrt [@x, @t] : f64
    %r = arith.subf %vxt, %vxt2 : f64
    phys.yield %r : f64
  }
}

// -----

// A field that calls itself cannot be inlined.

phys.model @cycle {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op calls itself through field calls}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    %0 = phys.field_call @u(%x) : (f64) -> f64
    phys.yield %0 : f64
  }
}

// -----

// Two calls per body: inlining would double the kernel every round (this
// used to run until killed); the cycle is rejected up front.

phys.model @cycle2 {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op calls itself through field calls}}
  phys.field @u [@x] {
  ^bb0(%x: f64):
    %0 = phys.field_call @u(%x) : (f64) -> f64
    %1 = phys.field_call @u(%x) : (f64) -> f64
    %2 = arith.addf %0, %1 : f64
    phys.yield %2 : f64
  }
}

// -----

// A cycle through another field.

phys.model @mutual {
  phys.coord @x "space" [0.0, 1.0]
  // expected-error @+1 {{'phys.field' op calls itself through field calls}}
  phys.field @a [@x] {
  ^bb0(%x: f64):
    %0 = phys.field_call @b(%x) : (f64) -> f64
    phys.yield %0 : f64
  }
  phys.field @b [@x] {
  ^bb0(%x: f64):
    %0 = phys.field_call @a(%x) : (f64) -> f64
    phys.yield %0 : f64
  }
}
