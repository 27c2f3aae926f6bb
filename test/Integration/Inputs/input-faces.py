#!/usr/bin/env python3
"""Where a term's points lie, from `physc dump-batch` (stdlib only).

  input-faces.py DIR TERM SPACE INPUT LO HI

Reads term TERM's points (coordinate-major f64, `ld` per coordinate) and
checks that every point lies on a face of a `space` coordinate (the
coordinate indices SPACE, comma-separated, each in [0, 1]) and that the
`input` coordinate INPUT spreads over its range (LO, HI) without sitting on
its faces: `on boundary` ignores input coordinates and samples them like
interior ones. Prints a summary line; exits 1 on a violation.
"""
import struct
import sys


def main():
    d, term = sys.argv[1], int(sys.argv[2])
    space = [int(c) for c in sys.argv[3].split(",")]
    inp, lo, hi = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    meta = dict(l.strip().split("=", 1) for l in open(d + "/meta.txt") if "=" in l)
    n, ld = int(meta["term%d.n" % term]), int(meta["term%d.ld" % term])
    raw = open(d + "/" + meta["term%d.pts" % term], "rb").read()
    pts = struct.unpack("<%dd" % (len(raw) // 8), raw)
    col = lambda c, i: pts[c * ld + i]
    off_face = sum(1 for i in range(n)
                   if not any(col(c, i) in (0.0, 1.0) for c in space))
    ks = [col(inp, i) for i in range(n)]
    on_k_face = sum(1 for k in ks if k in (lo, hi))
    inside = all(lo < k < hi for k in ks)
    spread = (max(ks) - min(ks)) / (hi - lo)
    print("points %d off space faces %d on input faces %d input spread %.2f"
          % (n, off_face, on_k_face, spread))
    sys.exit(0 if off_face == 0 and on_k_face == 0 and inside and spread > 0.9 else 1)


main()
