#!/usr/bin/env python3
"""The tables of a bench/gpu-check.sh run, from the files it left in OUT.

  python3 bench/gpu-table.py OUT

gpu-check.sh runs it last (into OUT/table.md); run it by hand on the files
of a check that was cut short. First table: per N, physc's fastest step
time of each kernel path next to the fastest JAX and PyTorch variants of
../shared/anchors/pinn_step.py, with ratios. Second: the training runs.
"""
import json
import os
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
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
