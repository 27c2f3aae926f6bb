#!/usr/bin/env bash
# Runs on a machine with a GPU, CUDA driver and Python (torch and/or jax) but
# without LLVM/MLIR: checks the prepared physc CUDA kernels against the CPU f64
# reference and times them next to the framework baseline.
#
#   bench/gpu-prepare.sh      # first, where physc builds (writes bench/gpu-prepared/)
#   OUT=dir bench/gpu-check.sh   # then, on the GPU machine
#
# Writes under $OUT (default ./gpu-out): <harness>-<dump>.jsonl (per-term
# correctness + timing), train.jsonl (AOT training on cuda and cpu: time,
# rel L2), baseline/ (pinn_step.py's anchors-*.json and log), table.md. Exit status: 0 when every correctness check passes, 1 on a
# failure, 2 when no GPU is usable.
# Environment: PREP (default bench/gpu-prepared next to this script),
# PHYSC_SHARED (where anchors/pinn_step.py is, when PREP has no copy),
# BASELINE=0 to skip the framework baseline, TRAIN=0 to skip the AOT
# training runs (to split a long check over two calls), NS (default
# 8192,65536,524288).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PREP=${PREP:-$HERE/gpu-prepared}
OUT=${OUT:-./gpu-out}
NS=${NS:-8192,65536,524288}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

die() { echo "gpu-check: error: $*" >&2; exit "${2:-1}"; }
[[ -f $PREP/manifest.txt ]] ||
  die "no $PREP/manifest.txt: run bench/gpu-prepare.sh first (where physc is built)"
# gpu-prepare.sh stores the .ptx and .cubin files gzipped: unpack a copy.
if compgen -G "$PREP/*.gz" >/dev/null; then
  UNPACKED=$(mktemp -d "${TMPDIR:-/tmp}/gpu-prepared.XXXXXX")
  trap 'rm -rf "$UNPACKED"' EXIT
  cp -a "$PREP/." "$UNPACKED/"
  gunzip "$UNPACKED"/*.gz
  PREP=$UNPACKED
fi

status=0
: >"$OUT/physc-timing.jsonl"
while read -r harness dump kind rest; do
  [[ -n ${harness:-} ]] || continue
  [[ -x $PREP/$harness ]] || die "missing $PREP/$harness"
  read -r -a extra <<<"${rest//@PREP@/$PREP}"
  echo "gpu-check: $harness $dump ${rest:-}"
  # One log per harness, dump and PTX file (block size, staging).
  ptx=${extra[1]:-}
  log=$OUT/$harness-$dump${ptx:+-$(basename "$ptx" .ptx)}
  set +e
  "$PREP/$harness" "$PREP/$dump" ${extra[@]+"${extra[@]}"} >"$log.jsonl" 2>"$log.err"
  rc=$?
  set -e
  cat "$log.jsonl"
  cat "$log.err" >&2
  if [[ $rc == 2 ]]; then
    die "no usable GPU (see $log.err)" 2
  elif [[ $rc != 0 ]]; then
    echo "gpu-check: FAIL: $dump (exit $rc)" >&2
    status=1
  fi
  if [[ $kind == bench ]]; then
    grep '"ms"' "$log.jsonl" >>"$OUT/physc-timing.jsonl" || true
  fi
done <"$PREP/manifest.txt"

# Training on the GPU through AOT libraries (train.txt): the spec's whole
# plan on cuda and on cpu, each must reach the example's accuracy threshold.
: >"$OUT/train.jsonl"
if [[ ${TRAIN:-1} == 0 ]]; then
  echo "gpu-check: TRAIN=0: skipping the AOT training runs"
elif [[ -f $PREP/train.txt ]]; then
  while read -r bin max devs; do
    [[ -n ${bin:-} ]] || continue
    for dev in ${devs:-cuda cpu}; do
      echo "gpu-check: $bin --device $dev"
      set +e
      "$PREP/$bin" --device "$dev" >"$OUT/$bin-$dev.json" 2>"$OUT/$bin-$dev.err"
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
if [[ ${BASELINE:-1} == 0 ]]; then
  echo "gpu-check: BASELINE=0: skipping the framework baseline"
elif [[ -z $PINN ]]; then
  echo "gpu-check: no pinn_step.py (neither $PREP/pinn_step.py nor \$PHYSC_SHARED/anchors/): skipping the framework baseline"
elif ! command -v python3 >/dev/null; then
  echo "gpu-check: no python3: skipping the framework baseline"
else
  echo "gpu-check: framework baseline: $PINN torch jax (N = $NS)"
  set +e
  OUT=$OUT/baseline W=64 D=4 NS=$NS python3 "$PINN" torch jax \
    >"$OUT/baseline/pinn_step.jsonl" 2>"$OUT/baseline/pinn_step.log"
  rc=$?
  set -e
  [[ $rc == 0 ]] || echo "gpu-check: warning: pinn_step.py exited $rc (see $OUT/baseline/pinn_step.log)" >&2
fi

# The table: physc median ms vs the best variant of each framework.
python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, os, sys
out = sys.argv[1]
def lines(path):
    try:
        with open(path) as f:
            for l in f:
                l = l.strip()
                if l.startswith("{"):
                    try:
                        yield json.loads(l)
                    except ValueError:
                        pass
    except OSError:
        return
# The fastest launch configuration per N of each kernel path: "ptx" (physc
# emit ptx, what the runtime loads: parameters staged in shared memory),
# "ptx global" (the same with --stage-params=false), "ptx L16" / "ptx L32"
# (--lanes-per-point 16 / 32: each point's rows over 16 or 32 lanes) and
# "cuda" (physc emit cuda + nvcc).
paths = {"ptx": {}, "ptx global": {}, "ptx L16": {}, "ptx L32": {}, "cuda": {}}
for r in lines(os.path.join(out, "physc-timing.jsonl")):
    kind = r.get("kernels", "cuda")
    if kind == "ptx" and r.get("staged") is False:
        kind = "ptx global"
    elif kind == "ptx" and r.get("lanes", 1) > 1:
        kind = "ptx L%d" % r["lanes"]
    per = paths.setdefault(kind, {})
    if r["N"] not in per or r["ms"] < per[r["N"]]["ms"]:
        per[r["N"]] = r
physc = {}  # the faster of the two per N
for per in paths.values():
    for n, r in per.items():
        if n not in physc or r["ms"] < physc[n]["ms"]:
            physc[n] = r
best = {}
for r in lines(os.path.join(out, "baseline", "pinn_step.jsonl")):
    if "ms" in r and "N" in r:
        k = (r["fw"], r["N"])
        if k not in best or r["ms"] < best[k]["ms"]:
            best[k] = r
def fmt(x):
    return "-" if x is None else "%.3f" % x
names = list(paths)
print("| N | " + " | ".join("physc %s ms" % k for k in names) +
      " | best JAX ms | best torch ms | JAX / physc | torch / physc |")
print("|---|" + "---|" * (len(names) + 4))
for n in sorted(set(physc) | {k[1] for k in best}):
    p = physc.get(n, {}).get("ms")
    j = best.get(("jax", n), {}).get("ms")
    t = best.get(("torch", n), {}).get("ms")
    r = lambda x: "-" if x is None or not p else "%.2fx" % (x / p)
    print("| %d | " % n + " | ".join(fmt(paths[k].get(n, {}).get("ms"))
                                    for k in names) +
          " | %s | %s | %s | %s |" % (fmt(j), fmt(t), r(j), r(t)))
print()
print("Ratios use the fastest physc path at each N.")
for name, per in paths.items():
    for n, r in sorted(per.items()):
        print("- physc %s at N=%d: grid %d, %d threads per block" % (
            name, n, r.get("grid", 0), r.get("block", 32)))
for (fw, n), r in sorted(best.items()):
    print("- best %s at N=%d: %s" % (fw, n, r.get("variant")))
train = list(lines(os.path.join(out, "train.jsonl")))
if train:
    print()
    print("| binary | device | steps (whole on the device) | seconds | steps/s | rel L2 |")
    print("|---|---|---|---|---|---|")
    for r in train:
        steps, secs = r.get("steps", 0), r.get("seconds", 0)
        print("| %s | %s | %d (%d) | %.2f | %s | %s |" % (
            r.get("binary", r.get("model")), r.get("device"), steps,
            r.get("device_steps", 0),
            secs, "%.0f" % (steps / secs) if secs else "-",
            ", ".join("%s %.3g" % kv for kv in r.get("rel_l2", {}).items())))
PY
if [[ $status == 0 ]]; then
  echo "gpu-check: all correctness checks PASS; results in $OUT"
else
  echo "gpu-check: some correctness checks FAILED; results in $OUT" >&2
fi
exit $status
