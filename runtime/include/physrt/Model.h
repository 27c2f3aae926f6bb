//===- Model.h - What the runtime needs to know of a compiled model -*- C++
//-*-===//
//
// Part of physc's runtime (libphysrt). A CompiledModel is everything the
// training loop needs: coordinates and their box, the flat parameter layout
// with the init of each block, runtime scalars, and one kernel per loss term.
// It knows nothing of MLIR: the driver (JIT) or an AOT library fills it in.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_MODEL_H
#define PHYSRT_MODEL_H

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace physrt {

class DeviceTrainer;

/// Points are passed structure-of-arrays: coordinate `c` of point `i` is
/// `pts[c * ld + i]`, with `ld >= n` (the runtime pads `ld` to a multiple of
/// 64 so kernels may read whole vector tiles past `n`; such lanes are masked).

/// Accumulates, over points [0, n): `*loss += sum_i r_i^2` and
/// `grad[k] += d/dparams[k] sum_i r_i^2`. Unnormalised: the runtime divides
/// by the number of points and applies the term weight.
using LossGradFn = std::function<void(const double *params, const double *pts,
                                      int64_t ld, int64_t n, const double *rt,
                                      double *loss, double *grad)>;

/// Writes `nout` values per point: `out[k * ld + i]`.
using EvalFn =
    std::function<void(const double *params, const double *pts, int64_t ld,
                       int64_t n, const double *rt, double *out)>;

struct Coord {
  std::string name;
  bool isTime = false;
  double lo = 0, hi = 1;
  /// An `input` coordinate (a parameter of the problem family): sampled
  /// like the others, but not a face of `on boundary`.
  bool isInput = false;
};

struct Region {
  enum class Kind { Interior, Boundary, Faces } kind = Kind::Interior;
  struct Face {
    int coord;
    double value;
  };
  struct Restriction {
    int coord;
    double lo, hi;
  };
  std::vector<Face> faces;               ///< for Faces
  std::vector<Restriction> restrictions; ///< narrows the box
};

/// A contiguous block of the flat parameter vector: one weight matrix
/// (`rows` x `cols`, row-major, rows = fan-out) or one bias vector (cols = 1).
struct ParamBlock {
  std::string name; ///< e.g. "N.layer0.weight"
  int64_t offset = 0, rows = 0, cols = 1;
  bool isBias = false;
  /// glorot|glorot_uniform|he|siren_first|siren|zeros|constant
  std::string init = "glorot";
  double w0 = 30; ///< siren_first|siren: the sine frequency of the net
  int64_t fanIn = 1, fanOut = 1;
  double initValue = 0; ///< for init "constant" (e.g. a trainable param)
  /// For a trainable param's 1x1 block: its index in runtimeParams (whose
  /// value, possibly from `--set`, is the initial value) and its bounds,
  /// kept by projection after every optimizer step.
  int runtimeParam = -1;
  bool bounded = false;
  double lo = 0, hi = 0;
};

struct RuntimeParam {
  std::string name;
  double value = 0;
};

struct Term {
  std::string name;
  Region region;
  int64_t samples = 1024;
  double weight = 1.0; ///< from `loss` times the equation's own `weight`
  LossGradFn lossGrad;
  /// The residual at each point (nout == 1); set when R3 resampling needs
  /// it, empty otherwise.
  EvalFn residual;
  /// Fixed points of a `data` term (observations), SoA with ld = dataCount:
  /// `dataColumns` columns, the coordinates then the observed values. When
  /// dataCount > 0 the runtime passes these rows (padded) at every step
  /// instead of sampling `region`.
  std::vector<double> data;
  int64_t dataCount = 0;
  int dataColumns = 0;
};

/// One named scalar output of the model that can be evaluated on points
/// (each output of each field).
struct FieldOutput {
  std::string name;
  EvalFn eval; ///< nout == 1
  /// Set in libraries built by `physc build`: the value, the first
  /// derivatives along every coordinate (in order), then the upper triangle
  /// of the Hessian row by row; nout == 1 + D + D (D + 1) / 2.
  EvalFn derivs;
};

/// A reference solution for one field output: a kernel, or tabulated points
/// (`exactPoints` SoA with ld = exactCount, values in `exactValues`).
struct Exact {
  int field = -1; ///< index into CompiledModel::fields
  EvalFn eval;    ///< set for `exact u = EXPR`
  int64_t count = 0;
  std::vector<double> points; ///< for `exact u = file(...)`
  std::vector<double> values;
};

struct Stage {
  std::string optimizer; ///< adam|lbfgs|multiadam
  int64_t steps = 1000;
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t history = 50;     ///< lbfgs
  double tolerance = 1e-12; ///< lbfgs: stop when |g|_inf falls below
  /// multiadam: the loss-term groups (indices into CompiledModel::terms),
  /// each with its own Adam moments. Empty: one group per term whose
  /// weight is not 0.
  std::vector<std::vector<int>> groups;
};

/// How the weights of the loss terms evolve during training.
struct Weighting {
  /// "fixed": the weights of `loss` throughout. "annealing": learning-rate
  /// annealing (Wang, Teng & Perdikaris 2021, Alg. 1) during Adam stages.
  std::string scheme = "fixed";
  int64_t every = 100; ///< annealing: update the weights every this many steps
  double alpha = 0.9;  ///< annealing: weight of the new estimate
  /// annealing: the residual terms (indices into terms), whose weights stay
  /// fixed; every other term with a weight > 0 is annealed.
  std::vector<int> residual;
};

struct CompiledModel {
  std::string name;
  std::vector<Coord> coords;
  int64_t numParams = 0;
  std::vector<ParamBlock> blocks;
  std::vector<RuntimeParam> runtimeParams;
  std::vector<Term> terms;
  std::vector<FieldOutput> fields;
  std::vector<Exact> exacts;
  std::vector<Stage> stages;
  std::string sampler = "uniform"; ///< uniform|sobol|halton|lhs
  /// Collocation points: "fresh" (drawn every step), "none" (drawn once),
  /// "r3" (R3 every `resampleEvery` steps); see Resample.h.
  std::string resample = "fresh";
  int64_t resampleEvery = 0;
  /// Causal weighting of interior terms in Adam stages (Causal.h); off when
  /// causalEps is 0.
  double causalEps = 0;
  int64_t causalChunks = 32;
  Weighting weighting;
  /// Points per loss_grad call (a multiple of 64); 0: Evaluator::kChunk.
  /// Kernels on a GPU set it large, so each term's batch is one launch.
  int64_t chunkPoints = 0;
  /// Where the kernels run, for logs and summaries: "cpu", or the GPU's
  /// name and architecture when bindCudaKernels has moved them there.
  std::string device = "cpu";
  /// Runs whole Adam steps where the kernels are (set with them on a GPU);
  /// null: the host runs the optimizer and the samplers.
  std::shared_ptr<DeviceTrainer> deviceTrainer;
};

} // namespace physrt

#endif // PHYSRT_MODEL_H
