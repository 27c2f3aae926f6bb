"""Lists the cubins a `physc build --target cpu,cuda` library embeds.

Each is a CUDA ELF image (e_machine 190) in the kernel object's read-only
data; ptxas keeps the SM in bits 8-15 of e_flags. For each, in the order
they are embedded, prints "cubin sm_XY: N kernels" and whether its entry
kernels (global functions with st_other 0x10) are exactly the PTX's
`.entry` names. Usage: spec-cubins.py LIBRARY.a KERNELS.ptx
"""
import re
import struct
import sys

data = open(sys.argv[1], "rb").read()
ptx_entries = set(re.findall(r"\.entry (\w+)\(", open(sys.argv[2]).read()))


def kernels(image_at):
    shoff, = struct.unpack_from("<Q", data, image_at + 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, image_at + 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, image_at + shoff + i * shentsize)
                for i in range(shnum)]
    names = []
    for _, typ, _, _, off, size, link, _, _, _ in sections:
        if typ != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][4]
        for p in range(off, off + size, 24):
            name, info, other = struct.unpack_from("<IBB", data, image_at + p)
            if info & 0xF == 2 and info >> 4 == 1 and other & 0x10:
                start = image_at + strtab + name
                names.append(data[start:data.index(b"\0", start)].decode())
    return set(names)


count = 0
for m in re.finditer(re.escape(b"\x7fELF\x02"), data):
    at = m.start()
    machine, = struct.unpack_from("<H", data, at + 18)
    if machine != 190:
        continue
    flags, = struct.unpack_from("<I", data, at + 48)
    names = kernels(at)
    same = "same kernels as the PTX" if names == ptx_entries else \
        "differs from the PTX: %s" % sorted(names ^ ptx_entries)
    print("cubin sm_%d: %d kernels, %s" % ((flags >> 8) & 0xFF, len(names), same))
    count += 1
print("%d cubins" % count)
