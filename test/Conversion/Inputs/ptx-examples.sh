#!/usr/bin/env bash
#===- ptx-examples.sh - every example through `physc emit ptx` ------------===#
# Usage: ptx-examples.sh EXAMPLES_DIR OUT_DIR CHIP SUFFIX PTXAS [EMIT_OPTION...]
#
# For each EXAMPLES_DIR/*.phys: `physc emit ptx --chip CHIP EMIT_OPTION...`
# into OUT_DIR/NAME.SUFFIX.ptx, assembled by PTXAS for CHIP, and FileCheck'ed
# against ptx-shape.check; PTXAS "none" skips the assembly (lit.cfg.py's
# %loop_ptxas, in sanitized builds). Prints "NAME ok" per example and
# "all N ok" at the end; stops at the first failure. Shared by the
# emit-ptx*.test files, which lit runs side by side (one loop of all
# examples takes minutes).
#===----------------------------------------------------------------------===#
set -euo pipefail
examples=$1 out=$2 chip=$3 suffix=$4 ptxas=$5
shift 5
here=$(dirname "$0")
count=0
for f in "$examples"/*.phys; do
  n=$out/$(basename "$f" .phys).$suffix
  physc emit ptx --chip "$chip" "$@" "$f" > "$n.ptx"
  if [ "$ptxas" != none ]; then
    "$ptxas" -arch="$chip" "$n.ptx" -o "$n.cubin"
  fi
  FileCheck "$here/ptx-shape.check" --check-prefix=SHAPE --implicit-check-not=__nv_ \
    --implicit-check-not=".extern .func" \
    --implicit-check-not="__dynamic_shmem__0 has been demoted" --input-file "$n.ptx"
  echo "$(basename "$f" .phys) ok"
  count=$((count + 1))
done
echo "all $count ok"
