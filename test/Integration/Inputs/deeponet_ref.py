#!/usr/bin/env python3
"""Reference forward pass of a deeponet of two tanh mlps (stdlib only).

  deeponet_ref.py CHECKPOINT EVAL.csv BRANCH TRUNK OUT

BRANCH and TRUNK are `SIZES@COLUMNS`: the layer widths of the net from
input to output (`1,16,16,16`) and the columns of EVAL.csv it reads
(`2`, `0,1`). Reads the flat parameters of a checkpoint whose model has
exactly these two nets (branch declared first) and the deeponet's OUT
biases as its only trainable params, evaluates
    B = mlp_B(branch columns), T = mlp_T(trunk columns)   (p outputs each)
    y_k = sum_{j in group k} B_j T_j + b_k       (OUT groups of p / OUT)
at the points of EVAL.csv (`physc eval` output: the coordinates, then the
fields in order, the first OUT of which are the deeponet's outputs) and
prints the largest absolute difference. The layout is docs/language.md's:
the nets' layers (weight row-major fan-out x fan-in, then bias) in model
order, then the biases `G.bias` (or `G.bias.0`, ...). So this checks the
formula, the grouping and the layout independently of the compiler.
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
    ckpt, evals = sys.argv[1], sys.argv[2]
    specs = []
    for arg in sys.argv[3:5]:
        sizes, cols = arg.split("@")
        specs.append(([int(v) for v in sizes.split(",")],
                      [int(v) for v in cols.split(",")]))
    nout = int(sys.argv[5])
    p = read_params(ckpt)
    at = 0

    def block(rows, cols):
        nonlocal at
        w = [p[at + r * cols: at + (r + 1) * cols] for r in range(rows)]
        at += rows * cols
        bias = p[at: at + rows]
        at += rows
        return w, bias

    nets = [[block(s[l + 1], s[l]) for l in range(len(s) - 1)]
            for s, _ in specs]
    biases = p[at: at + nout]
    at += nout
    assert at == len(p), "layout has %d params, checkpoint %d" % (at, len(p))

    def forward(layers, x):
        for l, (w, bias) in enumerate(layers):
            x = [sum(wr[i] * x[i] for i in range(len(x))) + br
                 for wr, br in zip(w, bias)]
            if l + 1 < len(layers):
                x = [math.tanh(v) for v in x]
        return x

    width = specs[0][0][-1]
    per = width // nout
    rows = list(csv.reader(open(evals)))
    ncoords = max(max(c) for _, c in specs) + 1
    worst = 0.0
    for row in rows[1:]:
        v = [float(c) for c in row]
        b = forward(nets[0], [v[c] for c in specs[0][1]])
        t = forward(nets[1], [v[c] for c in specs[1][1]])
        for k in range(nout):
            y = sum(b[j] * t[j] for j in range(k * per, (k + 1) * per))
            y += biases[k]
            worst = max(worst, abs(y - v[ncoords + k]))
    print("points %d max diff %.3g" % (len(rows) - 1, worst))
    sys.exit(0 if worst < 1e-9 else 1)


main()
