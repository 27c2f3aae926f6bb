#!/usr/bin/env bash
#===- bench/cpu-step.sh - physc vs JAX: one PINN training step on CPU ------===#
#
# Usage: bench/cpu-step.sh [--record] [--no-pin] [N...]   (default N: 8192 65536)
#
# For each N, times `physc bench examples/bench_burgers64.phys --points N` and,
# in the same run, the baseline (shared/anchors/pinn_step.py under the
# framework bench/setup-baseline.sh installed), then prints a markdown table.
# --record also writes the table and the raw JSON to
# bench/results/cpu-step-<date>.md.
#
# Both sides are pinned with taskset to the same PHYSC_BENCH_THREADS cores
# (default 2, the thread count of physc's CPU runtime), so the comparison is
# core for core; --no-pin leaves the baseline free to use every core.
#
# Environment:
#   PHYSC_BENCH_CMD      physc command (default: <repo>/build/bin/physc); the
#                        harness appends `bench MODEL --points N ...`
#   PHYSC_BASELINE_CMD   baseline command replacing `<python> pinn_step.py FW`;
#                        it gets W, D, NS, OUT in its environment
#   PHYSC_BENCH_VENV     venv made by setup-baseline.sh
#   PHYSC_SHARED         the shared/ folder (default: <repo>/../shared)
#   PHYSC_BENCH_THREADS  cores to pin both sides to (default 2)
#
#===----------------------------------------------------------------------===#
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || dirname "$HERE")
SHARED=${PHYSC_SHARED:-$ROOT/../shared}
VENV=${PHYSC_BENCH_VENV:-$HOME/.cache/physc/bench-venv}
THREADS=${PHYSC_BENCH_THREADS:-2}
MODEL=$ROOT/examples/bench_burgers64.phys
ITERS=30

RECORD=0
PIN=1
SIZES=()
for arg in "$@"; do
  case $arg in
  --record) RECORD=1 ;;
  --no-pin) PIN=0 ;;
  -h | --help)
    sed -n '3,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    if [[ ! $arg =~ ^[1-9][0-9]*$ ]]; then
      echo "cpu-step.sh: expected a point count or --record/--no-pin, got '$arg'" >&2
      exit 2
    fi
    SIZES+=("$arg")
    ;;
  esac
done
((${#SIZES[@]})) || SIZES=(8192 65536)
if [[ ! $THREADS =~ ^[1-9][0-9]*$ ]]; then
  echo "cpu-step.sh: PHYSC_BENCH_THREADS must be a positive integer" >&2
  exit 2
fi

# Physc side.
if [[ -n ${PHYSC_BENCH_CMD:-} ]]; then
  read -r -a PHYSC <<<"$PHYSC_BENCH_CMD"
else
  PHYSC=("$ROOT/build/bin/physc")
  if [[ ! -x ${PHYSC[0]} ]]; then
    echo "cpu-step.sh: ${PHYSC[0]} not found: build physc first (or set PHYSC_BENCH_CMD)" >&2
    exit 1
  fi
fi

# Baseline side.
NPROC=$(nproc)
if [[ -n ${PHYSC_BASELINE_CMD:-} ]]; then
  read -r -a BASELINE <<<"$PHYSC_BASELINE_CMD"
  FW=custom
else
  if [[ ! -f $VENV/physc-baseline.env ]]; then
    echo "cpu-step.sh: no baseline in $VENV: run bench/setup-baseline.sh first" >&2
    exit 1
  fi
  # shellcheck source=/dev/null
  source "$VENV/physc-baseline.env"
  FW=$PHYSC_BASELINE_FW
  ANCHOR=$SHARED/anchors/pinn_step.py
  if [[ ! -f $ANCHOR ]]; then
    echo "cpu-step.sh: $ANCHOR not found (set PHYSC_SHARED)" >&2
    exit 1
  fi
  BASELINE=("$PHYSC_BASELINE_PY" "$ANCHOR" "$FW")
fi

# Pinning: the same first THREADS cores for both sides. taskset limits every
# thread of the process, whatever size of pool the framework picks.
PIN_CMD=()
CORES=$NPROC
if ((PIN)) && ((THREADS < NPROC)) && command -v taskset >/dev/null; then
  PIN_CMD=(taskset -c "0-$((THREADS - 1))")
  CORES=$THREADS
fi
if ((CORES == 1)); then CORE_SET="core 0"; else CORE_SET="cores 0-$((CORES - 1))"; fi
if ((PIN)); then
  PHYSC_PIN=", pinned to $CORE_SET"
  BASE_PIN=", pinned to $CORE_SET ($CORES of $NPROC)"
  BASE_ENV=(OMP_NUM_THREADS="$CORES")
else
  PHYSC_PIN=", not pinned"
  BASE_PIN=", not pinned: all $NPROC cores (framework default)"
  BASE_ENV=()
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/physc.jsonl"

for n in "${SIZES[@]}"; do
  echo "cpu-step.sh: physc N=$n" >&2
  rc=0
  "${PIN_CMD[@]}" "${PHYSC[@]}" bench "$MODEL" --points "$n" --iters "$ITERS" \
    --precision f32 >"$TMP/p.out" 2>"$TMP/p.err" || rc=$?
  python3 "$HERE/compare.py" physc-record "$n" "$rc" "$TMP/p.out" "$TMP/p.err" \
    >>"$TMP/physc.jsonl"
done

NS=$(
  IFS=,
  echo "${SIZES[*]}"
)
echo "cpu-step.sh: baseline ($FW) NS=$NS" >&2
mkdir -p "$TMP/anchors"
rc=0
env "${BASE_ENV[@]}" OUT="$TMP/anchors" W=64 D=4 NS="$NS" \
  "${PIN_CMD[@]}" "${BASELINE[@]}" >"$TMP/baseline.jsonl" 2>"$TMP/baseline.err" || rc=$?
if ((rc)) || ! grep -q '"ms"' "$TMP/baseline.jsonl"; then
  echo "cpu-step.sh: baseline failed (exit status $rc); its last lines:" >&2
  tail -n 5 "$TMP/baseline.err" >&2 || true
fi

DATE=$(date -u +%Y-%m-%d)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
ARGS=(report --physc "$TMP/physc.jsonl" --baseline "$TMP/baseline.jsonl"
  --meta "baseline=$FW" --meta "nproc=$NPROC" --meta "cpu=${CPU:-unknown CPU}"
  --meta "physc_pin=$PHYSC_PIN" --meta "baseline_pin=$BASE_PIN"
  --meta "date=$DATE" --meta "command=bench/cpu-step.sh $*")
if ((RECORD)); then
  mkdir -p "$HERE/results"
  OUTFILE=$HERE/results/cpu-step-$DATE.md
  k=2
  while [[ -e $OUTFILE ]]; do
    OUTFILE=$HERE/results/cpu-step-$DATE-$k.md
    k=$((k + 1))
  done
  ARGS+=(--record "$OUTFILE")
fi
status=0
python3 "$HERE/compare.py" "${ARGS[@]}" || status=$?
if ((RECORD)); then
  echo "cpu-step.sh: recorded $OUTFILE" >&2
fi
exit "$status"
