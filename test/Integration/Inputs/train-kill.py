#!/usr/bin/env python3
"""Helpers of train-resume.test and train-nan.test (stdlib only).

  train-kill.py kill STEP CKPT -- CMD...
      Runs CMD (a `physc train ... --log-every 1`), reads its progress lines
      from stderr and sends SIGKILL once a line shows a step >= STEP. The
      pipe is shrunk to one page and read in small pieces so the run cannot
      get more than a few dozen steps ahead of the reader: the kill lands
      well before the end of the run, whatever the machine's speed. Then
      checks that the run was killed (not finished) and prints
      'killed at step K; checkpoint at step S' with S read from CKPT.

  train-kill.py status N -- CMD...
      Runs CMD, passes its output through, and exits 0 iff its exit status
      is N (else prints 'FAIL: ...' and exits 1).

  train-kill.py corrupt FILE truncate N | flip OFFSET
      Cuts N bytes off the end of FILE, or flips all bits of one byte.

  train-kill.py step CKPT
      Prints 'checkpoint at step S' (the global step stored in CKPT).
"""
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys

STEP = re.compile(rb"(?:adam|lbfgs) step (\d+)/")


def checkpoint_step(path):
    with open(path, "rb") as f:
        b = f.read()
    (name_len,) = struct.unpack_from("<I", b, 12)
    (n,) = struct.unpack_from("<Q", b, 16 + name_len)
    (steps,) = struct.unpack_from("<q", b, 24 + name_len + 8 * n)
    return steps


def kill(at, ckpt, cmd):
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    fd = p.stderr.fileno()
    fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    buf, last = b"", 0
    while True:
        chunk = os.read(fd, 128)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            m = STEP.search(line)
            if m:
                last = int(m.group(1))
        if last >= at:
            p.send_signal(signal.SIGKILL)
            break
    p.wait()
    if p.returncode != -signal.SIGKILL:
        print("FAIL: the run was not killed (exit status %d, last step %d)"
              % (p.returncode, last))
        return 1
    print("killed at step %d; checkpoint at step %d" % (last,
                                                         checkpoint_step(ckpt)))
    return 0


def status(want, cmd):
    r = subprocess.run(cmd)
    sys.stdout.flush()
    if r.returncode != want:
        print("FAIL: exit status %d, expected %d" % (r.returncode, want))
        return 1
    return 0


def corrupt(path, how, n):
    with open(path, "rb") as f:
        b = bytearray(f.read())
    if how == "truncate":
        b = b[:len(b) - n]
    elif how == "flip":
        b[n] ^= 0xFF
    else:
        print(__doc__)
        return 2
    with open(path, "wb") as f:
        f.write(b)
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "kill" and argv[4] == "--":
        return kill(int(argv[2]), argv[3], argv[5:])
    if len(argv) >= 4 and argv[1] == "status" and argv[3] == "--":
        return status(int(argv[2]), argv[4:])
    if len(argv) == 3 and argv[1] == "step":
        print("checkpoint at step %d" % checkpoint_step(argv[2]))
        return 0
    if len(argv) == 5 and argv[1] == "corrupt":
        return corrupt(argv[2], argv[3], int(argv[4]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
