//===- term_loss.cpp - Times physc_model_term_loss of a `physc build` package
//-===//
//
// Part of physc's benchmarks (bench/embed-step.sh). Links the package of
// examples/bench_burgers64.phys (model `burgers`) and times one term's loss
// and parameter gradient through the C API, as a program that embeds the
// kernels and runs its own optimizer would call it. Prints one JSON line:
//   {"N": ..., "ms": <median>, "ms_min": ..., "loss": ..., "term": ...}
//
//===----------------------------------------------------------------------===//

#include "burgers.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? std::atoll(argv[1]) : 8192;
  int iters = argc > 2 ? std::atoi(argv[2]) : 30;
  const char *termName = argc > 3 ? argv[3] : "pde";
  physc_model *m = physc_model_create(&physc_spec_burgers, "cpu", 0);
  if (!m) {
    std::fprintf(stderr, "term_loss: %s\n", physc_last_error());
    return 1;
  }
  int term = physc_model_term_index(m, termName);
  if (term < 0 || n <= 0 || iters <= 0) {
    std::fprintf(stderr, "usage: term_loss [N] [ITERS] [TERM]\n");
    return 1;
  }
  // Points uniform in the box [-1, 1] x [0, 1], as the sampler draws them.
  int cols = physc_model_term_columns(m, term);
  std::vector<double> pts(static_cast<size_t>(n) * cols);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> x(-1, 1), t(0, 1);
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < cols; ++c)
      pts[i * cols + c] = c == 1 ? t(rng) : x(rng);
  std::vector<double> grad(physc_model_num_params(m));
  double loss = 0;
  std::vector<double> ms;
  for (int k = -3; k < iters; ++k) { // 3 warm-up calls
    auto t0 = std::chrono::steady_clock::now();
    if (physc_model_term_loss(m, term, pts.data(), n, &loss, grad.data())) {
      std::fprintf(stderr, "term_loss: %s\n", physc_last_error());
      return 1;
    }
    auto t1 = std::chrono::steady_clock::now();
    if (k >= 0)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("{\"N\": %lld, \"ms\": %.4f, \"ms_min\": %.4f, \"loss\": %.6g, "
              "\"term\": \"%s\"}\n",
              static_cast<long long>(n), ms[ms.size() / 2], ms.front(), loss,
              physc_model_term_name(m, term));
  physc_model_destroy(m);
  return 0;
}
