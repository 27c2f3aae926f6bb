#!/usr/bin/env python3
# ===- bench/compare.py - Tables for bench/cpu-step.sh ---------------------===#
#
# Parses the JSON lines of `physc bench` and of the baseline script
# (shared/anchors/pinn_step.py) and prints the comparison as markdown.
# Standard library only: it runs with the system python3, outside the
# baseline's virtual environment.
#
#   compare.py physc-record N RC STDOUT STDERR
#       normalises one `physc bench` run into one JSON line: the run's own
#       line, or {"N": N, "error": ...} when it failed or printed no result.
#   compare.py report --physc FILE --baseline FILE [--meta KEY=VALUE]...
#                     [--record PATH]
#       prints the table; with --record also writes it, with the raw JSON,
#       to PATH.
#
# ===----------------------------------------------------------------------===#
import argparse
import json
import sys


def json_lines(text):
    """Every line of `text` that is a JSON object; anything else (logs,
    tracebacks) is skipped, since both tools may print around their results."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def physc_record(args):
    """The contract of `physc bench ... --points N`: one JSON line with at
    least N and ms (median). Anything else is turned into an error record so
    that one failing size does not hide the others."""
    n = int(args.n)
    with open(args.stdout, encoding="utf-8", errors="replace") as f:
        out = f.read()
    with open(args.stderr, encoding="utf-8", errors="replace") as f:
        err = f.read()
    recs = [r for r in json_lines(out) if r.get("N") == n and is_number(r.get("ms"))]
    if args.rc != "0" or not recs:
        tail = (err.strip() or out.strip()).splitlines()[-3:]
        why = "exit status %s" % args.rc if args.rc != "0" else "no JSON result line"
        rec = {"N": n, "error": why + (": " + " | ".join(tail) if tail else "")}
    else:
        rec = recs[-1]
    print(json.dumps(rec))
    return 0


def fmt_ms(v):
    return "%.2f" % v if v < 100 else "%.1f" % v


def load(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def report(args):
    physc_raw = load(args.physc)
    base_raw = load(args.baseline)
    physc = json_lines(physc_raw)
    base = json_lines(base_raw)
    meta = dict(kv.split("=", 1) for kv in args.meta)

    ok_base = [r for r in base if is_number(r.get("ms")) and "N" in r and not r.get("error")]
    failed_base = [r for r in base if r.get("error")]
    version = next((r.get("version") for r in base if r.get("variant") == "version"), None)
    fw = meta.get("baseline", "baseline")
    if fw == "custom":  # PHYSC_BASELINE_CMD: trust what the records say.
        fw = next((r["fw"] for r in base if isinstance(r.get("fw"), str)), fw)
    sizes = []
    for r in physc + ok_base:
        if r.get("N") not in sizes and isinstance(r.get("N"), int):
            sizes.append(r["N"])
    sizes.sort()

    lines = []
    title = "%s %s" % (fw, version) if version else fw
    lines.append("## physc vs %s: one Burgers PINN training step on CPU" % title)
    lines.append("")
    lines.append("MLP 2 -> 64x4 -> 1, tanh; one step = PDE-residual loss and its gradient "
                 "w.r.t. all parameters at N collocation points; f32; median of the timed "
                 "iterations.")
    lines.append("")
    threads = sorted({str(r["threads"]) for r in physc if "threads" in r})
    lines.append("- machine: %s, nproc = %s" % (meta.get("cpu", "unknown CPU"), meta.get("nproc", "?")))
    lines.append("- physc: %s thread(s) (as reported by `physc bench`)%s"
                 % ("/".join(threads) or "?", meta.get("physc_pin", "")))
    lines.append("- baseline: %s%s" % (title, meta.get("baseline_pin", "")))
    if meta.get("date"):
        lines.append("- date: %s" % meta["date"])
    lines.append("")
    lines.append("| N | physc ms (median) | baseline variant | baseline ms | ratio baseline/physc |")
    lines.append("|---:|---:|---|---:|---:|")
    failures = 0
    for n in sizes:
        p = next((r for r in physc if r.get("N") == n), None)
        cands = [r for r in ok_base if r["N"] == n]
        best = min(cands, key=lambda r: r["ms"]) if cands else None
        if p is None or not is_number(p.get("ms")):
            failures += 1
            pcell = "failed" if p is None else "failed: %s" % p.get("error", "?")[:80]
        else:
            pcell = fmt_ms(p["ms"])
        if best is None:
            failures += 1
            bvar, bms = "failed", "-"
        else:
            bvar, bms = best["variant"], fmt_ms(best["ms"])
        ratio = "-"
        if best is not None and p is not None and is_number(p.get("ms")) and p["ms"] > 0:
            ratio = "%.2f" % (best["ms"] / p["ms"])
        lines.append("| %d | %s | %s | %s | %s |" % (n, pcell, bvar, bms, ratio))
    lines.append("")
    lines.append("Ratio > 1 means physc is faster than the best baseline variant.")

    variants = []
    for r in ok_base + failed_base:
        if r.get("variant") not in variants and r.get("variant") != "version":
            variants.append(r["variant"])
    if variants:
        lines.append("")
        lines.append("### All baseline variants (median ms)")
        lines.append("")
        lines.append("| variant | " + " | ".join("N = %d" % n for n in sizes) + " |")
        lines.append("|---|" + "---:|" * len(sizes))
        for v in variants:
            cells = []
            for n in sizes:
                r = next((r for r in base if r.get("variant") == v and r.get("N") == n), None)
                if r is None:
                    cells.append("-")
                elif r.get("error"):
                    cells.append("error")
                else:
                    cells.append(fmt_ms(r["ms"]))
            lines.append("| %s | %s |" % (v, " | ".join(cells)))
    for r in failed_base:
        lines.append("")
        lines.append("- %s N=%s failed: %s" % (r.get("variant"), r.get("N"), r["error"][:200]))

    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.record:
        raw = ["", "### Raw JSON", ""]
        if meta.get("command"):
            raw += ["Command: `%s`" % meta["command"], ""]
        raw += ["physc:", "", "```json"] + [json.dumps(r) for r in physc] + ["```", ""]
        raw += ["baseline:", "", "```json"] + [json.dumps(r) for r in base] + ["```", ""]
        with open(args.record, "w", encoding="utf-8") as f:
            f.write(text + "\n".join(raw))
    return 1 if failures or not sizes else 0


def main():
    ap = argparse.ArgumentParser(
        description="Tables for bench/cpu-step.sh (see the file header).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("physc-record")
    pr.add_argument("n")
    pr.add_argument("rc")
    pr.add_argument("stdout")
    pr.add_argument("stderr")
    rp = sub.add_parser("report")
    rp.add_argument("--physc", required=True)
    rp.add_argument("--baseline", required=True)
    rp.add_argument("--meta", action="append", default=[])
    rp.add_argument("--record")
    args = ap.parse_args()
    return physc_record(args) if args.cmd == "physc-record" else report(args)


if __name__ == "__main__":
    sys.exit(main())
