#!/usr/bin/env bash
# Configures (once) and builds physc into build/ with Ninja and ccache.
# PHYSC_BUILD_DIR / PHYSC_PRESET pick another build (e.g. build-asan, asan);
# PHYSC_TARGETS builds only the targets it lists.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"          # fresh clones elsewhere still hit
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
export CCACHE_NOHASHDIR=1
BUILD="${PHYSC_BUILD_DIR:-build}"
if [ ! -f "$BUILD/build.ninja" ]; then
  if [ -n "${PHYSC_PRESET:-}" ]; then
    cmake --preset "$PHYSC_PRESET" -B "$BUILD"
  else
    cmake -G Ninja -S . -B "$BUILD" \
      -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir
  fi
fi
# PHYSC_TARGETS: a space-separated list of targets (default: all of them).
read -r -a targets <<< "${PHYSC_TARGETS:-}"
ninja -C "$BUILD" -j "${PHYSC_JOBS:-$(nproc)}" ${targets[@]+"${targets[@]}"}
