//===- Devices.cpp - physc devices: what physc can run on here ------------===//
//
// Part of physc. Lists the CPU (threads the runtime uses) and the CUDA
// devices the driver reports, or why there are none, so a user can tell
// "no driver" from "no device" before asking for `--device cuda`.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "physrt/CudaDriver.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <thread>

using namespace physc;
namespace cl = llvm::cl;

cl::SubCommand physc::devicesCmd(
    "devices", "List the CPU and the CUDA devices physc can see (exit 0 "
               "either way; the reason is printed when there is no GPU)");

int physc::runDevices() {
  llvm::outs() << "cpu: " << std::thread::hardware_concurrency()
               << " threads\n";
  std::string why;
  if (!physrt::cuda::available(&why)) {
    llvm::outs() << "cuda: none (" << why << ")\n";
    return 0;
  }
  for (const physrt::cuda::DeviceInfo &d : physrt::cuda::devices())
    llvm::outs() << "cuda:" << d.ordinal << ": " << d.name << ", " << d.chip()
                 << ", " << d.multiprocessors << " SMs, "
                 << llvm::format("%.1f", d.memory / 1073741824.0) << " GiB\n";
  return 0;
}
