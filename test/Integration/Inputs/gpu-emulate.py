"""Rewrites the kernels of `phys-kernels-to-gpu` into CPU functions.

A CPU cannot run a gpu.func, but each one is plain scf/memref/arith code
apart from its thread and block ids, its barriers and its workgroup memory.
This script turns every gpu.func into a func.func that takes the ids (tid,
bid, bdim, gdim) as trailing index arguments, then the workgroup buffer, if
it has one, as a plain memref, then the dynamic shared memory, if it reads
any (gpu.dynamic_shared_memory), as a memref<?xi8>, and calls the external
`emu_barrier()` for gpu.barrier and nvvm.bar.warp.sync. A driver then
runs one OS thread per GPU thread, with a real
barrier, so the block tree reduction runs as it would on a GPU. For each
kernel with workgroup memory it also adds `NAME_shared_size()`, the
buffer's element count.

It also writes OUT.sigs (the output path plus ".sigs"), one line per
kernel:

    NAME ARGKINDS WGSIZE WGELEM DYNBYTES

ARGKINDS has one letter per argument in order ("-" for none): `m` for a memref<?xT>
(five PTX parameters: allocated, aligned, offset, size, stride) and `i` for
an index or i64 scalar (one 8-byte parameter). WGSIZE is the workgroup
buffer's element count and WGELEM its element size in bytes (both 0 when
the kernel has none). DYNBYTES is the end of the furthest memref.view of
the dynamic shared memory (0 when it reads none): a launch with fewer bytes
would read past it. libphysc-emucuda reads it to rebuild each call from
cuLaunchKernel's flat parameter list and to check the PTX's ABI.

Anything the CPU emulation cannot reproduce (y/z ids, other gpu ops, float
scalar arguments, memrefs of another shape) is an error here rather than a
wrong result later.

Usage: gpu-emulate.py IN.mlir OUT.mlir
"""
import re
import sys

FUNC = re.compile(r"\s*gpu\.func @(\w+)\((.*?)\)"
                  r"( workgroup\((%\w+) : memref<(\d+)x(\w+), "
                  r"#gpu.address_space<workgroup>>(?: \{[^}]*\})?\))?"
                  r" kernel(?: attributes \{.*\})? \{$")
WARP_SYNC = re.compile(r"\s*nvvm\.bar\.warp\.sync %[\w-]+ : i32$")
CONST = re.compile(r"\s*(%\w+) = arith\.constant (\d+) : index$")
IDS = {"thread_id": "tid", "block_id": "bid", "block_dim": "bdim",
       "grid_dim": "gdim"}
ELEM_BYTES = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "index": 8}
DYN = re.compile(r"\s*(%\w+) = gpu\.dynamic_shared_memory : "
                 r"memref<\?xi8, #gpu\.address_space<workgroup>>$")
VIEW = re.compile(r".*= memref\.view (%\w+)\[(%\w+)\]\[\] : .* to "
                  r"memref<(\d+)x(\w+), #gpu\.address_space<workgroup>>$")


def fail(msg):
    sys.exit(f"gpu-emulate.py: {sys.argv[1]}: {msg}")


def split_args(args):
    """Splits `%a: T, %b: U` at the top-level commas (types nest <>)."""
    parts, depth, cur = [], 0, ""
    for c in args:
        depth += c == "<"
        depth -= c == ">"
        if c == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur.strip())
    return parts


def arg_kind(name, arg):
    ty = arg.split(":", 1)[1].strip()
    if re.fullmatch(r"memref<\?x(f32|f64|i32|i64|index)>", ty):
        return "m"
    if ty in ("index", "i64"):
        return "i"
    fail(f"@{name}: argument `{arg}` has no CPU calling convention here "
         "(only memref<?xT> and index/i64 scalars)")


src = open(sys.argv[1]).read().split("\n")
out = ["module {", "  func.func private @emu_barrier()"]
sigs = []
i = 0
while i < len(src):
    m = FUNC.match(src[i])
    i += 1
    if not m:
        if "gpu.func" in src[i - 1]:
            fail(f"unsupported kernel header: {src[i - 1].strip()}")
        continue
    name, args, _, shared, size, elt = m.groups()
    consts = {}
    kinds = "".join(arg_kind(name, a) for a in split_args(args))
    if shared and elt not in ELEM_BYTES:
        fail(f"@{name}: workgroup element type {elt}")
    extra = f", {shared}: memref<{size}x{elt}>" if shared else ""
    body, dyn_names, dyn_bytes = [], set(), 0
    while not src[i].startswith("    }"):
        line = src[i]
        i += 1
        d = DYN.match(line)
        if d:
            # Every use of the dynamic shared memory is a view of it.
            dyn_names.add(d.group(1))
            body.append(f"    {d.group(1)} = memref.cast %emu_dyn : "
                        "memref<?xi8> to memref<?xi8>")
            continue
        v = VIEW.match(line)
        if v and v.group(1) in dyn_names:
            if v.group(4) not in ELEM_BYTES:
                fail(f"@{name}: dynamic shared view of {v.group(4)}")
            offset = consts.get(v.group(2))
            if offset is None:
                fail(f"@{name}: dynamic shared view at a non-constant offset")
            dyn_bytes = max(dyn_bytes, offset +
                            int(v.group(3)) * ELEM_BYTES[v.group(4)])
        c = CONST.match(line)
        if c:
            consts[c.group(1)] = int(c.group(2))
        line = line.replace(", #gpu.address_space<workgroup>", "")
        for op, arg in IDS.items():
            line = re.sub(rf"gpu\.{op}\s+x\b",
                          f"arith.addi %emu_{arg}, %emu_zero : index", line)
        if "gpu.barrier" in line and not (shared or dyn_names):
            # libphysc-emucuda runs the threads of kernels without
            # workgroup memory one after another: a barrier cannot work.
            fail(f"@{name}: gpu.barrier without workgroup memory")
        line = line.replace("gpu.barrier", "func.call @emu_barrier() : () -> ()")
        # __syncwarp() (lane-split loss kernels): a barrier of the whole
        # block is stronger, and as every thread of a block reaches each
        # one alike (the bodies are straight-line), it cannot deadlock.
        if WARP_SYNC.match(line):
            if not (shared or dyn_names):
                fail(f"@{name}: nvvm.bar.warp.sync without workgroup memory")
            line = "      func.call @emu_barrier() : () -> ()"
        if re.search(r"\bnvvm\.", line):
            fail(f"@{name}: cannot emulate `{line.strip()}`")
        line = line.replace("gpu.return", "return")
        if re.search(r"\bgpu\.", line):
            fail(f"@{name}: cannot emulate `{line.strip()}`")
        body.append(line)
    if dyn_names:
        extra += ", %emu_dyn: memref<?xi8>"
    out.append(f"  func.func @{name}({args}, %emu_tid: index, "
               f"%emu_bid: index, %emu_bdim: index, %emu_gdim: index{extra}) "
               "attributes {llvm.emit_c_interface} {")
    out.append("    %emu_zero = arith.constant 0 : index")
    out.extend(body)
    out.append("  }")
    if shared:
        out.append(f"  func.func @{name}_shared_size() -> index "
                   "attributes {llvm.emit_c_interface} {")
        out.append(f"    %size = arith.constant {size} : index")
        out.append("    return %size : index")
        out.append("  }")
    sigs.append(f"{name} {kinds or '-'} {size or 0} "
                f"{ELEM_BYTES[elt] if shared else 0} {dyn_bytes}")
    i += 1
out.append("}")
if not sigs:
    fail("no gpu.func kernels")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
open(sys.argv[2] + ".sigs", "w").write("\n".join(sigs) + "\n")
