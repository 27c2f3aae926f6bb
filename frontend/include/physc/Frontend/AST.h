//===- AST.h - Abstract syntax tree of a .phys file -------------*- C++ -*-===//
//
// Part of physc. The AST mirrors the surface syntax one to one; every node
// keeps the source range it came from so that diagnostics, MLIRGen's
// FileLineColLoc and `physc emit ast` can all point back into the file.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_FRONTEND_AST_H
#define PHYSC_FRONTEND_AST_H

#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace physc::ast {

/// A half-open range of characters in the buffer owned by the SourceMgr that
/// parsed the file. Kept as raw pointers so that llvm::SourceMgr can print
/// carets and ranges without any bookkeeping of our own.
struct Location {
  const char *begin = nullptr;
  const char *end = nullptr;
  llvm::SMLoc start() const { return llvm::SMLoc::getFromPointer(begin); }
  llvm::SMRange range() const {
    return {llvm::SMLoc::getFromPointer(begin),
            llvm::SMLoc::getFromPointer(end ? end : begin)};
  }
  bool valid() const { return begin != nullptr; }
};

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

class Expr {
public:
  enum class Kind { Number, Name, Unary, Binary, Call, Deriv };
  Expr(Kind kind, Location loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  const Location &getLoc() const { return loc; }

private:
  Kind kind;
  Location loc;
};
using ExprPtr = std::unique_ptr<Expr>;

/// `1.5`, `1e-3`, `8192`.
class NumberExpr : public Expr {
public:
  NumberExpr(Location loc, double value) : Expr(Kind::Number, loc), value(value) {}
  double value;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Number; }
};

/// What a name resolves to; filled in by Sema.
enum class NameKind { Unresolved, Const, Param, Coord, Field, Let, Builtin };

/// A reference to a const, param, coordinate, field, let, or `pi` / `e`.
class NameExpr : public Expr {
public:
  NameExpr(Location loc, std::string name)
      : Expr(Kind::Name, loc), name(std::move(name)) {}
  std::string name;
  /// Resolution by Sema: the kind, and the index into the matching list of
  /// `CheckedModel` (coords, params, fields (output index in `output`), lets).
  /// Consts and builtins are folded: `constValue` holds their value.
  NameKind ref = NameKind::Unresolved;
  int index = -1;
  int output = 0;
  double constValue = 0;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Name; }
};

/// `-x`.
class UnaryExpr : public Expr {
public:
  UnaryExpr(Location loc, char op, ExprPtr operand)
      : Expr(Kind::Unary, loc), op(op), operand(std::move(operand)) {}
  char op;
  ExprPtr operand;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Unary; }
};

/// `a + b`, `a - b`, `a * b`, `a / b`, `a ^ b`.
class BinaryExpr : public Expr {
public:
  BinaryExpr(Location loc, char op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), op(op), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  char op;
  ExprPtr lhs, rhs;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Binary; }
};

/// A call: a math function (`sin(x)`), a net (`N(x, t)`), or vector sugar
/// (`grad(u)`, `div(a, b)`, `lap(u)`, `dot(U, V)`, `norm(U)`).
class CallExpr : public Expr {
public:
  CallExpr(Location loc, Location calleeLoc, std::string callee,
           std::vector<ExprPtr> args)
      : Expr(Kind::Call, loc), calleeLoc(calleeLoc), callee(std::move(callee)),
        args(std::move(args)) {}
  Location calleeLoc;
  std::string callee;
  std::vector<ExprPtr> args;
  /// Set by Sema when the callee is a net: its index in CheckedModel::nets.
  int netIndex = -1;
  /// Labelled argument groups, `G(branch: (k), trunk: (x, t))`: `args` holds
  /// the arguments of every group in order, group i has `groupSizes[i]` of
  /// them. Empty for an ordinary call. Sema puts a deeponet's groups in the
  /// order branch, trunk.
  std::vector<std::string> groupLabels;
  std::vector<Location> groupLocs;
  std::vector<size_t> groupSizes;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Call; }
};

/// `d(F, X, Y, ...)`: the mixed partial derivative of F.
class DerivExpr : public Expr {
public:
  DerivExpr(Location loc, ExprPtr operand, std::vector<std::string> wrt,
            std::vector<Location> wrtLocs)
      : Expr(Kind::Deriv, loc), operand(std::move(operand)), wrt(std::move(wrt)),
        wrtLocs(std::move(wrtLocs)) {}
  ExprPtr operand;
  std::vector<std::string> wrt;
  std::vector<Location> wrtLocs;
  /// Set by Sema: index of each `wrt` coordinate in CheckedModel::coords.
  std::vector<int> wrtIndex;
  static bool classof(const Expr *e) { return e->getKind() == Kind::Deriv; }
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

/// A keyword argument of a net or optimizer: `hidden: [64, 64]`, `act: tanh`,
/// `lr: 1e-3`, `encode: periodic(x: 2)`. Exactly one of `number`, `list`,
/// `ident` is meaningful, except for a Call, which has `ident` (the callee)
/// and its own keyword arguments `args`.
struct Arg {
  enum class Kind { Number, List, Ident, Call } kind = Kind::Number;
  Location loc, keyLoc;
  std::string key;
  ExprPtr number;
  std::vector<ExprPtr> list;
  std::string ident;
  /// `resample: r3 every K`: the optional `every EXPR` after an option.
  ExprPtr every;
  Location identLoc; ///< Call: the callee's name.
  std::vector<Arg> args; ///< Call: its arguments.
};

struct ModelStmt { Location loc; std::string name; };
struct ConstStmt { Location loc, nameLoc; std::string name; ExprPtr value; };
struct ParamStmt {
  Location loc, nameLoc;
  std::string name;
  ExprPtr value;
  bool trainable = false;
  ExprPtr lo, hi; ///< Optional bounds `in [A, B]`.
};
struct CoordStmt {
  Location loc, nameLoc;
  std::string name;
  bool isTime = false;
  /// `input k in [A, B]`: a parameter of a family of problems, sampled like
  /// the other coordinates but not a `space` direction.
  bool isInput = false;
  ExprPtr lo, hi;
};
struct NetStmt {
  Location loc, nameLoc, kindLoc;
  std::string name, kind;
  std::vector<Arg> args;
};
struct FieldStmt {
  Location loc;
  std::vector<std::string> names;
  std::vector<Location> nameLocs;
  std::vector<std::string> coords;
  std::vector<Location> coordLocs;
  ExprPtr value;
};
struct LetStmt { Location loc, nameLoc; std::string name; ExprPtr value; };

/// One face `ID == VALUE` of an `on` region.
struct Face { Location loc; std::string coord; ExprPtr value; };
/// One restriction `ID in [A, B]` of a region.
struct Restriction { Location loc; std::string coord; ExprPtr lo, hi; };
struct Region {
  enum class Kind { Interior, Boundary, Faces } kind = Kind::Interior;
  Location loc;
  std::vector<Face> faces;
  std::vector<Restriction> restrictions;
};
struct EquationStmt {
  Location loc, nameLoc;
  std::string name;
  ExprPtr lhs, rhs;
  Region region;
  ExprPtr samples; ///< Optional.
  ExprPtr weight;  ///< Optional.
  /// `data ID: FIELD == file("obs.csv")`: a data term, parsed as an equation
  /// whose lhs is the field's name, with no rhs and no region.
  bool isData = false;
  std::string dataFile;
  Location dataFileLoc;
  /// `constraint ID: LHS (<= | >= | ==) RHS REGION ...`: penalised by the
  /// squared violation; `==` behaves as an equation.
  enum class Relation { Eq, Le, Ge } relation = Relation::Eq;
  bool isConstraint = false;
};
struct LossStmt { Location loc; ExprPtr value; };
struct OptimizerCall { Location loc, nameLoc; std::string name; std::vector<Arg> args; };
struct TrainStmt {
  Location loc;
  std::vector<OptimizerCall> stages;
  std::vector<Arg> options; ///< `sampler: sobol`, ...
};
struct ExactStmt {
  Location loc, fieldLoc;
  std::string field;
  ExprPtr value;    ///< `exact u = EXPR`, or
  std::string file; ///< `exact u = file("ref.csv")`.
  Location fileLoc;
};

/// A whole file, statements in source order.
struct Module {
  std::string filename;
  ModelStmt model;
  std::vector<ConstStmt> consts;
  std::vector<ParamStmt> params;
  std::vector<CoordStmt> coords;
  std::vector<NetStmt> nets;
  std::vector<FieldStmt> fields;
  std::vector<LetStmt> lets;
  std::vector<EquationStmt> equations;
  std::vector<LossStmt> losses;
  std::vector<TrainStmt> trains;
  std::vector<ExactStmt> exacts;
};

} // namespace physc::ast

#endif // PHYSC_FRONTEND_AST_H
