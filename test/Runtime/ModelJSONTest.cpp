//===- ModelJSONTest.cpp - Model descriptions and the embedding API -------===//
//
// Part of physc's runtime tests. A model description survives writing and
// reading field by field; malformed ones are refused with a reason; and the
// C API of physc_embed.h serves a spec whose kernels are written here by
// hand in the C-interface ABI the compiler generates (so the library is
// tested without LLVM).
//
//===----------------------------------------------------------------------===//

#include "physrt/ModelJSON.h"
#include "physc_embed.h"
#include "physrt/Error.h"
#include "physrt/KernelABI.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace physrt;

namespace {

ModelDescription richDescription() {
  ModelDescription D;
  D.precision = "f64";
  CompiledModel &M = D.model;
  M.name = "rich";
  M.coords = {{"x", false, -1.5, 2.25},
              {"t", true, 0, 0.1},
              {"k", false, 0.1, 1, true}};
  M.numParams = 7;
  ParamBlock w;
  w.name = "N.layer0.weight";
  w.rows = 2;
  w.cols = 2;
  w.init = "siren_first";
  w.w0 = 12.5;
  w.fanIn = 2;
  w.fanOut = 2;
  ParamBlock k;
  k.name = "k";
  k.offset = 6;
  k.init = "constant";
  k.initValue = 0.1 + 0.2; // not exactly representable in decimal
  k.runtimeParam = 0;
  k.bounded = true;
  k.lo = 1e-3;
  k.hi = 4;
  M.blocks = {w, k};
  M.runtimeParams = {{"k", 0.30000000000000004}, {"nu", 1.0 / 3.0}};
  Term pde;
  pde.name = "pde";
  pde.samples = 2048;
  pde.weight = 1.5;
  pde.region.restrictions = {{0, -1, 0.5}};
  Term bc;
  bc.name = "bc";
  bc.region.kind = Region::Kind::Faces;
  bc.region.faces = {{0, -1.5}, {0, 2.25}};
  Term obs;
  obs.name = "obs";
  obs.dataCount = 2;
  obs.dataColumns = 3;
  obs.data = {0.1, 0.2, 0.3, 0.4, 1e-300, -7};
  M.terms = {pde, bc, obs};
  M.fields = {{"u", {}}};
  Exact ex;
  ex.field = 0;
  ex.count = 1;
  ex.points = {0.5, 0.05};
  ex.values = {M_PI};
  M.exacts = {ex};
  Stage adam;
  adam.optimizer = "multiadam";
  adam.steps = 10;
  adam.lr = 3e-4;
  adam.groups = {{0}, {1, 2}};
  Stage lbfgs;
  lbfgs.optimizer = "lbfgs";
  lbfgs.history = 20;
  lbfgs.tolerance = 1e-9;
  M.stages = {adam, lbfgs};
  M.sampler = "halton";
  M.resample = "r3";
  M.resampleEvery = 50;
  M.causalEps = 0.5;
  M.causalChunks = 8;
  M.weighting.scheme = "annealing";
  M.weighting.every = 25;
  M.weighting.alpha = 0.75;
  M.weighting.residual = {0};
  D.kernels = {{KernelRef::Role::LossGrad, 0, "_mlir_ciface_rich_pde", 2, 1},
               {KernelRef::Role::Residual, 0, "r", 2, 1},
               {KernelRef::Role::Field, 0, "f", 2, 1},
               {KernelRef::Role::Exact, 0, "e", 2, 1},
               {KernelRef::Role::Jets, 0, "j", 2, 3}};
  return D;
}

TEST(ModelJSON, RoundTripsEveryField) {
  ModelDescription D = richDescription();
  ModelDescription R = readModelJSON(writeModelJSON(D));
  const CompiledModel &A = D.model, &B = R.model;
  EXPECT_EQ(R.precision, "f64");
  EXPECT_EQ(B.name, A.name);
  ASSERT_EQ(B.coords.size(), 3u);
  EXPECT_EQ(B.coords[1].name, "t");
  EXPECT_TRUE(B.coords[1].isTime);
  EXPECT_FALSE(B.coords[1].isInput);
  EXPECT_TRUE(B.coords[2].isInput);
  EXPECT_FALSE(B.coords[2].isTime);
  EXPECT_EQ(B.coords[0].lo, -1.5);
  EXPECT_EQ(B.coords[1].hi, 0.1);
  EXPECT_EQ(B.numParams, 7);
  ASSERT_EQ(B.blocks.size(), 2u);
  EXPECT_EQ(B.blocks[0].init, "siren_first");
  EXPECT_EQ(B.blocks[0].w0, 12.5);
  EXPECT_EQ(B.blocks[0].rows, 2);
  EXPECT_EQ(B.blocks[1].initValue, A.blocks[1].initValue); // bit-exact
  EXPECT_EQ(B.blocks[1].runtimeParam, 0);
  EXPECT_TRUE(B.blocks[1].bounded);
  EXPECT_EQ(B.blocks[1].lo, 1e-3);
  ASSERT_EQ(B.runtimeParams.size(), 2u);
  EXPECT_EQ(B.runtimeParams[1].value, 1.0 / 3.0);
  ASSERT_EQ(B.terms.size(), 3u);
  EXPECT_EQ(B.terms[0].weight, 1.5);
  EXPECT_EQ(B.terms[0].samples, 2048);
  ASSERT_EQ(B.terms[0].region.restrictions.size(), 1u);
  EXPECT_EQ(B.terms[0].region.restrictions[0].hi, 0.5);
  EXPECT_EQ(B.terms[1].region.kind, Region::Kind::Faces);
  ASSERT_EQ(B.terms[1].region.faces.size(), 2u);
  EXPECT_EQ(B.terms[1].region.faces[1].value, 2.25);
  EXPECT_EQ(B.terms[2].data, A.terms[2].data);
  EXPECT_EQ(B.terms[2].dataColumns, 3);
  ASSERT_EQ(B.exacts.size(), 1u);
  EXPECT_EQ(B.exacts[0].values[0], M_PI);
  ASSERT_EQ(B.stages.size(), 2u);
  EXPECT_EQ(B.stages[0].groups, A.stages[0].groups);
  EXPECT_EQ(B.stages[0].lr, 3e-4);
  EXPECT_EQ(B.stages[1].history, 20);
  EXPECT_EQ(B.stages[1].tolerance, 1e-9);
  EXPECT_EQ(B.sampler, "halton");
  EXPECT_EQ(B.resample, "r3");
  EXPECT_EQ(B.resampleEvery, 50);
  EXPECT_EQ(B.causalEps, 0.5);
  EXPECT_EQ(B.causalChunks, 8);
  EXPECT_EQ(B.weighting.scheme, "annealing");
  EXPECT_EQ(B.weighting.alpha, 0.75);
  EXPECT_EQ(B.weighting.residual, std::vector<int>{0});
  ASSERT_EQ(R.kernels.size(), 5u);
  EXPECT_EQ(R.kernels[0].symbol, "_mlir_ciface_rich_pde");
  EXPECT_EQ(R.kernels[1].role, KernelRef::Role::Residual);
  EXPECT_EQ(R.kernels[4].role, KernelRef::Role::Jets);
  EXPECT_EQ(R.kernels[4].outputs, 3);
}

std::string errorOf(const std::string &text) {
  try {
    readModelJSON(text);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

TEST(ModelJSON, RefusesMalformedDescriptions) {
  EXPECT_NE(errorOf("{\"physc_model\": 1,").find("model description: "),
            std::string::npos);
  EXPECT_NE(errorOf("{\"physc_model\": 2}").find("version 2"),
            std::string::npos);
  std::string text = writeModelJSON(richDescription());
  std::string noName = text;
  noName.replace(noName.find("\"name\":\"rich\""), 13, "\"nom\":\"rich\"");
  EXPECT_NE(errorOf(noName).find("missing 'name'"), std::string::npos);
  std::string badRole = text;
  badRole.replace(badRole.find("\"residual\",\"index\""), 10, "\"resid\"");
  EXPECT_NE(errorOf(badRole).find("unknown kernel role 'resid'"),
            std::string::npos);
  std::string shortData = text;
  shortData.replace(shortData.find("\"data_count\":2"), 14, "\"data_count\":3");
  EXPECT_NE(errorOf(shortData).find("data table of the wrong size"),
            std::string::npos);
}

TEST(ModelJSON, BindKernelsNamesAMissingSymbol) {
  ModelDescription D = richDescription();
  try {
    bindKernels(D.model, D.kernels, true,
                [](const std::string &) -> void * { return nullptr; });
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("_mlir_ciface_rich_pde not found"),
              std::string::npos);
  }
}

//===----------------------------------------------------------------------===//
// The embedding API on a hand-written spec: u(x) = a + b x fitted to
// 2 + k x on [-1, 1] (k a runtime param, default 3); exact u = 2 + k x.
//===----------------------------------------------------------------------===//

using D64 = MemRef1D<double>;

extern "C" void lineLossGrad(D64 *p, D64 *x, int64_t ld, int64_t n, D64 *rt,
                             D64 *loss, D64 *grad) {
  (void)ld;
  const double *w = p->aligned, *k = rt->aligned;
  for (int64_t i = 0; i < n; ++i) {
    double xi = x->aligned[i];
    double r = w[0] + w[1] * xi - (2 + k[0] * xi);
    loss->aligned[0] += r * r;
    grad->aligned[0] += 2 * r;
    grad->aligned[1] += 2 * r * xi;
  }
}

extern "C" void lineEval(D64 *p, D64 *x, int64_t, int64_t n, D64 *, D64 *out) {
  for (int64_t i = 0; i < n; ++i)
    out->aligned[i] = p->aligned[0] + p->aligned[1] * x->aligned[i];
}

/// Value, first and second derivative: a + b x, b, 0 (out[k * ld + i]).
extern "C" void lineDerivs(D64 *p, D64 *x, int64_t ld, int64_t n, D64 *,
                           D64 *out) {
  for (int64_t i = 0; i < n; ++i) {
    out->aligned[i] = p->aligned[0] + p->aligned[1] * x->aligned[i];
    out->aligned[ld + i] = p->aligned[1];
    out->aligned[2 * ld + i] = 0;
  }
}

extern "C" void lineExact(D64 *, D64 *x, int64_t, int64_t n, D64 *rt,
                          D64 *out) {
  for (int64_t i = 0; i < n; ++i)
    out->aligned[i] = 2 + rt->aligned[0] * x->aligned[i];
}

struct LineSpec {
  std::string description;
  physc_kernel kernels[4];
  physc_spec spec;
  LineSpec() {
    ModelDescription D;
    D.precision = "f64";
    CompiledModel &M = D.model;
    M.name = "line";
    M.coords = {{"x", false, -1.0, 1.0}};
    M.numParams = 2;
    ParamBlock B;
    B.name = "w";
    B.rows = 1;
    B.cols = 2;
    M.blocks = {B};
    M.runtimeParams = {{"k", 3.0}};
    Term T;
    T.name = "fit";
    T.samples = 256;
    M.terms = {T};
    M.fields = {{"u", {}}};
    Exact E;
    E.field = 0;
    M.exacts = {E};
    Stage S;
    S.optimizer = "adam";
    S.steps = 400;
    S.lr = 0.05;
    M.stages = {S};
    D.kernels = {{KernelRef::Role::LossGrad, 0, "line_fit", 1, 1},
                 {KernelRef::Role::Field, 0, "line_u", 1, 1},
                 {KernelRef::Role::Exact, 0, "line_exact", 1, 1},
                 {KernelRef::Role::Derivs, 0, "line_du", 1, 3}};
    description = writeModelJSON(D);
    kernels[0] = {"line_fit", (void *)&lineLossGrad};
    kernels[1] = {"line_u", (void *)&lineEval};
    kernels[2] = {"line_exact", (void *)&lineExact};
    kernels[3] = {"line_du", (void *)&lineDerivs};
    spec = {PHYSC_EMBED_VERSION,
            "line",
            "f64",
            description.c_str(),
            4,
            kernels,
            nullptr};
  }
};

/// physc_model_term_loss over many chunks of points (run on all cores, as
/// physc train's Evaluator does) is the mean over all of them, and the same
/// bits at every call.
TEST(Embed, TermLossSpansChunks) {
  LineSpec L;
  physc_model *m = physc_model_create(&L.spec, "cpu", 0);
  ASSERT_NE(m, nullptr) << physc_last_error();
  double w[2] = {1, 0.5};
  ASSERT_EQ(physc_model_set_params(m, w), 0);
  const int64_t n = 5000; // 5 chunks of 1024, the last partial
  std::vector<double> xs(n);
  for (int64_t i = 0; i < n; ++i)
    xs[i] = -1 + 2.0 * i / (n - 1);
  double want = 0, want0 = 0, want1 = 0;
  for (double x : xs) {
    double r = 1 + 0.5 * x - (2 + 3 * x);
    want += r * r / n;
    want0 += 2 * r / n;
    want1 += 2 * r * x / n;
  }
  double loss, grad[2], again, grad2[2];
  ASSERT_EQ(physc_model_term_loss(m, 0, xs.data(), n, &loss, grad), 0)
      << physc_last_error();
  EXPECT_NEAR(loss, want, 1e-13 * want);
  EXPECT_NEAR(grad[0], want0, 1e-13 * std::abs(want0));
  EXPECT_NEAR(grad[1], want1, 1e-13 * std::abs(want1));
  ASSERT_EQ(physc_model_term_loss(m, 0, xs.data(), n, &again, grad2), 0);
  EXPECT_EQ(again, loss);
  EXPECT_EQ(grad2[0], grad[0]);
  EXPECT_EQ(grad2[1], grad[1]);
  double alone;
  ASSERT_EQ(physc_model_term_loss(m, 0, xs.data(), n, &alone, nullptr), 0);
  EXPECT_EQ(alone, loss);
  // Other thread counts, the same bits; so for the derivatives.
  std::vector<double> du1(3 * n), du3(3 * n);
  ASSERT_EQ(physc_model_eval_derivatives(m, 0, xs.data(), n, du3.data()), 0);
  for (int threads : {1, 3}) {
    ASSERT_EQ(physc_model_set_threads(m, threads), 0);
    double l;
    double gr[2];
    ASSERT_EQ(physc_model_term_loss(m, 0, xs.data(), n, &l, gr), 0);
    EXPECT_EQ(l, loss) << threads;
    EXPECT_EQ(gr[0], grad[0]) << threads;
    EXPECT_EQ(gr[1], grad[1]) << threads;
    ASSERT_EQ(physc_model_eval_derivatives(m, 0, xs.data(), n, du1.data()), 0);
    EXPECT_EQ(du1, du3) << threads;
  }
  // Point i's (u, u_x, u_xx) of this line: (1 + 0.5 x, 0.5, 0).
  EXPECT_EQ(du1[3 * 4999], 1.5);
  EXPECT_EQ(du1[3 * 4999 + 1], 0.5);
  EXPECT_EQ(physc_model_set_threads(nullptr, 1), -1);
  physc_model_destroy(m);
}

TEST(Embed, EvaluatesLossesAndTrains) {
  LineSpec L;
  physc_model *m = physc_model_create(&L.spec, "cpu", 0);
  ASSERT_NE(m, nullptr) << physc_last_error();
  EXPECT_STREQ(physc_model_name(m), "line");
  EXPECT_EQ(physc_model_num_params(m), 2);
  EXPECT_EQ(physc_model_term_index(m, "fit"), 0);
  EXPECT_EQ(physc_model_field_index(m, "v"), -1);
  EXPECT_EQ(physc_model_term_columns(m, 0), 1);
  EXPECT_EQ(physc_model_coord_name(m, 1), nullptr);

  double w[2] = {1, 0.5};
  ASSERT_EQ(physc_model_set_params(m, w), 0);
  double xs[3] = {-1, 0, 1}, u[3];
  ASSERT_EQ(physc_model_eval(m, 0, xs, 3, u), 0);
  EXPECT_EQ(u[0], 0.5);
  EXPECT_EQ(u[2], 1.5);
  // Derivatives, one row of (u, u_x, u_xx) per point.
  EXPECT_EQ(physc_model_num_derivatives(m), 3);
  double du[9];
  ASSERT_EQ(physc_model_eval_derivatives(m, 0, xs, 3, du), 0)
      << physc_last_error();
  EXPECT_EQ(du[0], 0.5);
  EXPECT_EQ(du[1], 0.5);
  EXPECT_EQ(du[2], 0.0);
  EXPECT_EQ(du[6], 1.5);
  EXPECT_EQ(du[7], 0.5);
  // Residuals at -1, 0, 1: 1 - 2.5 x ... (1 + 0.5x) - (2 + 3x) = -1 - 2.5x.
  double loss, grad[2];
  ASSERT_EQ(physc_model_term_loss(m, 0, xs, 3, &loss, grad), 0);
  EXPECT_DOUBLE_EQ(loss, (1.5 * 1.5 + 1 + 3.5 * 3.5) / 3);
  EXPECT_DOUBLE_EQ(grad[0], 2 * (1.5 - 1 - 3.5) / 3);
  EXPECT_DOUBLE_EQ(grad[1], 2 * (1.5 * -1 + 3.5 * -1) / 3);
  // --set k=-1 changes the target.
  ASSERT_EQ(physc_model_set_value(m, "k", -1), 0);
  ASSERT_EQ(physc_model_term_loss(m, 0, xs + 1, 1, &loss, nullptr), 0);
  EXPECT_DOUBLE_EQ(loss, 1.0);
  EXPECT_EQ(physc_model_set_value(m, "kk", 1), -1);
  EXPECT_NE(std::string(physc_last_error()).find("kk"), std::string::npos);

  physc_train_options opts;
  physc_train_options_init(&opts);
  opts.quiet = 1;
  opts.threads = 2;
  physc_train_result res;
  ASSERT_EQ(physc_model_train(m, &opts, &res), 0) << physc_last_error();
  EXPECT_EQ(res.steps, 400);
  double err;
  ASSERT_EQ(physc_model_rel_l2(m, 0, &err), 0);
  EXPECT_LT(err, 1e-3);
  ASSERT_EQ(physc_model_get_params(m, w), 0);
  EXPECT_NEAR(w[0], 2, 1e-3);
  EXPECT_NEAR(w[1], -1, 1e-3);

  // Save, then load into a fresh model: the same parameters.
  test::ScratchDir dir;
  std::string path = dir.file("line.bin");
  ASSERT_EQ(physc_model_save(m, path.c_str()), 0) << physc_last_error();
  physc_model *m2 = physc_model_create(&L.spec, nullptr, 5);
  ASSERT_NE(m2, nullptr);
  ASSERT_EQ(physc_model_load(m2, path.c_str()), 0) << physc_last_error();
  double w2[2];
  ASSERT_EQ(physc_model_get_params(m2, w2), 0);
  EXPECT_EQ(w2[0], w[0]);
  EXPECT_EQ(w2[1], w[1]);
  physc_model_destroy(m2);
  physc_model_destroy(m);
}

TEST(Embed, ReportsMisuse) {
  LineSpec L;
  EXPECT_EQ(physc_model_create(&L.spec, "cuda", 0), nullptr);
  EXPECT_NE(std::string(physc_last_error()).find("CPU code only"),
            std::string::npos);
  physc_spec withPtx = L.spec;
  withPtx.ptx = ".version 8.0\n"; // there is no GPU (or driver) in this test
  ::setenv("PHYSC_LIBCUDA", "/nonexistent/physc-test/libcuda.so.1", 1);
  EXPECT_EQ(physc_model_create(&withPtx, "cuda", 0), nullptr);
  EXPECT_NE(std::string(physc_last_error()).find("no CUDA driver"),
            std::string::npos)
      << physc_last_error();
  EXPECT_EQ(physc_model_create(&L.spec, "tpu", 0), nullptr);
  EXPECT_NE(std::string(physc_last_error()).find("unknown device 'tpu'"),
            std::string::npos);
  EXPECT_EQ(physc_model_create(nullptr, "cpu", 0), nullptr);
  physc_spec old = L.spec;
  old.version = 99;
  EXPECT_EQ(physc_model_create(&old, "cpu", 0), nullptr);
  EXPECT_NE(std::string(physc_last_error()).find("version 99"),
            std::string::npos);
  physc_spec missing = L.spec;
  missing.num_kernels = 2; // the exact's (and derivs') kernels are missing
  EXPECT_EQ(physc_model_create(&missing, "cpu", 0), nullptr);
  EXPECT_NE(std::string(physc_last_error()).find("line_exact not found"),
            std::string::npos);

  physc_model *m = physc_model_create(&L.spec, "auto", 0);
  ASSERT_NE(m, nullptr);
  double x = 0, v;
  EXPECT_EQ(physc_model_eval(m, 1, &x, 1, &v), -1);
  EXPECT_NE(std::string(physc_last_error()).find("field index 1"),
            std::string::npos);
  EXPECT_EQ(physc_model_term_loss(m, 0, &x, 0, &v, nullptr), -1);
  double nan[2] = {NAN, 0};
  EXPECT_EQ(physc_model_set_params(m, nan), -1);
  EXPECT_EQ(physc_model_load(m, "/nonexistent/line.bin"), -1);
  EXPECT_NE(std::string(physc_last_error()).find("/nonexistent/line.bin"),
            std::string::npos);
  physc_model_destroy(m);
}

} // namespace
