// RUN: physc-opt %s -split-input-file -pass-pipeline='builtin.module(gpu.module(phys-extern-dynamic-shared))' | FileCheck %s

// convert-gpu-to-nvvm's global for gpu.dynamic_shared_memory becomes
// external (PTX `.extern .shared ... NAME[]`); static workgroup buffers and
// zero-length globals of other address spaces keep their linkage.

// CHECK-LABEL: gpu.module @k
// CHECK:       llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK:       llvm.mlir.global internal @__wg_k_0() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<40 x i8>
// CHECK:       llvm.mlir.global internal @g() {addr_space = 1 : i32} : !llvm.array<0 x i8>
gpu.module @k {
  llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.mlir.global internal @__wg_k_0() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<40 x i8>
  llvm.mlir.global internal @g() {addr_space = 1 : i32} : !llvm.array<0 x i8>
}

// -----

// A module without dynamic shared memory is left as it is.

// CHECK-LABEL: gpu.module @none
// CHECK-NEXT:    llvm.mlir.global internal @__wg_none_0() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<8 x i8>
gpu.module @none {
  llvm.mlir.global internal @__wg_none_0() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<8 x i8>
}
