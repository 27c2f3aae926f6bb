//===- CudaCompile.cpp - PTX from physc's CUDA C++ through nvcc -----------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "CudaCompile.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"

using namespace physc;

std::string physc::findNvcc() {
  if (auto env = llvm::sys::Process::GetEnv("NVCC"))
    return llvm::sys::fs::can_execute(*env) ? *env : std::string();
  if (auto path = llvm::sys::findProgramByName("nvcc"))
    return *path;
  const char *fallback = "/usr/local/cuda/bin/nvcc";
  return llvm::sys::fs::can_execute(fallback) ? fallback : std::string();
}

std::optional<std::string> physc::compilePTX(const std::string &source,
                                             llvm::StringRef tool,
                                             llvm::raw_ostream &errs) {
  std::string nvcc = findNvcc();
  if (nvcc.empty()) {
    errs << tool << ": error: the GPU code needs nvcc (the CUDA toolkit): none in $NVCC, "
            "on PATH or at /usr/local/cuda/bin/nvcc\n";
    return std::nullopt;
  }
  llvm::SmallString<128> cu, ptx, log;
  if (llvm::sys::fs::createTemporaryFile("physc-kernels", "cu", cu) ||
      llvm::sys::fs::createTemporaryFile("physc-kernels", "ptx", ptx) ||
      llvm::sys::fs::createTemporaryFile("physc-nvcc", "log", log)) {
    errs << tool << ": error: cannot create temporary files for nvcc\n";
    return std::nullopt;
  }
  auto cleanup = llvm::make_scope_exit([&] {
    llvm::sys::fs::remove(cu);
    llvm::sys::fs::remove(ptx);
    llvm::sys::fs::remove(log);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(cu, ec);
    if (ec) {
      errs << tool << ": error: cannot write " << cu << ": " << ec.message() << "\n";
      return std::nullopt;
    }
    os << source;
  }
  llvm::SmallVector<llvm::StringRef> args = {
      nvcc, "-std=c++17", "-O3", "-ptx", "-arch=compute_80", cu, "-o", ptx};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt,
                                                llvm::StringRef(log),
                                                llvm::StringRef(log)};
  std::string why;
  int status = llvm::sys::ExecuteAndWait(nvcc, args, std::nullopt, redirects,
                                         0, 0, &why);
  if (status != 0) {
    errs << tool << ": error: " << nvcc << " failed"
         << (why.empty() ? "" : " (" + why + ")") << ":\n";
    if (auto text = llvm::MemoryBuffer::getFile(log))
      errs << (*text)->getBuffer();
    return std::nullopt;
  }
  auto text = llvm::MemoryBuffer::getFile(ptx);
  if (!text) {
    errs << tool << ": error: nvcc wrote no PTX to " << ptx << "\n";
    return std::nullopt;
  }
  return (*text)->getBuffer().str();
}
