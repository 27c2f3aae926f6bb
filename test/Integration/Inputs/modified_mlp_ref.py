#!/usr/bin/env python3
"""Reference forward pass of a modified_mlp (stdlib only).

  modified_mlp_ref.py CHECKPOINT EVAL.csv IN HIDDEN_WIDTH DEPTH OUT
  modified_mlp_ref.py ranges CHECKPOINT IN HIDDEN_WIDTH DEPTH OUT

Reads the flat parameters of a checkpoint whose model has one modified_mlp
net and nothing else trainable, evaluates
    U = tanh(W_u x + b_u), V = tanh(W_v x + b_v),
    z_l = tanh(W_l h_{l-1} + b_l), h_l = (1 - z_l) U + z_l V  (h_0 = x),
    y = W_out h_L + b_out
at the points of EVAL.csv (the coordinates, then the net's first output, as
`physc eval` writes them) and prints the largest absolute difference. The
layout is the one docs/language.md gives: the stack's layers 0 .. L (weight
row-major fan-out x fan-in, then bias), then enc_u, then enc_v. So this
checks the kernels' formula and the parameter layout independently of them.

`ranges` prints the largest |weight| of each block instead (layer0 ..
layerL, enc_u, enc_v), e.g. to check initial ranges.
"""
import csv
import math
import struct
import sys


def read_params(path):
    b = open(path, "rb").read()
    assert b[:8] == b"PHYSCKPT", "not a checkpoint"
    at = 12  # magic, u32 version
    (n,) = struct.unpack_from("<I", b, at)
    at += 4 + n
    (count,) = struct.unpack_from("<Q", b, at)
    at += 8
    return list(struct.unpack_from("<%dd" % count, b, at))


def main():
    ranges = sys.argv[1] == "ranges"
    args = sys.argv[2:] if ranges else sys.argv[1:]
    ckpt, evals = args[0], None if ranges else args[1]
    nin, width, depth, nout = map(int, args[-4:])
    p = read_params(ckpt)
    at = 0

    def block(rows, cols):
        nonlocal at
        w = [p[at + r * cols: at + (r + 1) * cols] for r in range(rows)]
        at += rows * cols
        bias = p[at: at + rows]
        at += rows
        return w, bias

    fans = [nin] + [width] * depth + [nout]
    stack = [block(fans[l + 1], fans[l]) for l in range(depth + 1)]
    enc_u = block(width, nin)
    enc_v = block(width, nin)
    assert at == len(p), "layout has %d params, checkpoint %d" % (at, len(p))
    if ranges:
        names = ["layer%d" % l for l in range(depth + 1)] + ["enc_u", "enc_v"]
        for name, (w, _) in zip(names, stack + [enc_u, enc_v]):
            print("%s %.6g" % (name, max(abs(x) for r in w for x in r)))
        return

    def affine(wb, x, act):
        w, bias = wb
        y = [sum(wr[i] * x[i] for i in range(len(x))) + br
             for wr, br in zip(w, bias)]
        return [math.tanh(v) for v in y] if act else y

    worst = 0.0
    rows = list(csv.reader(open(evals)))
    for row in rows[1:]:
        x = [float(v) for v in row[:nin]]
        u, v = affine(enc_u, x, True), affine(enc_v, x, True)
        h = x
        for l in range(depth):
            z = affine(stack[l], h, True)
            h = [(1 - zi) * ui + zi * vi for zi, ui, vi in zip(z, u, v)]
        y = affine(stack[depth], h, False)
        worst = max(worst, abs(y[0] - float(row[nin])))
    print("points %d max diff %.3g" % (len(rows) - 1, worst))
    sys.exit(0 if worst < 1e-9 else 1)


main()
