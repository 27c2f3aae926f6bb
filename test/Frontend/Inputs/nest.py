"""Writes a complete .phys model to stdout whose `const a` is nested N deep.

usage: nest.py KIND N
  parens  ((((1))))        N levels of parentheses
  calls   sin(sin(1))      N nested calls
  minus   ----1            N unary minuses
  sum     1+1+...+1        N additions (a left-leaning tree N deep)
  power   2^2^...^1        N powers (a right-leaning tree N deep)
The const is on line 2, starting at column 11.
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
expr = {
    "parens": "(" * n + "1" + ")" * n,
    "calls": "sin(" * n + "1" + ")" * n,
    "minus": "-" * n + "1",
    "sum": "1+" * n + "1",
    "power": "1^" * n + "1",
}[kind]
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
