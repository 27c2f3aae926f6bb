//===- ASTDump.cpp - `physc emit ast` and `physc emit checked` ------------===//
//
// Part of physc. One node per line, children indented by two spaces, every
// node with `@line:col` of its first character. Statements appear in source
// order (the Module keeps them by kind). When Sema has run, names, calls and
// derivatives also show what they resolved to, in brackets.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Diagnostics.h"
#include "physc/Frontend/Frontend.h"
#include "physc/Frontend/Parser.h"

#include "FormatNumber.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <functional>

using namespace physc;

namespace {

class Dumper {
public:
  Dumper(Diagnostics &diags, llvm::raw_ostream &os) : diags(diags), os(os) {}

  void module(const ast::Module &m);

private:
  Diagnostics &diags;
  llvm::raw_ostream &os;
  unsigned indent = 0;

  struct Indent {
    Dumper &d;
    explicit Indent(Dumper &d) : d(d) { d.indent += 2; }
    ~Indent() { d.indent -= 2; }
  };

  /// Starts a line: indentation and an optional `label: ` prefix.
  llvm::raw_ostream &line(llvm::StringRef label = "") {
    os.indent(indent);
    if (!label.empty())
      os << label << ": ";
    return os;
  }
  void at(ast::Location loc) {
    auto [l, c] = diags.lineAndColumn(loc);
    os << " @" << l << ":" << c;
  }

  void expr(const ast::Expr &e, llvm::StringRef label = "");
  void arg(const ast::Arg &a, llvm::StringRef word = "Arg");
  void region(const ast::Region &r);
};

const char *kindName(ast::NameKind kind) {
  switch (kind) {
  case ast::NameKind::Unresolved:
    return "";
  case ast::NameKind::Const:
    return "const";
  case ast::NameKind::Param:
    return "param";
  case ast::NameKind::Coord:
    return "coord";
  case ast::NameKind::Field:
    return "field";
  case ast::NameKind::Let:
    return "let";
  case ast::NameKind::Builtin:
    return "builtin";
  }
  return "";
}

void Dumper::expr(const ast::Expr &e, llvm::StringRef label) {
  line(label);
  switch (e.getKind()) {
  case ast::Expr::Kind::Number:
    os << "Number " << formatNumber(llvm::cast<ast::NumberExpr>(e).value);
    at(e.getLoc());
    os << "\n";
    return;
  case ast::Expr::Kind::Name: {
    auto &n = llvm::cast<ast::NameExpr>(e);
    os << "Name " << n.name;
    at(e.getLoc());
    switch (n.ref) {
    case ast::NameKind::Unresolved:
      break;
    case ast::NameKind::Const:
    case ast::NameKind::Builtin:
      os << " [" << kindName(n.ref) << " = " << formatNumber(n.constValue)
         << "]";
      break;
    case ast::NameKind::Field:
      os << " [field #" << n.index << " output " << n.output << "]";
      break;
    default:
      os << " [" << kindName(n.ref) << " #" << n.index << "]";
      break;
    }
    os << "\n";
    return;
  }
  case ast::Expr::Kind::Unary: {
    auto &u = llvm::cast<ast::UnaryExpr>(e);
    os << "Unary '" << u.op << "'";
    at(e.getLoc());
    os << "\n";
    Indent in(*this);
    expr(*u.operand);
    return;
  }
  case ast::Expr::Kind::Binary: {
    auto &b = llvm::cast<ast::BinaryExpr>(e);
    os << "Binary '" << b.op << "'";
    at(e.getLoc());
    os << "\n";
    Indent in(*this);
    expr(*b.lhs);
    expr(*b.rhs);
    return;
  }
  case ast::Expr::Kind::Call: {
    auto &c = llvm::cast<ast::CallExpr>(e);
    os << "Call " << c.callee;
    at(e.getLoc());
    if (c.netIndex >= 0)
      os << " [net #" << c.netIndex << "]";
    os << "\n";
    Indent in(*this);
    // Labelled groups (`branch: (k)`): the label on each argument.
    std::vector<llvm::StringRef> labels;
    for (auto [label, size] : llvm::zip(c.groupLabels, c.groupSizes))
      labels.insert(labels.end(), size, label);
    for (auto [i, a] : llvm::enumerate(c.args))
      expr(*a, i < labels.size() ? labels[i] : llvm::StringRef());
    return;
  }
  case ast::Expr::Kind::Deriv: {
    auto &d = llvm::cast<ast::DerivExpr>(e);
    os << "Deriv wrt (" << llvm::join(d.wrt, ", ") << ")";
    at(e.getLoc());
    if (!d.wrtIndex.empty()) {
      os << " [coords";
      for (int i : d.wrtIndex)
        os << " #" << i;
      os << "]";
    }
    os << "\n";
    Indent in(*this);
    expr(*d.operand);
    return;
  }
  }
}

void Dumper::arg(const ast::Arg &a, llvm::StringRef word) {
  line() << word << " " << a.key;
  switch (a.kind) {
  case ast::Arg::Kind::Ident:
    os << " = " << a.ident;
    at(a.loc);
    os << "\n";
    return;
  case ast::Arg::Kind::Number: {
    at(a.loc);
    os << "\n";
    Indent in(*this);
    expr(*a.number);
    return;
  }
  case ast::Arg::Kind::List: {
    os << " (list)";
    at(a.loc);
    os << "\n";
    Indent in(*this);
    for (const auto &e : a.list)
      expr(*e);
    return;
  }
  case ast::Arg::Kind::Call: {
    os << " = " << a.ident << "(...)";
    at(a.loc);
    os << "\n";
    Indent in(*this);
    for (const ast::Arg &inner : a.args)
      arg(inner);
    return;
  }
  }
}

void Dumper::region(const ast::Region &r) {
  static const char *const kinds[] = {"interior", "boundary", "faces"};
  line() << "Region " << kinds[int(r.kind)];
  at(r.loc);
  os << "\n";
  Indent in(*this);
  for (const ast::Face &f : r.faces) {
    line() << "Face " << f.coord;
    at(f.loc);
    os << "\n";
    Indent in2(*this);
    expr(*f.value);
  }
  for (const ast::Restriction &res : r.restrictions) {
    line() << "Restriction " << res.coord;
    at(res.loc);
    os << "\n";
    Indent in2(*this);
    expr(*res.lo, "lo");
    expr(*res.hi, "hi");
  }
}

void Dumper::module(const ast::Module &m) {
  os << "Module " << m.filename << "\n";
  Indent in(*this);
  // Every statement as (position, printer), then in source order.
  std::vector<std::pair<const char *, std::function<void()>>> stmts;
  auto add = [&](ast::Location loc, std::function<void()> fn) {
    stmts.push_back({loc.begin, std::move(fn)});
  };
  add(m.model.loc, [&] {
    line() << "Model " << m.model.name;
    at(m.model.loc);
    os << "\n";
  });
  for (const ast::ConstStmt &s : m.consts)
    add(s.loc, [&] {
      line() << "Const " << s.name;
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      expr(*s.value);
    });
  for (const ast::ParamStmt &s : m.params)
    add(s.loc, [&] {
      line() << "Param " << s.name << (s.trainable ? " trainable" : "");
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      expr(*s.value, "value");
      if (s.lo)
        expr(*s.lo, "lo");
      if (s.hi)
        expr(*s.hi, "hi");
    });
  for (const ast::CoordStmt &s : m.coords)
    add(s.loc, [&] {
      line() << (s.isTime    ? "Time "
                 : s.isInput ? "Input "
                             : "Space ")
             << s.name;
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      expr(*s.lo, "lo");
      expr(*s.hi, "hi");
    });
  for (const ast::NetStmt &s : m.nets)
    add(s.loc, [&] {
      line() << "Net " << s.name << " = " << s.kind;
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      for (const ast::Arg &a : s.args)
        arg(a);
    });
  for (const ast::FieldStmt &s : m.fields)
    add(s.loc, [&] {
      line() << "Field " << llvm::join(s.names, ", ") << " ("
             << llvm::join(s.coords, ", ") << ")";
      at(s.nameLocs.front());
      os << "\n";
      Indent in(*this);
      expr(*s.value);
    });
  for (const ast::LetStmt &s : m.lets)
    add(s.loc, [&] {
      line() << "Let " << s.name;
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      expr(*s.value);
    });
  for (const ast::EquationStmt &s : m.equations)
    add(s.loc, [&] {
      line() << (s.isData ? "Data " : s.isConstraint ? "Constraint " : "Equation ")
             << s.name;
      at(s.nameLoc);
      os << "\n";
      Indent in(*this);
      if (s.isData) {
        expr(*s.lhs, "field");
        line() << "file \"" << s.dataFile << "\"";
        at(s.dataFileLoc);
        os << "\n";
        if (s.weight)
          expr(*s.weight, "weight");
        return;
      }
      expr(*s.lhs, "lhs");
      if (s.isConstraint)
        line() << "relation "
               << (s.relation == ast::EquationStmt::Relation::Le   ? "<="
                   : s.relation == ast::EquationStmt::Relation::Ge ? ">="
                                                                   : "==")
               << "\n";
      expr(*s.rhs, "rhs");
      region(s.region);
      if (s.samples)
        expr(*s.samples, "samples");
      if (s.weight)
        expr(*s.weight, "weight");
    });
  for (const ast::LossStmt &s : m.losses)
    add(s.loc, [&] {
      line() << "Loss";
      at(s.loc);
      os << "\n";
      Indent in(*this);
      expr(*s.value);
    });
  for (const ast::TrainStmt &s : m.trains)
    add(s.loc, [&] {
      line() << "Train";
      at(s.loc);
      os << "\n";
      Indent in(*this);
      for (const ast::OptimizerCall &stage : s.stages) {
        line() << "Optimizer " << stage.name;
        at(stage.nameLoc);
        os << "\n";
        Indent in2(*this);
        for (const ast::Arg &a : stage.args)
          arg(a);
      }
      for (const ast::Arg &a : s.options)
        arg(a, "Option");
    });
  for (const ast::ExactStmt &s : m.exacts)
    add(s.loc, [&] {
      line() << "Exact " << s.field;
      at(s.fieldLoc);
      os << "\n";
      Indent in(*this);
      if (s.value) {
        expr(*s.value);
      } else {
        line() << "File \"" << s.file << "\"";
        at(s.fileLoc);
        os << "\n";
      }
    });
  llvm::stable_sort(
      stmts, [](const auto &a, const auto &b) { return a.first < b.first; });
  for (auto &s : stmts)
    s.second();
}

} // namespace

void physc::dumpAST(const ast::Module &module, Diagnostics &diags,
                    llvm::raw_ostream &os) {
  Dumper(diags, os).module(module);
}

//===----------------------------------------------------------------------===//
// `physc emit checked`
//===----------------------------------------------------------------------===//

/// ` encode periodic(x: 2, harmonics: 1) fan-in 3`, or nothing.
static void printEncoding(llvm::raw_ostream &os, const CheckedModel &model,
                          const CheckedNet &n) {
  const CheckedEncoding &enc = n.encoding;
  switch (enc.kind) {
  case CheckedEncoding::Kind::None:
    return;
  case CheckedEncoding::Kind::Periodic:
    os << " encode periodic(";
    for (const CheckedEncoding::Periodic &p : enc.periodic)
      os << model.coords[p.coord].name << ": " << formatNumber(p.period)
         << ", ";
    os << "harmonics: " << enc.harmonics << ")";
    break;
  case CheckedEncoding::Kind::Fourier:
    os << " encode fourier(features: " << enc.features
       << ", scale: " << formatNumber(enc.scale) << ")";
    break;
  }
  os << " fan-in " << n.fanIn();
}

void physc::dumpCheckedModel(const CheckedModel &model,
                             const llvm::SourceMgr &srcMgr,
                             llvm::raw_ostream &os) {
  auto at = [&](ast::Location loc) {
    SourcePosition pos = resolveLocation(srcMgr, loc);
    os << " @" << pos.line << ":" << pos.column;
  };
  auto coordList = [&](const std::vector<int> &coords) {
    std::vector<std::string> names;
    for (int c : coords)
      names.push_back(model.coords[c].name);
    return llvm::join(names, ", ");
  };
  os << "Model " << model.name << "\n";
  for (const CheckedCoord &c : model.coords) {
    os << "  Coord " << c.name
       << (c.isTime    ? " time"
           : c.isInput ? " input"
                       : " space")
       << " [" << formatNumber(c.lo) << ", " << formatNumber(c.hi) << "]";
    at(c.loc);
    os << "\n";
  }
  for (auto [name, value] : llvm::zip(model.constNames, model.constValues))
    os << "  Const " << name << " = " << formatNumber(value) << "\n";
  for (const CheckedParam &p : model.params) {
    os << "  Param " << p.name << " = " << formatNumber(p.value);
    if (p.bounded)
      os << " in [" << formatNumber(p.lo) << ", " << formatNumber(p.hi) << "]";
    if (p.trainable)
      os << " trainable";
    at(p.loc);
    os << "\n";
  }
  for (const CheckedNet &n : model.nets) {
    if (n.kind == "deeponet") {
      os << "  Net " << n.name << " = deeponet in " << n.in << " out " << n.out
         << " branch " << model.nets[n.branch].name << " trunk "
         << model.nets[n.trunk].name << " width " << n.width;
      at(n.loc);
      os << "\n";
      continue;
    }
    os << "  Net " << n.name << " = " << n.kind << " in " << n.in << " out "
       << n.out << " hidden [";
    llvm::interleaveComma(n.hidden, os);
    os << "] act " << n.act << " init " << n.init;
    if (n.kind == "siren")
      os << " w0 " << formatNumber(n.w0);
    printEncoding(os, model, n);
    at(n.loc);
    os << "\n";
    // B, one row per feature: what the `fourier` features are, exactly.
    const std::vector<double> &B = n.encoding.B;
    for (size_t r = 0; n.in > 0 && r < B.size() / size_t(n.in); ++r) {
      os << "    B[" << r << "] =";
      for (int c = 0; c < n.in; ++c)
        os << (c ? ", " : " ") << formatNumber(B[r * n.in + c]);
      os << "\n";
    }
  }
  for (const CheckedField &f : model.fields) {
    os << "  Field " << llvm::join(f.outputs, ", ") << " ("
       << coordList(f.coords) << ")";
    at(f.loc);
    os << "\n";
  }
  for (const CheckedLet &l : model.lets) {
    os << "  Let " << l.name;
    at(l.loc);
    os << "\n";
  }
  for (auto [i, eq] : llvm::enumerate(model.equations)) {
    if (eq.isData) {
      os << "  Data " << eq.name << " field "
         << model.fields[eq.dataField].outputs[eq.dataOutput] << " file \""
         << eq.dataFile << "\" weight " << formatNumber(eq.weight) << " loss "
         << formatNumber(model.lossWeights[i]);
      if (i < model.lossNorms.size() && model.lossNorms[i] == "l1")
        os << " l1";
      at(eq.loc);
      os << "\n";
      continue;
    }
    if (eq.isConstraint)
      os << "  Constraint " << eq.name << " "
         << (eq.relation == ast::EquationStmt::Relation::Le   ? "<="
             : eq.relation == ast::EquationStmt::Relation::Ge ? ">="
                                                              : "==");
    else
      os << "  Equation " << eq.name;
    switch (eq.region.kind) {
    case CheckedRegion::Kind::Interior:
      os << " interior";
      break;
    case CheckedRegion::Kind::Boundary:
      os << " boundary";
      break;
    case CheckedRegion::Kind::Faces:
      os << " faces";
      for (auto [k, f] : llvm::enumerate(eq.region.faces))
        os << (k ? " or " : " ") << model.coords[f.coord].name
           << " == " << formatNumber(f.value);
      break;
    }
    for (const CheckedRegion::Restriction &r : eq.region.restrictions)
      os << " restrict " << model.coords[r.coord].name << " in ["
         << formatNumber(r.lo) << ", " << formatNumber(r.hi) << "]";
    os << " samples " << eq.samples << " weight " << formatNumber(eq.weight)
       << " loss " << formatNumber(model.lossWeights[i]);
    if (i < model.lossNorms.size() && model.lossNorms[i] == "l1")
      os << " l1";
    at(eq.loc);
    os << "\n";
  }
  for (const CheckedStage &s : model.stages) {
    os << "  Stage " << s.optimizer << " steps " << s.steps;
    for (const auto &[key, value] : s.args)
      os << " " << key << "=" << formatNumber(value);
    if (!s.groups.empty()) {
      os << " groups";
      for (const std::vector<int> &g : s.groups) {
        os << " [";
        for (auto [k, eq] : llvm::enumerate(g))
          os << (k ? ", " : "") << model.equations[eq].name;
        os << "]";
      }
    }
    at(s.loc);
    os << "\n";
  }
  os << "  Sampler " << model.sampler << "\n";
  if (model.causalEps > 0)
    os << "  Causal eps " << formatNumber(model.causalEps) << " chunks "
       << model.causalChunks << "\n";
  if (model.resample != "fresh") {
    os << "  Resample " << model.resample;
    if (model.resample == "r3")
      os << " every " << model.resampleEvery;
    os << "\n";
  }
  if (model.weighting.scheme != "fixed") {
    os << "  Weights " << model.weighting.scheme << " every "
       << model.weighting.every << " alpha "
       << formatNumber(model.weighting.alpha) << " residual";
    for (auto [k, eq] : llvm::enumerate(model.weighting.residual))
      os << (k ? ", " : " ") << model.equations[eq].name;
    os << "\n";
  }
  for (const CheckedExact &e : model.exacts) {
    os << "  Exact " << model.fields[e.field].outputs[e.output];
    if (e.value)
      os << " = expression";
    else
      os << " = file \"" << e.file << "\"";
    at(e.loc);
    os << "\n";
  }
}
