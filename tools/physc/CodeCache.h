//===- CodeCache.h - Generated GPU code kept between runs -------*- C++ -*-===//
//
// Part of physc. Generating a model's PTX takes seconds (LLVM's O3 and
// NVPTX back end on kernels of thousands of instructions: 4 s for heat1d,
// 12 s for kovasznay on one core), and so does assembling it with ptxas
// for `physc build`'s cubins. `physc train` on a GPU machine would pay the
// first at every start, although most runs change only the training plan,
// a seed or the data. So both are kept on disk, each under a key that
// holds everything it is a function of:
//   - PTX: the gpu.modules that phys-kernels-to-gpu produced (printed), the
//     chip, the libdevice file, and the physc binary and LLVM that compile
//     them (PTX.cpp);
//   - a cubin: the PTX, the chip and the ptxas binary (Build.cpp).
// A run whose key matches reads the result back instead of making it.
//
// The directory is $PHYSC_CACHE_DIR, else $XDG_CACHE_HOME/physc, else
// $HOME/.cache/physc; PHYSC_CACHE=0 turns the cache off. Entries are
// `KIND/KEY.KIND` (KIND ptx or cubin): a line with the SHA-256 and length
// of the contents, then the contents (a `//` comment, so a PTX entry is
// itself a loadable PTX file). An entry whose check fails is ignored and
// replaced. Writes go to a temporary file that is renamed into place, so
// concurrent runs never read a partial entry. The cache is best effort: a
// directory that cannot be written only means no caching. It keeps at most
// 256 MiB ($PHYSC_CACHE_MAX_MB), dropping the least recently used entries.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TOOLS_CODECACHE_H
#define PHYSC_TOOLS_CODECACHE_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace physc {

/// The cache directory, or none when PHYSC_CACHE=0 or no variable names one.
std::optional<std::string> codeCacheDir();

/// "PATH SIZE MTIME" of a file ("PATH missing" if there is none): what
/// identifies a build of a program or a library without reading it whole.
std::string fileIdentity(llvm::StringRef path);

/// The identity of the running physc binary (fileIdentity) and of the LLVM
/// it was built with: a key part for whatever physc generates.
std::string physcIdentity();

/// A key (64 hex digits) for contents that are a function of `inputs`.
std::string codeCacheKey(llvm::StringRef inputs);

/// The path of the entry of `kind` (ptx, cubin) and `key` in `dir`.
std::string codeCachePath(llvm::StringRef dir, llvm::StringRef kind,
                          llvm::StringRef key);

/// The contents of that entry, if there is a valid one (and marks it used).
std::optional<std::string>
readCachedCode(llvm::StringRef dir, llvm::StringRef kind, llvm::StringRef key);

/// The most bytes the cache keeps: $PHYSC_CACHE_MAX_MB MiB, default 256.
uint64_t codeCacheLimit();

/// Stores `contents` as that entry, then trims the cache to `maxBytes` by
/// dropping the least recently used other entries, of every kind (the new
/// one always stays). False when the entry could not be written (nothing
/// is left behind).
bool writeCachedCode(llvm::StringRef dir, llvm::StringRef kind,
                     llvm::StringRef key, llvm::StringRef contents,
                     uint64_t maxBytes = codeCacheLimit());

} // namespace physc

#endif // PHYSC_TOOLS_CODECACHE_H
