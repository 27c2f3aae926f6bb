// RUN: physc-opt %s -split-input-file -phys-fuse-kernels -phys-to-cpu | FileCheck %s --implicit-check-not='{{[^.a-z_](arith|math|memref|vector|scf|cf|func|phys|tensor|index|builtin)\.[a-z_]+}}'
// RUN: physc-opt %s -split-input-file -phys-fuse-kernels=precision=f64 -phys-to-cpu | FileCheck %s --check-prefix=F64
// RUN: sed -n '/^phys.model @full/,$p' %s | physc-opt -phys-outline-kernels -phys-expand-derivatives -phys-build-adjoint -phys-fuse-kernels -phys-to-cpu | FileCheck %s --check-prefix=FULL --implicit-check-not='{{[^.a-z_](arith|math|memref|vector|scf|cf|func|phys|tensor|index|builtin)\.[a-z_]+}}'

// Fused kernels down to the LLVM dialect: nothing but llvm.* ops remains
// (the implicit check rejects any other dialect's op, including unrealized
// casts), every kernel keeps its memref-ABI function and gains a
// _mlir_ciface_ wrapper taking memref descriptors by pointer, which is what
// the runtime calls. f32 tanh is approximated in vector registers; f64 tanh
// is a libm call per lane.

// CHECK-LABEL: llvm.func @m_f_eval(
// CHECK-SAME:      attributes {llvm.emit_c_interface}
// CHECK-NOT:     llvm.call @tanhf
// CHECK:         llvm.load {{%.+}} {alignment = 4 : i64} : !llvm.ptr -> vector<16xf32>
// CHECK:         llvm.intr.fma({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK:         llvm.fdiv {{%.+}}, {{%.+}} : vector<16xf32>
// CHECK:         llvm.store {{%.+}}, {{%.+}} {alignment = 4 : i64} : vector<16xf32>, !llvm.ptr
// CHECK:         llvm.return
// CHECK:       llvm.func @_mlir_ciface_m_f_eval([[P:%[a-z0-9]+]]: !llvm.ptr, [[X:%[a-z0-9]+]]: !llvm.ptr, [[LD:%[a-z0-9]+]]: i64, [[N:%[a-z0-9]+]]: i64, [[RT:%[a-z0-9]+]]: !llvm.ptr, [[OUT:%[a-z0-9]+]]: !llvm.ptr) attributes {llvm.emit_c_interface} {
// CHECK:         llvm.load [[P]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK:         llvm.call @m_f_eval({{.*}}, [[LD]], [[N]], {{.*}}) : (
// CHECK-NEXT:    llvm.return
// CHECK-NOT:   llvm.func @tanhf

// F64-LABEL: llvm.func @tanh(f64) -> f64
// F64-LABEL: llvm.func @m_f_eval(
// F64-COUNT-16: llvm.call @tanh({{%.+}}) : (f64) -> f64
// F64-NOT:      llvm.call @tanh
// F64:          llvm.func @_mlir_ciface_m_f_eval(
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.param @nu = 0.5
  phys.kernel @f.eval "eval" {
  ^bb0(%x: f64):
    %s = math.tanh %x : f64
    %nu = phys.param_ref @nu : f64
    %v = arith.mulf %s, %nu : f64
    phys.yield %v : f64
  }
}

// -----

// A loss kernel: the gradient buffer is heap-allocated and freed (malloc and
// free are declared), per-lane sums are reduced with a reassociating
// vector.reduce.fadd, and the C wrapper takes one more descriptor (grad).

// CHECK-DAG:   llvm.func @free(!llvm.ptr)
// CHECK-DAG:   llvm.func @malloc(i64) -> !llvm.ptr
// CHECK-LABEL: llvm.func @m_pde_loss_grad(
// CHECK:         llvm.call @malloc
// CHECK:         "llvm.intr.vector.reduce.fadd"({{%.+}}, {{%.+}}) <{fastmathFlags = #llvm.fastmath<reassoc>}> : (f32, vector<16xf32>) -> f32
// CHECK:         llvm.call @free
// CHECK:         llvm.return
// CHECK:       llvm.func @_mlir_ciface_m_pde_loss_grad({{%[a-z0-9]+}}: !llvm.ptr, {{%[a-z0-9]+}}: !llvm.ptr, {{%[a-z0-9]+}}: i64, {{%[a-z0-9]+}}: i64, {{%[a-z0-9]+}}: !llvm.ptr, {{%[a-z0-9]+}}: !llvm.ptr, [[GRAD:%[a-z0-9]+]]: !llvm.ptr) attributes {llvm.emit_c_interface} {
// CHECK:         llvm.load [[GRAD]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK:         llvm.call @m_pde_loss_grad(
// CHECK-NEXT:    llvm.return

// F64-LABEL: llvm.func @m_pde_loss_grad(
// F64:         "llvm.intr.vector.reduce.fadd"({{%.+}}, {{%.+}}) <{fastmathFlags = #llvm.fastmath<reassoc>}> : (f64, vector<16xf64>) -> f64
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<2xf64>
    %h = math.tanh %z : tensor<2xf64>
    %o = phys.matvec @N[1] %h bias : tensor<2xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %m = phys.mask %u : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %g = arith.addf %m, %m : f64
    %gm = phys.mask %g : f64
    %dy = tensor.from_elements %gm : tensor<1xf64>
    phys.accum_weight_grad @N[1] %dy, %h : tensor<1xf64>, tensor<2xf64>
    phys.accum_bias_grad @N[1] %dy : tensor<1xf64>
    %dh = phys.matvec_t @N[1] %dy : tensor<1xf64> -> tensor<2xf64>
    %hh = arith.mulf %h, %h : tensor<2xf64>
    %one = arith.constant dense<1.0> : tensor<2xf64>
    %dt = arith.subf %one, %hh : tensor<2xf64>
    %dz = arith.mulf %dh, %dt : tensor<2xf64>
    phys.accum_weight_grad @N[0] %dz, %in : tensor<2xf64>, tensor<1xf64>
    phys.accum_bias_grad @N[0] %dz : tensor<2xf64>
    phys.yield
  }
}

// -----

// Every kernel of a model becomes its own function and wrapper, named
// MODEL_KERNEL with dots replaced.
// CHECK-LABEL: llvm.func @burgers_u_eval(
// CHECK-LABEL: llvm.func @_mlir_ciface_burgers_u_eval(
// CHECK-LABEL: llvm.func @burgers_pde_loss_grad(
// CHECK-LABEL: llvm.func @_mlir_ciface_burgers_pde_loss_grad(
// CHECK-LABEL: llvm.func @burgers_pde_jets(
// CHECK-LABEL: llvm.func @_mlir_ciface_burgers_pde_jets(
phys.model @burgers {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.0031830988618379067
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @u.eval "eval" attributes {source = @u} {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<4xf64>
    %h = math.tanh %z : tensor<4xf64>
    %o = phys.matvec @N[1] %h bias : tensor<4xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    phys.yield %u : f64
  }
  phys.kernel @pde.loss_grad "loss_grad" attributes {source = @pde} {
  ^bb0(%x: f64, %t: f64):
    %m = phys.mask %x : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
  phys.kernel @pde.jets "jets" attributes {checks = [[0, 1, 0]], source = @pde} {
  ^bb0(%x: f64, %t: f64):
    %one = arith.constant 1.0 : f64
    phys.yield %x, %one : f64, f64
  }
}

// -----

// The whole pipeline from a model with derivatives, as physc runs it (the
// last RUN line feeds only this model through every stage; the others see a
// model without kernels, which phys-fuse-kernels erases).

// FULL-LABEL: llvm.func @full_u_eval(
// FULL-LABEL: llvm.func @_mlir_ciface_full_u_eval(
// FULL-LABEL: llvm.func @full_pde_loss_grad(
// FULL:         llvm.call @malloc
// FULL:         llvm.call @free
// FULL-LABEL: llvm.func @_mlir_ciface_full_pde_loss_grad(
// FULL-LABEL: llvm.func @full_pde_jets(
// FULL-LABEL: llvm.func @_mlir_ciface_full_pde_jets(
// FULL-NOT:   llvm.func
phys.model @full {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @nu = 0.0031830988618379067
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
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
