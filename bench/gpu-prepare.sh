#!/usr/bin/env bash
# Prepares bench/gpu-prepared/ HERE (where physc, LLVM/MLIR and nvcc are, no
# GPU needed) for bench/gpu-check.sh on a machine with a GPU (no LLVM there):
#   <model>.cu              `physc emit cuda` (f32)
#   harness_<model>         bench/gpu/harness.cu with those kernels (nvcc, sm_90)
#   <model>.ptx             `physc emit ptx` (f32, sm_90): what the runtime loads
#   <model>.b64/.b256.ptx   bench models: loss kernels for 64 / 256 threads a block
#   <model>.global.ptx      bench models: --stage-params=false (weights read
#                           from global memory, not staged in shared memory)
#   <model>.l16/.l32.ptx    --lanes-per-point 16 / 32: a point's rows spread
#                           over the lanes, in registers (l32 for every
#                           example, checked against the CPU; l16 bench)
#   <model>.l32.b256.ptx    bench models: 32 lanes a point, 256 threads a block
#   <ptx>.cubin             each PTX above assembled by ptxas for CUDA_ARCH,
#                           which harness_ptx loads (--cubin) instead of
#                           having the driver JIT-compile the PTX on the GPU
#                           machine (seconds per file, out of its budget)
#   harness_ptx             bench/gpu/harness_ptx.cpp (driver API, loads a PTX)
#   <model>_N<n>/           `physc dump-batch` (params, points, CPU f64 reference)
#   manifest.txt            one line per check: "<harness> <dump dir> <kind>
#                           [args]", @PREP@ in args standing for this folder
#   train_<model>           bench/gpu/train_aot.cpp linked with `physc build
#                           --target cpu,cuda` of the model (runtime, libpng
#                           and libstdc++ static: no LLVM/MLIR, no toolkit)
#   train.txt               one line per training check: "<binary> <max rel L2>"
#   pinn_step.py            the framework baseline (copied from ../shared)
#   prepared.txt            when, from which commit and with which toolkit
#                           the bundle was made
# The .ptx and .cubin files are stored gzipped (the bundle must stay under
# the 64 MiB a device call carries); gpu-check.sh unpacks them.
# Environment: PHYSC (default build/bin/physc), NVCC (default nvcc on PATH or
# /usr/local/cuda/bin/nvcc), CUDA_ARCH (default sm_90), SEED (default 1),
# PHYSC_SHARED (default ../shared next to the repository).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PHYSC=${PHYSC:-$ROOT/build/bin/physc}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
PTXAS=${PTXAS:-$(dirname "$NVCC")/ptxas}
ARCH=${CUDA_ARCH:-sm_90}
SEED=${SEED:-1}
SHARED=${PHYSC_SHARED:-$ROOT/../shared}
DEST=$ROOT/bench/gpu-prepared

die() { echo "gpu-prepare: error: $*" >&2; exit 1; }
[[ -x $PHYSC ]] || die "no physc at $PHYSC (build it, or set PHYSC=path/to/physc)"
[[ -x $NVCC ]] || die "no nvcc at $NVCC (set NVCC=path/to/nvcc)"
[[ -x $PTXAS ]] || die "no ptxas at $PTXAS (set PTXAS=path/to/ptxas)"

TMP=$(mktemp -d "$ROOT/bench/.gpu-prepared.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ptx_check DUMP KIND NAME [ARGS]: a manifest line for harness_ptx with
# NAME.ptx, assembled here into NAME.cubin (once per file).
ptx_check() {
  local dump=$1 kind=$2 name=$3
  shift 3
  if [[ ! -f $TMP/$name.cubin ]]; then
    echo "gpu-prepare: ptxas -arch=$ARCH $name.ptx"
    "$PTXAS" -arch="$ARCH" "$TMP/$name.ptx" -o "$TMP/$name.cubin"
  fi
  echo "harness_ptx $dump $kind --ptx @PREP@/$name.ptx --cubin @PREP@/$name.cubin $*" >>"$TMP/manifest.txt"
}

# model file, point counts ("" = the file's own samples), kind (bench|check)
prepare() {
  local file=$1 kind=$2; shift 2
  local model
  model=$(basename "$file" .phys)
  echo "gpu-prepare: $model: physc emit cuda"
  "$PHYSC" emit cuda "$file" --precision f32 >"$TMP/$model.cu"
  echo "gpu-prepare: $model: nvcc -arch=$ARCH harness"
  "$NVCC" -std=c++17 -O3 -arch="$ARCH" -I"$TMP" -DKERNELS_CU="\"$model.cu\"" \
    "$ROOT/bench/gpu/harness.cu" -o "$TMP/harness_$model"
  echo "gpu-prepare: $model: physc emit ptx --chip $ARCH"
  "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" >"$TMP/$model.ptx"
  "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" --lanes-per-point 32 \
    >"$TMP/$model.l32.ptx"
  # Benchmarks also time loss kernels built for 64 and 256 threads per
  # block (the runtime launches 128).
  local b
  if [[ $kind == bench ]]; then
    for b in 64 256; do
      "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" --block-size $b \
        >"$TMP/$model.b$b.ptx"
    done
    # And with the weights left in global memory, to measure what staging
    # them in shared memory buys (or costs in occupancy).
    "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" \
      --stage-params=false >"$TMP/$model.global.ptx"
    # And with 16 lanes a point (two points a warp), and 32 lanes a point
    # with 256 threads a block: 8 points a tile, so half the read-modify-
    # writes of the block's gradient row per point, for fewer blocks an SM.
    "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" \
      --lanes-per-point 16 >"$TMP/$model.l16.ptx"
    "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" \
      --lanes-per-point 32 --block-size 256 >"$TMP/$model.l32.b256.ptx"
  fi
  local n
  for n in "$@"; do
    local dir
    if [[ $n == default ]]; then
      dir=${model}_default
      echo "gpu-prepare: $model: dump-batch (its own samples)"
      "$PHYSC" dump-batch "$file" --seed "$SEED" -o "$TMP/$dir"
    else
      dir=${model}_N$n
      echo "gpu-prepare: $model: dump-batch --points $n"
      "$PHYSC" dump-batch "$file" --points "$n" --seed "$SEED" -o "$TMP/$dir"
    fi
    echo "harness_$model $dir $kind" >>"$TMP/manifest.txt"
    ptx_check "$dir" "$kind" "$model"
    ptx_check "$dir" "$kind" "$model.l32"
    if [[ $kind == bench ]]; then
      ptx_check "$dir" "$kind" "$model.l16"
      ptx_check "$dir" "$kind" "$model.l32.b256" --block 256
      for b in 64 256; do
        ptx_check "$dir" "$kind" "$model.b$b" --block $b
      done
      ptx_check "$dir" "$kind" "$model.global"
    fi
  done
}

echo "gpu-prepare: nvcc harness_ptx"
"$NVCC" -std=c++17 -O2 "$ROOT/bench/gpu/harness_ptx.cpp" \
  -L"$(dirname "$NVCC")/../lib64/stubs" -lcuda -o "$TMP/harness_ptx"
prepare "$ROOT/examples/bench_burgers64.phys" bench 8192 65536 524288
prepare "$ROOT/examples/burgers.phys" check default
# Every other example: its PTX against the CPU, each term at its own samples.
for file in "$ROOT"/examples/*.phys; do
  model=$(basename "$file" .phys)
  [[ $model == bench_burgers64 || $model == burgers ]] && continue
  echo "gpu-prepare: $model: physc emit ptx, dump-batch"
  "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" >"$TMP/$model.ptx"
  "$PHYSC" emit ptx "$file" --precision f32 --chip "$ARCH" --lanes-per-point 32 \
    >"$TMP/$model.l32.ptx"
  "$PHYSC" dump-batch "$file" --seed "$SEED" -o "$TMP/${model}_default"
  ptx_check "${model}_default" check "$model"
  ptx_check "${model}_default" check "$model.l32"
done

# Training through an AOT library on the GPU (and on the CPU, to compare).
CXX=${CXX:-c++}
# train_aot FILE MAX_REL_L2 [LANES]: with LANES, the loss kernels split
# each point over that many lanes, and gpu-check runs it on the GPU only.
train_aot() {
  local file=$1 max=$2 lanes=${3:-1} model bin
  model=$(basename "$file" .phys)
  bin=train_$model
  [[ $lanes == 1 ]] || bin=${bin}_l$lanes
  echo "gpu-prepare: $model: physc build --target cpu,cuda --lanes-per-point $lanes"
  "$PHYSC" build "$file" --target cpu,cuda --cpu x86-64-v3 \
    --lanes-per-point "$lanes" -o "$TMP/aot_$model" >/dev/null
  "$CXX" -std=c++17 -O2 -I"$TMP/aot_$model/include" -include "$model.h" \
    -DPHYSC_SPEC="physc_spec_$model" "$ROOT/bench/gpu/train_aot.cpp" \
    "$TMP/aot_$model/lib/lib$model.a" -Wl,-Bstatic -lpng16 -lz -Wl,-Bdynamic \
    -static-libstdc++ -static-libgcc -lpthread -ldl -lm -o "$TMP/$bin"
  rm -rf "$TMP/aot_$model"
  if [[ $lanes == 1 ]]; then
    echo "$bin $max" >>"$TMP/train.txt"
  else
    echo "$bin $max cuda" >>"$TMP/train.txt"
  fi
}
train_aot "$ROOT/examples/heat1d.phys" 5e-3
train_aot "$ROOT/examples/burgers.phys" 1e-2
train_aot "$ROOT/examples/burgers.phys" 1e-2 32

if [[ -f $SHARED/anchors/pinn_step.py ]]; then
  cp "$SHARED/anchors/pinn_step.py" "$TMP/pinn_step.py"
else
  echo "gpu-prepare: warning: no $SHARED/anchors/pinn_step.py; gpu-check.sh will skip the framework baseline" >&2
fi

# Which physc made the bundle: gpu-check.sh copies it into env.txt, so a
# result says which kernels it timed (a bundle left from an older commit
# runs just as well).
{
  echo "prepared: $(date -u +%FT%TZ)"
  echo "commit: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "physc: $PHYSC, sha256 $(sha256sum "$PHYSC" | cut -c1-16)"
  # The harnesses and cubins need a driver at least as new as this toolkit.
  echo "nvcc: $("$NVCC" --version | grep -o 'release [0-9.]*, V[0-9.]*' || echo unknown)"
  echo "ptxas: $("$PTXAS" --version | grep -o 'release [0-9.]*, V[0-9.]*' || echo unknown)"
} >"$TMP/prepared.txt"
gzip -9 "$TMP"/*.ptx "$TMP"/*.cubin
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
echo "gpu-prepare: wrote $DEST ($(du -sh "$DEST" | cut -f1)):"
cat "$DEST/manifest.txt"
