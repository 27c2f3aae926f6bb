"""Rewrites the loss kernels of `phys-kernels-to-gpu` into CPU functions.

A CPU cannot run a gpu.func, but each one is plain scf/memref/arith code
apart from its thread and block ids, its barriers and its workgroup memory.
This script turns every `*_loss_grad` and `*_sum_partials` gpu.func into a
func.func that takes the ids (tid, bid, bdim, gdim) as trailing index
arguments and the workgroup buffer as a plain memref, and calls the
external `emu_barrier()` for gpu.barrier. A driver then runs one OS thread
per GPU thread, with a real barrier, so the block tree reduction runs as it
would on a GPU. For each kernel with workgroup memory it also adds
`NAME_shared_size()`, the buffer's element count, for the driver.

Usage: gpu-emulate.py IN.mlir OUT.mlir
"""
import re
import sys

FUNC = re.compile(
    r"\s*gpu\.func @(\w+_(?:loss_grad|sum_partials))\((.*?)\)"
    r"( workgroup\((%\w+) : memref<(\d+)x(f32|f64), "
    r"#gpu.address_space<workgroup>>\))? kernel")
IDS = {"thread_id": "tid", "block_id": "bid", "block_dim": "bdim",
       "grid_dim": "gdim"}

src = open(sys.argv[1]).read().split("\n")
out = ["module {", "  func.func private @emu_barrier()"]
i = 0
count = 0
while i < len(src):
    m = FUNC.match(src[i])
    i += 1
    if not m:
        continue
    name, args, _, shared, size, elt = m.groups()
    extra = f", {shared}: memref<{size}x{elt}>" if shared else ""
    out.append(f"  func.func @{name}({args}, %emu_tid: index, "
               f"%emu_bid: index, %emu_bdim: index, %emu_gdim: index{extra}) "
               "attributes {llvm.emit_c_interface} {")
    out.append("    %emu_zero = arith.constant 0 : index")
    while not src[i].startswith("    }"):
        line = src[i].replace(", #gpu.address_space<workgroup>", "")
        for op, arg in IDS.items():
            line = re.sub(rf"gpu\.{op}\s+x",
                          f"arith.addi %emu_{arg}, %emu_zero : index", line)
        line = line.replace("gpu.barrier", "func.call @emu_barrier() : () -> ()")
        line = line.replace("gpu.return", "return")
        out.append(line)
        i += 1
    out.append("  }")
    if shared:
        out.append(f"  func.func @{name}_shared_size() -> index "
                   "attributes {llvm.emit_c_interface} {")
        out.append(f"    %size = arith.constant {size} : index")
        out.append("    return %size : index")
        out.append("  }")
    i += 1
    count += 1
out.append("}")
if count == 0:
    sys.exit("gpu-emulate.py: no loss kernels in " + sys.argv[1])
open(sys.argv[2], "w").write("\n".join(out) + "\n")
