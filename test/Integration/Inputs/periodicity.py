#!/usr/bin/env python3
"""Checks the periodicity in x (period 2) of `physc eval` output for the
points of encode-periodic.test (stdlib only).

  periodicity.py FILE.csv periodic   u(x) == u(x + 2) to 1e-12 at the pairs,
                                     and u varies with x by more than 1e-3
  periodicity.py FILE.csv plain      some pair differs by more than 1e-6

Rows (x, t, u) come in the order of the points file: pairs (x, x + 2) in
rows 0-5, (-1.5, 0.5) at t = 0.25 in rows 6-7, then x = 0.5 and 1 at t = 0.
"""
import csv
import sys

rows = [[float(v) for v in r] for r in list(csv.reader(open(sys.argv[1])))[1:]]
pairs = [(rows[i], rows[i + 1]) for i in range(0, 8, 2)]
for a, b in pairs:
    assert a[1] == b[1], (a, b)
gap = max(abs(a[2] - b[2]) for a, b in pairs)
if sys.argv[2] == "periodic":
    if gap >= 1e-12:
        sys.exit("FAIL: max |u(x) - u(x + 2)| = %g" % gap)
    print("periodic: max |u(x) - u(x + 2)| below 1e-12")
    spread = max(abs(rows[0][2] - rows[8][2]), abs(rows[0][2] - rows[9][2]))
    if spread <= 1e-3:
        sys.exit("FAIL: u barely varies with x (%g)" % spread)
    print("varies: max |u(0) - u(0.5 or 1)| above 1e-3")
else:
    if gap <= 1e-6:
        sys.exit("FAIL: the plain net is periodic too (%g)" % gap)
    print("not periodic: max |u(x) - u(x + 2)| = %g" % gap)
