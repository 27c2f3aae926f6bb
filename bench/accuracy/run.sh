#!/usr/bin/env bash
# Accuracy benchmark of the examples against their analytic references.
#
#   bench/accuracy/run.sh [--quick|--full] [--out TABLE.md] [--physc PATH]
#                         [--threads N] [--seed S] [EXAMPLE...]
#
# Every examples/*.phys with an "# accuracy:" header line takes part (or only
# the EXAMPLEs given, as names like poisson2d or as paths). Each is trained
# with `physc train FILE --summary S.json` (with --quick: the first
# quick-steps optimizer steps only, `--steps N`), and its relative L2 errors
# (the summary's rel_l2 entries, against the file's `exact` references) are
# compared with the documented threshold. Prints a markdown table; with
# --out, writes it to TABLE.md too (between the lines
# <!-- accuracy-table:begin --> and <!-- accuracy-table:end --> when the
# file already has them, each on a line of its own, replacing only that
# part; else the whole file).
# Exit status: 0 when every example meets its threshold, 1 when one misses
# it or fails to train, 2 on a usage error.
#
# Header lines read from each example (see docs/accuracy.md):
#   # accuracy: full T [quick Q] [quick-steps N] [fields F1,F2]
#   # published-pinnacle: TEXT      (optional; "—" when absent)
#   # published-jaxpi: TEXT         (optional; "—" when absent)
#
# Needs only bash and python3 (standard library).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 - "$here" "$@" <<'PY'
import datetime, json, os, platform, re, resource, shutil, subprocess, sys, tempfile, time

here = sys.argv[1]
root = os.path.dirname(os.path.dirname(here))
args = sys.argv[2:]

USAGE = ("usage: bench/accuracy/run.sh [--quick|--full] [--out TABLE.md] "
         "[--physc PATH] [--threads N] [--seed S] [EXAMPLE...]")

mode, out, physc, threads, seed, names = "full", None, None, None, None, []
i = 0
def value():
    global i
    i += 1
    if i >= len(args):
        print(USAGE + "\nerror: " + args[i - 1] + " needs a value", file=sys.stderr)
        sys.exit(2)
    return args[i]
while i < len(args):
    a = args[i]
    if a == "--quick": mode = "quick"
    elif a == "--full": mode = "full"
    elif a == "--out": out = value()
    elif a == "--physc": physc = value()
    elif a == "--threads": threads = value()
    elif a == "--seed": seed = value()
    elif a in ("-h", "--help"):
        print(USAGE); sys.exit(0)
    elif a.startswith("-"):
        print(USAGE + "\nerror: unknown option " + a, file=sys.stderr); sys.exit(2)
    else: names.append(a)
    i += 1

if physc is None:
    physc = os.environ.get("PHYSC")
if physc is None:
    built = os.path.join(root, "build", "bin", "physc")
    physc = built if os.access(built, os.X_OK) else shutil.which("physc")
if not physc:
    print("error: no physc (build it with scripts/build.sh, or pass --physc)",
          file=sys.stderr); sys.exit(2)

ACC = re.compile(r"^#\s*accuracy:\s*(.*)$")
PUB = re.compile(r"^#\s*published-(pinnacle|jaxpi):\s*(.*)$")

def parse(path):
    """The example's accuracy spec, or None if it has no '# accuracy:' line."""
    spec, pub = None, {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = ACC.match(line.strip())
            if m:
                words = m.group(1).split()
                if len(words) % 2:
                    raise ValueError(f"{path}:{n}: '# accuracy:' wants KEY VALUE pairs")
                kv = dict(zip(words[::2], words[1::2]))
                bad = set(kv) - {"full", "quick", "quick-steps", "fields"}
                if bad or "full" not in kv:
                    raise ValueError(f"{path}:{n}: '# accuracy:' keys are full, quick, "
                                     "quick-steps, fields (full is required)")
                spec = {"line": n,
                        "full": float(kv["full"]),
                        "quick": float(kv["quick"]) if "quick" in kv else None,
                        "quick_steps": int(kv["quick-steps"]) if "quick-steps" in kv else None,
                        "fields": kv["fields"].split(",") if "fields" in kv else None}
                if (spec["quick"] is None) != (spec["quick_steps"] is None):
                    raise ValueError(f"{path}:{n}: quick and quick-steps go together")
            m = PUB.match(line.strip())
            if m:
                pub[m.group(1)] = m.group(2).strip()
    if spec:
        spec["pub"] = pub
    return spec

def resolve(name):
    if os.path.exists(name):
        return os.path.abspath(name)
    p = os.path.join(root, "examples", name if name.endswith(".phys") else name + ".phys")
    if os.path.exists(p):
        return p
    print(f"error: no example '{name}'", file=sys.stderr); sys.exit(2)

if names:
    files = [resolve(n) for n in names]
else:
    d = os.path.join(root, "examples")
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".phys"))

jobs = []
for path in files:
    try:
        spec = parse(path)
    except ValueError as e:
        print("error: " + str(e), file=sys.stderr); sys.exit(2)
    if spec is None:
        if names:
            print(f"error: {path} has no '# accuracy:' line", file=sys.stderr); sys.exit(2)
        continue
    if mode == "quick" and spec["quick"] is None:
        print(f"note: {os.path.basename(path)} has no quick budget; skipped", file=sys.stderr)
        continue
    jobs.append((path, spec))
if not jobs:
    print("error: no example to run", file=sys.stderr); sys.exit(2)

def sci(x):
    return f"{x:.2e}"

def dur(s):
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"

rows, failed = [], 0
tmp = tempfile.mkdtemp(prefix="physc-accuracy-")
try:
    for path, spec in jobs:
        name = os.path.splitext(os.path.basename(path))[0]
        thr = spec[mode]
        summ = os.path.join(tmp, name + ".json")
        cmd = [physc, "train", path, "--quiet", "--summary", summ]
        if mode == "quick":
            cmd += ["--steps", str(spec["quick_steps"])]
        if threads: cmd += ["--threads", threads]
        if seed: cmd += ["--seed", seed]
        shown = ["physc", "train", os.path.relpath(path)] + cmd[6:]
        print(f"[{mode}] {name}: {' '.join(shown)} ...", file=sys.stderr, flush=True)
        t0, r0 = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        row = {"name": name, "thr": thr, "wall": wall, "cpu": cpu, "pub": spec["pub"]}
        if p.returncode != 0 or not os.path.exists(summ):
            out_lines = p.stdout.strip().splitlines()
            errs = [l for l in out_lines if "error:" in l]
            row.update(ok=False, err=(errs or out_lines or ["exit %d" % p.returncode])[0 if errs else -1])
        else:
            with open(summ) as f:
                S = json.load(f)
            rel = S.get("rel_l2", {})
            fields = spec["fields"] or list(rel)
            missing = [f for f in fields if f not in rel]
            if not fields or missing:
                row.update(ok=False, err="no rel_l2 for " + (", ".join(missing) or "any field"))
            else:
                row.update(ok=all(rel[f] < thr for f in fields), rel={f: rel[f] for f in fields},
                           steps=S["steps"], seconds=S["seconds"], threads=S["threads"],
                           precision=S["precision"])
        failed += not row["ok"]
        verdict = "pass" if row["ok"] else "FAIL"
        detail = ", ".join(f"{f} {sci(v)}" for f, v in row.get("rel", {}).items()) or row.get("err", "")
        print(f"[{mode}] {name}: {verdict} ({detail}; threshold {sci(thr)}; {dur(wall)})",
              file=sys.stderr, flush=True)
        rows.append(row)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

try:
    rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
except OSError:
    rev = ""

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    f"Mode **{mode}**, {now}, physc {rev or '(unknown revision)'}, "
    f"{cpu_model()} ({os.cpu_count()} cores), seed {seed or 0}. "
    f"Load average at the end: {os.getloadavg()[0]:.1f}. "
    f"Relative L2 error against the `exact` reference; pass = every listed field below the threshold. "
    f"Train time: the optimizer loop as physc reports it; wall and CPU time: the whole "
    f"`physc train` process (JIT compilation included; CPU = user + system over all threads).",
    "",
    "| problem | rel. L2 | threshold | result | steps | train time | wall time | CPU time | device | PINNacle | jaxpi |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
for r in rows:
    if "rel" in r:
        rel = "<br>".join(f"{f} {sci(v)}" for f, v in r["rel"].items()) if len(r["rel"]) > 1 \
              else sci(next(iter(r["rel"].values())))
        dev = f"CPU, {r['threads']} thread{'s' if r['threads'] != 1 else ''}, {r['precision']}"
        steps, train = str(r["steps"]), dur(r["seconds"])
    else:
        err = r["err"] if "error:" in r["err"] else "error: " + r["err"]
        rel, dev, steps, train = err.replace("|", "\\|"), "CPU", "—", "—"
    lines.append(f"| {r['name']} | {rel} | {sci(r['thr'])} | {'pass' if r['ok'] else '**FAIL**'} "
                 f"| {steps} | {train} | {dur(r['wall'])} | {dur(r['cpu'])} | {dev} "
                 f"| {r['pub'].get('pinnacle', '—')} | {r['pub'].get('jaxpi', '—')} |")
lines.append("")
tot_w = sum(r["wall"] for r in rows); tot_c = sum(r["cpu"] for r in rows)
lines.append(f"{len(rows) - failed} of {len(rows)} passed; total wall time {dur(tot_w)}, CPU time {dur(tot_c)}.")
table = "\n".join(lines) + "\n"
print(table, end="")

if out:
    BEGIN, END = "<!-- accuracy-table:begin -->", "<!-- accuracy-table:end -->"
    text = None
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            old = f.read()
        # The markers count only as lines of their own (prose may quote them).
        mb = re.search("^" + re.escape(BEGIN) + "[ \t]*$", old, re.M)
        me = mb and re.search("^" + re.escape(END) + "[ \t]*$", old[mb.end():], re.M)
        if me:
            text = old[:mb.end()] + "\n" + table + old[mb.end() + me.start():]
    if text is None:
        text = table
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(out + ".tmp", out)

sys.exit(1 if failed else 0)
PY
