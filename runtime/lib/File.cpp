//===- File.cpp - Output files that are never half-written ----------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/File.h"
#include "physrt/Error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unistd.h>

using namespace physrt;
namespace fs = std::filesystem;

void physrt::writeFileAtomic(const std::string &path,
                             std::string_view contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    int err = errno;
    throw Error("cannot write '" + path + "': " + std::strerror(err));
  }
  size_t written = std::fwrite(contents.data(), 1, contents.size(), f);
  int err = written == contents.size() ? 0 : errno;
  if (std::fflush(f) != 0 && !err)
    err = errno;
  if (std::fclose(f) != 0 && !err)
    err = errno;
  if (written != contents.size() || err) {
    std::remove(tmp.c_str());
    throw Error("cannot write '" + path +
                "': " + std::strerror(err ? err : EIO));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    throw Error("cannot write '" + path + "': " + std::strerror(err));
  }
}

void physrt::createDirectories(const std::string &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw Error("cannot create output directory '" + dir +
                "': " + ec.message());
  if (!fs::is_directory(dir, ec))
    throw Error("cannot create output directory '" + dir +
                "': it exists and is not a directory");
}

std::string physrt::readFile(const std::string &path) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    int err = errno;
    throw Error(path + ": error: cannot open file: " + std::strerror(err));
  }
  std::string data;
  char buf[1 << 16];
  size_t k;
  while ((k = std::fread(buf, 1, sizeof buf, f)) > 0)
    data.append(buf, k);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad)
    throw Error(path + ": error: read failed");
  return data;
}
