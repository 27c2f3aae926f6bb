#!/usr/bin/env python3
"""Looks at and tampers with physc's code cache (tools/physc/CodeCache.h).

  code-cache.py count DIR KIND        entries of KIND (ptx, cubin) in DIR
  code-cache.py check DIR KIND        each entry: valid if its first line
                                      holds its contents' SHA-256 and length
  code-cache.py mark DIR KIND TEXT    appends TEXT (a line) to every entry's
                                      contents and rewrites the first line to
                                      match: a valid entry physc cannot have
                                      written
  code-cache.py corrupt DIR KIND      changes one byte of every entry's
                                      contents, leaving the first line: an
                                      invalid entry
"""
import hashlib
import os
import sys

PREFIX = "// physc code cache: sha256 "


def entries(d, kind):
    folder = os.path.join(d, kind)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.endswith("." + kind))


def header(contents):
    return "%s%s, %d bytes\n" % (PREFIX, hashlib.sha256(contents).hexdigest(),
                                 len(contents))


def split(path):
    first, _, contents = open(path, "rb").read().partition(b"\n")
    return first.decode() + "\n", contents


if len(sys.argv) < 4:
    sys.exit(__doc__)
cmd, d, kind = sys.argv[1:4]
if cmd == "count":
    print("%s entries: %d" % (kind, len(entries(d, kind))))
elif cmd == "check":
    for path in entries(d, kind):
        first, contents = split(path)
        print(kind, "valid" if first == header(contents) else "INVALID")
elif cmd == "mark":
    for path in entries(d, kind):
        _, contents = split(path)
        contents += ("%s\n" % sys.argv[4]).encode()
        open(path, "wb").write(header(contents).encode() + contents)
elif cmd == "corrupt":
    for path in entries(d, kind):
        first, contents = split(path)
        contents = contents[:100] + bytes([contents[100] ^ 1]) + contents[101:]
        open(path, "wb").write(first.encode() + contents)
else:
    sys.exit(__doc__)
