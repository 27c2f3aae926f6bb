// RUN: physc-opt %s -split-input-file -phys-kernels-to-gpu=block-size=4 | FileCheck %s
// RUN: physc-opt %s -split-input-file -phys-kernels-to-gpu=precision=f64 | FileCheck %s --check-prefix=F64
// RUN: physc-opt %s -split-input-file -phys-kernels-to-gpu=stage-params=false | FileCheck %s --check-prefix=GLOBAL
// RUN: physc-opt %s -split-input-file -phys-to-cuda='chip=sm_80' | FileCheck %s --check-prefix=PTX
// RUN: not physc-opt %s -split-input-file -phys-kernels-to-gpu=block-size=48 2>&1 | FileCheck %s --check-prefix=BAD

// Stage-3 kernels as gpu.func kernels, one thread per point. Every model is
// one gpu.module; scalars stay scalars of the chosen precision; rows are
// private arrays (memref.alloca) in front of everything.

// BAD: error: block-size must be a power of two in [2, 1024], got 48

// An eval kernel: point i = blockIdx.x * blockDim.x + threadIdx.x, bounds
// checked by n; coordinate c read at pts[c * ld + i], yield k written at
// out[k * ld + i]; a runtime param read from rt.

// CHECK:       module attributes {gpu.container_module}
// CHECK-LABEL: gpu.module @m_kernels
// CHECK:         gpu.func @m_f_eval(%[[P:[a-z0-9]+]]: memref<?xf32>, %[[PTS:[a-z0-9]+]]: memref<?xf32>, %[[LD:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %[[RT:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>) kernel {
// CHECK-NEXT:      %[[TID:.+]] = gpu.thread_id x
// CHECK-NEXT:      %[[BID:.+]] = gpu.block_id x
// CHECK-NEXT:      %[[BDIM:.+]] = gpu.block_dim x
// CHECK-NEXT:      %[[B0:.+]] = arith.muli %[[BID]], %[[BDIM]] : index
// CHECK-NEXT:      %[[I:.+]] = arith.addi %[[B0]], %[[TID]] : index
// CHECK-NEXT:      %[[IN:.+]] = arith.cmpi ult, %[[I]], %[[N]] : index
// CHECK-NEXT:      scf.if %[[IN]] {
// CHECK:             %[[C0:.+]] = arith.muli %{{.+}}, %[[LD]] : index
// CHECK-NEXT:        %[[AT:.+]] = arith.addi %[[C0]], %[[I]] : index
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[PTS]][%[[AT]]] : memref<?xf32>
// CHECK-NEXT:        %[[S:.+]] = math.tanh %[[X]] : f32
// CHECK:             %[[NU:.+]] = memref.load %[[RT]][%{{.+}}] : memref<?xf32>
// CHECK-NEXT:        %[[V:.+]] = arith.mulf %[[S]], %[[NU]] : f32
// CHECK:             %[[O:.+]] = arith.addi %{{.+}}, %[[I]] : index
// CHECK-NEXT:        memref.store %[[V]], %[[OUT]][%[[O]]] : memref<?xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      gpu.return
// CHECK-NOT:     gpu.func

// F64-LABEL: gpu.func @m_f_eval(
// F64-SAME:      memref<?xf64>
// F64:           math.tanh %{{.+}} : f64

// The PTX of each gpu.module sits in a gpu.binary for the chip asked for;
// libdevice is linked, so no __nv_ function stays external.
// PTX:       module attributes {gpu.container_module}
// PTX-NEXT:    gpu.binary @m_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, {{.*}}assembly = "{{.*}}.target sm_80{{.*}}.visible .entry m_f_eval(
// PTX-NOT:     __nv_
// PTX-NOT:     .extern
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

// A loss kernel (1 -> 2 -> 1 net: 7 parameters, so the block's row of the
// partials holds 1 + 7 = 8 entries: the loss, then the gradient in parameter
// order). The block first zeroes its row. It then walks tiles of block-size
// (here 4) points, grid-stride; a thread past n repeats point n - 1 with its
// residual masked to zero. The loss goes to a private sum. Each layer's dW
// and db is a sum of outer products over the tile: the threads stage their
// rows in workgroup memory (row stride W + 1), and after a barrier thread t
// sums entries t, t + 4, ... over the tile's points and adds them into the
// block's row; a barrier ends each round. Before the first tile, the
// threads copy the 7 parameters into dynamic shared memory (thread t:
// entries t, t + 4, ...), and every weight read is a shared load after
// the barrier (global loads with stage-params=false). After the tiles, the block reduces
// the private loss by a tree (strides 2 then 1, a barrier after each level)
// and thread 0 stores it at the row's entry 0. @m_sum_partials adds the rows
// in block order into the caller's loss and gradient.

// CHECK-LABEL: gpu.module @m_kernels
// CHECK:         gpu.func @m_pde_loss_grad(%[[P:[a-z0-9]+]]: memref<?xf32>, %[[PTS:[a-z0-9]+]]: memref<?xf32>, %[[LD:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %{{[a-z0-9]+}}: memref<?xf32>, %[[PART:[a-z0-9]+]]: memref<?xf32>) workgroup(%[[SH:[a-z0-9]+]] : memref<32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 4, 1, 1>} {
// CHECK:           %[[TID:.+]] = gpu.thread_id x
// CHECK-NEXT:      %[[BID:.+]] = gpu.block_id x
// CHECK:           %[[ROW:.+]] = arith.muli %[[BID]], %c8{{.*}} : index
// CHECK:           scf.for %{{.+}} = %[[TID]] to %c8{{.*}} step %c4{{.*}} {
// CHECK:             memref.store %{{.+}}, %[[PART]][%{{.+}}] : memref<?xf32>
// CHECK:           }
// CHECK-NEXT:      %[[DYN:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK:           %[[W:.+]] = memref.view %[[DYN]][%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<7xf32, #gpu.address_space<workgroup>>
// CHECK:           scf.for %[[K:.+]] = %[[TID]] to %c7{{.*}} step %c4{{.*}} {
// CHECK-NEXT:        %[[PK:.+]] = memref.load %[[P]][%[[K]]] : memref<?xf32>
// CHECK-NEXT:        memref.store %[[PK]], %[[W]][%[[K]]] : memref<7xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT:      }
// CHECK-NEXT:      gpu.barrier
// CHECK-NEXT:      %[[ACC:.+]] = memref.alloca() : memref<1xf32>
// CHECK:           %[[TILES:.+]] = arith.divui %{{.+}}, %c4{{.*}} : index
// CHECK-NEXT:      %[[GRID:.+]] = gpu.grid_dim x
// CHECK-NEXT:      scf.for %[[TILE:.+]] = %[[BID]] to %[[TILES]] step %[[GRID]] {
// CHECK:             %[[I0:.+]] = arith.muli %[[TILE]], %c4{{.*}} : index
// CHECK-NEXT:        %[[I:.+]] = arith.addi %[[I0]], %[[TID]] : index
// CHECK-NEXT:        %[[VALID:.+]] = arith.cmpi ult, %[[I]], %[[N]] : index
// CHECK:             %[[LAST:.+]] = arith.subi %[[N]], %c1{{.*}} : index
// CHECK-NEXT:        %[[PT:.+]] = arith.select %[[VALID]], %[[I]], %[[LAST]] : index
// CHECK:             arith.addi %{{.+}}, %[[PT]] : index
// CHECK-NEXT:        memref.load %[[PTS]][%{{.+}}] : memref<?xf32>
// CHECK-NOT:         memref.load %[[P]]
// CHECK:             memref.load %[[W]][%{{.+}}] : memref<7xf32, #gpu.address_space<workgroup>>
// CHECK-NOT:         memref.load %[[P]]
// CHECK:             math.tanh %{{.+}} : f32
// CHECK:             %[[R:.+]] = arith.select %[[VALID]], %{{.+}}, %{{.+}} : f32
// CHECK-NEXT:        %[[SQ:.+]] = arith.mulf %[[R]], %[[R]] : f32
// CHECK:             %[[L:.+]] = memref.load %[[ACC]][%{{.+}}] : memref<1xf32>
// CHECK-NEXT:        %[[L2:.+]] = arith.addf %[[L]], %[[SQ]] : f32
// CHECK:             memref.store %[[L2]], %[[ACC]][%{{.+}}] : memref<1xf32>
// Four rounds (dW, then db, of each layer), each: stage, barrier, sum,
// barrier. The first is dW of layer 0: rows dz (2) and x (1) staged, 2
// entries.
// CHECK-COUNT-2:     memref.store %{{.+}}, %[[SH]][%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// CHECK-NOT:         memref.store %{{.+}}, %[[SH]]
// CHECK:             gpu.barrier
// CHECK:             scf.for %[[E:.+]] = %[[TID]] to %c2{{.*}} step %c4{{.*}} {
// CHECK:               %[[S:.+]] = scf.for %{{.+}} = %c0{{.*}} to %c4{{.*}} step %c1{{.*}} iter_args(%{{.+}} = %{{.+}}) -> (f32) {
// CHECK:                 memref.load %[[SH]][%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// CHECK:                 memref.load %[[SH]][%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// CHECK:                 arith.mulf %{{.+}}, %{{.+}} fastmath<contract> : f32
// CHECK:               %[[OLD:.+]] = memref.load %[[PART]][%[[AT:.+]]] : memref<?xf32>
// CHECK-NEXT:          %[[NEW:.+]] = arith.addf %[[OLD]], %[[S]] : f32
// CHECK-NEXT:          memref.store %[[NEW]], %[[PART]][%[[AT]]] : memref<?xf32>
// CHECK:             gpu.barrier
// CHECK-COUNT-6:     gpu.barrier
// CHECK-NOT:         gpu.barrier
// CHECK:           }
// CHECK:           %[[LS:.+]] = memref.load %[[ACC]][%{{.+}}] : memref<1xf32>
// CHECK:           memref.store %[[LS]], %[[SH]][%{{.+}}] : memref<32xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT:      gpu.barrier
// CHECK:           arith.cmpi ult, %[[TID]], %c2{{.*}} : index
// CHECK-NEXT:      scf.if
// CHECK:             arith.addf
// CHECK:           gpu.barrier
// CHECK:           arith.cmpi ult, %[[TID]], %c1{{.*}} : index
// CHECK-NEXT:      scf.if
// CHECK:             arith.addf
// CHECK:           gpu.barrier
// CHECK:           arith.cmpi eq, %[[TID]], %c0{{.*}} : index
// CHECK-NEXT:      scf.if
// CHECK:             %[[AT0:.+]] = arith.addi %[[ROW]], %c0{{.*}} : index
// CHECK-NEXT:        memref.store %{{.+}}, %[[PART]][%[[AT0]]] : memref<?xf32>
// CHECK:           gpu.barrier
// CHECK-NEXT:      gpu.return
// CHECK:         gpu.func @m_sum_partials(%[[PS:[a-z0-9]+]]: memref<?xf32>, %[[NB:[a-z0-9]+]]: index, %[[LOSS:[a-z0-9]+]]: memref<?xf32>, %[[GRAD:[a-z0-9]+]]: memref<?xf32>) kernel {
// CHECK:           %[[S:.+]] = scf.for %[[B:.+]] = %{{.+}} to %[[NB]] step %{{.+}} iter_args(%[[A:.+]] = %{{.+}}) -> (f32) {
// CHECK:             memref.load %[[PS]][%{{.+}}] : memref<?xf32>
// CHECK:           scf.if
// CHECK:             arith.addf %{{.+}}, %[[S]] : f32
// CHECK-NEXT:        memref.store %{{.+}}, %[[LOSS]][%{{.+}}] : memref<?xf32>
// CHECK:           } else {
// CHECK:             arith.addf %{{.+}}, %[[S]] : f32
// CHECK-NEXT:        memref.store %{{.+}}, %[[GRAD]][%{{.+}}] : memref<?xf32>

// GLOBAL-LABEL: gpu.func @m_pde_loss_grad(
// GLOBAL-SAME:    %[[P:[a-z0-9]+]]: memref<?xf32>,
// GLOBAL-NOT:     gpu.dynamic_shared_memory
// GLOBAL:         memref.load %[[P]][%{{.+}}] : memref<?xf32>
// GLOBAL:         math.tanh
// GLOBAL-LABEL: gpu.func @m_sum_partials(

// F64-LABEL: gpu.func @m_pde_loss_grad(
// F64-SAME:      workgroup(%{{.+}} : memref<1024xf64, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// F64:           memref.alloca() : memref<1xf64>
// F64-LABEL: gpu.func @m_sum_partials(
// F64-SAME:      memref<?xf64>

// PTX:       gpu.binary @m_kernels [{{.*}}.visible .entry m_pde_loss_grad({{.*}}bar.sync{{.*}}.visible .entry m_sum_partials(
// PTX-NOT:     __nv_
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

// A model with loss kernels also gets the rest of a device-side Adam step:
// MODEL_sample (a term's points from a counter-based hash of seed, stream,
// step counters[1], point and coordinate; the region from a plan array),
// MODEL_adam (the weighted sum of the terms' gradients, Adam on an f64
// master copy with bias correction at step counters[0] + 1, the bounds of
// trainable params, the kernels' f32 copy; a non-finite loss or gradient
// sets counters[2] instead), and MODEL_advance (the step counters).

// CHECK-LABEL: gpu.module @t_kernels
// CHECK:         gpu.func @t_pde_loss_grad(
// CHECK:         gpu.func @t_sample(%[[CNT:[a-z0-9]+]]: memref<?xi64>, %[[PLAN:[a-z0-9]+]]: memref<?xf64>, %{{[a-z0-9]+}}: index, %{{[a-z0-9]+}}: index, %[[PTS:[a-z0-9]+]]: memref<?xf32>, %[[N:[a-z0-9]+]]: index) kernel {
// CHECK:           scf.if
// CHECK:             memref.load %[[CNT]][%c1{{.*}}] : memref<?xi64>
// CHECK:             arith.shrui
// CHECK:             arith.muli %{{.+}}, %c-4658895280553007687_i64{{.*}} : i64
// CHECK:             scf.for {{.*}} iter_args
// CHECK:               memref.load %[[PLAN]]
// CHECK:             arith.uitofp %{{.+}} : i64 to f64
// CHECK:             arith.truncf %{{.+}} : f64 to f32
// CHECK:             memref.store %{{.+}}, %[[PTS]][%{{.+}}] : memref<?xf32>
// CHECK:         gpu.func @t_adam(%[[HYP:[a-z0-9]+]]: memref<?xf64>, %[[C2:[a-z0-9]+]]: memref<?xi64>, %[[TERMS:[a-z0-9]+]]: index, %[[SCALE:[a-z0-9]+]]: memref<?xf64>, %[[LOSSES:[a-z0-9]+]]: memref<?xf32>, %[[GRADS:[a-z0-9]+]]: memref<?xf32>, %[[MASTER:[a-z0-9]+]]: memref<?xf64>, %[[M:[a-z0-9]+]]: memref<?xf64>, %[[V:[a-z0-9]+]]: memref<?xf64>, %[[P:[a-z0-9]+]]: memref<?xf32>) kernel {
// CHECK:           %[[K:.+]] = arith.addi
// CHECK:           arith.cmpi ult, %[[K]], %c1{{.*}} : index
// CHECK:           scf.for %{{.+}} = %c0{{.*}} to %[[TERMS]] step
// CHECK:             memref.load %[[GRADS]]
// CHECK:             arith.extf %{{.+}} : f32 to f64
// CHECK:             memref.load %[[SCALE]]
// CHECK:             memref.load %[[LOSSES]]
// CHECK:           memref.load %[[C2]][%c2{{.*}}] : memref<?xi64>
// CHECK:           scf.if
// CHECK:             math.powf
// CHECK:             math.sqrt
// CHECK:             arith.cmpi eq, %[[K]], %c0{{.*}} : index
// CHECK:             arith.cmpf olt, %{{.+}}, %cst{{.*}} : f64
// CHECK:             memref.store %{{.+}}, %[[M]][%[[K]]] : memref<?xf64>
// CHECK:             memref.store %{{.+}}, %[[V]][%[[K]]] : memref<?xf64>
// CHECK:             memref.store %{{.+}}, %[[MASTER]][%[[K]]] : memref<?xf64>
// CHECK:             arith.truncf %{{.+}} : f64 to f32
// CHECK:             memref.store %{{.+}}, %[[P]][%[[K]]] : memref<?xf32>
// CHECK:           } else {
// CHECK:             memref.store %{{.+}}, %[[C2]][%c2{{.*}}] : memref<?xi64>
// CHECK:         gpu.func @t_advance(%[[C3:[a-z0-9]+]]: memref<?xi64>) kernel {
// CHECK:           memref.store %{{.+}}, %[[C3]][%c0{{.*}}] : memref<?xi64>
// CHECK:           memref.store %{{.+}}, %[[C3]][%c1{{.*}}] : memref<?xi64>
// CHECK-NEXT:    }
// CHECK-NEXT:    gpu.return
phys.model @t {
  phys.coord @x "space" [-1.0, 1.0]
  phys.param @k = 0.5 trainable {hi = 1.0 : f64, lo = 0.25 : f64}
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %kk = phys.param_ref @k : f64
    %r = arith.mulf %kk, %x : f64
    %m = phys.mask %r : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %g = arith.addf %m, %m : f64
    %gm = phys.mask %g : f64
    %gk = arith.mulf %gm, %x : f64
    phys.accum_param_grad @k %gk : f64
    phys.yield
  }
}

// -----

// Parameters are staged only up to 56 KB, so that a block (with its 40 KB
// of static rows) fits every chip physc targets: 10,401 parameters are
// staged in f32 (41.6 KB), not in f64 (83.2 KB).

// CHECK-LABEL: gpu.module @big_kernels
// CHECK:         gpu.func @big_pde_loss_grad(
// CHECK:           memref.view %{{.+}}[%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<10401xf32, #gpu.address_space<workgroup>>
// F64-LABEL: gpu.module @big_kernels
// F64:         gpu.func @big_pde_loss_grad(
// F64-NOT:       gpu.dynamic_shared_memory
// F64:         gpu.func @big_sum_partials(
phys.model @big {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [100, 100], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64):
    %m = phys.mask %x : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    phys.yield
  }
}

// -----

// A matvec computes four outputs at a time: one scf.for over blocks of
// four rows, the four sums (from the biases) carried through an inner loop
// over the inputs, four inputs per iteration (each x[i] loaded once for
// the four rows; a row's four weights adjacent, for one vector load).
// Scratch rows are 16-byte aligned for the same reason.

// CHECK-LABEL: gpu.func @mv_u_eval(
// CHECK:         memref.alloca() {alignment = 16 : i64} : memref<16xf32>
// CHECK:         scf.for %[[O:.+]] = %c0{{.*}} to %c16{{.*}} step %c4{{.*}} {
// CHECK-COUNT-4:   memref.load %{{.+}}[%{{.+}}] : memref<?xf32>
// CHECK:           %{{.+}}:4 = scf.for %{{.+}} = %c0{{.*}} to %c16{{.*}} step %c4{{.*}} iter_args(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (f32, f32, f32, f32) {
// CHECK-COUNT-16:    arith.addf %{{.+}}, %{{.+}} fastmath<contract> : f32
// CHECK:             scf.yield %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : f32, f32, f32, f32
// CHECK-COUNT-4:   memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<16xf32>
phys.model @mv {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [16, 16], act = "tanh", init = "glorot")
  phys.kernel @u.eval "eval" {
  ^bb0(%x: f64):
    %in = tensor.from_elements %x : tensor<1xf64>
    %z = phys.matvec @N[0] %in bias : tensor<1xf64> -> tensor<16xf64>
    %h = math.tanh %z : tensor<16xf64>
    %z1 = phys.matvec @N[1] %h bias : tensor<16xf64> -> tensor<16xf64>
    %h1 = math.tanh %z1 : tensor<16xf64>
    %o = phys.matvec @N[2] %h1 bias : tensor<16xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    phys.yield %u : f64
  }
}

// -----

// A layer whose fan-out is a multiple of four is reduced four rows of dW at
// a time: thread t owns the blocks (j0 .. j0 + 3, i) = (4 (e / in) ..,
// e % in) for e = t, t + B, ... < 4 * 2 / 4; its dy rows are staged with
// stride W + 4 = 8 (16-byte aligned, for one vector load of the four dy),
// its x rows with the odd stride in + 1 = 3. Per staged point: one x, four
// dy, four fmas; then four read-modify-writes of the block's row.

// CHECK-LABEL: gpu.func @g_pde_loss_grad(
// CHECK:         %[[SH:[a-z0-9]+]] : memref<44xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}
// CHECK:         gpu.barrier
// CHECK:         scf.for %[[E:.+]] = %{{.+}} to %c2{{.*}} step %c4{{.*}} {
// CHECK:           %[[S:.+]]:4 = scf.for %[[P:.+]] = %c0{{.*}} to %c4{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32) {
// CHECK:             arith.muli %[[P]], %c8{{.*}} : index
// CHECK:             arith.muli %[[P]], %c3{{.*}} : index
// CHECK:             %[[X:.+]] = memref.load %[[SH]][%{{.+}}]
// CHECK-COUNT-4:     arith.mulf %{{.+}}, %[[X]] fastmath<contract> : f32
// CHECK:             scf.yield
// CHECK-COUNT-4:   memref.store
phys.model @g {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<4xf64>
    %h = math.tanh %z : tensor<4xf64>
    %m = phys.mask %x : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %dz = arith.mulf %h, %h : tensor<4xf64>
    phys.accum_weight_grad @N[0] %dz, %in : tensor<4xf64>, tensor<2xf64>
    phys.yield
  }
}

// -----

// Each layer's dW is reduced where its last accumulation stands, not at the
// end of the tile: the output layer's (4 entries, partials column 1 + 12)
// before the reverse sweep goes on through dh = W^T dy and dz = dh * h,
// then the first layer's (four rows at a time: 2 blocks).

// CHECK-LABEL: gpu.func @e_pde_loss_grad(
// CHECK:         math.tanh
// CHECK:         gpu.barrier
// CHECK:         scf.for %{{.+}} = %thread_id_x to %c4{{.*}} step %c4{{.*}} {
// CHECK:           arith.addi %{{.+}}, %c13{{.*}} : index
// CHECK:         gpu.barrier
// CHECK:         {{^ *}}%{{[0-9]+}} = arith.mulf %{{[0-9]+}}, %{{[0-9]+}} : f32
// CHECK:         gpu.barrier
// CHECK:         scf.for %{{.+}} = %thread_id_x to %c2{{.*}} step %c4{{.*}} {
phys.model @e {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [4], act = "tanh", init = "glorot")
  phys.kernel @pde.loss_grad "loss_grad" {
  ^bb0(%x: f64, %t: f64):
    %in = tensor.from_elements %x, %t : tensor<2xf64>
    %z = phys.matvec @N[0] %in bias : tensor<2xf64> -> tensor<4xf64>
    %h = math.tanh %z : tensor<4xf64>
    %o = phys.matvec @N[1] %h bias : tensor<4xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    %m = phys.mask %u : f64
    %sq = arith.mulf %m, %m : f64
    phys.accum_loss %sq : f64
    %g = arith.addf %m, %m : f64
    %gm = phys.mask %g : f64
    %dy = tensor.from_elements %gm : tensor<1xf64>
    phys.accum_weight_grad @N[1] %dy, %h : tensor<1xf64>, tensor<4xf64>
    %dh = phys.matvec_t @N[1] %dy : tensor<1xf64> -> tensor<4xf64>
    %dz = arith.mulf %dh, %h : tensor<4xf64>
    phys.accum_weight_grad @N[0] %dz, %in : tensor<4xf64>, tensor<2xf64>
    phys.yield
  }
}
