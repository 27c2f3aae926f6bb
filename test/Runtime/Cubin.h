//===- Cubin.h - What a test driver reads of a cubin ------------*- C++ -*-===//
//
// Part of physc's runtime tests. A cubin is the ELF image ptxas writes
// (`physc build` embeds them, physc_embed.h's physc_cubin). The fake driver
// (FakeCuda.cpp) takes one in cuModuleLoadData as a GPU's driver would: it
// must be a CUDA ELF (e_machine 190) for the device's SM, which ptxas keeps
// in bits 8-15 of e_flags (0x5a for sm_90). Its kernels are the global
// function symbols marked as entries (st_other 0x10), each with its
// parameter count: one EIATTR_KPARAM_INFO record (attribute 0x17) per
// parameter in the kernel's `.nv.info.NAME` section. The same section holds
// the `.maxntid` and `.reqntid` of the PTX (EIATTR_MAX_THREADS 0x05,
// EIATTR_REQNTID 0x10: three 32-bit dimensions), and `.nv.shared.NAME` is
// the kernel's static shared memory, plus the 1 KB that ptxas reserves for
// the system from sm_90 on (it then also writes `.nv.shared.reserved.0`).
// Enough to check the runtime's lookups and launches (FakeCuda) or to bind
// the entries to CPU builds of the same kernels (EmuCuda); nothing here can
// run the machine code.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TEST_RUNTIME_CUBIN_H
#define PHYSC_TEST_RUNTIME_CUBIN_H

#include <cstdint>
#include <cstring>
#include <map>
#include <string>

namespace physc_test {

constexpr uint16_t kEmCuda = 190;

/// True for an ELF64 image for CUDA. Reads byte by byte up to the magic's
/// first mismatch, so a short PTX string is never read past its NUL.
inline bool isCudaElf(const void *image) {
  const auto *b = static_cast<const unsigned char *>(image);
  if (!(b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F' &&
        b[4] == 2 /* ELF64 */))
    return false;
  uint16_t machine;
  std::memcpy(&machine, b + 18, 2);
  return machine == kEmCuda;
}

/// The SM a cubin was assembled for (90 for sm_90).
inline int cubinSM(const void *image) {
  uint32_t flags;
  std::memcpy(&flags, static_cast<const char *>(image) + 48, 4);
  return (flags >> 8) & 0xff;
}

/// What a cubin says of one entry kernel.
struct CubinKernel {
  /// EIATTR_KPARAM_INFO records (-1: no `.nv.info.NAME` section).
  int params = -1;
  /// The products of the `.maxntid` and `.reqntid` dimensions (0: none).
  unsigned maxThreads = 0, reqThreads = 0;
  /// Static shared memory the kernel declares, without the system reserve.
  size_t sharedBytes = 0;
};

/// The entry kernels of a CUDA ELF; false if the section or symbol tables
/// are malformed or there is no entry.
inline bool cubinEntries(const void *image,
                         std::map<std::string, CubinKernel> &out) {
  const char *b = static_cast<const char *>(image);
  auto u16 = [&](size_t at) {
    uint16_t v;
    std::memcpy(&v, b + at, 2);
    return v;
  };
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, b + at, 8);
    return v;
  };
  uint64_t shoff = u64(0x28);
  uint16_t shentsize = u16(0x3a), shnum = u16(0x3c), shstrndx = u16(0x3e);
  if (!shoff || shentsize < 64 || shstrndx >= shnum)
    return false;
  struct Section {
    uint32_t name, type;
    uint64_t offset, size;
    uint32_t link;
  };
  auto section = [&](unsigned i) {
    size_t h = shoff + size_t(i) * shentsize;
    return Section{u32(h), u32(h + 4), u64(h + 24), u64(h + 32), u32(h + 40)};
  };
  const Section names = section(shstrndx);
  std::map<std::string, CubinKernel> info; // by kernel name
  std::map<std::string, uint64_t> shared;  // .nv.shared.NAME sizes
  bool reserved = false;
  Section symtab{};
  bool haveSymtab = false;
  for (unsigned i = 0; i < shnum; ++i) {
    Section s = section(i);
    std::string name = b + names.offset + s.name;
    if (s.type == 2 /* SHT_SYMTAB */) {
      symtab = s;
      haveSymtab = true;
    }
    if (name.rfind(".nv.shared.reserved.", 0) == 0) {
      reserved = true;
      continue;
    }
    if (name.rfind(".nv.shared.", 0) == 0) {
      shared[name.substr(11)] = s.size;
      continue;
    }
    if (name.rfind(".nv.info.", 0) != 0)
      continue;
    CubinKernel &k = info[name.substr(9)];
    k.params = 0;
    // Records: format (1 byte), attribute (1), then for format 4 (EIFMT_SVAL)
    // a 2-byte size and that many bytes; every other format is 4 in all.
    for (uint64_t p = s.offset; p + 4 <= s.offset + s.size;) {
      unsigned char format = b[p], attribute = b[p + 1];
      if (format != 4) {
        p += 4;
        continue;
      }
      uint16_t size = u16(p + 2);
      if (attribute == 0x17)
        ++k.params;
      if ((attribute == 0x05 || attribute == 0x10) && size == 12) {
        unsigned threads = u32(p + 4) * u32(p + 8) * u32(p + 12);
        (attribute == 0x05 ? k.maxThreads : k.reqThreads) = threads;
      }
      p += 4 + size;
    }
  }
  if (!haveSymtab || symtab.link >= shnum)
    return false;
  const Section strtab = section(symtab.link);
  for (uint64_t p = symtab.offset; p + 24 <= symtab.offset + symtab.size;
       p += 24) {
    unsigned char info1 = b[p + 4], other = b[p + 5];
    bool function = (info1 & 0xf) == 2, global = (info1 >> 4) == 1;
    if (!function || !global || !(other & 0x10))
      continue;
    std::string name = b + strtab.offset + u32(p);
    CubinKernel k = info.count(name) ? info[name] : CubinKernel{};
    if (shared.count(name)) {
      uint64_t bytes = shared[name];
      k.sharedBytes = reserved && bytes >= 1024 ? bytes - 1024 : bytes;
    }
    out[name] = k;
  }
  return !out.empty();
}

/// The entry kernels of a CUDA ELF and their parameter counts (-1 where
/// the cubin has no `.nv.info.NAME`); false as cubinEntries.
inline bool cubinKernels(const void *image, std::map<std::string, int> &out) {
  std::map<std::string, CubinKernel> entries;
  if (!cubinEntries(image, entries))
    return false;
  for (auto &[name, k] : entries)
    out[name] = k.params;
  return true;
}

} // namespace physc_test

#endif // PHYSC_TEST_RUNTIME_CUBIN_H
