#!/usr/bin/env python3
"""Checks on `physc train --summary` JSON files (stdlib only).

  summary.py check FILE ASSERTION...
      Each ASSERTION is 'PATH OP VALUE' or 'has PATH' or 'int PATH':
        PATH   a dotted path into the document (loss.pde, rel_l2.u, params.k)
        OP     one of < <= > >= == !=
        VALUE  a JSON literal (2e-3, "cpu", 600)
      Prints one 'ok: ...' line per assertion; on the first failure prints
      'FAIL: ...' with the actual value and exits 1.

  summary.py same FILE1 FILE2 PATH...
      The values at each PATH are identical (bit for bit, as JSON numbers
      round-trip doubles) in both files. Prints 'same: PATH = VALUE'.
"""
import json
import operator
import sys

OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne, "<": operator.lt, ">": operator.gt}


def lookup(doc, path):
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(doc, assertion):
    words = assertion.split()
    if len(words) == 2 and words[0] in ("has", "int"):
        try:
            v = lookup(doc, words[1])
        except KeyError:
            fail("missing key '%s'" % words[1])
        if words[0] == "int" and (not isinstance(v, int) or isinstance(v, bool)):
            fail("'%s' is %r, not an integer" % (words[1], v))
        print("ok: %s %s" % (words[0], words[1]))
        return
    if len(words) != 3 or words[1] not in OPS:
        fail("bad assertion '%s'" % assertion)
    path, op, want = words[0], words[1], json.loads(words[2])
    try:
        v = lookup(doc, path)
    except KeyError:
        fail("missing key '%s'" % path)
    if not OPS[op](v, want):
        fail("%s = %r, expected %s %r" % (path, v, op, want))
    print("ok: %s %s %s" % (path, op, words[2]))


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        with open(argv[2]) as f:
            doc = json.load(f)
        for a in argv[3:]:
            check(doc, a)
        return 0
    if len(argv) >= 4 and argv[1] == "same":
        with open(argv[2]) as f:
            a = json.load(f)
        with open(argv[3]) as f:
            b = json.load(f)
        for path in argv[4:]:
            try:
                va, vb = lookup(a, path), lookup(b, path)
            except KeyError as e:
                fail("missing key '%s'" % e.args[0])
            if va != vb:
                fail("%s differs: %r vs %r" % (path, va, vb))
            print("same: %s = %s" % (path, json.dumps(va)))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
