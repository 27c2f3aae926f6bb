#!/usr/bin/env bash
# Builds the CPU version of a model's GPU kernels for libphysc-emucuda.
#
#   emu-kernels.sh SPEC.phys PRECISION OUTDIR [EMUCUDA_LIB_DIR]
#
# writes OUTDIR/kernels.so and OUTDIR/kernels.so.sigs: every gpu.func of
# `physc-opt -phys-kernels-to-gpu` (block-size 128, the one the runtime
# launches), rewritten by gpu-emulate.py into a CPU function taking its
# thread and block ids, then lowered like any CPU kernel (phys-to-cpu,
# mlir-translate, llc). Point PHYSC_EMU_KERNELS at kernels.so and load the
# model's `physc emit ptx` PTX through libphysc-emucuda to run them.
#
# kernels.so is linked against libphysc-emucuda.so (from EMUCUDA_LIB_DIR or
# $PHYSC_EMUCUDA_DIR, found again at run time through an rpath): its
# gpu.barrier calls `emu_barrier`, which that library exports, and linking
# it here makes the dependency explicit instead of relying on whoever
# dlopens kernels.so to have the symbol in global scope. The tools come
# from PATH (physc, physc-opt, mlir-translate, llc), as in lit.
# $LANES_PER_POINT (default 1) is phys-kernels-to-gpu's lanes-per-point:
# load the PTX of `physc emit ptx --lanes-per-point` (or train with it).
# DERIVATIVES=1 also builds the FIELD_derivs kernels that `physc build`
# libraries hold (phys-outline-kernels{derivatives=true}, then the stages
# of `physc emit adjoint`): load a library's PTX or cubin with those.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: emu-kernels.sh SPEC.phys f32|f64 OUTDIR [EMUCUDA_LIB_DIR]" >&2
  exit 2
fi
spec=$1 precision=$2 out=$3
libdir=${4:-${PHYSC_EMUCUDA_DIR:-}}
case $precision in
  f32 | f64) ;;
  *) echo "emu-kernels.sh: precision must be f32 or f64, not '$precision'" >&2
     exit 2 ;;
esac
if [ -z "$libdir" ] || [ ! -f "$libdir/libphysc-emucuda.so" ]; then
  echo "emu-kernels.sh: no libphysc-emucuda.so in '$libdir'" \
       "(4th argument or PHYSC_EMUCUDA_DIR)" >&2
  exit 2
fi
libdir=$(cd "$libdir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
adjoint() {
  if [ "${DERIVATIVES:-0}" = 1 ]; then
    physc emit phys "$spec" |
      physc-opt -pass-pipeline='builtin.module(phys.model(phys-outline-kernels{derivatives=true},phys-expand-derivatives,canonicalize,cse,phys-build-adjoint,canonicalize,cse,phys-rematerialize))'
  else
    physc emit adjoint "$spec"
  fi
}
adjoint |
  physc-opt -phys-kernels-to-gpu="precision=$precision block-size=128 lanes-per-point=${LANES_PER_POINT:-1}" \
    > "$out/kernels.gpu.mlir"
python3 "$here/gpu-emulate.py" "$out/kernels.gpu.mlir" "$out/kernels.cpu.mlir"
physc-opt --phys-to-cpu "$out/kernels.cpu.mlir" |
  mlir-translate --mlir-to-llvmir > "$out/kernels.ll"
llc -O2 -filetype=obj -relocation-model=pic "$out/kernels.ll" \
  -o "$out/kernels.o"
# --no-undefined: a symbol that neither libm nor libphysc-emucuda provides
# is a link error here, not a dlopen failure inside the emulator later.
c++ -shared -Wl,--no-undefined "$out/kernels.o" -o "$out/kernels.so" \
  -L"$libdir" -lphysc-emucuda -Wl,-rpath,"$libdir" -lm
cp "$out/kernels.cpu.mlir.sigs" "$out/kernels.so.sigs"
