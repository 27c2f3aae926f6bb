// RUN: physc-opt %s -split-input-file -phys-approximate-math | FileCheck %s

// f32 tanh, exp, log, log1p, erf, sin and cos (vectors or scalars) become
// polynomial or rational approximations in arith/math.fma/vector ops, so a
// fused kernel keeps them in vector registers; f64 is left to libm.

// The rational tanh approximation clamps its input to [-7.99881172, 7.99881172]
// and evaluates p(x^2) x / q(x^2), returning x itself for |x| < 0.0004.
// CHECK-LABEL: func.func @tanh_f32(
// CHECK-SAME:      [[A:%[a-z0-9_]+]]: vector<16xf32>)
// CHECK-NOT:     math.tanh
// CHECK-DAG:     arith.constant dense<7.99881172> : vector<16xf32>
// CHECK-DAG:     arith.constant dense<-7.99881172> : vector<16xf32>
// CHECK-DAG:     arith.constant dense<4.000000e-04> : vector<16xf32>
// CHECK:         [[ABS:%.+]] = math.absf [[A]] : vector<16xf32>
// CHECK:         [[Q:%.+]] = arith.divf {{%.+}}, {{%.+}} : vector<16xf32>
// CHECK:         [[R:%.+]] = arith.select {{%.+}}, {{%.+}}, [[Q]] : vector<16xi1>, vector<16xf32>
// CHECK-NEXT:    return [[R]] : vector<16xf32>
// CHECK-NOT:     math.tanh
func.func @tanh_f32(%a: vector<16xf32>) -> vector<16xf32> {
  %0 = math.tanh %a : vector<16xf32>
  return %0 : vector<16xf32>
}

// -----

// CHECK-LABEL: func.func @others_f32(
// CHECK-NOT:     math.exp
// CHECK-NOT:     math.log
// CHECK-NOT:     math.log1p
// CHECK-NOT:     math.erf
// CHECK-NOT:     math.sin
// CHECK-NOT:     math.cos
// CHECK-NOT:     math.tanh
// CHECK:         return
func.func @others_f32(%a: vector<16xf32>, %s: f32) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, f32) {
  %0 = math.exp %a : vector<16xf32>
  %1 = math.log %a : vector<16xf32>
  %2 = math.log1p %a : vector<16xf32>
  %3 = math.erf %a : vector<16xf32>
  %4 = math.sin %a : vector<16xf32>
  %5 = math.cos %a : vector<16xf32>
  %6 = math.tanh %s : f32
  return %0, %1, %2, %3, %4, %5, %6 : vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, f32
}

// -----

// f64 (the precision of checks) keeps exact math ops, and so do ops without
// an approximation (sqrt, absf, powf).
// CHECK-LABEL: func.func @f64_kept(
// CHECK-SAME:      [[B:%[a-z0-9_]+]]: vector<16xf64>, [[C:%[a-z0-9_]+]]: f64, [[D:%[a-z0-9_]+]]: vector<16xf32>)
// CHECK-NEXT:    [[T:%.+]] = math.tanh [[B]] : vector<16xf64>
// CHECK-NEXT:    [[E:%.+]] = math.exp [[B]] : vector<16xf64>
// CHECK-NEXT:    [[L:%.+]] = math.log [[C]] : f64
// CHECK-NEXT:    [[R:%.+]] = math.sqrt [[D]] : vector<16xf32>
// CHECK-NEXT:    [[P:%.+]] = math.powf [[D]], [[D]] : vector<16xf32>
// CHECK-NEXT:    return [[T]], [[E]], [[L]], [[R]], [[P]]
func.func @f64_kept(%b: vector<16xf64>, %c: f64, %d: vector<16xf32>) -> (vector<16xf64>, vector<16xf64>, f64, vector<16xf32>, vector<16xf32>) {
  %0 = math.tanh %b : vector<16xf64>
  %1 = math.exp %b : vector<16xf64>
  %2 = math.log %c : f64
  %3 = math.sqrt %d : vector<16xf32>
  %4 = math.powf %d, %d : vector<16xf32>
  return %0, %1, %2, %3, %4 : vector<16xf64>, vector<16xf64>, f64, vector<16xf32>, vector<16xf32>
}

// -----

// Inside a fused kernel: the tanh of an f32 kernel's row loop is rewritten,
// the rest of the loop is untouched.
// CHECK-LABEL: func.func @kernel_loop(
// CHECK:         scf.for
// CHECK:           [[Z:%.+]] = memref.load
// CHECK-NOT:       math.tanh
// CHECK:           math.absf [[Z]] : vector<16xf32>
// CHECK:           memref.store
// CHECK-NEXT:    }
func.func @kernel_loop(%buf: memref<4xvector<16xf32>>, %out: memref<4xvector<16xf32>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %j = %c0 to %c4 step %c1 {
    %z = memref.load %buf[%j] : memref<4xvector<16xf32>>
    %h = math.tanh %z : vector<16xf32>
    memref.store %h, %out[%j] : memref<4xvector<16xf32>>
  }
  return
}
