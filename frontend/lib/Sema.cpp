//===- Sema.cpp - Semantic analysis of a .phys file -----------------------===//
//
// Part of physc. One pass per kind of statement, in an order that makes every
// fact available before it is needed: declarations (one global namespace),
// consts (folded in source order), coordinates, params, nets, fields, lets
// (dependency order, cycles rejected), equations, loss, train, exact; then the
// statements every model must have. Expressions are checked by one recursive
// walk whose Scope says which names and constructs the context allows; the
// walk resolves names, computes whether a value is a scalar or a vector
// (`grad`) and which coordinates it can depend on. Errors are reported once:
// an expression that already failed does not produce follow-up errors.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Sema.h"
#include "physc/Frontend/Diagnostics.h"

#include "FormatNumber.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

using namespace physc;
using llvm::isa;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kE = 2.71828182845904523536;
constexpr double kMaxSamples = 1e8;

/// Math functions and their arity.
int mathArity(llvm::StringRef name) {
  return llvm::StringSwitch<int>(name)
      .Cases("sin", "cos", "tan", "exp", "log", "sqrt", 1)
      .Cases("tanh", "sinh", "cosh", "abs", "sigmoid", "softplus", 1)
      .Cases("min", "max", 2)
      .Default(0);
}

bool isVectorOp(llvm::StringRef name) {
  return name == "grad" || name == "div" || name == "lap" || name == "dot" ||
         name == "norm";
}

const std::vector<std::string> &builtinFunctionNames() {
  static const std::vector<std::string> names = {
      "sin",  "cos",  "tan", "exp", "log", "sqrt",    "tanh",
      "sinh", "cosh", "abs", "min", "max", "sigmoid", "softplus",
      "d",    "grad", "div", "lap", "dot", "norm"};
  return names;
}

/// Why `name` cannot be declared, or "" when it can.
std::string reservedReason(llvm::StringRef name) {
  if (name == "pi" || name == "e")
    return "'" + name.str() +
           "' is a built-in constant and cannot be redefined";
  if (llvm::is_contained(builtinFunctionNames(), name))
    return "'" + name.str() +
           "' is a built-in function and cannot be redefined";
  static const char *const keywords[] = {
      "model", "const", "param",      "space", "time",    "input", "net",
      "field", "let",   "equation",   "loss",  "train",   "exact", "in",
      "on",    "or",    "constraint", "data",  "dataset", "grid",  "generate"};
  for (const char *kw : keywords)
    if (name == kw)
      return "'" + name.str() + "' is a keyword and cannot be used as a name";
  return "";
}

enum class SymKind { Const, Param, Coord, Net, Field, Let, Equation };

const char *describe(SymKind kind) {
  switch (kind) {
  case SymKind::Const:
    return "a const";
  case SymKind::Param:
    return "a param";
  case SymKind::Coord:
    return "a coordinate";
  case SymKind::Net:
    return "a net";
  case SymKind::Field:
    return "a field";
  case SymKind::Let:
    return "a let";
  case SymKind::Equation:
    return "an equation";
  }
  return "a name";
}

struct Symbol {
  SymKind kind;
  int index;      ///< into the statement vector of the ast::Module
  int output = 0; ///< fields: which name of the statement
  ast::Location loc;
};

/// Where an expression appears: decides which names and constructs it may use.
enum class Context {
  Const, ///< folded at compile time: numbers, consts, pi, e, math functions
  Field, ///< a field's definition: + params, the field's coords, net calls
  Body,  ///< lets and equations: + params, coords, fields, lets, d, grad...
  Exact, ///< an exact solution: + params, the field's coords
};

struct Scope {
  Context ctx;
  /// Const context of a `const` statement: only consts before this index.
  int constLimit = INT_MAX;
  /// Field and Exact contexts: the coordinates allowed, and whose they are.
  llvm::SmallBitVector allowedCoords;
  std::string owner;
};

/// What the walk learns about an expression.
struct Info {
  bool ok = true;
  bool vector = false;
  bool usesField = false;
  llvm::SmallBitVector deps; ///< coordinates the value can depend on
  /// A relu net the value depends on (-1: none), and the highest order of
  /// derivative already taken of it: relu nets are piecewise linear, so a
  /// second derivative of one is zero almost everywhere.
  int reluNet = -1;
  int reluOrder = 0;
  /// Takes on `o`'s relu dependence (the first net, the highest order).
  void absorbRelu(const Info &o) {
    if (o.reluNet < 0)
      return;
    if (reluNet < 0)
      reluNet = o.reluNet;
    reluOrder = std::max(reluOrder, o.reluOrder);
  }
};

class SemaImpl {
public:
  SemaImpl(ast::Module &module, CheckedModel &out, Diagnostics &diags)
      : m(module), out(out), diags(diags) {}

  bool run();

private:
  ast::Module &m;
  CheckedModel &out;
  Diagnostics &diags;
  llvm::StringMap<Symbol> symbols;
  std::vector<bool> constOk;
  std::vector<bool> fieldOk;
  std::vector<int> fieldRelu; ///< by field: a relu net it depends on, or -1
  std::vector<int> letOrder; ///< ast let index -> index in out.lets
  std::vector<Info> letInfo; ///< by ast let index
  std::vector<bool> letDone; ///< checked (in dependency order)
  std::vector<bool> letOk;
  unsigned numSpace = 0;

  void error(ast::Location loc, const llvm::Twine &msg,
             const llvm::Twine &hint = "") {
    diags.error(loc, msg, hint);
  }
  static std::string didYouMean(const std::string &near) {
    return near.empty() ? "" : "did you mean '" + near + "'?";
  }

  // Passes.
  void declare();
  void checkConsts();
  void checkCoords();
  void checkParams();
  void checkNets();
  void checkFields();
  void checkLets();
  void checkEquations();
  void checkData(ast::EquationStmt &eq, CheckedEquation &ce);
  std::string resolvePath(llvm::StringRef file) const;
  void checkLoss();
  void checkTrain();
  void checkResample(ast::Arg &opt);
  void checkCausal(ast::TrainStmt &train);
  // Loss balancing (multiadam groups, annealed weights), after checkTrain's
  // keys are known.
  bool trained(int eq) const;
  std::optional<int> termName(const ast::Expr &e, llvm::StringRef where);
  void checkGroups(ast::Arg &arg, CheckedStage &stage);
  void checkWeighting(ast::Arg &arg);
  void checkResidual(ast::Arg &arg);
  void checkExacts();
  void checkRequired();

  // Expressions.
  Info check(ast::Expr &e, const Scope &scope);
  Info checkName(ast::NameExpr &e, const Scope &scope);
  Info checkCall(ast::CallExpr &e, const Scope &scope);
  Info checkDeriv(ast::DerivExpr &e, const Scope &scope);
  Info checkNetCall(ast::CallExpr &e, const Scope &scope, int net,
                    bool allowMultiOutput);
  /// The inputs `first .. first + n.in` of call `e` are those of net `n`.
  bool checkPeriodicCall(const ast::CallExpr &e, const CheckedNet &n,
                         llvm::ArrayRef<llvm::SmallBitVector> argDeps,
                         size_t first);
  Info checkDeepONetCall(ast::CallExpr &e, const CheckedNet &n, Info info,
                         std::vector<llvm::SmallBitVector> &argDeps,
                         bool allowMultiOutput);
  bool checkReluOrder(Info &info, int added, ast::Location loc,
                      llvm::StringRef what);
  bool requireScalar(const Info &info, const ast::Expr &e,
                     llvm::StringRef where);
  std::vector<std::string> visibleNames(const Scope &scope) const;
  static std::string contextName(const Scope &scope);
  std::optional<double> evaluate(const ast::Expr &e) const;
  std::optional<double> foldConst(ast::Expr &e, llvm::StringRef what,
                                  int constLimit = INT_MAX);
  std::optional<int64_t> foldInteger(ast::Expr &e, llvm::StringRef what,
                                     int64_t lo, int64_t hi);

  // Keyword arguments.
  std::optional<double> argNumber(ast::Arg &arg, llvm::StringRef owner);
  std::optional<int64_t> argInteger(ast::Arg &arg, llvm::StringRef owner,
                                    int64_t lo, int64_t hi);
  std::optional<double> argPositive(ast::Arg &arg, llvm::StringRef owner);

  // Net encodings.
  bool checkEncoding(ast::Arg &arg, CheckedNet &net);
  bool checkPeriodic(ast::Arg &arg, CheckedNet &net);
  bool checkFourier(ast::Arg &arg, CheckedNet &net);
  CheckedNet checkDeepONet(ast::NetStmt &n);

  // Helpers.
  std::vector<std::string> namesOf(SymKind kind) const;
  std::vector<std::string> coordNames() const;
  const Symbol *lookup(llvm::StringRef name) const {
    auto it = symbols.find(name);
    return it == symbols.end() ? nullptr : &it->second;
  }
  void collectLetRefs(const ast::Expr &e, std::vector<int> &refs) const;
  bool checkRegion(ast::EquationStmt &eq, CheckedRegion &region);
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

void SemaImpl::declare() {
  struct Decl {
    std::string name;
    Symbol sym;
  };
  std::vector<Decl> decls;
  for (auto [i, s] : llvm::enumerate(m.consts))
    decls.push_back({s.name, {SymKind::Const, int(i), 0, s.nameLoc}});
  for (auto [i, s] : llvm::enumerate(m.params))
    decls.push_back({s.name, {SymKind::Param, int(i), 0, s.nameLoc}});
  for (auto [i, s] : llvm::enumerate(m.coords))
    decls.push_back({s.name, {SymKind::Coord, int(i), 0, s.nameLoc}});
  for (auto [i, s] : llvm::enumerate(m.nets))
    decls.push_back({s.name, {SymKind::Net, int(i), 0, s.nameLoc}});
  for (auto [i, s] : llvm::enumerate(m.fields))
    for (auto [k, name] : llvm::enumerate(s.names))
      decls.push_back({name, {SymKind::Field, int(i), int(k), s.nameLocs[k]}});
  for (auto [i, s] : llvm::enumerate(m.lets))
    decls.push_back({s.name, {SymKind::Let, int(i), 0, s.nameLoc}});
  for (auto [i, s] : llvm::enumerate(m.equations))
    decls.push_back({s.name, {SymKind::Equation, int(i), 0, s.nameLoc}});
  // Source order, so that the error is at the second definition.
  llvm::stable_sort(decls, [](const Decl &a, const Decl &b) {
    return a.sym.loc.begin < b.sym.loc.begin;
  });
  for (Decl &d : decls) {
    std::string reason = reservedReason(d.name);
    if (!reason.empty()) {
      error(d.sym.loc, reason);
      continue;
    }
    auto [it, inserted] = symbols.try_emplace(d.name, d.sym);
    if (!inserted) {
      error(d.sym.loc, "'" + d.name + "' is already defined as " +
                           describe(it->second.kind));
      diags.note(it->second.loc, "'" + d.name + "' is first defined here");
    }
  }
}

std::vector<std::string> SemaImpl::namesOf(SymKind kind) const {
  std::vector<std::pair<const char *, std::string>> found;
  for (const auto &entry : symbols)
    if (entry.second.kind == kind)
      found.push_back({entry.second.loc.begin, entry.first().str()});
  llvm::sort(found);
  std::vector<std::string> names;
  for (auto &f : found)
    names.push_back(std::move(f.second));
  return names;
}

std::vector<std::string> SemaImpl::coordNames() const {
  std::vector<std::string> names;
  for (const CheckedCoord &c : out.coords)
    names.push_back(c.name);
  return names;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

std::string SemaImpl::contextName(const Scope &scope) {
  switch (scope.ctx) {
  case Context::Const:
    return "a constant expression";
  case Context::Field:
    return "the definition of field '" + scope.owner + "'";
  case Context::Body:
    return "this expression";
  case Context::Exact:
    return "the exact solution of '" + scope.owner + "'";
  }
  return "this expression";
}

std::vector<std::string> SemaImpl::visibleNames(const Scope &scope) const {
  std::vector<std::string> names = {"pi", "e"};
  for (const auto &entry : symbols) {
    const Symbol &s = entry.second;
    bool visible = false;
    switch (s.kind) {
    case SymKind::Const:
      visible = s.index < scope.constLimit;
      break;
    case SymKind::Param:
      visible = scope.ctx != Context::Const;
      break;
    case SymKind::Coord:
      visible = scope.ctx == Context::Body ||
                ((scope.ctx == Context::Field || scope.ctx == Context::Exact) &&
                 s.index < int(scope.allowedCoords.size()) &&
                 scope.allowedCoords.test(s.index));
      break;
    case SymKind::Field:
    case SymKind::Let:
      visible = scope.ctx == Context::Body;
      break;
    case SymKind::Net:
    case SymKind::Equation:
      break;
    }
    if (visible)
      names.push_back(entry.first().str());
  }
  llvm::sort(names);
  return names;
}

bool SemaImpl::requireScalar(const Info &info, const ast::Expr &e,
                             llvm::StringRef where) {
  if (!info.ok || !info.vector)
    return info.ok;
  error(e.getLoc(), "expected a scalar " + where + ", but this is a vector",
        "vectors come from grad(...); reduce them with dot(U, V), norm(U) or "
        "div(U)");
  return false;
}

Info SemaImpl::check(ast::Expr &e, const Scope &scope) {
  Info info;
  info.deps.resize(out.coords.size());
  switch (e.getKind()) {
  case ast::Expr::Kind::Number:
    return info;
  case ast::Expr::Kind::Name:
    return checkName(llvm::cast<ast::NameExpr>(e), scope);
  case ast::Expr::Kind::Call:
    return checkCall(llvm::cast<ast::CallExpr>(e), scope);
  case ast::Expr::Kind::Deriv:
    return checkDeriv(llvm::cast<ast::DerivExpr>(e), scope);
  case ast::Expr::Kind::Unary: {
    auto &u = llvm::cast<ast::UnaryExpr>(e);
    return check(*u.operand, scope);
  }
  case ast::Expr::Kind::Binary:
    break;
  }
  auto &b = llvm::cast<ast::BinaryExpr>(e);
  Info lhs = check(*b.lhs, scope);
  Info rhs = check(*b.rhs, scope);
  info.ok = lhs.ok && rhs.ok;
  info.usesField = lhs.usesField || rhs.usesField;
  info.absorbRelu(lhs);
  info.absorbRelu(rhs);
  info.deps = lhs.deps;
  info.deps |= rhs.deps;
  if (!info.ok)
    return info;
  std::string op(1, b.op);
  switch (b.op) {
  case '+':
  case '-':
    if (lhs.vector != rhs.vector) {
      error(b.getLoc(), "cannot apply '" + op + "' to a vector and a scalar",
            "vectors come from grad(...); both sides of '" + op +
                "' must be vectors or both scalars");
      info.ok = false;
    }
    info.vector = lhs.vector;
    return info;
  case '*':
    if (lhs.vector && rhs.vector) {
      error(b.getLoc(), "cannot multiply two vectors with '*'",
            "use dot(U, V) for the scalar product");
      info.ok = false;
    }
    info.vector = lhs.vector || rhs.vector;
    return info;
  case '/':
    if (rhs.vector) {
      error(b.rhs->getLoc(), "cannot divide by a vector");
      info.ok = false;
    }
    info.vector = lhs.vector;
    return info;
  default:
    info.ok = requireScalar(lhs, *b.lhs, "as the base of '^'") &&
              requireScalar(rhs, *b.rhs, "as the exponent of '^'");
    return info;
  }
}

Info SemaImpl::checkName(ast::NameExpr &e, const Scope &scope) {
  Info info;
  info.deps.resize(out.coords.size());
  if (e.name == "pi" || e.name == "e") {
    e.ref = ast::NameKind::Builtin;
    e.constValue = e.name == "pi" ? kPi : kE;
    return info;
  }
  const Symbol *sym = lookup(e.name);
  if (!sym) {
    std::string msg = "unknown name '" + e.name + "'";
    if (mathArity(e.name) || isVectorOp(e.name))
      error(e.getLoc(),
            "'" + e.name + "' is a function; call it as '" + e.name + "(...)'");
    else {
      std::vector<std::string> candidates = visibleNames(scope);
      if (e.name.size() == 1) // 'x' -> 'e' would be noise
        llvm::erase(candidates, std::string("e"));
      error(e.getLoc(), msg,
            didYouMean(Diagnostics::nearest(e.name, candidates)));
    }
    info.ok = false;
    return info;
  }
  auto notAllowed = [&](const llvm::Twine &why, const llvm::Twine &hint = "") {
    error(e.getLoc(), why, hint);
    info.ok = false;
    return info;
  };
  switch (sym->kind) {
  case SymKind::Const:
    if (sym->index >= scope.constLimit) {
      error(e.getLoc(), "const '" + e.name +
                            "' is used before its definition (consts are "
                            "folded in order)");
      diags.note(sym->loc, "'" + e.name + "' is defined here");
      info.ok = false;
      return info;
    }
    e.ref = ast::NameKind::Const;
    e.index = sym->index;
    e.constValue = out.constValues[sym->index];
    info.ok = constOk[sym->index];
    return info;
  case SymKind::Param:
    if (scope.ctx == Context::Const)
      return notAllowed("'" + e.name +
                            "' is a param, a runtime value; a constant is "
                            "needed here",
                        "use 'const' for values known at compile time");
    e.ref = ast::NameKind::Param;
    e.index = sym->index;
    return info;
  case SymKind::Coord:
    if (scope.ctx == Context::Const)
      return notAllowed("'" + e.name +
                        "' is a coordinate; a constant is needed here");
    if (scope.ctx != Context::Body &&
        (sym->index >= int(scope.allowedCoords.size()) ||
         !scope.allowedCoords.test(sym->index)))
      return notAllowed("'" + e.name + "' is not a coordinate of field '" +
                            scope.owner + "'",
                        "add it to the field's coordinates: '" + scope.owner +
                            "(..., " + e.name + ")'");
    e.ref = ast::NameKind::Coord;
    e.index = sym->index;
    info.deps.set(sym->index);
    return info;
  case SymKind::Field: {
    if (scope.ctx != Context::Body)
      return notAllowed("field '" + e.name + "' cannot be used in " +
                            contextName(scope),
                        scope.ctx == Context::Field
                            ? "a field is defined by nets, coordinates, "
                              "consts and params"
                            : "");
    e.ref = ast::NameKind::Field;
    e.index = sym->index;
    e.output = sym->output;
    info.ok = fieldOk[sym->index];
    info.usesField = true;
    info.reluNet = fieldRelu[sym->index];
    if (info.ok)
      for (int c : out.fields[sym->index].coords)
        info.deps.set(c);
    return info;
  }
  case SymKind::Let: {
    if (scope.ctx != Context::Body)
      return notAllowed("let '" + e.name + "' cannot be used in " +
                            contextName(scope),
                        scope.ctx == Context::Field
                            ? "a field is defined by nets, coordinates, "
                              "consts and params"
                            : "");
    e.ref = ast::NameKind::Let;
    e.index = letOrder[sym->index];
    if (!letDone[sym->index] || !letOk[sym->index]) {
      info.ok = false;
      return info;
    }
    return letInfo[sym->index];
  }
  case SymKind::Net:
    return notAllowed("'" + e.name + "' is a net, not a value",
                      "nets are called in fields, e.g. 'field u(x, t) = " +
                          e.name + "(x, t)', and used through the field");
  case SymKind::Equation:
    return notAllowed("'" + e.name +
                      "' is an equation, not a value; equations are combined "
                      "only in 'loss'");
  }
  return info;
}

Info SemaImpl::checkCall(ast::CallExpr &e, const Scope &scope) {
  Info info;
  info.deps.resize(out.coords.size());
  size_t nargs = e.args.size();
  auto fail = [&](ast::Location loc, const llvm::Twine &msg,
                  const llvm::Twine &hint = "") {
    error(loc, msg, hint);
    info.ok = false;
    return info;
  };
  auto plural = [](size_t n, const char *word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };

  if (int arity = mathArity(e.callee)) {
    if (int(nargs) != arity)
      return fail(e.getLoc(), "'" + e.callee + "' takes " +
                                  plural(arity, "argument") + ", got " +
                                  std::to_string(nargs));
    for (auto &arg : e.args) {
      Info a = check(*arg, scope);
      info.deps |= a.deps;
      info.usesField |= a.usesField;
      info.absorbRelu(a);
      if (!requireScalar(a, *arg, "as the argument of '" + e.callee + "'"))
        info.ok = false;
    }
    return info;
  }

  if (isVectorOp(e.callee)) {
    if (scope.ctx != Context::Body)
      return fail(e.calleeLoc,
                  "'" + e.callee + "' cannot be used in " + contextName(scope),
                  scope.ctx == Context::Field
                      ? "derivatives of fields belong in equations and lets"
                      : "");
    if (numSpace == 0)
      return fail(e.calleeLoc, "'" + e.callee +
                                   "' acts on 'space' coordinates, and the "
                                   "model declares none");
    std::vector<Info> args;
    for (auto &arg : e.args) {
      args.push_back(check(*arg, scope));
      info.deps |= args.back().deps;
      info.usesField |= args.back().usesField;
      info.ok &= args.back().ok;
      info.absorbRelu(args.back());
    }
    if (!info.ok)
      return info;
    // grad and div differentiate once, lap twice.
    int order = e.callee == "lap" ? 2 : e.callee == "grad" || e.callee == "div";
    if (!checkReluOrder(info, order, e.getLoc(), "'" + e.callee + "'"))
      return info;
    auto needArgs = [&](size_t n) {
      if (nargs == n)
        return true;
      fail(e.getLoc(), "'" + e.callee + "' takes " + plural(n, "argument") +
                           ", got " + std::to_string(nargs));
      return false;
    };
    auto needVector = [&](size_t i) {
      if (args[i].vector)
        return true;
      fail(e.args[i]->getLoc(),
           "'" + e.callee + "' needs a vector here, but this is a scalar",
           "vectors come from grad(...), e.g. " + e.callee + "(grad(u)" +
               (e.callee == "dot" ? ", grad(v))" : ")"));
      return false;
    };
    if (e.callee == "grad" || e.callee == "lap") {
      if (!needArgs(1) ||
          !requireScalar(args[0], *e.args[0],
                         "as the argument of '" + e.callee + "'"))
        return info.ok = false, info;
      info.vector = e.callee == "grad";
      return info;
    }
    if (e.callee == "norm") {
      if (!needArgs(1) || !needVector(0))
        return info.ok = false, info;
      return info;
    }
    if (e.callee == "dot") {
      if (!needArgs(2) || !needVector(0) || !needVector(1))
        return info.ok = false, info;
      return info;
    }
    // div: one vector, or one scalar per space coordinate.
    if (nargs == 1 && args[0].vector)
      return info;
    if (nargs != numSpace) {
      std::string spaceNames;
      for (const CheckedCoord &c : out.coords)
        if (c.isSpace())
          spaceNames += (spaceNames.empty() ? "" : ", ") + c.name;
      return fail(e.getLoc(),
                  "'div' takes " + plural(numSpace, "component") +
                      " (one per space coordinate: " + spaceNames + "), got " +
                      std::to_string(nargs),
                  "or a single vector, e.g. div(k * grad(u))");
    }
    for (size_t i = 0; i < nargs; ++i)
      if (!requireScalar(args[i], *e.args[i], "as a component of 'div'"))
        info.ok = false;
    return info;
  }

  const Symbol *sym = lookup(e.callee);
  if (sym && sym->kind == SymKind::Net) {
    if (scope.ctx != Context::Field)
      return fail(e.calleeLoc,
                  "net '" + e.callee +
                      "' can only be called in a field "
                      "definition",
                  "define 'field u(...) = " + e.callee +
                      "(...)' and use 'u' here");
    return checkNetCall(e, scope, sym->index, /*allowMultiOutput=*/false);
  }
  if (sym) {
    std::string hint;
    if (sym->kind == SymKind::Field)
      hint = "a field is used by its name alone: write '" + e.callee + "'";
    return fail(e.calleeLoc,
                "'" + e.callee + "' is " + describe(sym->kind) +
                    ", not a function",
                hint);
  }
  if (e.callee == "mse" || e.callee == "l1")
    return fail(e.calleeLoc, "'" + e.callee +
                                 "' is only meaningful in "
                                 "'loss', where it is not "
                                 "supported yet");
  std::vector<std::string> candidates = builtinFunctionNames();
  if (scope.ctx == Context::Field)
    for (std::string &n : namesOf(SymKind::Net))
      candidates.push_back(std::move(n));
  return fail(e.calleeLoc, "unknown function '" + e.callee + "'",
              didYouMean(Diagnostics::nearest(e.callee, candidates)));
}

Info SemaImpl::checkNetCall(ast::CallExpr &e, const Scope &scope, int net,
                            bool allowMultiOutput) {
  Info info;
  info.deps.resize(out.coords.size());
  const CheckedNet &n = out.nets[net];
  e.netIndex = net;
  std::vector<llvm::SmallBitVector> argDeps;
  for (auto &arg : e.args) {
    Info a = check(*arg, scope);
    info.deps |= a.deps;
    info.absorbRelu(a);
    argDeps.push_back(a.deps);
    if (!requireScalar(a, *arg, "as an input of net '" + e.callee + "'"))
      info.ok = false;
  }
  if (n.isDeepONet())
    return checkDeepONetCall(e, n, std::move(info), argDeps, allowMultiOutput);
  if (!e.groupLabels.empty()) {
    error(e.groupLocs[0], "only deeponet calls take labelled groups; net '" +
                              e.callee + "' is called with its inputs, e.g. '" +
                              e.callee + "(x, t)'");
    return info.ok = false, info;
  }
  if (n.in == 0) // the net itself is in error
    return info.ok = false, info;
  if (int(e.args.size()) != n.in) {
    error(e.getLoc(),
          "net '" + e.callee + "' takes " + std::to_string(n.in) + " input" +
              (n.in == 1 ? "" : "s") + " ('in: " + std::to_string(n.in) +
              "'), but is called with " + std::to_string(e.args.size()));
    diags.note(n.loc, "'" + e.callee + "' is defined here");
    info.ok = false;
  }
  if (info.ok && n.encoding.kind == CheckedEncoding::Kind::Periodic)
    info.ok = checkPeriodicCall(e, n, argDeps, 0);
  if (n.out != 1 && !allowMultiOutput) {
    error(e.getLoc(),
          "net '" + e.callee + "' has " + std::to_string(n.out) +
              " outputs and cannot be used as a scalar",
          "a net with several outputs defines a field with as many names, "
          "e.g. 'field u, v (x, y) = " +
              e.callee + "(x, y)'");
    info.ok = false;
  }
  if (n.act == "relu" && info.reluNet < 0)
    info.reluNet = net;
  return info;
}

/// `G(branch: (a, ...), trunk: (b, ...))`: exactly the two groups, each with
/// the inputs of its net. On success the groups (and `e.args`) are put in
/// the order branch, trunk, which is what MLIRGen reads.
Info SemaImpl::checkDeepONetCall(ast::CallExpr &e, const CheckedNet &n,
                                 Info info,
                                 std::vector<llvm::SmallBitVector> &argDeps,
                                 bool allowMultiOutput) {
  auto usage = "call a deeponet with its two groups of inputs, e.g. '" +
               e.callee + "(branch: (k), trunk: (x, t))'";
  if (e.groupLabels.empty()) {
    error(e.getLoc(),
          "deeponet '" + e.callee + "' takes labelled groups of inputs", usage);
    return info.ok = false, info;
  }
  int at[2] = {-1, -1}; // group index of branch, trunk
  for (auto [g, label] : llvm::enumerate(e.groupLabels)) {
    int which = label == "branch" ? 0 : label == "trunk" ? 1 : -1;
    if (which < 0) {
      std::string near = Diagnostics::nearest(label, {"branch", "trunk"});
      error(e.groupLocs[g],
            "unknown group '" + label + "' of deeponet '" + e.callee + "'",
            near.empty() ? "the groups are 'branch' and 'trunk'"
                         : "did you mean '" + near + "'?");
      info.ok = false;
      continue;
    }
    if (at[which] >= 0) {
      error(e.groupLocs[g], "group '" + label + "' is given twice");
      diags.note(e.groupLocs[at[which]], "first given here");
      info.ok = false;
      continue;
    }
    at[which] = int(g);
  }
  if (!info.ok)
    return info;
  if (at[0] < 0 || at[1] < 0) {
    error(e.getLoc(),
          "deeponet '" + e.callee + "' needs its '" +
              (at[0] < 0 ? "branch" : "trunk") + "' group of inputs",
          usage);
    return info.ok = false, info;
  }
  if (n.in == 0) // the net itself is in error
    return info.ok = false, info;
  // Reorder to branch, trunk.
  std::vector<size_t> start(e.groupSizes.size(), 0);
  for (size_t g = 1; g < start.size(); ++g)
    start[g] = start[g - 1] + e.groupSizes[g - 1];
  std::vector<ast::ExprPtr> args;
  std::vector<llvm::SmallBitVector> deps;
  for (int which : {0, 1}) {
    size_t g = size_t(at[which]);
    for (size_t i = 0; i < e.groupSizes[g]; ++i) {
      args.push_back(std::move(e.args[start[g] + i]));
      deps.push_back(argDeps[start[g] + i]);
    }
  }
  e.args = std::move(args);
  argDeps = std::move(deps);
  e.groupLabels = {"branch", "trunk"};
  e.groupLocs = {e.groupLocs[at[0]], e.groupLocs[at[1]]};
  e.groupSizes = {e.groupSizes[at[0]], e.groupSizes[at[1]]};

  size_t first = 0;
  for (int which : {0, 1}) {
    int idx = which == 0 ? n.branch : n.trunk;
    const CheckedNet &part = out.nets[idx];
    const char *label = which == 0 ? "branch" : "trunk";
    if (int(e.groupSizes[which]) != part.in) {
      error(e.groupLocs[which],
            std::string("the ") + label + " '" + part.name + "' of deeponet '" +
                e.callee + "' takes " + std::to_string(part.in) + " input" +
                (part.in == 1 ? "" : "s") +
                " ('in: " + std::to_string(part.in) + "'), but the group has " +
                std::to_string(e.groupSizes[which]));
      diags.note(part.loc, "'" + part.name + "' is defined here");
      info.ok = false;
    } else if (part.encoding.kind == CheckedEncoding::Kind::Periodic) {
      info.ok &= checkPeriodicCall(e, part, argDeps, first);
    }
    if (part.act == "relu" && info.reluNet < 0)
      info.reluNet = idx;
    first += e.groupSizes[which];
  }
  if (n.out != 1 && !allowMultiOutput) {
    error(e.getLoc(),
          "deeponet '" + e.callee + "' has " + std::to_string(n.out) +
              " outputs and cannot be used as a scalar",
          "a net with several outputs defines a field with as many names, "
          "e.g. 'field u, v (x, t) = " +
              e.callee + "(branch: (k), trunk: (x, t))'");
    info.ok = false;
  }
  return info;
}

/// Adds `added` orders of derivative to `info`'s relu dependence; an error
/// at `loc` when that makes it a second derivative of a relu net, which is
/// zero almost everywhere: the equation would silently lose that term (and
/// a second-order PDE could not be trained at all).
bool SemaImpl::checkReluOrder(Info &info, int added, ast::Location loc,
                              llvm::StringRef what) {
  if (info.reluNet < 0 || added == 0)
    return true;
  int before = info.reluOrder;
  info.reluOrder += added;
  if (before >= 2 || info.reluOrder < 2)
    return true;
  const CheckedNet &n = out.nets[info.reluNet];
  error(loc,
        what + " takes a second derivative of relu net '" + n.name +
            "', which is zero almost everywhere",
        "relu is piecewise linear; use a smooth activation (tanh, gelu, "
        "softplus, swish, sin, sigmoid) for second and higher derivatives");
  diags.note(n.loc, "'" + n.name + "' is defined here");
  info.ok = false;
  return false;
}

Info SemaImpl::checkDeriv(ast::DerivExpr &e, const Scope &scope) {
  Info info;
  info.deps.resize(out.coords.size());
  if (scope.ctx != Context::Body) {
    error(e.getLoc(), "derivatives cannot be used in " + contextName(scope),
          scope.ctx == Context::Field
              ? "derivatives of fields belong in equations and lets"
              : "");
    info.ok = false;
    return info;
  }
  Info f = check(*e.operand, scope);
  info = f;
  info.ok = requireScalar(f, *e.operand, "as the operand of 'd'");
  if (info.ok)
    checkReluOrder(info, int(e.wrt.size()), e.getLoc(), "this derivative");
  e.wrtIndex.clear();
  for (auto [i, name] : llvm::enumerate(e.wrt)) {
    const Symbol *sym = lookup(name);
    if (!sym || sym->kind != SymKind::Coord) {
      if (sym)
        error(e.wrtLocs[i], "derivative with respect to '" + name +
                                "', which is " + describe(sym->kind) +
                                ", not a coordinate");
      else
        error(e.wrtLocs[i],
              "derivative with respect to '" + name +
                  "', which is not a coordinate",
              didYouMean(Diagnostics::nearest(name, coordNames())));
      info.ok = false;
      e.wrtIndex.push_back(-1);
      continue;
    }
    e.wrtIndex.push_back(sym->index);
    // d of a constant is zero: allowed. d of something that depends on
    // other coordinates but not on this one is almost surely a mistake.
    if (f.ok && f.deps.any() && !f.deps.test(sym->index)) {
      std::string depNames;
      for (int c : f.deps.set_bits())
        depNames += (depNames.empty() ? "'" : ", '") + out.coords[c].name + "'";
      error(e.wrtLocs[i],
            "derivative with respect to '" + name +
                "' of an expression that does not depend on it",
            "the expression depends on " + depNames + " only");
      info.ok = false;
    }
  }
  return info;
}

std::optional<double> SemaImpl::evaluate(const ast::Expr &e) const {
  switch (e.getKind()) {
  case ast::Expr::Kind::Number:
    return llvm::cast<ast::NumberExpr>(e).value;
  case ast::Expr::Kind::Name: {
    auto &n = llvm::cast<ast::NameExpr>(e);
    if (n.ref == ast::NameKind::Const || n.ref == ast::NameKind::Builtin)
      return n.constValue;
    return std::nullopt;
  }
  case ast::Expr::Kind::Unary: {
    auto v = evaluate(*llvm::cast<ast::UnaryExpr>(e).operand);
    return v ? std::optional<double>(-*v) : std::nullopt;
  }
  case ast::Expr::Kind::Binary: {
    auto &b = llvm::cast<ast::BinaryExpr>(e);
    auto l = evaluate(*b.lhs), r = evaluate(*b.rhs);
    if (!l || !r)
      return std::nullopt;
    switch (b.op) {
    case '+':
      return *l + *r;
    case '-':
      return *l - *r;
    case '*':
      return *l * *r;
    case '/':
      return *l / *r;
    default:
      return std::pow(*l, *r);
    }
  }
  case ast::Expr::Kind::Call: {
    auto &c = llvm::cast<ast::CallExpr>(e);
    if (!mathArity(c.callee) || int(c.args.size()) != mathArity(c.callee))
      return std::nullopt;
    std::vector<double> a;
    for (auto &arg : c.args) {
      auto v = evaluate(*arg);
      if (!v)
        return std::nullopt;
      a.push_back(*v);
    }
    double x = a[0];
    return llvm::StringSwitch<std::function<double()>>(c.callee)
        .Case("sin", [&] { return std::sin(x); })
        .Case("cos", [&] { return std::cos(x); })
        .Case("tan", [&] { return std::tan(x); })
        .Case("exp", [&] { return std::exp(x); })
        .Case("log", [&] { return std::log(x); })
        .Case("sqrt", [&] { return std::sqrt(x); })
        .Case("tanh", [&] { return std::tanh(x); })
        .Case("sinh", [&] { return std::sinh(x); })
        .Case("cosh", [&] { return std::cosh(x); })
        .Case("abs", [&] { return std::fabs(x); })
        .Case("sigmoid", [&] { return 1 / (1 + std::exp(-x)); })
        .Case("softplus", [&] { return x > 30 ? x : std::log1p(std::exp(x)); })
        .Case("min", [&] { return std::min(x, a[1]); })
        .Default([&] { return std::max(x, a[1]); })();
  }
  case ast::Expr::Kind::Deriv:
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<double> SemaImpl::foldConst(ast::Expr &e, llvm::StringRef what,
                                          int constLimit) {
  Scope scope{Context::Const, constLimit, {}, ""};
  Info info = check(e, scope);
  if (!info.ok)
    return std::nullopt;
  std::optional<double> v = evaluate(e);
  if (!v) {
    error(e.getLoc(), "expected a constant for " + what);
    return std::nullopt;
  }
  if (!std::isfinite(*v)) {
    error(e.getLoc(),
          what + " evaluates to " + (std::isnan(*v) ? "NaN" : "infinity"));
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> SemaImpl::foldInteger(ast::Expr &e, llvm::StringRef what,
                                             int64_t lo, int64_t hi) {
  std::optional<double> v = foldConst(e, what);
  if (!v)
    return std::nullopt;
  if (*v != std::floor(*v) || *v < double(lo) || *v > double(hi)) {
    error(e.getLoc(), what + " must be an integer from " + std::to_string(lo) +
                          " to " + std::to_string(hi) + ", got " +
                          formatNumber(*v));
    return std::nullopt;
  }
  return int64_t(*v);
}

//===----------------------------------------------------------------------===//
// Consts, coordinates, params
//===----------------------------------------------------------------------===//

void SemaImpl::checkConsts() {
  out.constValues.assign(m.consts.size(), 0.0);
  constOk.assign(m.consts.size(), false);
  for (auto [i, c] : llvm::enumerate(m.consts)) {
    out.constNames.push_back(c.name);
    std::optional<double> v =
        foldConst(*c.value, "const '" + c.name + "'", int(i));
    if (v) {
      out.constValues[i] = *v;
      constOk[i] = true;
    }
  }
}

void SemaImpl::checkCoords() {
  for (ast::CoordStmt &c : m.coords) {
    CheckedCoord cc;
    cc.name = c.name;
    cc.isTime = c.isTime;
    cc.isInput = c.isInput;
    cc.loc = c.nameLoc;
    numSpace += cc.isSpace();
    out.coords.push_back(cc);
  }
  for (auto [i, c] : llvm::enumerate(m.coords)) {
    auto lo = foldConst(*c.lo, "the lower bound of '" + c.name + "'");
    auto hi = foldConst(*c.hi, "the upper bound of '" + c.name + "'");
    if (!lo || !hi)
      continue;
    if (!(*lo < *hi)) {
      error({c.lo->getLoc().begin, c.hi->getLoc().end},
            "the range of '" + c.name + "' is empty: [" + formatNumber(*lo) +
                ", " + formatNumber(*hi) + "]",
            "a range [A, B] needs A < B");
      continue;
    }
    out.coords[i].lo = *lo;
    out.coords[i].hi = *hi;
  }
}

void SemaImpl::checkParams() {
  for (ast::ParamStmt &p : m.params) {
    CheckedParam cp;
    cp.name = p.name;
    cp.trainable = p.trainable;
    cp.loc = p.nameLoc;
    auto v = foldConst(*p.value, "the value of param '" + p.name + "'");
    if (v)
      cp.value = *v;
    if (p.lo && p.hi) {
      auto lo = foldConst(*p.lo, "the lower bound of '" + p.name + "'");
      auto hi = foldConst(*p.hi, "the upper bound of '" + p.name + "'");
      if (lo && hi) {
        cp.bounded = true;
        cp.lo = *lo;
        cp.hi = *hi;
        if (!(*lo < *hi))
          error({p.lo->getLoc().begin, p.hi->getLoc().end},
                "the range of param '" + p.name + "' is empty: [" +
                    formatNumber(*lo) + ", " + formatNumber(*hi) + "]");
        else if (v && (*v < *lo || *v > *hi))
          error(p.value->getLoc(),
                "the value of param '" + p.name + "' (" + formatNumber(*v) +
                    ") is outside its range [" + formatNumber(*lo) + ", " +
                    formatNumber(*hi) + "]");
      }
    }
    out.params.push_back(cp);
  }
}

//===----------------------------------------------------------------------===//
// Nets
//===----------------------------------------------------------------------===//

std::optional<double> SemaImpl::argNumber(ast::Arg &arg,
                                          llvm::StringRef owner) {
  std::string what = "'" + arg.key + "' of '" + owner.str() + "'";
  switch (arg.kind) {
  case ast::Arg::Kind::Number:
    return foldConst(*arg.number, what);
  case ast::Arg::Kind::List:
    error(arg.loc, "expected a number for " + what + ", not a list");
    return std::nullopt;
  case ast::Arg::Kind::Call:
    error(arg.loc,
          "expected a number for " + what + ", not '" + arg.ident + "(...)'");
    return std::nullopt;
  case ast::Arg::Kind::Ident: {
    if (arg.ident == "pi" || arg.ident == "e")
      return arg.ident == "pi" ? kPi : kE;
    const Symbol *sym = lookup(arg.ident);
    ast::Location valueLoc{arg.loc.end - arg.ident.size(), arg.loc.end};
    if (sym && sym->kind == SymKind::Const) {
      if (!constOk[sym->index])
        return std::nullopt;
      return out.constValues[sym->index];
    }
    if (sym)
      error(valueLoc, "expected a number for " + what + ", but '" + arg.ident +
                          "' is " + describe(sym->kind));
    else
      error(
          valueLoc,
          "expected a number for " + what + ", got '" + arg.ident + "'",
          didYouMean(Diagnostics::nearest(arg.ident, namesOf(SymKind::Const))));
    return std::nullopt;
  }
  }
  return std::nullopt;
}

std::optional<int64_t> SemaImpl::argInteger(ast::Arg &arg,
                                            llvm::StringRef owner, int64_t lo,
                                            int64_t hi) {
  std::optional<double> v = argNumber(arg, owner);
  if (!v)
    return std::nullopt;
  if (*v != std::floor(*v) || *v < double(lo) || *v > double(hi)) {
    error(arg.loc, "'" + arg.key + "' of '" + owner +
                       "' must be an integer from " + std::to_string(lo) +
                       " to " + std::to_string(hi) + ", got " +
                       formatNumber(*v));
    return std::nullopt;
  }
  return int64_t(*v);
}

/// Location of the value of an argument (after `key:`).
ast::Location argValueLoc(const ast::Arg &arg) {
  if (arg.kind == ast::Arg::Kind::Number && arg.number)
    return arg.number->getLoc();
  if (arg.kind == ast::Arg::Kind::Ident)
    return {arg.loc.end - arg.ident.size(), arg.loc.end};
  return arg.loc;
}

std::optional<double> SemaImpl::argPositive(ast::Arg &arg,
                                            llvm::StringRef owner) {
  std::optional<double> v = argNumber(arg, owner);
  if (v && !(*v > 0)) {
    error(argValueLoc(arg), "'" + arg.key + "' of '" + owner +
                                "' must be positive, got " + formatNumber(*v));
    return std::nullopt;
  }
  return v;
}

/// Reports keys that are unknown or given twice; returns false if any.
bool checkKeys(std::vector<ast::Arg> &args,
               const std::vector<std::string> &known, llvm::StringRef owner,
               Diagnostics &diags) {
  bool ok = true;
  llvm::StringMap<const ast::Arg *> seen;
  for (ast::Arg &arg : args) {
    if (!llvm::is_contained(known, arg.key)) {
      std::string near = Diagnostics::nearest(arg.key, known);
      diags.error(arg.keyLoc,
                  "unknown argument '" + arg.key + "' of '" + owner + "'",
                  near.empty() ? "known arguments: " + llvm::join(known, ", ")
                               : "did you mean '" + near + "'?");
      ok = false;
      continue;
    }
    auto [it, inserted] = seen.try_emplace(arg.key, &arg);
    if (!inserted) {
      diags.error(arg.keyLoc, "argument '" + arg.key + "' is given twice");
      diags.note(it->second->keyLoc, "first given here");
      ok = false;
    }
  }
  return ok;
}

/// The value of an identifier argument among `choices`; `unsupported` lists
/// values of the language reference that are not implemented yet.
std::optional<std::string>
identChoice(ast::Arg &arg, const std::vector<std::string> &choices,
            const std::vector<std::string> &unsupported, llvm::StringRef what,
            Diagnostics &diags) {
  if (arg.kind != ast::Arg::Kind::Ident) {
    diags.error(argValueLoc(arg),
                "expected " + what + " (" + llvm::join(choices, ", ") + ")");
    return std::nullopt;
  }
  if (llvm::is_contained(choices, arg.ident))
    return arg.ident;
  if (llvm::is_contained(unsupported, arg.ident)) {
    diags.error(argValueLoc(arg),
                what + " '" + arg.ident + "' is not supported yet",
                "supported: " + llvm::join(choices, ", "));
    return std::nullopt;
  }
  std::string near = Diagnostics::nearest(arg.ident, choices);
  diags.error(argValueLoc(arg), "unknown " + what + " '" + arg.ident + "'",
              near.empty() ? "expected one of: " + llvm::join(choices, ", ")
                           : "did you mean '" + near + "'?");
  return std::nullopt;
}

void SemaImpl::checkNets() {
  static const std::vector<std::string> keys = {
      "in", "out", "hidden", "width", "depth", "act", "init", "encode"};
  static const std::vector<std::string> acts = {
      "tanh", "sin", "gelu", "softplus", "swish", "sigmoid", "relu"};
  static const std::vector<std::string> inits = {"glorot", "he", "siren"};
  static const std::vector<std::string> kinds = {"mlp", "resnet", "siren",
                                                 "modified_mlp", "deeponet"};
  static const std::vector<std::string> laterKinds = {"unet"};
  constexpr int64_t kMaxWidth = 1 << 16, kMaxLayers = 1000, kMaxIO = 1 << 16;

  for (ast::NetStmt &n : m.nets) {
    CheckedNet cn;
    cn.name = n.name;
    cn.loc = n.nameLoc;
    bool ok = true;
    if (n.kind == "deeponet") {
      out.nets.push_back(checkDeepONet(n));
      continue;
    }
    if (!llvm::is_contained(kinds, n.kind)) {
      if (llvm::is_contained(laterKinds, n.kind))
        error(n.kindLoc, "'" + n.kind + "' nets are not supported yet",
              "supported: " + llvm::join(kinds, ", "));
      else {
        std::string near = Diagnostics::nearest(n.kind, kinds);
        error(n.kindLoc, "unknown kind of net '" + n.kind + "'",
              near.empty() ? "supported: " + llvm::join(kinds, ", ")
                           : "did you mean '" + near + "'?");
      }
      out.nets.push_back(cn);
      continue;
    }
    cn.kind = n.kind;
    if (n.kind == "siren") {
      // Sine layers with the SIREN initialisation, unless said otherwise.
      cn.act = "sin";
      cn.init = "siren";
    }
    for (ast::Arg &arg : n.args)
      if (arg.key == "w0") {
        if (n.kind != "siren") {
          error(arg.keyLoc, "'w0' is an argument of siren nets, not of '" +
                                n.kind + "'");
          ok = false;
          continue;
        }
        auto v = argNumber(arg, n.kind);
        if (v && !(*v > 0 && *v <= 1e4)) {
          error(argValueLoc(arg),
                "'w0' must be in (0, 10000], got " + formatNumber(*v));
          v.reset();
        }
        ok &= bool(v);
        if (v)
          cn.w0 = *v;
      }
    llvm::erase_if(n.args, [](const ast::Arg &a) { return a.key == "w0"; });
    // After an unknown key (likely a misspelt known one), "missing" errors
    // would only repeat the same problem.
    bool keysOk = checkKeys(n.args, keys, n.kind, diags);
    ok &= keysOk;
    const ast::Arg *hidden = nullptr, *width = nullptr, *depth = nullptr;
    ast::Arg *encode = nullptr, *sirenInit = nullptr;
    bool hasIn = false, hasOut = false, inOk = false;
    int64_t w = 0, dpt = 0;
    for (ast::Arg &arg : n.args) {
      if (!llvm::is_contained(keys, arg.key))
        continue;
      if (arg.key == "in" || arg.key == "out") {
        auto v = argInteger(arg, n.kind, 1, kMaxIO);
        (arg.key == "in" ? hasIn : hasOut) = true;
        if (!v) {
          ok = false;
          continue;
        }
        (arg.key == "in" ? cn.in : cn.out) = int(*v);
        inOk |= arg.key == "in";
      } else if (arg.key == "encode") {
        encode = &arg;
      } else if (arg.key == "hidden") {
        hidden = &arg;
        if (arg.kind != ast::Arg::Kind::List) {
          error(argValueLoc(arg), "'hidden' expects a list of layer widths, "
                                  "e.g. 'hidden: [64, 64]'");
          ok = false;
          continue;
        }
        if (arg.list.empty() || arg.list.size() > size_t(kMaxLayers)) {
          error(arg.loc, "'hidden' needs from 1 to " +
                             std::to_string(kMaxLayers) + " layer widths");
          ok = false;
          continue;
        }
        bool unequal = false;
        for (auto [k, e] : llvm::enumerate(arg.list)) {
          auto v = foldInteger(*e, "a hidden layer width", 1, kMaxWidth);
          if (!v) {
            ok = false;
            continue;
          }
          // modified_mlp: every layer mixes rows of the encoders' width,
          // h_l = (1 - z_l) U + z_l V, so the widths cannot change.
          if (n.kind == "modified_mlp" && !cn.hidden.empty() && !unequal &&
              *v != cn.hidden[0]) {
            error(e->getLoc(),
                  "the hidden layers of modified_mlp '" + n.name +
                      "' must have equal widths: layer " + std::to_string(k) +
                      " is " + std::to_string(*v) + " wide, layer 0 is " +
                      std::to_string(cn.hidden[0]),
                  "each layer mixes the two encoders' outputs, which have "
                  "the hidden width, e.g. 'hidden: [64, 64, 64]' or "
                  "'width: 64, depth: 3'");
            unequal = true;
            ok = false;
          }
          cn.hidden.push_back(int(*v));
        }
      } else if (arg.key == "width") {
        width = &arg;
        auto v = argInteger(arg, n.kind, 1, kMaxWidth);
        ok &= bool(v);
        w = v.value_or(0);
      } else if (arg.key == "depth") {
        depth = &arg;
        auto v = argInteger(arg, n.kind, 1, kMaxLayers);
        ok &= bool(v);
        dpt = v.value_or(0);
      } else if (arg.key == "act") {
        auto v = identChoice(arg, acts, {}, "activation", diags);
        ok &= bool(v);
        if (v && n.kind == "siren" && *v != "sin") {
          error(argValueLoc(arg), "siren nets use 'act: sin', not '" + *v + "'");
          ok = false;
        } else if (v) {
          cn.act = *v;
        }
      } else if (arg.key == "init") {
        auto v = identChoice(arg, inits, {}, "initialization", diags);
        ok &= bool(v);
        if (v)
          cn.init = *v;
        if (v && *v == "siren")
          sirenInit = &arg;
      }
    }
    if (sirenInit && cn.act != "sin") {
      error(argValueLoc(*sirenInit), "'init: siren' is for sine layers; use "
                                     "'act: sin' or a siren net");
      ok = false;
    }
    if (!keysOk) {
      cn.in = cn.out = 0;
      out.nets.push_back(cn);
      continue;
    }
    if (!hasIn) {
      error(n.nameLoc, "net '" + n.name +
                           "' needs its number of inputs, "
                           "e.g. 'in: 2'");
      ok = false;
    }
    if (!hasOut) {
      error(n.nameLoc, "net '" + n.name +
                           "' needs its number of outputs, "
                           "e.g. 'out: 1'");
      ok = false;
    }
    if (hidden && (width || depth)) {
      error((width ? width : depth)->keyLoc,
            "give either 'hidden: [...]' or 'width' and 'depth', not both");
      ok = false;
    } else if (!hidden && !(width && depth)) {
      error(n.nameLoc,
            width || depth
                ? "net '" + n.name + "' needs both 'width' and 'depth'"
                : "net '" + n.name +
                      "' needs its hidden layers: 'hidden: "
                      "[64, 64]' or 'width: 64, depth: 2'");
      ok = false;
    } else if (!hidden && w && dpt) {
      cn.hidden.assign(size_t(dpt), int(w));
    }
    if (n.kind == "resnet" && ok) {
      // Skips join consecutive hidden layers of equal width.
      bool skip = false;
      for (size_t l = 1; l < cn.hidden.size(); ++l)
        skip |= cn.hidden[l] == cn.hidden[l - 1];
      if (!skip) {
        error(n.nameLoc, "resnet '" + n.name + "' has no skip connection",
              "skips join consecutive hidden layers of equal width, e.g. "
              "'hidden: [64, 64, 64]'");
        ok = false;
      }
    }
    // The encoding's checks need the number of inputs.
    if (encode && inOk)
      ok &= checkEncoding(*encode, cn);
    if (!ok)
      cn.in = cn.out = 0; // marks the net as bad: calls do not re-report
    out.nets.push_back(cn);
  }
}

/// `net G = deeponet(branch: B, trunk: T[, out: K])`. B and T are nets
/// declared above (so that their checks, and their `out`, are known) of one
/// of the plain kinds: a deeponet of deeponets would need nested groups in
/// the call syntax for no modelling gain.
CheckedNet SemaImpl::checkDeepONet(ast::NetStmt &n) {
  CheckedNet cn;
  cn.name = n.name;
  cn.kind = n.kind;
  cn.loc = n.nameLoc;
  static const std::vector<std::string> keys = {"branch", "trunk", "out"};
  if (!checkKeys(n.args, keys, n.kind, diags))
    return cn; // in == 0: calls do not re-report
  bool ok = true;
  ast::Arg *branch = nullptr, *trunk = nullptr, *outArg = nullptr;
  int64_t groups = 1;
  // The nets declared before this one, by name.
  size_t here = out.nets.size();
  auto netNamed = [&](llvm::StringRef name) -> int {
    for (size_t i = 0; i < here; ++i)
      if (out.nets[i].name == name)
        return int(i);
    return -1;
  };
  for (ast::Arg &arg : n.args) {
    if (arg.key == "out") {
      outArg = &arg;
      auto v = argInteger(arg, n.kind, 1, 1 << 16);
      ok &= bool(v);
      groups = v.value_or(1);
      continue;
    }
    (arg.key == "branch" ? branch : trunk) = &arg;
    int &slot = arg.key == "branch" ? cn.branch : cn.trunk;
    if (arg.kind != ast::Arg::Kind::Ident) {
      error(argValueLoc(arg), "'" + arg.key +
                                  "' of a deeponet is the name of "
                                  "a net declared above, e.g. '" +
                                  arg.key + ": " +
                                  (arg.key == "branch" ? "B" : "T") + "'");
      ok = false;
      continue;
    }
    int idx = netNamed(arg.ident);
    if (idx < 0) {
      const Symbol *sym = lookup(arg.ident);
      if (sym && sym->kind == SymKind::Net) {
        error(argValueLoc(arg), "net '" + arg.ident +
                                    "' must be declared before deeponet '" +
                                    n.name + "', which uses it");
      } else if (sym) {
        error(argValueLoc(arg), "the " + arg.key + " of deeponet '" + n.name +
                                    "' must be a net, but '" + arg.ident +
                                    "' is " + describe(sym->kind));
      } else {
        std::vector<std::string> before;
        for (size_t i = 0; i < here; ++i)
          before.push_back(out.nets[i].name);
        error(argValueLoc(arg), "unknown net '" + arg.ident + "'",
              didYouMean(Diagnostics::nearest(arg.ident, before)));
      }
      ok = false;
      continue;
    }
    const CheckedNet &part = out.nets[idx];
    if (part.isDeepONet()) {
      error(argValueLoc(arg),
            "the " + arg.key + " of deeponet '" + n.name +
                "' cannot itself be a deeponet",
            "use an mlp, resnet, siren or modified_mlp");
      ok = false;
      continue;
    }
    if (part.in == 0) { // the net is in error, already reported
      ok = false;
      continue;
    }
    slot = idx;
  }
  if (!branch || !trunk) {
    error(n.nameLoc,
          "deeponet '" + n.name +
              "' needs both 'branch' and "
              "'trunk' nets",
          "e.g. 'net " + n.name + " = deeponet(branch: B, trunk: T)'");
    return cn;
  }
  if (!ok)
    return cn;
  const CheckedNet &b = out.nets[cn.branch], &t = out.nets[cn.trunk];
  // Output k sums B_j T_j over its group of j: the two nets pair outputs.
  if (b.out != t.out) {
    error(argValueLoc(*trunk),
          "the trunk '" + t.name + "' of deeponet '" + n.name + "' has " +
              std::to_string(t.out) + " outputs, but the branch '" + b.name +
              "' has " + std::to_string(b.out),
          "a deeponet multiplies branch and trunk outputs pairwise: give "
          "both the same 'out'");
    diags.note(b.loc, "'" + b.name + "' is defined here");
    return cn;
  }
  if (b.out % groups != 0) {
    error(
        argValueLoc(*outArg),
        "deeponet '" + n.name + "' splits the " + std::to_string(b.out) +
            " outputs of its branch and trunk into " + std::to_string(groups) +
            " equal groups, but " + std::to_string(groups) +
            " does not divide " + std::to_string(b.out),
        "'out' must divide the 'out' of '" + b.name + "' and '" + t.name + "'");
    return cn;
  }
  cn.width = b.out;
  cn.out = int(groups);
  cn.in = b.in + t.in;
  return cn;
}

//===----------------------------------------------------------------------===//
// Net encodings
//===----------------------------------------------------------------------===//

/// The fixed matrix B of `fourier` encodings: `rows * cols` normal draws of
/// standard deviation `scale`, row-major, from splitmix64 seeded with the
/// FNV-1a hash of the net's name, and Box-Muller. Written out here rather
/// than with <random> (whose distributions differ between standard
/// libraries) so that a file gives the same B, hence the same model,
/// everywhere; the name seeds it so that two nets get different features.
std::vector<double> fourierMatrix(llvm::StringRef net, int rows, int cols,
                                  double scale) {
  uint64_t state = 0xcbf29ce484222325ull;
  for (unsigned char c : net)
    state = (state ^ c) * 0x100000001b3ull;
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  auto uniform = [&next] { return double(next() >> 11) * 0x1.0p-53; };
  std::vector<double> B(size_t(rows) * size_t(cols));
  for (size_t i = 0; i < B.size(); i += 2) {
    double r = std::sqrt(-2 * std::log(1 - uniform())); // 1 - u in (0, 1]
    double a = 2 * kPi * uniform();
    B[i] = scale * r * std::cos(a);
    if (i + 1 < B.size())
      B[i + 1] = scale * r * std::sin(a);
  }
  return B;
}

bool SemaImpl::checkEncoding(ast::Arg &arg, CheckedNet &net) {
  static const std::vector<std::string> kinds = {"periodic", "fourier"};
  // The parser only builds `encode:` values as keyword calls.
  assert(arg.kind == ast::Arg::Kind::Call && "encode: without a call");
  net.encoding.loc = arg.loc;
  bool ok;
  if (arg.ident == "periodic") {
    ok = checkPeriodic(arg, net);
  } else if (arg.ident == "fourier") {
    ok = checkFourier(arg, net);
  } else {
    std::string near = Diagnostics::nearest(arg.ident, kinds);
    error(arg.identLoc, "unknown encoding '" + arg.ident + "'",
          near.empty() ? "supported: periodic(X: PERIOD), "
                         "fourier(features: F, scale: S)"
                       : "did you mean '" + near + "'?");
    return false;
  }
  constexpr int64_t kMaxFanIn = 1 << 16;
  if (ok && net.fanIn() > kMaxFanIn) {
    error(arg.loc, "the encoding gives net '" + net.name + "' " +
                       std::to_string(net.fanIn()) + " inputs; at most " +
                       std::to_string(kMaxFanIn) + " are supported");
    ok = false;
  }
  if (!ok)
    net.encoding = CheckedEncoding();
  return ok;
}

bool SemaImpl::checkPeriodic(ast::Arg &arg, CheckedNet &net) {
  constexpr int kMaxHarmonics = 64;
  CheckedEncoding &enc = net.encoding;
  enc.kind = CheckedEncoding::Kind::Periodic;
  bool ok = true;
  llvm::StringMap<const ast::Arg *> seen;
  for (ast::Arg &inner : arg.args) {
    auto [it, inserted] = seen.try_emplace(inner.key, &inner);
    if (!inserted) {
      error(inner.keyLoc, "'" + inner.key + "' is given twice in 'periodic'");
      diags.note(it->second->keyLoc, "first given here");
      ok = false;
      continue;
    }
    if (inner.key == "harmonics") {
      auto k = argInteger(inner, "periodic", 1, kMaxHarmonics);
      ok &= bool(k);
      enc.harmonics = int(k.value_or(1));
      continue;
    }
    const Symbol *sym = lookup(inner.key);
    if (!sym || sym->kind != SymKind::Coord) {
      error(inner.keyLoc,
            "'periodic' encodes coordinates, but '" + inner.key + "' is " +
                (sym ? describe(sym->kind) : "not declared"),
            sym ? "write 'periodic(X: PERIOD)' with X a coordinate"
                : didYouMean(Diagnostics::nearest(inner.key, coordNames())));
      ok = false;
      continue;
    }
    auto period = argNumber(inner, "periodic");
    if (period && !(*period > 0)) {
      error(argValueLoc(inner), "the period of '" + inner.key +
                                    "' must be positive, got " +
                                    formatNumber(*period));
      period.reset();
    } else if (period && !std::isfinite(2 * kPi * kMaxHarmonics / *period)) {
      // The features' frequencies 2 pi k / P must be finite numbers.
      error(argValueLoc(inner), "the period of '" + inner.key +
                                    "' is too small, got " +
                                    formatNumber(*period));
      period.reset();
    }
    ok &= bool(period);
    if (period)
      enc.periodic.push_back({sym->index, *period});
  }
  if (!ok)
    return false;
  if (enc.periodic.empty()) {
    error(arg.loc, "'periodic' needs a coordinate and its period, e.g. "
                   "'periodic(x: 2)'");
    return false;
  }
  if (int(enc.periodic.size()) > net.in) {
    error(arg.loc, "'periodic' encodes " + std::to_string(enc.periodic.size()) +
                       " coordinates, but net '" + net.name + "' takes " +
                       std::to_string(net.in) + " input" +
                       (net.in == 1 ? "" : "s") +
                       " ('in: " + std::to_string(net.in) + "')");
    return false;
  }
  return true;
}

bool SemaImpl::checkFourier(ast::Arg &arg, CheckedNet &net) {
  static const std::vector<std::string> keys = {"features", "scale"};
  CheckedEncoding &enc = net.encoding;
  enc.kind = CheckedEncoding::Kind::Fourier;
  if (!checkKeys(arg.args, keys, "fourier", diags))
    return false;
  bool ok = true, hasFeatures = false, hasScale = false;
  for (ast::Arg &inner : arg.args) {
    if (inner.key == "features") {
      hasFeatures = true;
      auto f = argInteger(inner, "fourier", 1, 1 << 15);
      ok &= bool(f);
      enc.features = int(f.value_or(0));
    } else {
      hasScale = true;
      auto scale = argPositive(inner, "fourier");
      ok &= bool(scale);
      enc.scale = scale.value_or(0);
    }
  }
  if (!hasFeatures || !hasScale) {
    error(arg.loc,
          std::string("'fourier' needs ") +
              (hasFeatures ? "" : "its number of features ('features: F')") +
              (!hasFeatures && !hasScale ? " and " : "") +
              (hasScale ? "" : "the standard deviation of B ('scale: S')"),
          "e.g. 'fourier(features: 64, scale: 10)'");
    return false;
  }
  if (!ok)
    return false;
  // B is held in the compiler and expanded into one multiply per entry and
  // call; a bound keeps both small (e.g. 256 features of 256 inputs).
  constexpr int64_t kMaxEntries = 1 << 16;
  if (int64_t(enc.features) * net.in > kMaxEntries) {
    error(arg.loc, "'fourier' with " + std::to_string(enc.features) +
                       " features of " + std::to_string(net.in) +
                       " inputs needs a matrix B of " +
                       std::to_string(int64_t(enc.features) * net.in) +
                       " entries; at most " + std::to_string(kMaxEntries) +
                       " are supported");
    return false;
  }
  enc.B = fourierMatrix(net.name, enc.features, net.in, enc.scale);
  // The kernels multiply by 2 pi B: every such entry must be finite.
  if (!llvm::all_of(enc.B, [](double b) { return std::isfinite(2 * kPi * b); })) {
    for (ast::Arg &inner : arg.args)
      if (inner.key == "scale")
        error(argValueLoc(inner), "'scale' of 'fourier' is too large, got " +
                                      formatNumber(enc.scale));
    return false;
  }
  return true;
}

bool SemaImpl::checkPeriodicCall(const ast::CallExpr &e, const CheckedNet &n,
                                 llvm::ArrayRef<llvm::SmallBitVector> argDeps,
                                 size_t first) {
  bool ok = true;
  argDeps = argDeps.slice(first, n.in);
  for (const CheckedEncoding::Periodic &p : n.encoding.periodic) {
    const std::string &x = out.coords[p.coord].name;
    const ast::Expr *encoded = nullptr;
    for (auto [i, arg] :
         llvm::enumerate(llvm::ArrayRef(e.args).slice(first, n.in))) {
      auto *name = llvm::dyn_cast<ast::NameExpr>(arg.get());
      bool isX =
          name && name->ref == ast::NameKind::Coord && name->index == p.coord;
      if (isX && !encoded) {
        encoded = arg.get();
        continue;
      }
      if (!argDeps[i].test(p.coord))
        continue;
      error(arg->getLoc(),
            "this input of net '" + n.name + "' depends on '" + x +
                "', which the net encodes periodically, so the net would "
                "not be periodic in '" +
                x + "'",
            "pass '" + x +
                "' itself once, and only inputs that do not "
                "depend on it besides");
      diags.note(n.encoding.loc, "the encoding is here");
      ok = false;
    }
    if (!encoded) {
      error(e.getLoc(),
            "net '" + n.name + "' encodes '" + x +
                "' periodically, so each call must pass the coordinate '" + x +
                "' itself as one of its inputs");
      diags.note(n.encoding.loc, "the encoding is here");
      ok = false;
    }
  }
  return ok;
}

//===----------------------------------------------------------------------===//
// Fields and lets
//===----------------------------------------------------------------------===//

void SemaImpl::checkFields() {
  fieldOk.assign(m.fields.size(), false);
  fieldRelu.assign(m.fields.size(), -1);
  for (auto [i, f] : llvm::enumerate(m.fields)) {
    CheckedField cf;
    cf.outputs = f.names;
    cf.value = f.value.get();
    cf.loc = f.nameLocs.front();
    bool ok = true;
    Scope scope{Context::Field, INT_MAX,
                llvm::SmallBitVector(out.coords.size()),
                llvm::join(f.names, ", ")};
    for (auto [k, name] : llvm::enumerate(f.coords)) {
      const Symbol *sym = lookup(name);
      if (!sym || sym->kind != SymKind::Coord) {
        if (sym)
          error(f.coordLocs[k], "'" + name + "' is " + describe(sym->kind) +
                                    ", not a coordinate");
        else
          error(f.coordLocs[k], "unknown coordinate '" + name + "'",
                didYouMean(Diagnostics::nearest(name, coordNames())));
        ok = false;
        continue;
      }
      if (scope.allowedCoords.test(sym->index)) {
        error(f.coordLocs[k], "coordinate '" + name + "' is listed twice");
        ok = false;
        continue;
      }
      scope.allowedCoords.set(sym->index);
      cf.coords.push_back(sym->index);
    }
    // Fields are stored before their expressions are checked so that errors
    // in one do not hide the coordinates of another.
    out.fields.push_back(cf);
    if (!ok)
      continue;

    auto *call = llvm::dyn_cast<ast::CallExpr>(f.value.get());
    const Symbol *callee = call ? lookup(call->callee) : nullptr;
    if (f.names.size() > 1) {
      if (!callee || callee->kind != SymKind::Net) {
        error(f.value->getLoc(),
              "a field with " + std::to_string(f.names.size()) +
                  " names must be defined by a single call of a net with "
                  "'out: " +
                  std::to_string(f.names.size()) + "'",
              "e.g. 'field " + llvm::join(f.names, ", ") + " (...) = N(...)'");
        continue;
      }
      const CheckedNet &net = out.nets[callee->index];
      Info info = checkNetCall(*call, scope, callee->index,
                               /*allowMultiOutput=*/true);
      if (!info.ok)
        continue;
      if (net.out != int(f.names.size())) {
        error(f.value->getLoc(), "net '" + net.name + "' has " +
                                     std::to_string(net.out) + " output" +
                                     (net.out == 1 ? "" : "s") +
                                     ", but the field "
                                     "names " +
                                     std::to_string(f.names.size()) + " (" +
                                     llvm::join(f.names, ", ") + ")");
        diags.note(net.loc, "'" + net.name + "' is defined here");
        continue;
      }
      fieldOk[i] = true;
      fieldRelu[i] = info.reluNet;
      continue;
    }
    Info info = check(*f.value, scope);
    if (requireScalar(info, *f.value, "as the value of a field"))
      fieldOk[i] = true;
    fieldRelu[i] = info.reluNet;
  }
}

void SemaImpl::collectLetRefs(const ast::Expr &e,
                              std::vector<int> &refs) const {
  switch (e.getKind()) {
  case ast::Expr::Kind::Number:
    return;
  case ast::Expr::Kind::Name: {
    const Symbol *sym = lookup(llvm::cast<ast::NameExpr>(e).name);
    if (sym && sym->kind == SymKind::Let)
      refs.push_back(sym->index);
    return;
  }
  case ast::Expr::Kind::Unary:
    return collectLetRefs(*llvm::cast<ast::UnaryExpr>(e).operand, refs);
  case ast::Expr::Kind::Binary:
    collectLetRefs(*llvm::cast<ast::BinaryExpr>(e).lhs, refs);
    return collectLetRefs(*llvm::cast<ast::BinaryExpr>(e).rhs, refs);
  case ast::Expr::Kind::Call:
    for (const auto &arg : llvm::cast<ast::CallExpr>(e).args)
      collectLetRefs(*arg, refs);
    return;
  case ast::Expr::Kind::Deriv:
    return collectLetRefs(*llvm::cast<ast::DerivExpr>(e).operand, refs);
  }
}

void SemaImpl::checkLets() {
  size_t n = m.lets.size();
  letOrder.assign(n, -1);
  letInfo.assign(n, Info());
  letDone.assign(n, false);
  letOk.assign(n, false);
  // Only lets whose name resolves to themselves take part (a duplicate name
  // was reported by declare()).
  std::vector<std::vector<int>> refs(n);
  for (size_t i = 0; i < n; ++i) {
    collectLetRefs(*m.lets[i].value, refs[i]);
    llvm::sort(refs[i]);
    refs[i].erase(std::unique(refs[i].begin(), refs[i].end()), refs[i].end());
  }

  // Depth-first search in source order; an edge to a let on the current path
  // closes a cycle, which is reported once, at the let where it is entered.
  enum State { Unvisited, OnPath, Finished };
  std::vector<State> state(n, Unvisited);
  std::vector<bool> inCycle(n, false);
  std::vector<int> path, topo;
  // Iterative, so that a long chain of lets cannot overflow the stack.
  auto reportCycle = [&](int w) {
    auto start = llvm::find(path, w);
    size_t length = path.end() - start;
    std::string chain;
    for (auto it = start; it != path.end(); ++it) {
      inCycle[*it] = true;
      // A long cycle is shown by its first four and last two lets.
      size_t pos = it - start;
      if (length > 8 && pos >= 4 && pos + 2 < length) {
        if (pos == 4)
          chain += "... (" + std::to_string(length - 6) + " more) -> ";
        continue;
      }
      chain += m.lets[*it].name + " -> ";
    }
    chain += m.lets[w].name;
    if (path.back() == w)
      error(m.lets[w].nameLoc, "let '" + m.lets[w].name + "' refers to itself");
    else
      error(m.lets[w].nameLoc, "cycle among lets: " + chain);
  };
  for (size_t root = 0; root < n; ++root) {
    if (state[root] != Unvisited)
      continue;
    std::vector<std::pair<int, size_t>> stack = {{int(root), 0}};
    state[root] = OnPath;
    path.push_back(int(root));
    while (!stack.empty()) {
      auto &[v, next] = stack.back();
      if (next == refs[v].size()) {
        state[v] = Finished;
        topo.push_back(v);
        path.pop_back();
        stack.pop_back();
        continue;
      }
      int w = refs[v][next++];
      if (state[w] == OnPath) {
        reportCycle(w);
      } else if (state[w] == Unvisited) {
        state[w] = OnPath;
        path.push_back(w);
        stack.push_back({w, 0});
      }
    }
  }

  for (auto [pos, i] : llvm::enumerate(topo)) {
    letOrder[i] = int(pos);
    CheckedLet cl;
    cl.name = m.lets[i].name;
    cl.value = m.lets[i].value.get();
    cl.loc = m.lets[i].nameLoc;
    out.lets.push_back(cl);
  }
  Scope scope{Context::Body, INT_MAX, {}, ""};
  for (int i : topo) {
    if (!inCycle[i]) {
      letInfo[i] = check(*m.lets[i].value, scope);
      letOk[i] = letInfo[i].ok;
    }
    letDone[i] = true;
  }
}

//===----------------------------------------------------------------------===//
// Equations
//===----------------------------------------------------------------------===//

bool SemaImpl::checkRegion(ast::EquationStmt &eq, CheckedRegion &region) {
  ast::Region &r = eq.region;
  region.kind = static_cast<CheckedRegion::Kind>(r.kind);
  bool ok = true;
  auto coordOf = [&](const std::string &name, ast::Location loc) -> int {
    const Symbol *sym = lookup(name);
    if (sym && sym->kind == SymKind::Coord)
      return sym->index;
    if (sym)
      error(loc, "'" + name + "' is " + describe(sym->kind) +
                     ", not a coordinate; a region is given by coordinates");
    else
      error(loc, "region on unknown coordinate '" + name + "'",
            didYouMean(Diagnostics::nearest(name, coordNames())));
    return -1;
  };
  if (r.kind == ast::Region::Kind::Boundary && numSpace == 0) {
    error(r.loc, "'on boundary' needs at least one 'space' coordinate",
          "for a condition at an instant, write e.g. 'on t == 0'");
    ok = false;
  }
  llvm::SmallBitVector faceCoords(out.coords.size());
  for (ast::Face &f : r.faces) {
    ast::Location nameLoc{f.loc.begin, f.loc.begin + f.coord.size()};
    int c = coordOf(f.coord, nameLoc);
    auto v = foldConst(*f.value, "the position of the face");
    if (c < 0 || !v) {
      ok = false;
      continue;
    }
    const CheckedCoord &cc = out.coords[c];
    if (*v < cc.lo || *v > cc.hi) {
      error(f.value->getLoc(), "face '" + f.coord + " == " + formatNumber(*v) +
                                   "' is outside the range of '" + f.coord +
                                   "' [" + formatNumber(cc.lo) + ", " +
                                   formatNumber(cc.hi) + "]");
      ok = false;
      continue;
    }
    faceCoords.set(c);
    region.faces.push_back({c, *v});
  }
  llvm::SmallBitVector restricted(out.coords.size());
  for (ast::Restriction &res : r.restrictions) {
    ast::Location nameLoc{res.loc.begin, res.loc.begin + res.coord.size()};
    int c = coordOf(res.coord, nameLoc);
    auto lo = foldConst(*res.lo, "the lower bound of the restriction");
    auto hi = foldConst(*res.hi, "the upper bound of the restriction");
    if (c < 0 || !lo || !hi) {
      ok = false;
      continue;
    }
    const CheckedCoord &cc = out.coords[c];
    ast::Location rangeLoc{res.lo->getLoc().begin, res.hi->getLoc().end};
    if (restricted.test(c)) {
      error(nameLoc, "'" + res.coord + "' is restricted twice");
      ok = false;
    } else if (faceCoords.test(c)) {
      error(nameLoc, "'" + res.coord +
                         "' is both a face and a restriction of this region");
      ok = false;
    } else if (!(*lo < *hi)) {
      error(rangeLoc, "the restriction of '" + res.coord + "' is empty: [" +
                          formatNumber(*lo) + ", " + formatNumber(*hi) + "]");
      ok = false;
    } else if (*lo < cc.lo || *hi > cc.hi) {
      error(rangeLoc, "the restriction [" + formatNumber(*lo) + ", " +
                          formatNumber(*hi) + "] is outside the range of '" +
                          res.coord + "' [" + formatNumber(cc.lo) + ", " +
                          formatNumber(cc.hi) + "]");
      ok = false;
    } else {
      region.restrictions.push_back({c, *lo, *hi});
    }
    restricted.set(c);
  }
  return ok;
}

void SemaImpl::checkEquations() {
  Scope scope{Context::Body, INT_MAX, {}, ""};
  for (ast::EquationStmt &eq : m.equations) {
    CheckedEquation ce;
    ce.name = eq.name;
    ce.lhs = eq.lhs.get();
    ce.rhs = eq.rhs.get();
    ce.loc = eq.nameLoc;
    ce.isConstraint = eq.isConstraint;
    ce.relation = eq.relation;
    if (eq.isData) {
      checkData(eq, ce);
      out.equations.push_back(ce);
      continue;
    }
    Info lhs = check(*eq.lhs, scope);
    Info rhs = check(*eq.rhs, scope);
    bool ok = requireScalar(lhs, *eq.lhs, "on the left of '=='") &
              requireScalar(rhs, *eq.rhs, "on the right of '=='");
    if (ok && !lhs.usesField && !rhs.usesField)
      error({eq.lhs->getLoc().begin, eq.rhs->getLoc().end},
            std::string(eq.isConstraint ? "constraint '" : "equation '") +
                eq.name + "' does not involve any field",
            "an equation constrains fields; training cannot change its "
            "residual");
    checkRegion(eq, ce.region);
    if (eq.samples) {
      if (auto n =
              foldInteger(*eq.samples, "'samples'", 1, int64_t(kMaxSamples)))
        ce.samples = *n;
    }
    if (eq.weight) {
      if (auto w = foldConst(*eq.weight, "'weight'")) {
        if (*w < 0)
          error(eq.weight->getLoc(),
                "'weight' must not be negative, got " + formatNumber(*w));
        ce.weight = *w;
      }
    }
    out.equations.push_back(ce);
  }
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

/// A linear combination of equations plus a constant.
struct Linear {
  bool ok = true;
  double constant = 0;
  std::map<int, double> terms;
  std::map<int, ast::Location> where; ///< first mention of each equation
  bool isConstant() const { return terms.empty(); }
};

void SemaImpl::checkLoss() {
  out.lossWeights.assign(out.equations.size(), 0.0);
  out.lossNorms.assign(out.equations.size(), "mse");
  if (m.losses.size() > 1) {
    for (size_t i = 1; i < m.losses.size(); ++i) {
      error(m.losses[i].loc, "the model has more than one 'loss'",
            "combine the terms in one statement: 'loss a + 10 * b'");
      diags.note(m.losses[0].loc, "the first 'loss' is here");
    }
    return;
  }
  if (m.losses.empty())
    return;
  std::vector<std::string> eqNames = namesOf(SymKind::Equation);
  out.lossNorms.assign(out.equations.size(), "mse");
  // Each term has one norm: `pde + l1(pde)` would need two kernels.
  std::map<int, std::pair<std::string, ast::Location>> norms;
  auto useNorm = [&](int eq, const std::string &norm, ast::Location where) {
    auto [it, inserted] = norms.try_emplace(eq, norm, where);
    if (!inserted && it->second.first != norm) {
      auto spell = [&](const std::string &n) {
        return n == "l1" ? "l1(" + m.equations[eq].name + ")"
                         : "its mean square";
      };
      error(where, "term '" + m.equations[eq].name + "' is used both as " +
                       spell(it->second.first) + " and as " + spell(norm),
            "a term has one norm in the loss");
      diags.note(it->second.second, "first used here");
      return false;
    }
    out.lossNorms[eq] = norm;
    return true;
  };
  auto notLinear = [&](const ast::Expr &e, const llvm::Twine &why) {
    error(e.getLoc(), why,
          "the loss is a weighted sum of equation names with constant "
          "weights, e.g. 'loss pde + 100 * bc'");
    Linear l;
    l.ok = false;
    return l;
  };
  std::function<Linear(ast::Expr &)> lin = [&](ast::Expr &e) -> Linear {
    Linear l;
    switch (e.getKind()) {
    case ast::Expr::Kind::Number:
      l.constant = llvm::cast<ast::NumberExpr>(e).value;
      return l;
    case ast::Expr::Kind::Name: {
      auto &n = llvm::cast<ast::NameExpr>(e);
      const Symbol *sym = lookup(n.name);
      if (sym && sym->kind == SymKind::Equation) {
        n.index = sym->index;
        if (!useNorm(sym->index, "mse", e.getLoc()))
          l.ok = false;
        l.terms[sym->index] = 1;
        l.where[sym->index] = e.getLoc();
        return l;
      }
      if (!sym && n.name != "pi" && n.name != "e") {
        error(e.getLoc(), "unknown equation '" + n.name + "' in the loss",
              didYouMean(Diagnostics::nearest(n.name, eqNames)));
        l.ok = false;
        return l;
      }
      if (sym && sym->kind != SymKind::Const) {
        error(e.getLoc(),
              "'" + n.name + "' is " + describe(sym->kind) +
                  "; the loss combines equations",
              sym->kind == SymKind::Param
                  ? "weights in the loss must be consts"
                  : "name an equation, e.g. 'equation " + n.name +
                        "_eq: ...', and use that name");
        l.ok = false;
        return l;
      }
      auto v = foldConst(e, "a weight of the loss");
      if (!v)
        l.ok = false;
      else
        l.constant = *v;
      return l;
    }
    case ast::Expr::Kind::Unary: {
      Linear a = lin(*llvm::cast<ast::UnaryExpr>(e).operand);
      a.constant = -a.constant;
      for (auto &t : a.terms)
        t.second = -t.second;
      return a;
    }
    case ast::Expr::Kind::Binary: {
      auto &b = llvm::cast<ast::BinaryExpr>(e);
      Linear a = lin(*b.lhs);
      Linear c = lin(*b.rhs);
      if (!a.ok || !c.ok) {
        l.ok = false;
        return l;
      }
      switch (b.op) {
      case '+':
      case '-': {
        double sign = b.op == '+' ? 1 : -1;
        if (a.isConstant() != c.isConstant())
          return notLinear(a.isConstant() ? *b.lhs : *b.rhs,
                           "a constant term in the loss");
        l.constant = a.constant + sign * c.constant;
        l.terms = a.terms;
        l.where = a.where;
        for (auto &t : c.terms)
          l.terms[t.first] += sign * t.second;
        l.where.insert(c.where.begin(), c.where.end());
        return l;
      }
      case '*':
        if (!a.isConstant() && !c.isConstant())
          return notLinear(e, "product of two loss terms");
        if (a.isConstant())
          std::swap(a, c);
        for (auto &t : a.terms)
          t.second *= c.constant;
        a.constant *= c.constant;
        return a;
      case '/':
        if (!c.isConstant())
          return notLinear(*b.rhs, "division by a loss term");
        if (c.constant == 0)
          return notLinear(*b.rhs, "division by zero in the loss");
        for (auto &t : a.terms)
          t.second /= c.constant;
        a.constant /= c.constant;
        return a;
      default:
        if (!a.isConstant() || !c.isConstant())
          return notLinear(e, "'^' of a loss term");
        l.constant = std::pow(a.constant, c.constant);
        return l;
      }
    }
    case ast::Expr::Kind::Call: {
      auto &c = llvm::cast<ast::CallExpr>(e);
      if (c.callee == "mse" || c.callee == "l1") {
        auto *arg = c.args.size() == 1
                        ? llvm::dyn_cast<ast::NameExpr>(c.args[0].get())
                        : nullptr;
        const Symbol *sym = arg ? lookup(arg->name) : nullptr;
        if (!sym || sym->kind != SymKind::Equation) {
          error(c.args.size() == 1 ? c.args[0]->getLoc() : e.getLoc(),
                "'" + c.callee + "(...)' takes the name of one loss term",
                "e.g. '" + c.callee + "(pde)'");
          l.ok = false;
          return l;
        }
        if (!useNorm(sym->index, c.callee, e.getLoc()))
          l.ok = false;
        arg->index = sym->index;
        l.terms[sym->index] = 1;
        l.where[sym->index] = e.getLoc();
        return l;
      }
      if (mathArity(c.callee)) {
        auto v = foldConst(e, "a weight of the loss");
        if (!v)
          l.ok = false;
        else
          l.constant = *v;
        return l;
      }
      return notLinear(e, "a call in the loss");
    }
    case ast::Expr::Kind::Deriv:
      return notLinear(e, "a derivative in the loss");
    }
    return l;
  };
  ast::LossStmt &loss = m.losses.front();
  Linear total = lin(*loss.value);
  if (!total.ok)
    return;
  if (total.isConstant()) {
    notLinear(*loss.value, "the loss names no equation");
    return;
  }
  for (auto [eq, w] : total.terms) {
    if (w < 0 || !std::isfinite(w)) {
      error(total.where[eq], "the weight of '" + m.equations[eq].name +
                                 "' in the loss is " + formatNumber(w) +
                                 "; weights must be finite and >= 0");
      continue;
    }
    out.lossWeights[eq] = w;
  }
}

//===----------------------------------------------------------------------===//
// Train
//===----------------------------------------------------------------------===//

/// causal: EPS [causal_chunks: M]: needs a time coordinate and fresh points.
void SemaImpl::checkCausal(ast::TrainStmt &train) {
  ast::Arg *eps = nullptr, *chunks = nullptr, *resample = nullptr;
  for (ast::Arg &opt : train.options) {
    if (opt.key == "causal")
      eps = &opt;
    else if (opt.key == "causal_chunks")
      chunks = &opt;
    else if (opt.key == "resample")
      resample = &opt;
  }
  if (chunks && !eps) {
    error(chunks->loc, "'causal_chunks:' needs 'causal: EPS' as well");
    return;
  }
  if (!eps)
    return;
  auto v = argNumber(*eps, "train");
  if (!v)
    return;
  if (!(*v > 0) || !std::isfinite(*v)) {
    error(eps->loc, "'causal' must be a positive number (the causality "
                    "tolerance eps), got " + formatNumber(*v));
    return;
  }
  bool hasTime = false;
  for (const CheckedCoord &c : out.coords)
    hasTime |= c.isTime;
  if (!hasTime) {
    error(eps->loc, "causal weighting needs a 'time' coordinate",
          "declare the time axis with 'time t in [0, 1]'");
    return;
  }
  if (resample && out.resample != "fresh") {
    error(resample->loc, "'resample: " + out.resample +
                             "' does not combine with causal weighting, "
                             "which draws fresh points every step");
    return;
  }
  out.causalEps = *v;
  if (chunks && chunks->kind == ast::Arg::Kind::Number) {
    if (auto m = foldInteger(*chunks->number, "'causal_chunks'", 1, 4096))
      out.causalChunks = *m;
  } else if (chunks) {
    error(chunks->loc, "expected an integer for 'causal_chunks'");
  }
}

/// resample: fresh | none | r3 every K
void SemaImpl::checkResample(ast::Arg &opt) {
  auto kind = identChoice(opt, {"fresh", "none", "r3"}, {}, "resample", diags);
  if (!kind)
    return;
  if (*kind != "r3") {
    if (opt.every)
      error(opt.every->getLoc(),
            "'every' only applies to 'resample: r3', not '" + *kind + "'");
    out.resample = *kind;
    return;
  }
  if (!opt.every) {
    error(opt.loc, "'resample: r3' needs an interval, e.g. 'resample: r3 "
                   "every 100'");
    return;
  }
  if (auto k = foldInteger(*opt.every, "the R3 interval", 1,
                           int64_t(1000000000))) {
    out.resample = "r3";
    out.resampleEvery = *k;
  }
}

void SemaImpl::checkTrain() {
  if (m.trains.size() > 1) {
    for (size_t i = 1; i < m.trains.size(); ++i) {
      error(m.trains[i].loc, "the model has more than one 'train'",
            "optimizers run in sequence: 'train adam(...), lbfgs(...)'");
      diags.note(m.trains[0].loc, "the first 'train' is here");
    }
    return;
  }
  if (m.trains.empty())
    return;
  ast::TrainStmt &train = m.trains.front();
  struct Key {
    const char *name;
    double def;
    double lo, hi;
    bool integer, loOpen, hiOpen;
  };
  static const std::vector<Key> adamKeys = {
      {"lr", 1e-3, 0, 10, false, true, false},
      {"steps", 1000, 1, 1e9, true, false, false},
      {"beta1", 0.9, 0, 1, false, false, true},
      {"beta2", 0.999, 0, 1, false, false, true},
      {"eps", 1e-8, 0, 1, false, true, false}};
  // MultiAdam's defaults are the paper's (beta1 = beta2 = 0.99).
  static const std::vector<Key> multiadamKeys = {
      {"lr", 1e-3, 0, 10, false, true, false},
      {"steps", 1000, 1, 1e9, true, false, false},
      {"beta1", 0.99, 0, 1, false, false, true},
      {"beta2", 0.99, 0, 1, false, false, true},
      {"eps", 1e-8, 0, 1, false, true, false}};
  static const std::vector<Key> lbfgsKeys = {
      {"steps", 1000, 1, 1e9, true, false, false},
      {"history", 50, 1, 1000, true, false, false},
      {"tolerance", 1e-9, 0, 1, false, false, false}};

  for (ast::OptimizerCall &call : train.stages) {
    CheckedStage stage;
    stage.optimizer = call.name;
    stage.loc = call.nameLoc;
    const std::vector<Key> *keys = nullptr;
    if (call.name == "adam")
      keys = &adamKeys;
    else if (call.name == "lbfgs")
      keys = &lbfgsKeys;
    else if (call.name == "multiadam")
      keys = &multiadamKeys;
    else {
      std::string near =
          Diagnostics::nearest(call.name, {"adam", "lbfgs", "multiadam"});
      error(call.nameLoc, "unknown optimizer '" + call.name + "'",
            near.empty() ? "supported optimizers: adam, lbfgs, multiadam"
                         : "did you mean '" + near + "'?");
      continue;
    }
    std::vector<std::string> names;
    for (const Key &k : *keys)
      names.push_back(k.name);
    if (call.name == "multiadam")
      names.push_back("groups");
    checkKeys(call.args, names, call.name, diags);
    for (const Key &k : *keys)
      stage.args[k.name] = k.def;
    for (ast::Arg &arg : call.args) {
      auto key =
          llvm::find_if(*keys, [&](const Key &k) { return arg.key == k.name; });
      if (key == keys->end())
        continue;
      std::optional<double> v = argNumber(arg, call.name);
      if (!v)
        continue;
      bool below = key->loOpen ? *v <= key->lo : *v < key->lo;
      bool above = key->hiOpen ? *v >= key->hi : *v > key->hi;
      if (below || above || (key->integer && *v != std::floor(*v))) {
        error(argValueLoc(arg),
              "'" + arg.key + "' of '" + call.name + "' must be " +
                  (key->integer ? "an integer " : "") + "in " +
                  (key->loOpen ? "(" : "[") + formatNumber(key->lo) + ", " +
                  formatNumber(key->hi) + (key->hiOpen ? ")" : "]") + ", got " +
                  formatNumber(*v));
        continue;
      }
      stage.args[arg.key] = *v;
    }
    stage.steps = int64_t(stage.args["steps"]);
    if (call.name == "multiadam") {
      ast::Arg *groups = nullptr;
      for (ast::Arg &arg : call.args)
        if (arg.key == "groups" && !groups)
          groups = &arg;
      if (groups)
        checkGroups(*groups, stage);
      else // one group per trained term
        for (size_t i = 0; i < out.equations.size(); ++i)
          if (trained(int(i)))
            stage.groups.push_back({int(i)});
    }
    out.stages.push_back(stage);
  }

  static const std::vector<std::string> optionKeys = {
      "sampler", "resample", "causal", "causal_chunks", "weights", "residual"};
  checkKeys(train.options, optionKeys, "train", diags);
  for (ast::Arg &opt : train.options) {
    if (opt.every && opt.key != "resample") {
      error(opt.every->getLoc(),
            "'every' only follows 'resample: r3', not '" + opt.key + ":'");
      continue;
    }
    if (opt.key == "resample")
      checkResample(opt);
  }
  checkCausal(train);
  for (ast::Arg &opt : train.options)
    if (opt.key == "sampler")
      if (auto s = identChoice(opt, {"uniform", "sobol", "halton", "lhs"}, {},
                               "sampler", diags))
        out.sampler = *s;
  ast::Arg *weights = nullptr, *residual = nullptr;
  for (ast::Arg &opt : train.options) {
    if (opt.key == "weights" && !weights)
      weights = &opt;
    if (opt.key == "residual" && !residual)
      residual = &opt;
  }
  if (weights)
    checkWeighting(*weights);
  if (residual)
    checkResidual(*residual);
  CheckedWeighting &w = out.weighting;
  // Causal weighting replaces the interior term by time-chunked terms with
  // weights of their own, which neither per-term Adam moments nor annealed
  // term weights know of. Reported here, at compile time, so that `physc
  // check` catches it (the runtime refuses it too, as a defence).
  if (out.causalEps > 0) {
    const ast::Arg *eps = nullptr;
    for (const ast::Arg &opt : train.options)
      if (opt.key == "causal" && !eps)
        eps = &opt;
    for (const CheckedStage &st : out.stages)
      if (st.optimizer == "multiadam") {
        error(eps->loc, "causal weighting does not combine with 'multiadam'",
              "multiadam keeps moments per loss term, and causal weighting "
              "splits the interior term into time chunks; use 'adam' "
              "stages");
        diags.note(st.loc, "'multiadam' is here");
        out.causalEps = 0;
        break;
      }
    if (out.causalEps > 0 && w.scheme == "annealing") {
      error(eps->loc,
            "causal weighting does not combine with 'weights: annealing'",
            "both reweight the loss terms during training; keep one");
      diags.note(w.loc, "'weights: annealing' is here");
      out.causalEps = 0;
    }
  }
  bool anyTrained = false;
  for (size_t i = 0; i < out.equations.size(); ++i)
    anyTrained |= trained(int(i));
  if (w.scheme == "annealing" && anyTrained) {
    size_t annealed = 0;
    for (size_t i = 0; i < out.equations.size(); ++i)
      annealed += trained(int(i)) && !llvm::is_contained(w.residual, int(i));
    if (w.residual.empty())
      error(w.loc,
            "'weights: annealing' needs a residual term, but no equation of "
            "the loss is 'in interior'",
            "name the residual terms with 'residual: [...]'");
    else if (annealed == 0)
      error(w.loc,
            "'weights: annealing' has no weight to adapt: every term of the "
            "loss is a residual term",
            "annealing adapts the weights of the other terms (boundary, "
            "initial, data) to the residual terms");
  }
}

//===----------------------------------------------------------------------===//
// Loss balancing: multiadam groups, annealed weights
//===----------------------------------------------------------------------===//

/// Whether the loss trains equation `eq` (its weight is > 0).
bool SemaImpl::trained(int eq) const {
  return eq >= 0 && size_t(eq) < out.equations.size() &&
         size_t(eq) < out.lossWeights.size() &&
         out.equations[eq].weight * out.lossWeights[eq] > 0;
}

/// A loss term named by `e` (a bare name) in `where`; reports anything else.
std::optional<int> SemaImpl::termName(const ast::Expr &e,
                                      llvm::StringRef where) {
  auto *n = llvm::dyn_cast<ast::NameExpr>(&e);
  if (!n) {
    error(e.getLoc(), "expected the name of a loss term in " + where);
    return std::nullopt;
  }
  const Symbol *sym = lookup(n->name);
  if (!sym) {
    error(e.getLoc(), "unknown loss term '" + n->name + "' in " + where,
          didYouMean(
              Diagnostics::nearest(n->name, namesOf(SymKind::Equation))));
    return std::nullopt;
  }
  if (sym->kind != SymKind::Equation) {
    error(e.getLoc(), "'" + n->name + "' is " + describe(sym->kind) + "; " +
                          where + " lists loss terms (equations and data)");
    return std::nullopt;
  }
  if (!trained(sym->index)) {
    error(e.getLoc(),
          "'" + n->name + "' has weight 0 in the loss, so it is not trained",
          "only terms of the loss can be listed in " + where.str());
    return std::nullopt;
  }
  return sym->index;
}

/// `groups: [pde, ic + bc]`: each element a '+'-sum of loss term names.
/// Every trained term in at most one group; the trained terms no group
/// names form one more group, the last.
void SemaImpl::checkGroups(ast::Arg &arg, CheckedStage &stage) {
  static const char *example = "e.g. 'groups: [pde, ic + bc]'";
  if (arg.kind != ast::Arg::Kind::List) {
    error(argValueLoc(arg),
          "expected a list of groups of loss terms for 'groups' of "
          "'multiadam'",
          example);
    return;
  }
  if (arg.list.empty()) {
    error(arg.loc, "'groups' of 'multiadam' is empty", example);
    return;
  }
  std::map<int, ast::Location> seen;
  bool ok = true;
  for (ast::ExprPtr &element : arg.list) {
    std::vector<int> group;
    std::function<void(const ast::Expr &)> sum = [&](const ast::Expr &e) {
      if (auto *b = llvm::dyn_cast<ast::BinaryExpr>(&e); b && b->op == '+') {
        sum(*b->lhs);
        sum(*b->rhs);
        return;
      }
      if (!llvm::isa<ast::NameExpr>(e)) {
        error(e.getLoc(), "a group of 'multiadam' is a '+'-sum of loss term "
                          "names",
              "weights belong in 'loss'; " + std::string(example));
        ok = false;
        return;
      }
      std::optional<int> t = termName(e, "'groups'");
      if (!t) {
        ok = false;
        return;
      }
      auto [it, inserted] = seen.try_emplace(*t, e.getLoc());
      if (!inserted) {
        error(e.getLoc(),
              "'" + out.equations[*t].name + "' is in two groups",
              "each loss term belongs to one group");
        diags.note(it->second, "'" + out.equations[*t].name + "' is first "
                               "listed here");
        ok = false;
        return;
      }
      group.push_back(*t);
    };
    sum(*element);
    if (!group.empty())
      stage.groups.push_back(group);
  }
  if (!ok) {
    stage.groups.clear();
    return;
  }
  std::vector<int> rest;
  for (size_t i = 0; i < out.equations.size(); ++i)
    if (trained(int(i)) && !seen.count(int(i)))
      rest.push_back(int(i));
  if (!rest.empty())
    stage.groups.push_back(rest);
}

/// `weights: fixed`, `weights: annealing`, `weights: annealing(K)` or
/// `weights: annealing(K, ALPHA)`.
void SemaImpl::checkWeighting(ast::Arg &arg) {
  CheckedWeighting &w = out.weighting;
  w.loc = argValueLoc(arg);
  static const char *form = "'weights: annealing(EVERY, ALPHA)', e.g. "
                            "'weights: annealing(100, 0.9)'";
  std::string name;
  ast::CallExpr *call = nullptr;
  ast::Location nameLoc = argValueLoc(arg);
  if (arg.kind == ast::Arg::Kind::Ident)
    name = arg.ident;
  else if (arg.kind == ast::Arg::Kind::Number && arg.number &&
           (call = llvm::dyn_cast<ast::CallExpr>(arg.number.get()))) {
    name = call->callee;
    nameLoc = call->calleeLoc;
  } else {
    error(argValueLoc(arg), "expected 'fixed' or 'annealing' for 'weights'",
          form);
    return;
  }
  if (name != "fixed" && name != "annealing") {
    std::string near = Diagnostics::nearest(name, {"fixed", "annealing"});
    error(nameLoc, "unknown weighting '" + name + "'",
          near.empty() ? "supported: fixed, annealing"
                       : "did you mean '" + near + "'?");
    return;
  }
  if (name == "fixed") {
    if (call)
      error(call->getLoc(), "'fixed' weighting takes no arguments");
    return;
  }
  w.scheme = "annealing";
  if (call) {
    if (call->args.empty() || call->args.size() > 2) {
      error(call->getLoc(),
            "'annealing' takes 1 or 2 arguments (EVERY, ALPHA), got " +
                std::to_string(call->args.size()),
            form);
      w.scheme = "fixed";
      return;
    }
    if (auto k = foldInteger(*call->args[0], "'every' of 'annealing'", 1,
                             1000000000))
      w.every = *k;
    if (call->args.size() == 2)
      if (auto a = foldConst(*call->args[1], "'alpha' of 'annealing'")) {
        if (!(*a > 0 && *a <= 1))
          error(call->args[1]->getLoc(),
                "'alpha' of 'annealing' must be in (0, 1], got " +
                    formatNumber(*a));
        else
          w.alpha = *a;
      }
  }
  // Residual terms by default: the trained equations 'in interior'.
  w.residual.clear();
  for (size_t i = 0; i < out.equations.size(); ++i)
    if (trained(int(i)) && !out.equations[i].isData &&
        out.equations[i].region.kind == CheckedRegion::Kind::Interior)
      w.residual.push_back(int(i));
  for (const CheckedStage &st : out.stages)
    if (st.optimizer == "multiadam") {
      error(nameLoc, "'weights: annealing' cannot be combined with "
                     "'multiadam'",
            "multiadam balances the loss terms itself; use 'adam' stages");
      diags.note(st.loc, "'multiadam' is here");
      w.scheme = "fixed";
      return;
    }
}

/// `residual: [pde, ...]`: the terms whose weights annealing keeps fixed
/// (default: the trained equations 'in interior'). Also checks that both
/// residual and annealed terms exist.
void SemaImpl::checkResidual(ast::Arg &arg) {
  CheckedWeighting &w = out.weighting;
  if (w.scheme != "annealing") {
    error(arg.keyLoc, "'residual:' is only used with 'weights: annealing'");
    return;
  }
  if (arg.kind != ast::Arg::Kind::List && arg.kind != ast::Arg::Kind::Ident) {
    error(argValueLoc(arg), "expected a list of loss terms for 'residual'",
          "e.g. 'residual: [pde]'");
    return;
  }
  std::vector<int> residual;
  std::map<int, ast::Location> seen;
  auto add = [&](const ast::Expr &e) {
    std::optional<int> t = termName(e, "'residual'");
    if (!t)
      return false;
    auto [it, inserted] = seen.try_emplace(*t, e.getLoc());
    if (!inserted) {
      error(e.getLoc(), "'" + out.equations[*t].name +
                            "' is listed twice in 'residual'");
      diags.note(it->second, "first listed here");
      return false;
    }
    residual.push_back(*t);
    return true;
  };
  bool ok = true;
  if (arg.kind == ast::Arg::Kind::Ident) {
    ast::NameExpr name(argValueLoc(arg), arg.ident);
    ok = add(name);
  } else {
    for (ast::ExprPtr &e : arg.list)
      ok &= add(*e);
    if (arg.list.empty()) {
      error(arg.loc, "'residual' is empty", "e.g. 'residual: [pde]'");
      ok = false;
    }
  }
  if (ok) {
    std::sort(residual.begin(), residual.end());
    w.residual = residual;
  }
}

//===----------------------------------------------------------------------===//
// Exact solutions
//===----------------------------------------------------------------------===//

std::string SemaImpl::resolvePath(llvm::StringRef file) const {
  llvm::SmallString<256> path(file);
  if (!llvm::sys::path::is_absolute(path)) {
    llvm::SmallString<256> dir;
    if (m.filename != "-" && m.filename != "<stdin>")
      dir = llvm::sys::path::parent_path(m.filename);
    llvm::sys::path::append(dir, path);
    path = dir;
  }
  llvm::sys::fs::make_absolute(path);
  llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
  return std::string(path);
}

void SemaImpl::checkData(ast::EquationStmt &eq, CheckedEquation &ce) {
  ce.isData = true;
  auto &name = llvm::cast<ast::NameExpr>(*eq.lhs);
  const Symbol *sym = lookup(name.name);
  if (!sym || sym->kind != SymKind::Field) {
    if (sym)
      error(name.getLoc(), "'" + name.name + "' is " + describe(sym->kind) +
                               "; a data term fits a field to observations");
    else
      error(name.getLoc(), "unknown field '" + name.name + "'",
            didYouMean(
                Diagnostics::nearest(name.name, namesOf(SymKind::Field))));
  } else {
    name.ref = ast::NameKind::Field;
    name.index = sym->index;
    name.output = sym->output;
    ce.dataField = sym->index;
    ce.dataOutput = sym->output;
  }
  if (eq.dataFile.empty())
    error(eq.dataFileLoc, "empty file name");
  else
    ce.dataFile = resolvePath(eq.dataFile);
  if (eq.weight) {
    if (auto w = foldConst(*eq.weight, "'weight'")) {
      if (*w < 0)
        error(eq.weight->getLoc(),
              "'weight' must not be negative, got " + formatNumber(*w));
      ce.weight = *w;
    }
  }
}

void SemaImpl::checkExacts() {
  std::map<std::pair<int, int>, const ast::ExactStmt *> seen;
  for (ast::ExactStmt &ex : m.exacts) {
    const Symbol *sym = lookup(ex.field);
    if (!sym || sym->kind != SymKind::Field) {
      if (sym)
        error(ex.fieldLoc, "'" + ex.field + "' is " + describe(sym->kind) +
                               "; 'exact' gives the solution of a field");
      else
        error(ex.fieldLoc, "unknown field '" + ex.field + "'",
              didYouMean(
                  Diagnostics::nearest(ex.field, namesOf(SymKind::Field))));
      continue;
    }
    auto [it, inserted] = seen.try_emplace({sym->index, sym->output}, &ex);
    if (!inserted) {
      error(ex.fieldLoc, "field '" + ex.field + "' has two exact solutions");
      diags.note(it->second->fieldLoc, "the first is given here");
      continue;
    }
    CheckedExact ce;
    ce.field = sym->index;
    ce.output = sym->output;
    ce.loc = ex.loc;
    if (ex.value) {
      Scope scope{Context::Exact, INT_MAX,
                  llvm::SmallBitVector(out.coords.size()), ex.field};
      if (fieldOk[sym->index])
        for (int c : out.fields[sym->index].coords)
          scope.allowedCoords.set(c);
      Info info = check(*ex.value, scope);
      requireScalar(info, *ex.value, "as an exact solution");
      ce.value = ex.value.get();
    } else {
      if (ex.file.empty()) {
        error(ex.fileLoc, "empty file name");
        continue;
      }
      ce.file = resolvePath(ex.file);
    }
    out.exacts.push_back(ce);
  }
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

void SemaImpl::checkRequired() {
  struct Need {
    bool missing;
    const char *what;
    const char *example;
  };
  const Need needs[] = {
      {m.coords.empty(), "coordinate", "space x in [0, 1]"},
      {m.nets.empty(), "net",
       "net N = mlp(in: 1, out: 1, hidden: [32, 32], act: tanh)"},
      {m.fields.empty(), "field", "field u(x) = N(x)"},
      {m.equations.empty(), "equation",
       "equation pde: d(u, x, x) == -1 in interior"},
      {m.losses.empty(), "'loss' statement", "loss pde + 100 * bc"},
      {m.trains.empty(), "'train' statement",
       "train adam(lr: 1e-3, steps: 1000)"}};
  std::vector<const Need *> missing;
  for (const Need &n : needs)
    if (n.missing)
      missing.push_back(&n);
  if (missing.empty())
    return;
  std::string model = "model '" + m.model.name + "'";
  if (missing.size() == 1) {
    error(m.model.loc, model + " has no " + missing[0]->what,
          "add one, e.g. '" + std::string(missing[0]->example) + "'");
    return;
  }
  std::string list;
  for (auto [i, n] : llvm::enumerate(missing))
    list += std::string(i == 0                    ? ""
                        : i + 1 == missing.size() ? " or "
                                                  : ", ") +
            n->what;
  error(m.model.loc, model + " is incomplete: it has no " + list,
        "a model needs at least one coordinate, net, field and equation, "
        "one 'loss' and one 'train' statement");
}

bool SemaImpl::run() {
  unsigned before = diags.errorCount();
  out = CheckedModel();
  out.name = m.model.name;
  out.filename = m.filename;
  declare();
  checkConsts();
  checkCoords();
  checkParams();
  checkNets();
  checkFields();
  checkLets();
  checkEquations();
  checkLoss();
  checkTrain();
  checkExacts();
  checkRequired();
  return diags.errorCount() == before;
}

} // namespace

bool physc::analyze(ast::Module &module, CheckedModel &out,
                    Diagnostics &diags) {
  return SemaImpl(module, out, diags).run();
}
