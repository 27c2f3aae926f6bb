// RUN: physc-opt %s -split-input-file -phys-kernels-to-gpu=lanes-per-point=16 -canonicalize -cse | FileCheck %s
// RUN: physc-opt %s -split-input-file -phys-kernels-to-gpu="lanes-per-point=16 stage-params=false" -canonicalize -cse | FileCheck %s --check-prefix=GLOBAL
// RUN: physc-opt %s -split-input-file -phys-to-cuda="chip=sm_90 lanes-per-point=32" | FileCheck %s --check-prefix=PTX
// RUN: not physc-opt %s -split-input-file -phys-kernels-to-gpu=lanes-per-point=3 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not physc-opt %s -split-input-file -phys-kernels-to-gpu="lanes-per-point=8 block-size=4" 2>&1 | FileCheck %s --check-prefix=BAD8
// RUN: not physc-opt %s -split-input-file -phys-kernels-to-gpu="lanes-per-point=2 precision=f64" 2>&1 | FileCheck %s --check-prefix=WIDE

// Lane-split loss kernels (lanes-per-point = L > 1): the L lanes of a group
// share one point, lane q holding elements q, q + L, ... of every row in
// registers. Eval kernels keep a point per thread.

// BAD:  error: lanes-per-point must be a power of two in [1, 32], at most block-size, got 3
// BAD8: error: lanes-per-point must be a power of two in [1, 32], at most block-size, got 8

// CHECK-LABEL: gpu.module @w_kernels
// CHECK:         gpu.func @w_u_eval(
// CHECK-NOT:       nvvm.bar.warp.sync
// CHECK:           gpu.block_dim x
// CHECK:           gpu.return

// Workgroup memory: the block tree (8 x 128), then two slices of 33 (the
// widest row, made odd) for each of the 8 groups.
// CHECK:         gpu.func @w_pde_loss_grad(%[[P:[a-z0-9]+]]: memref<?xf32>, %[[PTS:[a-z0-9]+]]: memref<?xf32>, %[[LD:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %{{.+}}: memref<?xf32>, %{{.+}}: memref<?xf32>) workgroup(%[[WG:[a-z0-9]+]] : memref<1552xf32, #gpu.address_space<workgroup>>
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK:           %[[LANE:.+]] = arith.remui %[[TID]], %c16 : index
// CHECK-NEXT:      %[[GROUP:.+]] = arith.divui %[[TID]], %c16 : index

// The staged copy: layer 0's weights (2 inputs) as they are, layer 1's
// (32 inputs) swizzled, (r, c) => r * 32 + (c ^ (r & 31)), the rest as it
// is.
// CHECK:           %[[SM:.+]] = memref.view
// CHECK:           scf.for %{{.+}} = %[[TID]] to %c96 step %c128 {
// CHECK:           scf.for %[[E:.+]] = %[[TID]] to %c1024 step %c128 {
// CHECK:             %[[COL:.+]] = arith.remui %[[E]], %c32 : index
// CHECK-NEXT:        %[[ROW:.+]] = arith.divui %[[E]], %c32 : index
// CHECK-NEXT:        %[[R31:.+]] = arith.andi %[[ROW]], %c31 : index
// CHECK-NEXT:        %[[SW:.+]] = arith.xori %[[COL]], %[[R31]] : index
// CHECK:             memref.store %{{.+}}, %[[SM]][%{{.+}}]
// CHECK:           gpu.barrier

// Tiles of 128 / 16 = 8 points; the group's point is tile * 8 + group.
// CHECK:           %[[TILES:.+]] = arith.divui %{{.+}}, %c8 : index
// CHECK:           scf.for %[[TILE:.+]] = %{{.+}} to %[[TILES]] step %{{.+}} {
// CHECK-NEXT:        %[[T8:.+]] = arith.muli %[[TILE]], %c8 : index
// CHECK-NEXT:        %[[PT:.+]] = arith.addi %[[T8]], %[[GROUP]] : index

// The input row (x, t): lane 1 holds t, the others x.
// CHECK:             %[[IS1:.+]] = arith.cmpi eq, %[[LANE]], %c1 : index
// CHECK-NEXT:        %[[IN:.+]] = arith.select %[[IS1]], %{{.+}}, %{{.+}} : f32

// Layer 0: the row into the group's first slice (lanes 0 and 1), a warp
// sync, then two outputs per lane (q and q + 16), each x[i] one load.
// CHECK-NEXT:        %[[G66:.+]] = arith.muli %[[GROUP]], %c66 : index
// CHECK-NEXT:        %[[SL0:.+]] = arith.addi %[[G66]], %c1024 : index
// CHECK-NEXT:        %[[LT2:.+]] = arith.cmpi ult, %[[LANE]], %c2 : index
// CHECK-NEXT:        scf.if %[[LT2]] {
// CHECK-NEXT:          %[[AT:.+]] = arith.addi %[[SL0]], %[[LANE]] : index
// CHECK-NEXT:          memref.store %[[IN]], %[[WG]][%[[AT]]]
// CHECK-NEXT:        }
// CHECK-NEXT:        nvvm.bar.warp.sync %{{.+}} : i32
// CHECK:             %[[X0:.+]] = memref.load %[[WG]][%[[SL0]]]
// CHECK:             math.tanh
// CHECK-NEXT:        %[[H1:.+]] = math.tanh

// Layer 1 (32 x 32): its input in the second slice; the two outputs'
// weights read swizzled, the loop carries both sums.
// CHECK:             %[[SL1:.+]] = arith.addi %[[G66]], %c1057 : index
// CHECK:             memref.store %[[H1]], %[[WG]]
// CHECK-NEXT:        nvvm.bar.warp.sync
// CHECK:             %{{.+}}:2 = scf.for %[[I:.+]] = %c0 to %c32 step %c4 iter_args(
// CHECK-NEXT:          %[[XI:.+]] = arith.addi %[[SL1]], %[[I]] : index
// CHECK-NEXT:          %[[X:.+]] = memref.load %[[WG]][%[[XI]]]
// CHECK-NEXT:          %[[L31:.+]] = arith.andi %[[LANE]], %c31 : index
// CHECK-NEXT:          %[[C:.+]] = arith.xori %[[I]], %[[L31]] : index
// CHECK:               memref.load %[[SM]]

// What every lane of a group computes alike, the loss and the scalar
// param's gradient, is added on its first lane only.
// CHECK:             %[[FIRST:.+]] = arith.cmpi eq, %[[LANE]], %c0 : index
// CHECK-NEXT:        %[[LOSS:.+]] = arith.select %[[FIRST]], %{{.+}}, %cst : f32
// CHECK:             arith.addf %{{.+}}, %[[LOSS]] : f32

// No row is a private array: only the private sums (loss, k) are.
// CHECK-NOT:         memref.alloca() : memref<32xf32>
// CHECK:           gpu.return

// The runtime sizes its grids by the points a block covers.
// CHECK:         llvm.mlir.global external constant @w_loss_points_per_block(8 : i32)

// GLOBAL-LABEL: gpu.func @w_pde_loss_grad(
// GLOBAL-NOT:     gpu.dynamic_shared_memory
// GLOBAL-NOT:     arith.xori
// GLOBAL:         nvvm.bar.warp.sync
// GLOBAL:         gpu.return

// In the PTX, a warp sync (bar.warp.sync), no private rows (no local
// memory), and the points per block as a global the driver can read.
// PTX:     .visible .global .align 4 .u32 w_loss_points_per_block = 4;
// PTX:     .entry w_pde_loss_grad(
// PTX-NOT: .local
// PTX:     bar.warp.sync {{(\\09)?}}-1;
// PTX-NOT: .local
// PTX:     .entry w_sum_partials(
phys.model @w {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @k = 0.5 trainable {hi = 1.0 : f64, lo = 0.25 : f64}
  phys.net @N "mlp"(in = 2, out = 1, hidden = [32, 32], act = "tanh", init = "glorot")
  phys.kernel @u.eval "eval" {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<32xf64>
    %h = math.tanh %z : tensor<32xf64>
    %z1 = phys.matvec @N[1] %h bias : tensor<32xf64> -> tensor<32xf64>
    %h1 = math.tanh %z1 : tensor<32xf64>
    %o = phys.matvec @N[2] %h1 bias : tensor<32xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    phys.yield %u : f64
  }
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<32xf64>
    %h = math.tanh %z : tensor<32xf64>
    %z1 = phys.matvec @N[1] %h bias : tensor<32xf64> -> tensor<32xf64>
    %h1 = math.tanh %z1 : tensor<32xf64>
    %o = phys.matvec @N[2] %h1 bias : tensor<32xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %kk = phys.param_ref @k : f64
    %r = arith.mulf %kk, %u : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %g = arith.addf %m, %m : f64
    %gm = phys.mask %g : f64
    %gk = arith.mulf %gm, %u : f64
    phys.accum_param_grad @k %gk : f64
    %gu = arith.mulf %gm, %kk : f64
    %dy = tensor.from_elements %gu : tensor<1xf64>
    phys.accum_weight_grad @N[2] %dy, %h1 : tensor<1xf64>, tensor<32xf64>
    phys.accum_bias_grad @N[2] %dy : tensor<1xf64>
    %dh1 = phys.matvec_t @N[2] %dy : tensor<1xf64> -> tensor<32xf64>
    %one = arith.constant dense<1.0> : tensor<32xf64>
    %hh1 = arith.mulf %h1, %h1 : tensor<32xf64>
    %dt1 = arith.subf %one, %hh1 : tensor<32xf64>
    %dz1 = arith.mulf %dh1, %dt1 : tensor<32xf64>
    phys.accum_weight_grad @N[1] %dz1, %h : tensor<32xf64>, tensor<32xf64>
    phys.accum_bias_grad @N[1] %dz1 : tensor<32xf64>
    %dh = phys.matvec_t @N[1] %dz1 : tensor<32xf64> -> tensor<32xf64>
    %hh = arith.mulf %h, %h : tensor<32xf64>
    %dt = arith.subf %one, %hh : tensor<32xf64>
    %dz = arith.mulf %dh, %dt : tensor<32xf64>
    phys.accum_weight_grad @N[0] %dz, %in : tensor<32xf64>, tensor<2xf64>
    phys.accum_bias_grad @N[0] %dz : tensor<32xf64>
    phys.yield
  }
}

// -----

// 2 lanes a point in f64: 64 groups of slices leave too little workgroup
// memory to stage one point's rows of a 64-wide layer.
// WIDE: error: 'phys.kernel' op layer 1 of net 'N' is too wide for the GPU kernel's workgroup memory with 2 lanes per point (more lanes per point leave it more room)
phys.model @wide {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [64, 64], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<64xf64>
    %h = math.tanh %z : tensor<64xf64>
    %z1 = phys.matvec @N[1] %h bias : tensor<64xf64> -> tensor<64xf64>
    %h1 = math.tanh %z1 : tensor<64xf64>
    %m = phys.mask %x : f64
    phys.accum_loss %m : f64
    phys.accum_weight_grad @N[1] %h1, %h : tensor<64xf64>, tensor<64xf64>
    phys.yield
  }
}

// -----

// Matvecs of one layer share a loop: the jets push every component of a
// row through the same W, and each weight load then serves all of them.
// Layer 1's d/dx input (hx) is computed before its first matvec (the
// schedule moves it up), and the two inputs go into the slice
// interleaved, element j of h at 2j and of hx at 2j + 1. Workgroup memory:
// the tree, then two slices of 2 (32 + 1) for each of the 8 groups.
// CHECK-LABEL: gpu.module @f_kernels
// CHECK:         gpu.func @f_pde_loss_grad({{.*}} workgroup(%[[WG:[a-z0-9]+]] : memref<2080xf32,
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK:           %[[LANE:.+]] = arith.remui %[[TID]], %c16 : index
// CHECK-NEXT:      %[[GROUP:.+]] = arith.divui %[[TID]], %c16 : index

// Layer 0, value and d/dx (a constant input, kept in a register): one
// weight load, two fmas.
// CHECK:             %[[G132:.+]] = arith.muli %[[GROUP]], %c132 : index
// CHECK:             %[[W0:.+]] = memref.load %view[%[[LANE]]]
// CHECK-NEXT:        arith.mulf %[[W0]], %{{.+}} fastmath<contract> : f32
// CHECK-NEXT:        arith.addf
// CHECK-NEXT:        arith.addf %[[W0]], %cst fastmath<contract> : f32
// CHECK:             %[[H:.+]] = math.tanh
// CHECK-NEXT:        %[[HH:.+]] = arith.mulf %[[H]], %[[H]] : f32
// CHECK-NEXT:        %[[DT:.+]] = arith.subf %cst_0, %[[HH]] : f32
// CHECK-NEXT:        %[[HX:.+]] = arith.mulf %[[DT]], %{{.+}} : f32

// Layer 1: h and hx into the slice, one loop, two sums.
// CHECK:             %[[SL:.+]] = arith.addi %[[G132]], %c1090 : index
// CHECK-NEXT:        %[[J2:.+]] = arith.muli %[[LANE]], %c2 : index
// CHECK-NEXT:        %[[AT:.+]] = arith.addi %[[SL]], %[[J2]] : index
// CHECK-NEXT:        memref.store %[[H]], %[[WG]][%[[AT]]]
// CHECK-NEXT:        %[[AT1:.+]] = arith.addi %[[AT]], %c1 : index
// CHECK-NEXT:        memref.store %[[HX]], %[[WG]][%[[AT1]]]
// CHECK:             nvvm.bar.warp.sync
// CHECK:             scf.for %[[I:.+]] = %c0 to %c32 step %c4 iter_args(%[[S0:.+]] = %{{.+}}, %[[S1:.+]] = %cst) -> (f32, f32) {
// CHECK-NEXT:          %[[I2:.+]] = arith.muli %[[I]], %c2 : index
// CHECK-NEXT:          %[[XI:.+]] = arith.addi %[[SL]], %[[I2]] : index
// CHECK-NEXT:          %[[X0:.+]] = memref.load %[[WG]][%[[XI]]]
// CHECK-NEXT:          %[[XI1:.+]] = arith.addi %[[XI]], %c1 : index
// CHECK-NEXT:          %[[X1:.+]] = memref.load %[[WG]][%[[XI1]]]
// CHECK-NEXT:          %[[WI:.+]] = arith.addi %[[I]], %c64 : index
// CHECK-NEXT:          %[[W1:.+]] = memref.load %view[%[[WI]]]
// CHECK-NEXT:          %[[P0:.+]] = arith.mulf %[[W1]], %[[X0]] fastmath<contract> : f32
// CHECK-NEXT:          arith.addf %[[P0]], %[[S0]] fastmath<contract> : f32
// CHECK-NEXT:          %[[P1:.+]] = arith.mulf %[[W1]], %[[X1]] fastmath<contract> : f32
// CHECK-NEXT:          arith.addf %[[P1]], %[[S1]] fastmath<contract> : f32

// The reverse sweep: both adjoints through W^T in one pass, each weight
// load serving both.
// CHECK:               %[[DA:.+]] = arith.addi %{{.+}}, %[[J2]] : index
// CHECK-NEXT:          memref.store %{{.+}}, %[[WG]][%[[DA]]]
// CHECK-NEXT:          %[[DA1:.+]] = arith.addi %[[DA]], %c1 : index
// CHECK-NEXT:          memref.store %{{.+}}, %[[WG]][%[[DA1]]]
// CHECK-NEXT:        }
// CHECK-NEXT:        nvvm.bar.warp.sync
// CHECK-NEXT:        %[[D0:.+]] = memref.load %[[WG]]
// CHECK:             %[[D1:.+]] = memref.load %[[WG]]
// CHECK:             %[[WT:.+]] = memref.load %view
// CHECK-NEXT:        arith.mulf %[[WT]], %[[D0]]
// CHECK-NEXT:        arith.addf
// CHECK-NEXT:        arith.mulf %[[WT]], %[[D1]]
// CHECK:           gpu.return
phys.model @f {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [32], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<32xf64>
    %h = math.tanh %z : tensor<32xf64>
    %o = phys.matvec @N[1] %h bias : tensor<32xf64> -> tensor<1xf64>
    %e = arith.constant dense<1.0> : tensor<1xf64>
    %zx = phys.matvec @N[0] %e : tensor<1xf64> -> tensor<32xf64>
    %one = arith.constant dense<1.0> : tensor<32xf64>
    %hh = arith.mulf %h, %h : tensor<32xf64>
    %dt = arith.subf %one, %hh : tensor<32xf64>
    %hx = arith.mulf %dt, %zx : tensor<32xf64>
    %ox = phys.matvec @N[1] %hx : tensor<32xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %ux = tensor.extract %ox[%c0] : tensor<1xf64>
    %r = arith.subf %ux, %u : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %g = arith.addf %m, %m : f64
    %gm = phys.mask %g : f64
    %gn = arith.negf %gm : f64
    %dy = tensor.from_elements %gn : tensor<1xf64>
    %dyx = tensor.from_elements %gm : tensor<1xf64>
    phys.accum_weight_grad @N[1] %dy, %h : tensor<1xf64>, tensor<32xf64>
    phys.accum_weight_grad @N[1] %dyx, %hx : tensor<1xf64>, tensor<32xf64>
    phys.accum_bias_grad @N[1] %dy : tensor<1xf64>
    %dh = phys.matvec_t @N[1] %dy : tensor<1xf64> -> tensor<32xf64>
    %dhx = phys.matvec_t @N[1] %dyx : tensor<1xf64> -> tensor<32xf64>
    %dz = arith.mulf %dh, %dt : tensor<32xf64>
    %dzx = arith.mulf %dhx, %dt : tensor<32xf64>
    phys.accum_weight_grad @N[0] %dz, %in : tensor<32xf64>, tensor<1xf64>
    phys.accum_bias_grad @N[0] %dz : tensor<32xf64>
    phys.accum_weight_grad @N[0] %dzx, %e : tensor<32xf64>, tensor<1xf64>
    phys.yield
  }
}
