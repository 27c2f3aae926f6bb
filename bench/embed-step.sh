#!/usr/bin/env bash
# The embedding API's loss and gradient against `physc bench`'s, on the CPU.
#
#   bench/embed-step.sh [N ...]        (default: 8192 65536)
#
# Both time the same kernels: the pde term of examples/bench_burgers64.phys
# (MLP 2 -> 64x4 -> 1, tanh, Burgers residual), f32, its loss and gradient
# at N points. physc's JIT (`physc bench --points N --iters 30`) against a
# program linked with the `physc build` package of the same spec
# (bench/embed/term_loss.cpp, built through the package's CMake config), as
# an application that embeds the kernels would call them: 3 warm-up calls,
# then the median of 30. A ratio near 1 means embedding costs nothing.
# Environment: PHYSC (default build/bin/physc).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PHYSC=${PHYSC:-$ROOT/build/bin/physc}
NS=("$@")
[[ ${#NS[@]} -gt 0 ]] || NS=(8192 65536)
die() { echo "embed-step: error: $*" >&2; exit 1; }
[[ -x $PHYSC ]] || die "no physc at $PHYSC (build it first, or set PHYSC)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/embed-step.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$PHYSC" build "$ROOT/examples/bench_burgers64.phys" -o "$TMP/pkg" \
  --precision f32 >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; die "physc build failed"; }
cmake -S "$ROOT/bench/embed" -B "$TMP/b" -G Ninja \
  -Dburgers_DIR="$TMP/pkg/lib/cmake/burgers" >"$TMP/cmake.log" 2>&1 ||
  { cat "$TMP/cmake.log" >&2; die "configuring bench/embed failed"; }
cmake --build "$TMP/b" >>"$TMP/cmake.log" 2>&1 ||
  { cat "$TMP/cmake.log" >&2; die "building bench/embed failed"; }

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
echo "| N | physc bench (JIT) ms | physc build + C API ms | API / JIT |"
echo "|---:|---:|---:|---:|"
for n in "${NS[@]}"; do
  jit=$("$PHYSC" bench "$ROOT/examples/bench_burgers64.phys" --points "$n" \
    --iters 30 --precision f32)
  api=$("$TMP/b/term_loss" "$n" 30 pde)
  j=$(field "$jit" ms)
  a=$(field "$api" ms)
  python3 -c "import sys; n,j,a=sys.argv[1:]; print(f'| {n} | {float(j):.2f} | {float(a):.2f} | {float(a)/float(j):.2f} |')" "$n" "$j" "$a"
  echo "  jit: $jit" >&2
  echo "  api: $api" >&2
done
