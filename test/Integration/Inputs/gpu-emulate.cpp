//===- gpu-emulate.cpp - Runs emulated GPU loss kernels on the CPU --------===//
//
// Part of physc's tests. Links with the CPU build of the kernels that
// gpu-emulate.py rewrote, and checks them against `physc dump-batch`: for
// every term it launches the loss kernel on GRID blocks of BLOCK OS threads
// (one per GPU thread, a pthread barrier for gpu.barrier, one workgroup
// buffer of the kernel's size per block, and, for a kernel that stages the
// parameters, a dynamic shared buffer of the bytes SIGS gives, filled with
// NaN bytes), then MODEL_sum_partials, and compares the loss and gradient
// with the CPU's (f64). Prints `term NAME: OK` or the error.
//
// Usage: gpu-emulate DUMP_DIR BLOCK GRID SIGS (gpu-emulate.py's .sigs)
//
//===----------------------------------------------------------------------===//

#include <dlfcn.h>
#include <pthread.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {
struct MemRef {
  double *allocated, *aligned;
  int64_t offset, size, stride;
};
MemRef desc(std::vector<double> &v) {
  return {v.data(), v.data(), 0, static_cast<int64_t>(v.size()), 1};
}
using LossFn = void (*)(MemRef *, MemRef *, int64_t, int64_t, MemRef *,
                        MemRef *, int64_t, int64_t, int64_t, int64_t, MemRef *);
/// A loss kernel that reads the staged parameters from dynamic shared
/// memory: one more (byte) memref.
using LossDynFn = void (*)(MemRef *, MemRef *, int64_t, int64_t, MemRef *,
                           MemRef *, int64_t, int64_t, int64_t, int64_t,
                           MemRef *, MemRef *);
using SumFn = void (*)(MemRef *, int64_t, MemRef *, MemRef *, int64_t, int64_t,
                       int64_t, int64_t);
pthread_barrier_t barrier;

std::vector<double> readDoubles(const std::string &path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  std::vector<double> v(static_cast<size_t>(f.tellg()) / sizeof(double));
  f.seekg(0);
  f.read(reinterpret_cast<char *>(v.data()), v.size() * sizeof(double));
  return v;
}

void *symbol(const std::string &name) {
  void *p = dlsym(RTLD_DEFAULT, ("_mlir_ciface_" + name).c_str());
  if (!p) {
    std::fprintf(stderr, "gpu-emulate: no kernel %s\n", name.c_str());
    std::exit(1);
  }
  return p;
}
} // namespace

extern "C" void emu_barrier() { pthread_barrier_wait(&barrier); }

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: gpu-emulate DUMP_DIR BLOCK GRID SIGS\n");
    return 1;
  }
  // NAME KINDS WGSIZE WGELEM DYNBYTES: the dynamic shared bytes of each.
  std::map<std::string, int64_t> dynBytes;
  std::ifstream sigs(argv[4]);
  for (std::string name, kinds; sigs >> name >> kinds;) {
    int64_t wg, elem, dyn;
    sigs >> wg >> elem >> dyn;
    dynBytes[name] = dyn;
  }
  std::string dir = argv[1];
  const int64_t block = std::stoll(argv[2]), grid = std::stoll(argv[3]);
  std::map<std::string, std::string> meta;
  std::ifstream metaFile(dir + "/meta.txt");
  for (std::string line; std::getline(metaFile, line);)
    if (auto eq = line.find('='); eq != std::string::npos)
      meta[line.substr(0, eq)] = line.substr(eq + 1);
  std::vector<double> params = readDoubles(dir + "/params.bin");
  std::vector<double> rt = readDoubles(dir + "/rt.bin");
  rt.push_back(0); // never empty: a descriptor needs a pointer
  const int64_t numParams = params.size(), total = numParams + 1;
  auto sum = reinterpret_cast<SumFn>(symbol(meta["model"] + "_sum_partials"));
  pthread_barrier_init(&barrier, nullptr, block);
  int failures = 0;
  for (int t = 0, e = std::stoi(meta["num_terms"]); t < e; ++t) {
    std::string key = "term" + std::to_string(t);
    void *kernel = symbol(meta[key + ".kernel"]);
    const int64_t dyn = dynBytes[meta[key + ".kernel"]];
    auto sharedSize = reinterpret_cast<int64_t (*)()>(
        symbol(meta[key + ".kernel"] + "_shared_size"));
    std::vector<double> pts = readDoubles(dir + "/" + meta[key + ".pts"]);
    std::vector<double> ref = readDoubles(dir + "/" + meta[key + ".grad"]);
    const double refLoss = std::stod(meta[key + ".loss"]);
    const int64_t n = std::stoll(meta[key + ".n"]);
    const int64_t ld = std::stoll(meta[key + ".ld"]);
    // NaN: a partial that no block writes shows up in the result.
    std::vector<double> partials(grid * total, NAN);
    for (int64_t b = 0; b < grid; ++b) {
      std::vector<double> shared(sharedSize());
      // Shared memory starts undefined: NaN bytes show a read before the
      // copy of the parameters.
      std::vector<double> staged((dyn + 7) / 8, NAN);
      std::vector<std::thread> threads;
      for (int64_t tid = 0; tid < block; ++tid)
        threads.emplace_back([&, tid, b] {
          MemRef p = desc(params), x = desc(pts), r = desc(rt),
                 o = desc(partials), s = desc(shared);
          MemRef d{staged.data(), staged.data(), 0, dyn, 1};
          if (dyn)
            reinterpret_cast<LossDynFn>(kernel)(&p, &x, ld, n, &r, &o, tid, b,
                                                block, grid, &s, &d);
          else
            reinterpret_cast<LossFn>(kernel)(&p, &x, ld, n, &r, &o, tid, b,
                                             block, grid, &s);
        });
      for (std::thread &th : threads)
        th.join();
    }
    std::vector<double> loss(1, 0.0), grad(numParams, 0.0);
    const int64_t sumBlock = 256;
    for (int64_t b = 0; b < (total + sumBlock - 1) / sumBlock; ++b)
      for (int64_t tid = 0; tid < sumBlock; ++tid) {
        MemRef pa = desc(partials), l = desc(loss), g = desc(grad);
        sum(&pa, grid, &l, &g, tid, b, sumBlock, 1);
      }
    double maxDiff = 0, maxRef = 0;
    for (int64_t i = 0; i < numParams; ++i) {
      maxDiff = std::fmax(maxDiff, std::fabs(grad[i] - ref[i]));
      maxRef = std::fmax(maxRef, std::fabs(ref[i]));
    }
    const double lossDiff = std::fabs(loss[0] - refLoss);
    bool ok = lossDiff <= 1e-10 * std::fabs(refLoss) &&
              maxDiff <= 1e-10 * maxRef && !std::isnan(loss[0]);
    std::printf("term %s: %s (loss %.17g, cpu %.17g; max |grad diff| %.3g, "
                "max |grad| %.3g)\n",
                meta[key + ".name"].c_str(), ok ? "OK" : "MISMATCH", loss[0],
                refLoss, maxDiff, maxRef);
    failures += !ok;
  }
  return failures ? 1 : 0;
}
