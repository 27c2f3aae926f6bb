// RUN: physc-opt %s -split-input-file -phys-fuse-kernels -verify-diagnostics | FileCheck %s
// RUN: physc-opt %s -split-input-file -phys-fuse-kernels=precision=f64 -verify-diagnostics | FileCheck %s --check-prefix=F64
// RUN: physc-opt %s -split-input-file -phys-fuse-kernels=lanes=8 -verify-diagnostics | FileCheck %s --check-prefix=L8
// RUN: not physc-opt %s -split-input-file -phys-fuse-kernels=precision=f16 2>&1 | FileCheck %s --check-prefix=BADPREC
// RUN: not physc-opt %s -split-input-file -phys-fuse-kernels=lanes=3 2>&1 | FileCheck %s --check-prefix=BADLANES
// RUN: not physc-opt %s -split-input-file -phys-fuse-kernels=lanes=0 2>&1 | FileCheck %s --check-prefix=ZEROLANES

// Each phys.kernel becomes func.func @MODEL_KERNEL(params, points, ld, n,
// rt, out[, grad]) with a C interface, looping over tiles of `lanes` points
// held in vector<lanes x T>. The model itself is erased.

// BADPREC: error: precision must be f32 or f64, got f16
// BADLANES: error: lanes must divide 64, got 3
// ZEROLANES: error: lanes must divide 64, got 0

// An eval kernel of scalars only: coordinate c of the tile is loaded from
// points[c * ld + base]; params are read from rt and broadcast; yield k is
// stored at out[k * ld + base].

// CHECK-LABEL: func.func @m_f_eval(
// CHECK-SAME:      [[PARAMS:%[a-z0-9_]+]]: memref<?xf32>, [[PTS:%[a-z0-9_]+]]: memref<?xf32>, [[LD:%[a-z0-9_]+]]: index, [[N:%[a-z0-9_]+]]: index, [[RT:%[a-z0-9_]+]]: memref<?xf32>, [[OUT:%[a-z0-9_]+]]: memref<?xf32>)
// CHECK-SAME:      attributes {llvm.emit_c_interface}
// CHECK-DAG:     [[LANES:%.+]] = arith.constant 16 : index
// CHECK-DAG:     [[LM1:%.+]] = arith.constant 15 : index
// CHECK:         [[NP:%.+]] = arith.addi [[N]], [[LM1]] : index
// CHECK-NEXT:    [[NT:%.+]] = arith.divui [[NP]], [[LANES]] : index
// CHECK:         scf.for [[TILE:%.+]] = {{%.+}} to [[NT]] step {{%.+}} {
// CHECK-NEXT:      [[BASE:%.+]] = arith.muli [[TILE]], [[LANES]] : index
// CHECK-NEXT:      [[REM:%.+]] = arith.subi [[N]], [[BASE]] : index
// CHECK-NEXT:      vector.create_mask [[REM]] : vector<16xi1>
// CHECK:           [[XO:%.+]] = arith.addi {{%.+}}, [[BASE]] : index
// CHECK-NEXT:      [[X:%.+]] = vector.load [[PTS]][[[XO]]] : memref<?xf32>, vector<16xf32>
// CHECK:           [[C1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:      [[TOFF:%.+]] = arith.muli [[C1]], [[LD]] : index
// CHECK-NEXT:      [[TO:%.+]] = arith.addi [[TOFF]], [[BASE]] : index
// CHECK-NEXT:      [[T:%.+]] = vector.load [[PTS]][[[TO]]] : memref<?xf32>, vector<16xf32>
// CHECK-NEXT:      [[S:%.+]] = math.sin [[X]] : vector<16xf32>
// The second param of the model is rt[1].
// CHECK-NEXT:      [[I1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:      [[NUS:%.+]] = memref.load [[RT]][[[I1]]] : memref<?xf32>
// CHECK-NEXT:      [[NU:%.+]] = vector.broadcast [[NUS]] : f32 to vector<16xf32>
// CHECK-NEXT:      [[V:%.+]] = arith.mulf [[S]], [[NU]] : vector<16xf32>
// CHECK:           [[VO:%.+]] = arith.addi {{%.+}}, [[BASE]] : index
// CHECK-NEXT:      vector.store [[V]], [[OUT]][[[VO]]] : memref<?xf32>, vector<16xf32>
// CHECK:           [[K1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:      [[TOFF2:%.+]] = arith.muli [[K1]], [[LD]] : index
// CHECK-NEXT:      [[TO2:%.+]] = arith.addi [[TOFF2]], [[BASE]] : index
// CHECK-NEXT:      vector.store [[T]], [[OUT]][[[TO2]]] : memref<?xf32>, vector<16xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return
// CHECK-NOT:   phys.

// F64-LABEL: func.func @m_f_eval(
// F64-SAME:      memref<?xf64>, {{%.+}}: memref<?xf64>, {{%.+}}: index, {{%.+}}: index, {{%.+}}: memref<?xf64>, {{%.+}}: memref<?xf64>)
// F64:           vector.load {{.*}} : memref<?xf64>, vector<16xf64>
// F64:           math.sin {{%.+}} : vector<16xf64>
// F64:           memref.load {{.*}} : memref<?xf64>
// F64-NEXT:      vector.broadcast {{%.+}} : f64 to vector<16xf64>
// F64-NOT:       f32

// L8-LABEL: func.func @m_f_eval(
// L8-DAG:        [[LANES:%.+]] = arith.constant 8 : index
// L8-DAG:        [[LM1:%.+]] = arith.constant 7 : index
// L8:            arith.addi {{%.+}}, [[LM1]] : index
// L8:            scf.for
// L8:              vector.create_mask {{%.+}} : vector<8xi1>
// L8:              math.sin {{%.+}} : vector<8xf32>
// L8-NOT:        vector<16x
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.param @a = 1.0
  phys.param @nu = 0.5
  phys.kernel @f.eval "eval" {
  ^bb0(%x: f64, %t: f64):
    %s = math.sin %x : f64
    %nu = phys.param_ref @nu : f64
    %v = arith.mulf %s, %nu : f64
    phys.yield %v, %t : f64, f64
  }
}

// -----

// A loss kernel with its reverse sweep, net 1 -> 2 -> 1: parameters are
// packed W0 (2x1) at 0, b0 at 2, W1 (1x2) at 4, b1 at 6, 7 in all.
// - one more argument, the gradient; per-lane loss and gradient buffers,
//   zeroed before the tiles and reduced into out[0] and grad[k] after them;
// - the mask is a select on the tile's lane mask;
// - matvec: one loop over the outputs, starting from the broadcast bias
//   params[bOff + o] and adding W[o][i] * x[i] by FMA;
// - matvec_t reads the weights transposed (W1[i][o] at 4 + i * 2 + o);
// - the run of elementwise row ops (h*h, 1 - ., dh * .) is one loop over the
//   row, and only its result is stored;
// - the gradients are accumulated per (net, layer) at the end of the tile.

// CHECK-LABEL: func.func @m_pde_loss_grad(
// CHECK-SAME:      [[PARAMS:%[a-z0-9_]+]]: memref<?xf32>, [[PTS:%[a-z0-9_]+]]: memref<?xf32>, [[LD:%[a-z0-9_]+]]: index, [[N:%[a-z0-9_]+]]: index, [[RT:%[a-z0-9_]+]]: memref<?xf32>, [[OUT:%[a-z0-9_]+]]: memref<?xf32>, [[GRAD:%[a-z0-9_]+]]: memref<?xf32>)
// CHECK-SAME:      attributes {llvm.emit_c_interface}
// CHECK:         [[ONES:%.+]] = arith.constant dense<1.000000e+00> : vector<16xf32>
// CHECK:         [[LOSS:%.+]] = memref.alloca() : memref<1xvector<16xf32>>
// CHECK:         memref.store {{%.+}}, [[LOSS]]
// CHECK:         [[G:%.+]] = memref.alloc() {alignment = 64 : i64} : memref<7xvector<16xf32>>
// CHECK:         scf.for [[K:%.+]] = {{%.+}} to {{%.+}} step
// CHECK-NEXT:      [[ZERO:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NEXT:      memref.store [[ZERO]], [[G]][[[K]]] : memref<7xvector<16xf32>>
// CHECK:         scf.for [[TILE:%.+]] =
// CHECK:           [[MASK:%.+]] = vector.create_mask {{%.+}} : vector<16xi1>
// CHECK:           [[X:%.+]] = vector.load [[PTS]]
// CHECK-NEXT:      [[C0:%.+]] = arith.constant 0 : index
// CHECK-NEXT:      memref.store [[X]], [[IN:%.+]][[[C0]]] : memref<1xvector<16xf32>>
// Layer 0: z[o] = b0[o] + W0[o][0] * x[0].
// CHECK:           scf.for [[O:%.+]] = {{%.+}} to [[C2:%.+]] step
// CHECK-NEXT:        [[BOFF:%.+]] = arith.constant 2 : index
// CHECK-NEXT:        [[BK:%.+]] = arith.addi [[BOFF]], [[O]] : index
// CHECK-NEXT:        [[B:%.+]] = memref.load [[PARAMS]][[[BK]]] : memref<?xf32>
// CHECK-NEXT:        [[BV:%.+]] = vector.broadcast [[B]] : f32 to vector<16xf32>
// CHECK-NEXT:        [[I0:%.+]] = arith.constant 0 : index
// CHECK-NEXT:        [[XV:%.+]] = memref.load [[IN]][[[I0]]]
// CHECK:             [[W:%.+]] = memref.load [[PARAMS]]
// CHECK-NEXT:        [[WV:%.+]] = vector.broadcast [[W]] : f32 to vector<16xf32>
// CHECK-NEXT:        [[Z:%.+]] = vector.fma [[WV]], [[XV]], [[BV]] : vector<16xf32>
// CHECK-NEXT:        memref.store [[Z]], [[ZB:%.+]][[[O]]] : memref<2xvector<16xf32>>
// CHECK-NEXT:      }
// CHECK:           scf.for [[J:%.+]] =
// CHECK-NEXT:        [[ZJ:%.+]] = memref.load [[ZB]][[[J]]]
// CHECK-NEXT:        [[HJ:%.+]] = math.tanh [[ZJ]] : vector<16xf32>
// CHECK-NEXT:        memref.store [[HJ]], [[HB:%.+]][[[J]]] : memref<2xvector<16xf32>>
// CHECK-NEXT:      }
// Layer 1: bias at 6, weights at 4.
// CHECK:           scf.for
// CHECK-NEXT:        arith.constant 6 : index
// CHECK:             arith.constant 4 : index
// CHECK:             memref.store {{%.+}}, [[OB:%.+]][{{%.+}}] : memref<1xvector<16xf32>>
// CHECK-NEXT:      }
// CHECK:           [[U:%.+]] = memref.load [[OB]]
// CHECK-NEXT:      [[ZV:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NEXT:      [[M:%.+]] = arith.select [[MASK]], [[U]], [[ZV]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:      [[SQ:%.+]] = arith.mulf [[M]], [[M]] : vector<16xf32>
// CHECK:           [[L:%.+]] = memref.load [[LOSS]]
// CHECK-NEXT:      [[L2:%.+]] = arith.addf [[L]], [[SQ]] : vector<16xf32>
// CHECK:           memref.store [[L2]], [[LOSS]]
// CHECK:           [[GM:%.+]] = arith.select [[MASK]]
// CHECK:           memref.store [[GM]], [[DY:%.+]][{{%.+}}] : memref<1xvector<16xf32>>
// matvec_t of layer 1: no bias, W1[0][o] at 4 + 0 * 2 + o.
// CHECK:           scf.for [[O:%.+]] =
// CHECK-NEXT:        [[ACC:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NEXT:        [[I:%.+]] = arith.constant 0 : index
// CHECK-NEXT:        [[DYV:%.+]] = memref.load [[DY]][[[I]]]
// CHECK-NEXT:        [[C2:%.+]] = arith.constant 2 : index
// CHECK-NEXT:        [[ROW:%.+]] = arith.muli [[I]], [[C2]] : index
// CHECK-NEXT:        [[RC:%.+]] = arith.addi [[ROW]], [[O]] : index
// CHECK-NEXT:        [[C4:%.+]] = arith.constant 4 : index
// CHECK-NEXT:        [[WK:%.+]] = arith.addi [[C4]], [[RC]] : index
// CHECK-NEXT:        [[WT:%.+]] = memref.load [[PARAMS]][[[WK]]]
// CHECK-NEXT:        [[WTV:%.+]] = vector.broadcast [[WT]]
// CHECK-NEXT:        [[DH:%.+]] = vector.fma [[WTV]], [[DYV]], [[ACC]] : vector<16xf32>
// CHECK-NEXT:        memref.store [[DH]], [[DHB:%.+]][[[O]]]
// CHECK-NEXT:      }
// The fused elementwise loop: h * h, 1 - h^2, dh * (1 - h^2); only dz is
// stored.
// CHECK:           scf.for [[J:%.+]] =
// CHECK-NEXT:        [[H1:%.+]] = memref.load [[HB]][[[J]]]
// CHECK-NEXT:        [[H2:%.+]] = memref.load [[HB]][[[J]]]
// CHECK-NEXT:        [[HH:%.+]] = arith.mulf [[H1]], [[H2]] : vector<16xf32>
// CHECK-NEXT:        [[DT:%.+]] = arith.subf [[ONES]], [[HH]] : vector<16xf32>
// CHECK-NEXT:        [[DHJ:%.+]] = memref.load [[DHB]][[[J]]]
// CHECK-NEXT:        [[DZ:%.+]] = arith.mulf [[DHJ]], [[DT]] : vector<16xf32>
// CHECK-NEXT:        memref.store [[DZ]], [[DZB:%.+]][[[J]]]
// CHECK-NEXT:      }
// dW0 += dz x^T, dW1 += dy h^T, db0 += dz, db1 += dy.
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               memref.load [[G]]
// CHECK-NEXT:          memref.load [[IN]]
// CHECK-NEXT:          vector.fma
// CHECK-NEXT:          memref.store {{%.+}}, [[G]]
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               memref.load [[G]]
// CHECK-NEXT:          memref.load [[HB]]
// CHECK-NEXT:          vector.fma
// CHECK-NEXT:          memref.store {{%.+}}, [[G]]
// CHECK:           scf.for
// CHECK-NEXT:        arith.constant 2 : index
// CHECK:             memref.load [[G]]
// CHECK-NEXT:        memref.load [[DZB]]
// CHECK-NEXT:        arith.addf
// CHECK:           scf.for
// CHECK-NEXT:        arith.constant 6 : index
// CHECK:             memref.load [[G]]
// CHECK-NEXT:        memref.load [[DY]]
// CHECK-NEXT:        arith.addf
// CHECK:         }
// After the tiles: one reduction of the loss lanes, one per parameter.
// CHECK:         [[LV:%.+]] = memref.load [[LOSS]]
// CHECK-NEXT:    [[LS:%.+]] = vector.reduction <add>, [[LV]] : vector<16xf32> into f32
// CHECK-NEXT:    [[OLD:%.+]] = memref.load [[OUT]]
// CHECK-NEXT:    [[NEW:%.+]] = arith.addf [[OLD]], [[LS]] : f32
// CHECK-NEXT:    memref.store [[NEW]], [[OUT]]
// CHECK:         scf.for [[K:%.+]] =
// CHECK-NEXT:      [[GV:%.+]] = memref.load [[G]][[[K]]]
// CHECK-NEXT:      [[GS:%.+]] = vector.reduction <add>, [[GV]] : vector<16xf32> into f32
// CHECK-NEXT:      [[GOLD:%.+]] = memref.load [[GRAD]][[[K]]]
// CHECK-NEXT:      [[GNEW:%.+]] = arith.addf [[GOLD]], [[GS]] : f32
// CHECK-NEXT:      memref.store [[GNEW]], [[GRAD]][[[K]]]
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc [[G]] : memref<7xvector<16xf32>>
// CHECK-NEXT:    return
// CHECK-NOT:   phys.

// F64-LABEL: func.func @m_pde_loss_grad(
// F64-SAME:      memref<?xf64>, %{{.+}}: memref<?xf64>)
// F64:           memref.alloc() {alignment = 64 : i64} : memref<7xvector<16xf64>>
// F64:           vector.reduction <add>, {{%.+}} : vector<16xf64> into f64

// L8-LABEL: func.func @m_pde_loss_grad(
// L8:            memref.alloc() {alignment = 64 : i64} : memref<7xvector<8xf32>>
// L8:            math.tanh {{%.+}} : vector<8xf32>
// L8:            vector.reduction <add>, {{%.+}} : vector<8xf32> into f32
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

// Wide layers (fan-in > 8) use an inner loop carrying the accumulator instead
// of unrolled FMAs; a non-splat constant row (a direction) is written to
// scratch; several kernels of a model become several functions.

// CHECK-LABEL: func.func @w_u_eval(
// CHECK:         scf.for
// CHECK:           vector.load
// CHECK:           vector.load
// CHECK-NEXT:      [[I0:%.+]] = arith.constant 0 : index
// CHECK-NEXT:      [[DIR0:%.+]] = arith.constant dense<1.000000e+00> : vector<16xf32>
// CHECK-NEXT:      memref.store [[DIR0]], [[DIR:%.+]][[[I0]]] : memref<2xvector<16xf32>>
// CHECK-NEXT:      [[I1:%.+]] = arith.constant 1 : index
// CHECK-NEXT:      [[DIR1:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NEXT:      memref.store [[DIR1]], [[DIR]][[[I1]]] : memref<2xvector<16xf32>>
// Fan-in 2: unrolled, starting from zero (no bias).
// CHECK:           scf.for {{%.+}} = {{%.+}} to {{%.+}} step {{%.+}} {
// CHECK-NEXT:        [[Z0:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK:             memref.load [[DIR]]
// CHECK:             [[F0:%.+]] = vector.fma {{%.+}}, {{%.+}}, [[Z0]] : vector<16xf32>
// CHECK:             memref.load [[DIR]]
// CHECK:             vector.fma {{%.+}}, {{%.+}}, [[F0]] : vector<16xf32>
// CHECK-NEXT:        memref.store
// CHECK-NEXT:      }
// Fan-in 10: an inner loop; W1 at 2 * 10 + 10 = 30, b1 at 40.
// CHECK:           scf.for [[O:%.+]] =
// CHECK-NEXT:        [[B1:%.+]] = arith.constant 40 : index
// CHECK-NEXT:        [[BK:%.+]] = arith.addi [[B1]], [[O]] : index
// CHECK-NEXT:        [[BS:%.+]] = memref.load {{%.+}}[[[BK]]] : memref<?xf32>
// CHECK-NEXT:        [[BV:%.+]] = vector.broadcast [[BS]]
// CHECK:             [[R:%.+]] = scf.for [[I:%.+]] = {{%.+}} to {{%.+}} step {{%.+}} iter_args([[A:%.+]] = [[BV]]) -> (vector<16xf32>) {
// CHECK:               arith.constant 30 : index
// CHECK:               [[F:%.+]] = vector.fma {{%.+}}, {{%.+}}, [[A]] : vector<16xf32>
// CHECK-NEXT:          scf.yield [[F]] : vector<16xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:        memref.store [[R]]
// CHECK-LABEL: func.func @w_v_eval(
phys.model @w {
  phys.coord @x "space" [-1.0, 1.0]
  phys.coord @t "time" [0.0, 1.0]
  phys.net @N "mlp"(in = 2, out = 1, hidden = [10], act = "tanh", init = "glorot")
  phys.kernel @u.eval "eval" {
  ^bb0(%x: f64, %t: f64):
    %dir = arith.constant dense<[1.0, 0.0]> : tensor<2xf64>
    %z = phys.matvec @N[0] %dir : tensor<2xf64> -> tensor<10xf64>
    %o = phys.matvec @N[1] %z bias : tensor<10xf64> -> tensor<1xf64>
    %c0 = arith.constant 0 : index
    %u = tensor.extract %o[%c0] : tensor<1xf64>
    phys.yield %u : f64
  }
  phys.kernel @v.eval "eval" {
  ^bb0(%x: f64, %t: f64):
    phys.yield %t : f64
  }
}

// -----

// Comparisons and i1 constants (e.g. a folded cmpf) become lane masks.
// CHECK-LABEL: func.func @b_k(
// CHECK:           [[X:%.+]] = vector.load
// CHECK-NEXT:      [[Z:%.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NEXT:      [[C:%.+]] = arith.cmpf olt, [[X]], [[Z]] : vector<16xf32>
// CHECK-NEXT:      [[S:%.+]] = arith.select [[C]], [[X]], [[Z]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:      [[T:%.+]] = arith.constant dense<true> : vector<16xi1>
// CHECK-NEXT:      [[S2:%.+]] = arith.select [[T]], [[S]], [[X]] : vector<16xi1>, vector<16xf32>
// CHECK:           vector.store [[S2]]
phys.model @b {
  phys.coord @x "space" [-1.0, 1.0]
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    %z = arith.constant 0.0 : f64
    %c = arith.cmpf olt, %x, %z : f64
    %s = arith.select %c, %x, %z : f64
    %t = arith.constant true
    %s2 = arith.select %t, %s, %x : f64
    phys.yield %s2 : f64
  }
}

// -----

// Other integer constants have no vector form here (this used to crash).
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.kernel @k "eval" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'arith.constant' op cannot be fused into a CPU kernel}}
    %c = arith.constant 3 : i32
    phys.yield %x : f64
  }
}

// -----

// A kernel that was not expanded cannot be fused.
phys.model @m {
  phys.coord @x "space" [-1.0, 1.0]
  phys.net @N "mlp"(in = 1, out = 1, hidden = [2], act = "tanh", init = "glorot")
  phys.kernel @u.eval "eval" {
  ^bb0(%x: f64):
    // expected-error @+1 {{'phys.net_call' op cannot be fused into a CPU kernel}}
    %u = phys.net_call @N(%x) : (f64) -> f64
    phys.yield %u : f64
  }
}

// -----

// A trainable param is read from the parameter vector (after the nets: here
// at 0), the other params from rt; phys.observed reads the point column
// after the coordinates (column 1 = ld + tile base); the param gradient
// goes into the per-lane gradient buffer at the param's offset.

// CHECK-LABEL: func.func @d_obs_loss_grad(
// CHECK:         [[K:%.+]] = memref.load %arg0[%c0{{.*}}] : memref<?xf32>
// CHECK:         [[C:%.+]] = memref.load %arg4[%c0{{.*}}] : memref<?xf32>
// CHECK:         [[COL:%.+]] = arith.muli %c1{{.*}}, %arg2 : index
// CHECK-NEXT:    [[OFF:%.+]] = arith.addi [[COL]], {{%.+}} : index
// CHECK-NEXT:    {{%.+}} = vector.load %arg1{{\[}}[[OFF]]] : memref<?xf32>, vector<16xf32>
// CHECK:         [[G:%.+]] = memref.load %alloc[%c0{{.*}}] : memref<1xvector<16xf32>>
// CHECK-NEXT:    [[S:%.+]] = arith.addf [[G]], {{%.+}} : vector<16xf32>
// CHECK-NEXT:    memref.store [[S]], %alloc[%c0{{.*}}] : memref<1xvector<16xf32>>
phys.model @d {
  phys.coord @x "space" [0.0, 1.0]
  phys.param @c = 2.0
  phys.param @k = 0.5 trainable
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
    %two = arith.constant 2.0 : f64
    %g = arith.mulf %m, %two : f64
    %gx = arith.mulf %g, %x : f64
    phys.accum_param_grad @k %gx : f64
    phys.yield
  }
}

// -----

// The matvecs of one layer and direction share a loop: the jets push every
// component of a row through the same W, and each weight is broadcast once
// for all of them. Layer 1's d/dx input hx is moved up to its first
// matvec, so the tanh loop computes it too.
// CHECK-LABEL: func.func @f_pde_loss_grad(
// CHECK:         %[[Z:.+]] = vector.fma %[[W0:[0-9]+]], %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK-NEXT:    %[[ZX:.+]] = vector.fma %[[W0]], %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK-NEXT:    memref.store %[[Z]], %[[ZB:.+]][%{{.+}}]
// CHECK-NEXT:    memref.store %[[ZX]], %[[ZXB:.+]][%{{.+}}]
// CHECK:         scf.for
// CHECK-NEXT:      memref.load %[[ZB]]
// CHECK-NEXT:      %[[H:.+]] = math.tanh
// CHECK-NEXT:      %[[HH:.+]] = arith.mulf %[[H]], %[[H]]
// CHECK-NEXT:      %[[DT:.+]] = arith.subf %{{.+}}, %[[HH]]
// CHECK-NEXT:      %[[ZXI:.+]] = memref.load %[[ZXB]]
// CHECK-NEXT:      arith.mulf %[[DT]], %[[ZXI]]
// CHECK:         scf.for {{.*}} iter_args(%[[S0:.+]] = %{{.+}}, %[[S1:.+]] = %{{.+}}) -> (vector<16xf32>, vector<16xf32>) {
// CHECK-NEXT:      %[[HI:.+]] = memref.load
// CHECK-NEXT:      %[[HXI:.+]] = memref.load
// CHECK:           vector.fma %[[W1:[0-9]+]], %[[HI]], %[[S0]]
// CHECK-NEXT:      vector.fma %[[W1]], %[[HXI]], %[[S1]]

// The reverse sweep: both adjoints through W^T, one broadcast per weight.
// CHECK:         vector.fma %[[WT:[0-9]+]], %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK-NEXT:    vector.fma %[[WT]], %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK:         return
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
