//===- main.cpp - Training and evaluating a physc model from C++ ----------===//
//
// Part of physc's examples. The heat equation of examples/heat1d.phys,
// compiled by `physc build` into libheat1d.a, driven through the C API of
// physc_embed.h: create the model, check the gradient the library returns,
// train it, measure its error against the exact solution, evaluate it at
// chosen points, and round-trip its parameters through a checkpoint file
// that `physc eval` can also read.
//
//   embed_heat1d [--device cpu|cuda] [--steps N] [--seed S] [--save FILE]
//                [--max-error E]
//
// --device cuda needs a package built with `physc build --target cpu,cuda`
// (PHYSC_TARGETS=cpu,cuda in this CMake project) and a GPU.
//
// Exit status: 0 when every check passed (and the error is below E when
// given), 1 otherwise.
//
//===----------------------------------------------------------------------===//

#include "heat1d.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/// Prints the failed call's reason and exits.
void check(int status, const char *what) {
  if (status != 0) {
    std::fprintf(stderr, "embed_heat1d: %s failed: %s\n", what,
                 physc_last_error());
    std::exit(1);
  }
}

/// `n` points of the box [0, 1] x [0, 1], row-major (x, t).
std::vector<double> randomPoints(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> pts(2 * n);
  for (double &v : pts)
    v = unit(rng);
  return pts;
}

} // namespace

int main(int argc, char **argv) {
  const char *device = "cpu";
  long long steps = -1;
  unsigned long long seed = 0;
  const char *save = nullptr;
  double maxError = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (a == "--steps" && i + 1 < argc)
      steps = std::atoll(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--save" && i + 1 < argc)
      save = argv[++i];
    else if (a == "--max-error" && i + 1 < argc)
      maxError = std::atof(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: embed_heat1d [--device cpu|cuda] [--steps N] "
                   "[--seed S] [--save FILE] [--max-error E]\n");
      return 1;
    }
  }

  physc_model *m = physc_model_create(&physc_spec_heat1d, device, seed);
  if (!m) {
    std::fprintf(stderr, "embed_heat1d: %s\n", physc_last_error());
    return 1;
  }
  std::printf("model %s on %s: %lld parameters, coordinates",
              physc_model_name(m), physc_model_device(m),
              (long long)physc_model_num_params(m));
  for (int c = 0; c < physc_model_num_coords(m); ++c)
    std::printf(" %s", physc_model_coord_name(m, c));
  std::printf(", terms");
  for (int t = 0; t < physc_model_num_terms(m); ++t)
    std::printf(" %s", physc_model_term_name(m, t));
  std::printf("\n");
  if (physc_model_num_params(m) != HEAT1D_NUM_PARAMS) {
    std::fprintf(stderr, "embed_heat1d: header and library disagree\n");
    return 1;
  }

  // The gradient of the PDE term's mean squared residual, against central
  // differences of the loss along its largest components.
  std::vector<double> pts = randomPoints(256, 1);
  std::vector<double> params(HEAT1D_NUM_PARAMS), grad(HEAT1D_NUM_PARAMS);
  check(physc_model_get_params(m, params.data()), "get_params");
  double loss = 0;
  check(physc_model_term_loss(m, HEAT1D_TERM_PDE, pts.data(), 256, &loss,
                              grad.data()),
        "term_loss");
  std::vector<int> order(HEAT1D_NUM_PARAMS);
  for (int i = 0; i < HEAT1D_NUM_PARAMS; ++i)
    order[i] = i;
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int a, int b) {
                      return std::fabs(grad[a]) > std::fabs(grad[b]);
                    });
  double worst = 0;
  for (int k = 0; k < 5; ++k) {
    int i = order[k];
    double h = 1e-3 * std::max(1.0, std::fabs(params[i])), lp, lm;
    std::vector<double> p = params;
    p[i] = params[i] + h;
    check(physc_model_set_params(m, p.data()), "set_params");
    check(physc_model_term_loss(m, HEAT1D_TERM_PDE, pts.data(), 256, &lp,
                                nullptr),
          "term_loss");
    p[i] = params[i] - h;
    check(physc_model_set_params(m, p.data()), "set_params");
    check(physc_model_term_loss(m, HEAT1D_TERM_PDE, pts.data(), 256, &lm,
                                nullptr),
          "term_loss");
    double fd = (lp - lm) / (2 * h);
    worst = std::max(worst, std::fabs(fd - grad[i]) / std::fabs(grad[i]));
  }
  check(physc_model_set_params(m, params.data()), "set_params");
  std::printf("initial pde loss %.4g; gradient vs central differences: max "
              "relative difference %.2g over the 5 largest components\n",
              loss, worst);
  bool ok = worst < 2e-2;

  // Train with the spec's own plan (optionally capped).
  physc_train_options opts;
  physc_train_options_init(&opts);
  opts.max_steps = steps;
  opts.quiet = 1;
  physc_train_result res;
  check(physc_model_train(m, &opts, &res), "train");
  double err = 0;
  check(physc_model_rel_l2(m, HEAT1D_FIELD_U, &err), "rel_l2");
  std::printf("trained %lld steps in %.2f s: loss %.3g, relative L2 error of "
              "u %.3g\n",
              (long long)res.steps, res.seconds, res.total_loss, err);
  if (maxError > 0 && !(err < maxError)) {
    std::printf("FAILED: error %.3g is not below %.3g\n", err, maxError);
    ok = false;
  }

  // u at a few points, against exp(-a pi^2 t) sin(pi x).
  const double at[] = {0.25, 0.1, 0.5, 0.5, 0.75, 0.9};
  double u[3];
  check(physc_model_eval(m, HEAT1D_FIELD_U, at, 3, u), "eval");
  for (int i = 0; i < 3; ++i) {
    double x = at[2 * i], t = at[2 * i + 1];
    double exact = std::exp(-0.4 * M_PI * M_PI * t) * std::sin(M_PI * x);
    std::printf("u(%.2f, %.2f) = %.5f (exact %.5f)\n", x, t, u[i], exact);
  }

  // Exact derivatives from the library's jets: first derivatives against
  // central differences of u, and the PDE u_t = 0.4 u_xx from the second.
  if (physc_model_num_derivatives(m) != HEAT1D_NUM_DERIVATIVES) {
    std::fprintf(stderr, "embed_heat1d: header and library disagree\n");
    return 1;
  }
  double du[3 * HEAT1D_NUM_DERIVATIVES];
  check(physc_model_eval_derivatives(m, HEAT1D_FIELD_U, at, 3, du),
        "eval_derivatives");
  double worstFD = 0, worstPDE = 0;
  for (int i = 0; i < 3; ++i) {
    const double *d = du + i * HEAT1D_NUM_DERIVATIVES; // u ux ut uxx uxt utt
    for (int c = 0; c < 2; ++c) {
      const double h = 1e-3;
      double p[4] = {at[2 * i], at[2 * i + 1], at[2 * i], at[2 * i + 1]};
      p[c] += h;
      p[2 + c] -= h;
      double v[2];
      check(physc_model_eval(m, HEAT1D_FIELD_U, p, 2, v), "eval");
      worstFD = std::max(worstFD, std::fabs((v[0] - v[1]) / (2 * h) - d[1 + c]));
    }
    worstPDE = std::max(worstPDE, std::fabs(d[2] - 0.4 * d[3]));
    std::printf("at (%.2f, %.2f): u %.5f, u_x %.5f, u_t %.5f, u_xx %.5f, "
                "u_xt %.5f, u_tt %.5f\n",
                at[2 * i], at[2 * i + 1], d[0], d[1], d[2], d[3], d[4], d[5]);
    ok = ok && std::fabs(d[0] - u[i]) < 1e-6; // the value physc_model_eval gives
  }
  std::printf("derivatives: first vs central differences max |diff| %.2g, "
              "|u_t - 0.4 u_xx| max %.2g\n",
              worstFD, worstPDE);
  // (A short run has not learned the PDE yet.)
  bool trained = steps < 0 || steps >= 1000;
  ok = ok && worstFD < 5e-3 && (!trained || worstPDE < 0.1);

  // Parameters through a checkpoint into a second model: same values.
  if (save) {
    check(physc_model_save(m, save), "save");
    physc_model *m2 = physc_model_create(&physc_spec_heat1d, nullptr, 7);
    if (!m2) {
      std::fprintf(stderr, "embed_heat1d: %s\n", physc_last_error());
      return 1;
    }
    check(physc_model_load(m2, save), "load");
    double u2[3];
    check(physc_model_eval(m2, HEAT1D_FIELD_U, at, 3, u2), "eval");
    bool same = std::memcmp(u, u2, sizeof u) == 0;
    std::printf("saved to %s and loaded into a new model: %s\n", save,
                same ? "same values" : "DIFFERENT values");
    ok = ok && same;
    physc_model_destroy(m2);
  }

  // Misuse is reported, not fatal.
  if (physc_model_eval(m, 7, at, 1, u) == 0) {
    std::printf("FAILED: field 7 was accepted\n");
    ok = false;
  } else {
    std::printf("bad field index: %s\n", physc_last_error());
  }
  physc_model_destroy(m);
  std::printf(ok ? "OK\n" : "FAILED\n");
  return ok ? 0 : 1;
}
