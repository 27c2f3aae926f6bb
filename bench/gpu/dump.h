// dump.h - reading `physc dump-batch`'s output in the GPU check harnesses.
//
// Shared by harness.cu (the kernels of `physc emit cuda`) and
// harness_ptx.cpp (those of `physc emit ptx`): both check a GPU against the
// same CPU f64 reference, so they read it the same way. Each harness sets
// kTool, the name its errors start with.

#ifndef PHYSC_BENCH_GPU_DUMP_H
#define PHYSC_BENCH_GPU_DUMP_H

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

extern const char *const kTool;

[[noreturn]] inline void die(const std::string &msg, int code = 1) {
  std::fprintf(stderr, "%s: error: %s\n", kTool, msg.c_str());
  std::exit(code);
}

/// meta.txt's key=value lines.
inline std::map<std::string, std::string> readMeta(const std::string &dir) {
  std::ifstream in(dir + "/meta.txt");
  if (!in)
    die("cannot read " + dir + "/meta.txt (the output of physc dump-batch)");
  std::map<std::string, std::string> m;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos)
      m[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

inline const std::string &get(const std::map<std::string, std::string> &m,
                              const std::string &key) {
  auto it = m.find(key);
  if (it == m.end())
    die("meta.txt has no " + key);
  return it->second;
}

/// A raw f64 file of exactly `expect` values.
inline std::vector<double> readDoubles(const std::string &path,
                                       size_t expect) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read " + path);
  in.seekg(0, std::ios::end);
  size_t bytes = (size_t)in.tellg();
  in.seekg(0);
  if (bytes != expect * 8)
    die(path + ": expected " + std::to_string(expect) + " doubles, found " +
        std::to_string(bytes) + " bytes");
  std::vector<double> v(expect);
  if (expect)
    in.read(reinterpret_cast<char *>(v.data()), bytes);
  return v;
}

/// The point columns of term `t`: the coordinates, and a data term's
/// observed values (meta `termT.columns`; older dumps: the coordinates).
inline size_t termColumns(const std::map<std::string, std::string> &m,
                          int t) {
  auto it = m.find("term" + std::to_string(t) + ".columns");
  return it == m.end() ? (size_t)std::atoll(get(m, "num_coords").c_str())
                       : (size_t)std::atoll(it->second.c_str());
}

/// A GPU's loss and gradient of one term against the dump's reference:
/// relative error of the loss, max_k |g - g_ref| / max_k |g_ref| of the
/// gradient, and whether both are finite and within `tol`.
struct Comparison {
  double lossErr = 0, gradErr = 0;
  bool pass = false;
};
template <typename G>
Comparison compareToReference(double loss, const std::vector<G> &grad,
                              double refLoss,
                              const std::vector<double> &refGrad, double tol) {
  Comparison c;
  c.lossErr =
      std::fabs(loss - refLoss) / std::max(std::fabs(refLoss), 1e-300);
  double maxDiff = 0, maxRef = 0;
  bool finite = std::isfinite(loss);
  for (size_t k = 0; k < refGrad.size(); ++k) {
    finite = finite && std::isfinite((double)grad[k]);
    maxDiff = std::max(maxDiff, std::fabs((double)grad[k] - refGrad[k]));
    maxRef = std::max(maxRef, std::fabs(refGrad[k]));
  }
  c.gradErr = maxDiff / std::max(maxRef, 1e-300);
  c.pass = finite && c.lossErr <= tol && c.gradErr <= tol;
  return c;
}

#endif // PHYSC_BENCH_GPU_DUMP_H
