/*===- physc_embed.h - The C API of libraries built by physc build -*- C -*-===*
 *
 * Part of physc's runtime. `physc build FILE -o DIR` writes DIR/include/
 * NAME.h (the model's layout and names), this header, and DIR/lib/libNAME.a
 * (the compiled kernels and the runtime they need; no LLVM/MLIR). A program
 * includes NAME.h, creates a model from its spec, and trains or evaluates it:
 *
 *   physc_model *m = physc_model_create(&physc_spec_NAME, "cpu", 0);
 *   if (!m) { fprintf(stderr, "%s\n", physc_last_error()); return 1; }
 *   physc_model_train(m, NULL, NULL);
 *   physc_model_eval(m, 0, points, n, values);
 *   physc_model_destroy(m);
 *
 * Functions that can fail return 0 on success and -1 on failure (NULL for
 * physc_model_create); physc_last_error() then says why, in this thread.
 * Points are passed row-major: point i's coordinates are
 * points[i * columns .. i * columns + columns), in the order of the model's
 * coordinates. A model may be used from one thread at a time; distinct
 * models are independent. Parameters are in the layout NAME.h lists.
 *
 *===----------------------------------------------------------------------===*/

#ifndef PHYSC_EMBED_H
#define PHYSC_EMBED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface; a library and the header it came with
 * always agree, since physc build writes both. */
#define PHYSC_EMBED_VERSION 3 /* 2: physc_train_result.device_steps;
                                 3: physc_spec.cubins */

/* One compiled kernel of a spec. */
typedef struct physc_kernel {
  const char *symbol;
  void *fn;
} physc_kernel;

/* Machine code for one GPU architecture: the spec's PTX assembled by the
 * CUDA toolkit's ptxas when the library was built (physc build --cubin). */
typedef struct physc_cubin {
  const char *chip;  /* "sm_90": runs on compute capability 9.0 (and, for
                        sm_80, on 8.6 and 8.9 too: same major, lower minor) */
  const void *image; /* the ELF image ptxas wrote */
  int64_t size;      /* its bytes */
} physc_cubin;

/* What physc build compiles into a library: the model's description (its
 * coordinates, parameter layout, terms, data and training plan, as JSON)
 * and its kernels. Defined in libNAME.a as physc_spec_NAME. */
typedef struct physc_spec {
  int32_t version;          /* PHYSC_EMBED_VERSION of the physc that built it */
  const char *name;         /* the model's name */
  const char *precision;    /* "f32" or "f64": the kernels' arithmetic */
  const char *description;  /* JSON */
  int64_t num_kernels;
  const physc_kernel *kernels;
  const char *ptx;          /* the kernels for CUDA devices, or NULL */
  int64_t num_cubins;       /* machine code of `ptx`, per chip: a device */
  const physc_cubin *cubins; /* loads it instead of JIT-compiling the PTX */
} physc_spec;

typedef struct physc_model physc_model;

/* Why the last failed call of this thread failed. */
const char *physc_last_error(void);

/* A model with parameters initialised from `seed` as `physc train --seed`
 * would. `device`: "cpu"; "cuda" (CUDA device 0, for a library built with
 * `physc build --target cpu,cuda`; fails, saying why, where there is no
 * GPU or driver); NULL or "auto": the CPU. */
physc_model *physc_model_create(const physc_spec *spec, const char *device,
                                uint64_t seed);
void physc_model_destroy(physc_model *m);

const char *physc_model_name(const physc_model *m);
/* "cpu", or the GPU the kernels run on: "NVIDIA H200 (sm_90, cubin sm_90)"
 * when it runs an embedded cubin, "NVIDIA H200 (sm_90)" when the driver
 * compiled the PTX. */
const char *physc_model_device(const physc_model *m);
int64_t physc_model_num_params(const physc_model *m);
int physc_model_num_coords(const physc_model *m);
int physc_model_num_terms(const physc_model *m);
int physc_model_num_fields(const physc_model *m);
/* Names by index; NULL for an index out of range. */
const char *physc_model_coord_name(const physc_model *m, int coord);
const char *physc_model_term_name(const physc_model *m, int term);
const char *physc_model_field_name(const physc_model *m, int field);
/* Index of a term or field by name, -1 if there is none. */
int physc_model_term_index(const physc_model *m, const char *name);
int physc_model_field_index(const physc_model *m, const char *name);
/* Columns of a term's points: the coordinates, plus the observed value for
 * a `data` term; -1 for an index out of range. */
int physc_model_term_columns(const physc_model *m, int term);

/* All parameters (physc_model_num_params values). */
int physc_model_get_params(const physc_model *m, double *params);
int physc_model_set_params(physc_model *m, const double *params);
/* Sets a runtime `param` of the spec (like `physc train --set NAME=V`);
 * for a trainable param this also sets its current value. */
int physc_model_set_value(physc_model *m, const char *name, double value);
/* Parameters to / from a checkpoint file (the format of `physc train --out`,
 * so `physc eval --checkpoint` reads what save writes and vice versa). */
int physc_model_save(const physc_model *m, const char *path);
int physc_model_load(physc_model *m, const char *path);

/* Threads that physc_model_eval, _eval_derivatives, _term_loss and
 * _rel_l2 use (training takes physc_train_options.threads instead):
 * <= 0 for all cores, the default. The results do not depend on it. */
int physc_model_set_threads(physc_model *m, int threads);

/* `field` at `n` points (num_coords columns): out[i] for point i. */
int physc_model_eval(const physc_model *m, int field, const double *points,
                     int64_t n, double *out);
/* Values per point of physc_model_eval_derivatives: 1 + D + D (D + 1) / 2
 * for D coordinates. */
int physc_model_num_derivatives(const physc_model *m);
/* `field` and its exact derivatives (automatic differentiation, the
 * kernels' Taylor jets) at `n` points: for point i, out[i * K + ...] holds
 * (K = physc_model_num_derivatives) the value, the first derivatives along
 * each coordinate in order, then the second derivatives d2/dci dcj for
 * i <= j, row by row (for (x, t): u, u_x, u_t, u_xx, u_xt, u_tt). NAME.h
 * lists the order. */
int physc_model_eval_derivatives(const physc_model *m, int field,
                                 const double *points, int64_t n,
                                 double *out);
/* Term `term`'s unweighted mean squared residual at `n` points
 * (physc_model_term_columns columns) into *loss, and, when `grad` is not
 * NULL, its gradient with respect to every parameter into grad[0..P). */
int physc_model_term_loss(const physc_model *m, int term, const double *points,
                          int64_t n, double *loss, double *grad);
/* Relative L2 error of a field against the spec's `exact` (on the points
 * `physc train` reports it on); fails if the field has no exact. */
int physc_model_rel_l2(const physc_model *m, int field, double *err);

typedef struct physc_train_options {
  int64_t max_steps; /* < 0: every stage of the spec in full */
  int threads;       /* <= 0: all cores */
  int quiet;         /* non-zero: no progress lines on stderr */
  const char *out_dir; /* NULL, or where checkpoint/fields/pictures go */
} physc_train_options;

typedef struct physc_train_result {
  int64_t steps;
  double seconds;
  double total_loss; /* weighted sum of the final term losses */
  /* Adam and L-BFGS steps run whole on the device (CUDA graphs, the
   * host waiting only to log); 0 on the CPU. */
  int64_t device_steps;
} physc_train_result;

/* max_steps -1, threads 0, quiet 0, out_dir NULL. */
void physc_train_options_init(physc_train_options *opts);

/* Runs the spec's training plan (its optimizer stages) from the current
 * parameters, drawing points from the model's seed; `opts` and `result`
 * may be NULL. */
int physc_model_train(physc_model *m, const physc_train_options *opts,
                      physc_train_result *result);

#ifdef __cplusplus
}
#endif

#endif /* PHYSC_EMBED_H */
