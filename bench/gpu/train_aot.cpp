//===- train_aot.cpp - Train a `physc build` library on a chosen device ---===//
//
// Part of physc's GPU check. Built by bench/gpu-prepare.sh against the
// package of one model (`physc build FILE --target cpu,cuda`), with
//   -include MODEL.h -DPHYSC_SPEC=physc_spec_MODEL
// so it needs no LLVM/MLIR and runs on the GPU machine. Trains with the
// spec's own plan (or --steps N) on --device cpu|cuda and prints one JSON
// line: model, device, steps, device_steps (Adam and L-BFGS steps run
// whole on the device), seconds, total_loss, rel_l2 {field: error}.
// Exit status: 0 after training, 1 on an error (the message on stderr).
//
//===----------------------------------------------------------------------===//

#include "physc_embed.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#ifndef PHYSC_SPEC
#error "define PHYSC_SPEC as the spec symbol, e.g. physc_spec_burgers"
#endif

int main(int argc, char **argv) {
  std::string device = "cuda";
  long long steps = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (a == "--steps" && i + 1 < argc)
      steps = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--device cpu|cuda] [--steps N]\n",
                   argv[0]);
      return 1;
    }
  }
  physc_model *m = physc_model_create(&PHYSC_SPEC, device.c_str(), 0);
  if (!m) {
    std::fprintf(stderr, "train_aot: %s\n", physc_last_error());
    return 1;
  }
  physc_train_options o;
  physc_train_options_init(&o);
  o.max_steps = steps;
  o.quiet = 1;
  physc_train_result r;
  if (physc_model_train(m, &o, &r) != 0) {
    std::fprintf(stderr, "train_aot: %s\n", physc_last_error());
    return 1;
  }
  std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"steps\": %lld, "
              "\"device_steps\": %lld, \"seconds\": %.3f, \"total_loss\": "
              "%.6g, \"rel_l2\": {",
              physc_model_name(m), physc_model_device(m), (long long)r.steps,
              (long long)r.device_steps, r.seconds, r.total_loss);
  bool first = true;
  for (int f = 0; f < physc_model_num_fields(m); ++f) {
    double err;
    if (physc_model_rel_l2(m, f, &err) != 0)
      continue;
    std::printf("%s\"%s\": %.6g", first ? "" : ", ",
                physc_model_field_name(m, f), err);
    first = false;
  }
  std::printf("}}\n");
  physc_model_destroy(m);
  return 0;
}
