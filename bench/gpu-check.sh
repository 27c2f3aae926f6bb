#!/usr/bin/env bash
# Runs on a machine with a GPU, CUDA driver and Python (torch and/or jax) but
# without LLVM/MLIR: checks the prepared physc CUDA kernels against the CPU f64
# reference and times them next to the framework baseline.
#
#   bench/gpu-prepare.sh      # first, where physc builds (writes bench/gpu-prepared/)
#   OUT=dir bench/gpu-check.sh   # then, on the GPU machine
#
# Writes under $OUT (default ./gpu-out): env.txt (the GPU, driver, host),
# progress.log (each step with the seconds since the start),
# <harness>-<dump>.jsonl (per-term correctness + timing), train.jsonl (AOT
# training on cuda and cpu: time, rel L2), baseline/ (pinn_step.py's
# anchors-*.json and log), table.md (bench/gpu-table.py, which also
# rebuilds the tables from the files of a run that was cut short).
# Exit status: 0 when every correctness check passes, 1 on a failure, 2
# when no GPU is usable.
# Environment: PREP (default bench/gpu-prepared next to this script),
# PHYSC_SHARED (where anchors/pinn_step.py is, when PREP has no copy),
# PARTS (default checks,train,baseline: the manifest's harness runs, the
# AOT training runs and the framework baseline; name fewer to split a long
# check over several calls), BASELINE=0 / TRAIN=0 (drop that part),
# TRAIN_STEPS (train for that many steps instead of each spec's plan), NS
# (default 8192,65536,524288).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PREP=${PREP:-$HERE/gpu-prepared}
OUT=${OUT:-./gpu-out}
NS=${NS:-8192,65536,524288}
PARTS=",${PARTS:-checks,train,baseline},"
[[ ${TRAIN:-1} == 0 ]] && PARTS=${PARTS//,train,/,}
[[ ${BASELINE:-1} == 0 ]] && PARTS=${PARTS//,baseline,/,}
part() { [[ $PARTS == *",$1,"* ]]; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

die() { echo "gpu-check: error: $1" >&2; exit "${2:-1}"; }
# log MESSAGE: to stdout and progress.log, with the seconds since the start.
log() { echo "gpu-check: [${SECONDS}s] $*" | tee -a "$OUT/progress.log"; }
: >"$OUT/progress.log"
[[ -f $PREP/manifest.txt ]] ||
  die "no $PREP/manifest.txt: run bench/gpu-prepare.sh first (where physc is built)"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm)"
  if [[ -f $PREP/prepared.txt ]]; then
    cat "$PREP/prepared.txt"
  else
    echo "prepared: unknown (no prepared.txt in the bundle)"
  fi
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
      --format=csv 2>&1 || true
  else
    echo "nvidia-smi: not found"
  fi
} >"$OUT/env.txt"
parts=${PARTS//,/ }
log "parts:${parts% }"
# gpu-prepare.sh stores the .ptx and .cubin files gzipped: unpack a copy.
if compgen -G "$PREP/*.gz" >/dev/null; then
  UNPACKED=$(mktemp -d "${TMPDIR:-/tmp}/gpu-prepared.XXXXXX")
  trap 'rm -rf "$UNPACKED"' EXIT
  cp -a "$PREP/." "$UNPACKED/"
  gunzip "$UNPACKED"/*.gz
  PREP=$UNPACKED
  log "unpacked the bundle"
fi

status=0
: >"$OUT/physc-timing.jsonl"
if ! part checks; then
  log "checks not in PARTS: skipping the harness runs"
  MANIFEST=/dev/null
else
  MANIFEST=$PREP/manifest.txt
fi
while read -r harness dump kind rest; do
  [[ -n ${harness:-} ]] || continue
  [[ -x $PREP/$harness ]] || die "missing $PREP/$harness"
  read -r -a extra <<<"${rest//@PREP@/$PREP}"
  log "$harness $dump ${rest:-}"
  # One log per harness, dump and PTX file (block size, staging).
  ptx=${extra[1]:-}
  base=$OUT/$harness-$dump${ptx:+-$(basename "$ptx" .ptx)}
  set +e
  "$PREP/$harness" "$PREP/$dump" ${extra[@]+"${extra[@]}"} >"$base.jsonl" 2>"$base.err"
  rc=$?
  set -e
  cat "$base.jsonl"
  cat "$base.err" >&2
  if [[ $rc == 2 ]]; then
    die "no usable GPU (see $base.err)" 2
  elif [[ $rc == 127 ]] && grep -q 'libcuda\.so' "$base.err"; then
    die "no usable GPU: no CUDA driver (libcuda.so.1) to load" 2
  elif [[ $rc != 0 ]]; then
    echo "gpu-check: FAIL: $dump (exit $rc)" >&2
    status=1
  fi
  if [[ $kind == bench ]]; then
    grep '"ms"' "$base.jsonl" >>"$OUT/physc-timing.jsonl" || true
  fi
done <"$MANIFEST"

# Training on the GPU through AOT libraries (train.txt): the spec's whole
# plan (or TRAIN_STEPS steps) on cuda and on cpu, each must reach the
# example's accuracy threshold.
: >"$OUT/train.jsonl"
steps=()
[[ -n ${TRAIN_STEPS:-} ]] && steps=(--steps "$TRAIN_STEPS")
if ! part train; then
  log "train not in PARTS: skipping the AOT training runs"
elif [[ -f $PREP/train.txt ]]; then
  while read -r bin max devs; do
    [[ -n ${bin:-} ]] || continue
    for dev in ${devs:-cuda cpu}; do
      log "$bin --device $dev ${steps[*]}"
      set +e
      "$PREP/$bin" --device "$dev" ${steps[@]+"${steps[@]}"} \
        >"$OUT/$bin-$dev.json" 2>"$OUT/$bin-$dev.err"
      rc=$?
      set -e
      cat "$OUT/$bin-$dev.json" "$OUT/$bin-$dev.err"
      python3 -c "import json, sys; r = json.load(open(sys.argv[1])); r['binary'] = sys.argv[2]; print(json.dumps(r))" \
        "$OUT/$bin-$dev.json" "$bin" >>"$OUT/train.jsonl" || true
      if [[ $rc != 0 ]] || ! python3 -c "import json,sys; r=json.load(open(sys.argv[1])); e=max(r['rel_l2'].values()); print('rel L2', e, 'max', sys.argv[2]); sys.exit(0 if e < float(sys.argv[2]) else 1)" "$OUT/$bin-$dev.json" "$max"; then
        echo "gpu-check: FAIL: $bin on $dev" >&2
        status=1
      fi
    done
  done <"$PREP/train.txt"
fi

# The framework baseline: the same step (MLP 2->64x4->1, tanh, Burgers
# residual) in torch and jax.
PINN=""
if [[ -f $PREP/pinn_step.py ]]; then
  PINN=$PREP/pinn_step.py
else
  SHARED=${PHYSC_SHARED:-$HERE/../../shared}
  [[ -f $SHARED/anchors/pinn_step.py ]] && PINN=$SHARED/anchors/pinn_step.py
fi
mkdir -p "$OUT/baseline"
if ! part baseline; then
  log "baseline not in PARTS: skipping the framework baseline"
elif [[ -z $PINN ]]; then
  log "no pinn_step.py (neither $PREP/pinn_step.py nor \$PHYSC_SHARED/anchors/): skipping the framework baseline"
elif ! command -v python3 >/dev/null; then
  log "no python3: skipping the framework baseline"
else
  log "framework baseline: $PINN torch jax (N = $NS)"
  set +e
  OUT=$OUT/baseline W=64 D=4 NS=$NS python3 "$PINN" torch jax \
    >"$OUT/baseline/pinn_step.jsonl" 2>"$OUT/baseline/pinn_step.log"
  rc=$?
  set -e
  [[ $rc == 0 ]] || echo "gpu-check: warning: pinn_step.py exited $rc (see $OUT/baseline/pinn_step.log)" >&2
fi

# The table: physc median ms vs the best variant of each framework.
log "tables"
python3 "$HERE/gpu-table.py" "$OUT" | tee "$OUT/table.md"
if [[ $status == 0 ]]; then
  echo "gpu-check: all correctness checks PASS; results in $OUT"
else
  echo "gpu-check: some correctness checks FAILED; results in $OUT" >&2
fi
exit $status
