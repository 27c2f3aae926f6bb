// RUN: physc-opt %s -split-input-file -phys-annotate-derivatives | FileCheck %s

// The derivative analysis, printed: every op of a kernel gets `jet`, the
// downward-closed set of multi-indices (one entry per model coordinate, in
// declaration order) of its Taylor jet that the kernel needs. Sets are
// ordered by degree, then higher powers of earlier coordinates first.

// d(u, x, x) in (x, t): u needs (2,0) and everything below it, but nothing
// in t. The derivative itself and the yield only need the value.

// Only kernels are annotated.
// CHECK:       phys.field @u
// CHECK-NOT:     jet =
// CHECK-LABEL: phys.kernel @uxx "eval"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 2, 0>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@x, @x] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.yield

// Burgers' residual: u_t, u_x and u_xx of the same u; the products and sums
// of derivatives only need values. Ops without results get no attribute.
// CHECK-LABEL: phys.kernel @burgers "loss_grad"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 0, 1>, array<i64: 2, 0>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@t] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@x] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@x, @x] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.param_ref @nu {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.mulf {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.addf {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.mulf {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.subf {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.mask {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.mulf {{.*}} {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.accum_loss
// CHECK-NOT:     jet =
// CHECK:       }
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.01
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.field @u [@x, @t] {
  ^bb0(%x: f64, %t: f64):
    %0 = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    phys.yield %0 : f64
  }
  phys.kernel @uxx "eval" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %uxx = phys.d %u wrt [@x, @x] : f64
    phys.yield %uxx : f64
  }
  phys.kernel @burgers "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %ut = phys.d %u wrt [@t] : f64
    %ux = phys.d %u wrt [@x] : f64
    %uxx = phys.d %u wrt [@x, @x] : f64
    %nu = phys.param_ref @nu : f64
    %a = arith.mulf %u, %ux : f64
    %b = arith.addf %ut, %a : f64
    %c = arith.mulf %nu, %uxx : f64
    %r = arith.subf %b, %c : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
}

// -----

// Nested d(d(u, x), t): the inner derivative needs (0,1) so that the outer
// one can read it, hence u needs (1,1) and all below it.

// CHECK-LABEL: phys.kernel @nested "eval"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 0, 1>, array<i64: 1, 1>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@x] {jet = [array<i64: 0, 0>, array<i64: 0, 1>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@t] {jet = [array<i64: 0, 0>]}

// Mixed: d(u, x) and d(u, t, t) of one u give the union of both closures;
// the product passes its result's set to both factors.

// CHECK-LABEL: phys.kernel @mixed "eval"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 0, 1>, array<i64: 0, 2>]}
// CHECK-NEXT:    arith.mulf {{.*}} {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 0, 1>, array<i64: 0, 2>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@x] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@t, @t] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    arith.addf

// The order of wrt does not matter: [@t, @x] is the same multi-index as
// [@x, @t].
// CHECK-LABEL: phys.kernel @order "eval"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 1, 0>, array<i64: 0, 1>, array<i64: 1, 1>]}
// CHECK-NEXT:    phys.d {{%.+}} wrt [@t, @x] {jet = [array<i64: 0, 0>]}
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @nested "eval" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %ux = phys.d %u wrt [@x] : f64
    %uxt = phys.d %ux wrt [@t] : f64
    phys.yield %uxt : f64
  }
  phys.kernel @mixed "eval" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %v = arith.mulf %u, %u : f64
    %vx = phys.d %v wrt [@x] : f64
    %vtt = phys.d %v wrt [@t, @t] : f64
    %s = arith.addf %vx, %vtt : f64
    phys.yield %s : f64
  }
  phys.kernel @order "eval" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %utx = phys.d %u wrt [@t, @x] : f64
    phys.yield %utx : f64
  }
}

// -----

// Three coordinates: among indices of one degree, earlier coordinates come
// first ((1,0,0) before (0,1,0) before (0,0,1)).

// CHECK-LABEL: phys.kernel @lap "eval"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0, 0>, array<i64: 1, 0, 0>, array<i64: 0, 1, 0>, array<i64: 0, 0, 1>, array<i64: 2, 0, 0>, array<i64: 0, 2, 0>]}
phys.model @m3 {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @y "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 3, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @lap "eval" {
  ^bb0(%x: f64, %y: f64, %t: f64):
    %u = phys.net_call @N(%x, %y, %t) : (f64, f64, f64) -> f64
    %ut = phys.d %u wrt [@t] : f64
    %uxx = phys.d %u wrt [@x, @x] : f64
    %uyy = phys.d %u wrt [@y, @y] : f64
    %a = arith.addf %uxx, %uyy : f64
    %r = arith.subf %ut, %a : f64
    phys.yield %r : f64
  }
}

// -----

// Non-smooth predicates only need values: the comparison and its operands
// get {0}, while the selected values carry the full set. Values the kernel
// never reads get the empty set.

// CHECK-LABEL: phys.kernel @sel "loss_grad"
// CHECK:         phys.net_call @N({{.*}}) {jet = [array<i64: 0, 0>, array<i64: 0, 1>, array<i64: 0, 2>]}
// CHECK-NEXT:    arith.constant {jet = [array<i64: 0, 0>]} 0.000000e+00 : f64
// CHECK-NEXT:    arith.cmpf olt, {{.*}} {jet = [array<i64: 0, 0>]} : f64
// CHECK-NEXT:    arith.select {{.*}} {jet = [array<i64: 0, 0>, array<i64: 0, 1>, array<i64: 0, 2>]} : f64
// CHECK-NEXT:    phys.d {{%.+}} wrt [@t, @t] {jet = [array<i64: 0, 0>]}
// CHECK-NEXT:    math.sin {{.*}} {jet = []}
// CHECK-NEXT:    phys.accum_loss
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @sel "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %u = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    %zero = arith.constant 0.0 : f64
    %c = arith.cmpf olt, %x, %zero : f64
    %s = arith.select %c, %u, %x : f64
    %d = phys.d %s wrt [@t, @t] : f64
    %dead = math.sin %u : f64
    phys.accum_loss %d : f64
    phys.yield
  }
}
