//===- CodeCache.cpp - Generated GPU code kept between runs ---------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "CodeCache.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Chrono.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <utime.h>
#include <vector>

using namespace llvm;

namespace {

/// The first line of an entry: "// physc code cache: sha256 HEX, N bytes".
constexpr StringLiteral kHeader = "// physc code cache: sha256 ";

/// The kinds of entries, each a folder of the cache.
constexpr StringLiteral kKinds[] = {"ptx", "cubin"};

std::string sha256Hex(StringRef bytes) {
  return toHex(SHA256::hash(arrayRefFromStringRef(bytes)),
               /*LowerCase=*/true);
}

} // namespace

std::optional<std::string> physc::codeCacheDir() {
  if (auto off = sys::Process::GetEnv("PHYSC_CACHE"); off && *off == "0")
    return std::nullopt;
  if (auto dir = sys::Process::GetEnv("PHYSC_CACHE_DIR"); dir && !dir->empty())
    return *dir;
  SmallString<256> path;
  if (auto xdg = sys::Process::GetEnv("XDG_CACHE_HOME"); xdg && !xdg->empty())
    path = *xdg;
  else if (auto home = sys::Process::GetEnv("HOME"); home && !home->empty())
    sys::path::append(path, *home, ".cache");
  else
    return std::nullopt;
  sys::path::append(path, "physc");
  return std::string(path);
}

std::string physc::fileIdentity(StringRef path) {
  sys::fs::file_status st;
  if (sys::fs::status(path, st))
    return (path + " missing").str();
  return (path + " " + Twine(st.getSize()) + " " +
          Twine(st.getLastModificationTime().time_since_epoch().count()))
      .str();
}

std::string physc::physcIdentity() {
  // The binary stands for physc's passes and for how it drives LLVM; its
  // size and time change with every rebuild.
  static int anchor;
  return "physc " + fileIdentity(sys::fs::getMainExecutable(nullptr, &anchor)) +
         "\nllvm " LLVM_VERSION_STRING "\n";
}

std::string physc::codeCacheKey(StringRef inputs) {
  return sha256Hex(("physc code cache 1\n" + inputs).str());
}

std::string physc::codeCachePath(StringRef dir, StringRef kind, StringRef key) {
  SmallString<256> path(dir);
  sys::path::append(path, kind, key + "." + kind);
  return std::string(path);
}

std::optional<std::string> physc::readCachedCode(StringRef dir, StringRef kind,
                                                 StringRef key) {
  std::string path = codeCachePath(dir, kind, key);
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return std::nullopt;
  StringRef text = (*buffer)->getBuffer();
  auto [first, contents] = text.split('\n');
  // "HEX, N bytes": the contents must have both.
  if (!first.consume_front(kHeader))
    return std::nullopt;
  auto [hash, rest] = first.split(", ");
  uint64_t bytes;
  if (!rest.consume_back(" bytes") || rest.getAsInteger(10, bytes) ||
      bytes != contents.size() || hash != sha256Hex(contents))
    return std::nullopt;
  // Marks it as used, for the trimming in writeCachedCode.
  ::utime(path.c_str(), nullptr);
  return contents.str();
}

uint64_t physc::codeCacheLimit() {
  uint64_t mib = 256;
  if (auto env = sys::Process::GetEnv("PHYSC_CACHE_MAX_MB"); env) {
    uint64_t v;
    if (!StringRef(*env).trim().getAsInteger(10, v))
      mib = v;
  }
  return mib << 20;
}

bool physc::writeCachedCode(StringRef dir, StringRef kind, StringRef key,
                            StringRef contents, uint64_t maxBytes) {
  std::string path = codeCachePath(dir, kind, key);
  if (sys::fs::create_directories(sys::path::parent_path(path)))
    return false;
  int fd;
  SmallString<256> tmp;
  if (sys::fs::createUniqueFile(path + ".tmp-%%%%%%", fd, tmp))
    return false;
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << kHeader << sha256Hex(contents) << ", " << contents.size()
       << " bytes\n"
       << contents;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      sys::fs::remove(tmp);
      return false;
    }
  }
  if (sys::fs::rename(tmp, path)) {
    sys::fs::remove(tmp);
    return false;
  }

  // Trim: the most recently used entries up to maxBytes stay (the new one
  // always); temporary files over a day old are what a killed run left.
  struct Entry {
    std::string path;
    uint64_t size;
    sys::TimePoint<> time;
  };
  std::vector<Entry> entries;
  const auto now = std::chrono::system_clock::now();
  for (StringRef k : kKinds) {
    SmallString<256> folder(dir);
    sys::path::append(folder, k);
    std::error_code ec;
    for (sys::fs::directory_iterator it(folder, ec), end; it != end && !ec;
         it.increment(ec)) {
      sys::fs::file_status st;
      if (sys::fs::status(it->path(), st) ||
          st.type() != sys::fs::file_type::regular_file)
        continue;
      StringRef name = sys::path::filename(it->path());
      if (name.contains(".tmp-")) {
        if (now - st.getLastModificationTime() > std::chrono::hours(24))
          sys::fs::remove(it->path());
        continue;
      }
      if (name.ends_with(("." + k).str()) && it->path() != path)
        entries.push_back(
            {it->path(), st.getSize(), st.getLastModificationTime()});
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.time > b.time; });
  uint64_t total = contents.size();
  for (const Entry &e : entries) {
    total += e.size;
    if (total > maxBytes)
      sys::fs::remove(e.path);
  }
  return true;
}
