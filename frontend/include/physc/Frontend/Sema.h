//===- Sema.h - Semantic analysis of a .phys file ---------------*- C++ -*-===//
//
// Part of physc. Sema resolves every name, folds consts, normalises nets and
// optimizers, checks arities, derivative operands, regions and `let` cycles,
// and produces a CheckedModel: the single input of MLIRGen. Expressions stay
// owned by the ast::Module; the CheckedModel points into it.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_SEMA_H
#define PHYSC_FRONTEND_SEMA_H

#include "physc/Frontend/AST.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace physc {
class Diagnostics;

struct CheckedCoord {
  std::string name;
  bool isTime = false;
  /// `input`: a parameter of the problem family (sampled, differentiable,
  /// but not a direction of grad/div/lap nor a face of `on boundary`).
  bool isInput = false;
  bool isSpace() const { return !isTime && !isInput; }
  double lo = 0, hi = 1;
  ast::Location loc;
};

struct CheckedParam {
  std::string name;
  double value = 0;
  bool trainable = false;
  bool bounded = false;
  double lo = 0, hi = 0;
  ast::Location loc;
};

/// `encode: ...` of a net: how the arguments of a call become the inputs of
/// the first layer. MLIRGen expands it into pointwise ops before the net
/// call, so that derivatives and adjoints need no rule of their own.
struct CheckedEncoding {
  enum class Kind { None, Periodic, Fourier } kind = Kind::None;

  /// Periodic: the argument that is the coordinate `coord` itself becomes
  /// cos(2 pi k X / period), sin(2 pi k X / period) for k = 1..harmonics.
  struct Periodic {
    int coord;
    double period;
  };
  std::vector<Periodic> periodic; ///< in the order written
  int harmonics = 1;

  /// Fourier: the call's arguments v become [cos(2 pi B v), sin(2 pi B v)],
  /// B (features x in, row-major) fixed, entries ~ N(0, scale^2).
  int features = 0;
  double scale = 0;
  std::vector<double> B;

  ast::Location loc; ///< the `encode: ...` argument

  /// The periodic entry of coordinate `coord`, or null.
  const Periodic *periodicOf(int coord) const {
    for (const Periodic &p : periodic)
      if (p.coord == coord)
        return &p;
    return nullptr;
  }
};

/// A backbone with every default filled in.
struct CheckedNet {
  std::string name;
  std::string kind = "mlp";     ///< mlp|resnet|siren|modified_mlp|deeponet
  double w0 = 30;               ///< siren: the frequency of the sines
  int in = 0, out = 0;          ///< `in`: the arguments of each call
  std::vector<int> hidden;      ///< widths of the hidden layers
  std::string act = "tanh";     ///< tanh|sin|gelu|softplus|swish|sigmoid|relu
  std::string init = "glorot";  ///< glorot|he|siren
  CheckedEncoding encoding;
  ast::Location loc;
  /// deeponet: the branch and trunk nets (indices into CheckedModel::nets,
  /// declared earlier) and their common number of outputs p. `in` is the
  /// sum of their inputs, `out` the number of groups K (p / K terms each).
  int branch = -1, trunk = -1, width = 0;
  bool isDeepONet() const { return kind == "deeponet"; }

  /// Inputs of the first layer: `in`, or the encoded width.
  int fanIn() const {
    switch (encoding.kind) {
    case CheckedEncoding::Kind::None:
      return in;
    case CheckedEncoding::Kind::Periodic:
      return in + int(encoding.periodic.size()) * (2 * encoding.harmonics - 1);
    case CheckedEncoding::Kind::Fourier:
      return 2 * encoding.features;
    }
    return in;
  }
};

/// `field a, b (x, y) = EXPR`: one entry per statement; `outputs` names.
struct CheckedField {
  std::vector<std::string> outputs;
  std::vector<int> coords;      ///< indices into CheckedModel::coords
  const ast::Expr *value = nullptr;
  ast::Location loc;
};

struct CheckedLet {
  std::string name;
  const ast::Expr *value = nullptr;
  ast::Location loc;
};

struct CheckedRegion {
  enum class Kind { Interior, Boundary, Faces } kind = Kind::Interior;
  struct Face { int coord; double value; };
  struct Restriction { int coord; double lo, hi; };
  std::vector<Face> faces;
  std::vector<Restriction> restrictions;
};

struct CheckedEquation {
  std::string name;
  const ast::Expr *lhs = nullptr, *rhs = nullptr;
  CheckedRegion region;
  int64_t samples = 1024;
  double weight = 1.0;          ///< `weight EXPR` (folded)
  ast::Location loc;
  /// A `data` term: residual field - observed at the rows of `dataFile`
  /// (resolved relative to the .phys file); lhs names the field, rhs is
  /// null, the region is unused.
  bool isData = false;
  int dataField = -1, dataOutput = 0; ///< which field statement and output
  std::string dataFile;
  /// A `constraint`: `<=` penalises max(lhs - rhs, 0), `>=` min(lhs - rhs,
  /// 0), `==` the residual itself.
  bool isConstraint = false;
  ast::EquationStmt::Relation relation = ast::EquationStmt::Relation::Eq;
};

/// One optimizer stage of `train`, keyword arguments folded to numbers.
struct CheckedStage {
  std::string optimizer;        ///< adam|lbfgs|multiadam
  std::map<std::string, double> args; ///< lr, steps, beta1, history, ...
  int64_t steps = 1000;
  ast::Location loc;
  /// multiadam: groups of equation indices (every equation with a loss
  /// weight > 0 in exactly one; `groups:` omitted: one per equation).
  std::vector<std::vector<int>> groups;
};

/// `weights: annealing(K, ALPHA)` of `train` (scheme "fixed" without it).
struct CheckedWeighting {
  std::string scheme = "fixed"; ///< fixed|annealing
  int64_t every = 100;
  double alpha = 0.9;
  std::vector<int> residual;    ///< equation indices with fixed weights
  ast::Location loc;
};

struct CheckedExact {
  int field = -1, output = 0;   ///< which field statement and output
  const ast::Expr *value = nullptr;
  std::string file;             ///< resolved relative to the .phys file
  ast::Location loc;
};

struct CheckedModel {
  std::string name;
  std::string filename;
  std::vector<CheckedCoord> coords;
  std::vector<double> constValues;       ///< by const statement
  std::vector<std::string> constNames;
  std::vector<CheckedParam> params;
  std::vector<CheckedNet> nets;
  std::vector<CheckedField> fields;
  std::vector<CheckedLet> lets;          ///< in dependency order
  std::vector<CheckedEquation> equations;
  /// `loss pde + 100 * ic`: weight of each equation, by equation index
  /// (0 for equations that the loss does not mention).
  std::vector<double> lossWeights;
  /// How each equation's residuals make its loss: "mse" (the mean square;
  /// a bare name) or "l1" (the mean absolute value, `l1(T)`).
  std::vector<std::string> lossNorms;
  /// `resample:` fresh (default: new points every step), none (drawn once),
  /// r3 (R3 every `resampleEvery` steps).
  std::string resample = "fresh";
  int64_t resampleEvery = 0;
  /// `causal: EPS` (0: off) and `causal_chunks: M` (default 32).
  double causalEps = 0;
  int64_t causalChunks = 32;
  std::vector<CheckedStage> stages;
  std::string sampler = "uniform";       ///< uniform|sobol|halton|lhs
  CheckedWeighting weighting;
  std::vector<CheckedExact> exacts;
};

/// Checks `module`; on success fills `out` and returns true. Every problem is
/// reported through `diags` (all of them, not just the first, where they are
/// independent).
bool analyze(ast::Module &module, CheckedModel &out, Diagnostics &diags);

} // namespace physc

#endif // PHYSC_FRONTEND_SEMA_H
