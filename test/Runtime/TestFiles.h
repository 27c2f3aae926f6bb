//===- TestFiles.h - Scratch files for runtime tests ------------*- C++ -*-===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_TEST_TESTFILES_H
#define PHYSRT_TEST_TESTFILES_H

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace physrt::test {

/// A fresh directory per test, removed afterwards.
class ScratchDir {
public:
  ScratchDir() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = std::filesystem::path(::testing::TempDir()) /
           ("physrt-" + std::string(info->test_suite_name()) + "-" +
            info->name() + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }

  std::string file(const std::string &name) const {
    return (path / name).string();
  }
  /// Writes `contents` to `name` and returns its path.
  std::string write(const std::string &name, const std::string &contents) {
    std::string p = file(name);
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

  std::filesystem::path path;
};

inline std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace physrt::test

#endif // PHYSRT_TEST_TESTFILES_H
