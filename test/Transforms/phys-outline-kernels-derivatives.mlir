// RUN: physc-opt %s -phys-outline-kernels=derivatives=true | FileCheck %s
// RUN: physc-opt %s -phys-outline-kernels | FileCheck %s --check-prefix=OFF

// With derivatives=true (what `physc build` asks for), every field also gets
// FIELD.derivs: the value, the first derivatives in coordinate order, then
// the upper triangle of the Hessian row by row.
// CHECK:       phys.kernel @u.eval "eval"
// CHECK:       phys.kernel @u.derivs "eval" attributes {source = @u} {
// CHECK-NEXT:  ^bb0([[X:%.+]]: f64, [[T:%.+]]: f64):
// CHECK-NEXT:    [[U:%.+]] = phys.net_call @N([[X]], [[T]]) : (f64, f64) -> f64
// CHECK-NEXT:    [[UX:%.+]] = phys.d [[U]] wrt [@x] : f64
// CHECK-NEXT:    [[UT:%.+]] = phys.d [[U]] wrt [@t] : f64
// CHECK-NEXT:    [[UXX:%.+]] = phys.d [[U]] wrt [@x, @x] : f64
// CHECK-NEXT:    [[UXT:%.+]] = phys.d [[U]] wrt [@x, @t] : f64
// CHECK-NEXT:    [[UTT:%.+]] = phys.d [[U]] wrt [@t, @t] : f64
// CHECK-NEXT:    phys.yield [[U]], [[UX]], [[UT]], [[UXX]], [[UXT]], [[UTT]] : f64, f64, f64, f64, f64, f64
// CHECK-NEXT:  }
// OFF-NOT:     derivs
phys.model @heat {
  phys.coord @x "space" [0.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [8], act = "tanh", init = "glorot")
  phys.field @u [@x, @t] {
  ^bb0(%x: f64, %t: f64):
    %0 = phys.net_call @N(%x, %t) : (f64, f64) -> f64
    phys.yield %0 : f64
  }
  phys.train "uniform" [{lr = 1.0e-03 : f64, optimizer = "adam", steps = 100 : i64}]
}
