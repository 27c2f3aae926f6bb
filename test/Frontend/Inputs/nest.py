"""Writes a complete .phys model to stdout whose `const a` is nested N deep.

usage: nest.py KIND N
  parens  ((((1))))        N levels of parentheses
  calls   sin(sin(1))      N nested calls
  minus   ----1            N unary minuses
  sum     1+1+...+1        N additions (a left-leaning tree N deep)
  power   2^2^...^1        N powers (a right-leaning tree N deep)
  lets    1                and N lets, each using the next: l0 = l1 + u, ...
  cycle   1                and N lets in one cycle: l0 = l1 + u, ..., l(N-1) = l0
The const is on line 2, starting at column 11; the lets follow the model.
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
expr = {
    "parens": "(" * n + "1" + ")" * n,
    "calls": "sin(" * n + "1" + ")" * n,
    "minus": "-" * n + "1",
    "sum": "1+" * n + "1",
    "power": "1^" * n + "1",
}.get(kind, "1")
sys.stdout.write(
    "model deep\n"
    "const a = " + expr + "\n"
    "space x in [0, 1]\n"
    "net N = mlp(in: 1, out: 1, hidden: [4], act: tanh)\n"
    "field u(x) = a * N(x)\n"
    "equation pde: d(u, x, x) == -1 in interior\n"
    "equation bc: u == 0 on x == 0 or x == 1\n"
    "loss pde + bc\n"
    "train adam(lr: 1e-3, steps: 1)\n")
if kind in ("lets", "cycle"):
    for i in range(n):
        nxt = i + 1 if kind == "lets" or i + 1 < n else 0
        sys.stdout.write("let l%d = l%d + u\n" % (i, nxt))
    if kind == "lets":
        sys.stdout.write("let l%d = u\n" % n)
