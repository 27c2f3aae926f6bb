//===- Parser.cpp - Boost.Spirit X3 parser of .phys files -----------------===//
//
// Part of physc. The grammar is written with Spirit X3; semantic actions build
// the AST on an explicit operand stack (ast::ExprPtr is move-only, which X3's
// attribute machinery does not like), and every expectation point throws a
// SyntaxError with a message that says what was expected. The grammar never
// backtracks over an action that built something: an alternative either fails
// before its first action or is committed by an expectation.
//
// Spirit recurses on the C stack once per '(' / '['; a pre-scan of the buffer
// rejects nesting deeper than kMaxNesting before the grammar runs, and the
// action that builds a node rejects trees deeper than kMaxExprDepth, so that
// neither the parser nor the recursive walks of Sema can overflow the stack.
//
//===----------------------------------------------------------------------===//

#include "physc/Frontend/Parser.h"
#include "physc/Frontend/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/thread.h"

#include <boost/spirit/home/x3.hpp>

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>

using namespace physc;
namespace x3 = boost::spirit::x3;

namespace {

using It = const char *;
using Range = boost::iterator_range<It>;

/// Deepest nesting of '(' and '[' accepted by the pre-scan.
constexpr unsigned kMaxNesting = 256;
/// Deepest expression tree accepted (operators chained without parentheses,
/// e.g. `1+1+1+...`, nest the tree without nesting parentheses).
constexpr unsigned kMaxExprDepth = 1000;
/// Stack of the thread that runs the grammar (see parseModule).
constexpr unsigned kParserStackSize = 64u << 20;

/// A syntax error: where, what was expected, and optionally a note pointing
/// at a related place (the '(' that is not closed, ...).
struct SyntaxError {
  It where;
  std::string message;
  It end = nullptr;
  It noteAt = nullptr;
  std::string note;
  std::string hint;
};

ast::Location makeLoc(const Range &r) { return {r.begin(), r.end()}; }

/// Words that start statements. They cannot be used as names inside
/// expressions, so that a statement that ends early (`loss a +`) is reported
/// where the next statement starts instead of swallowing its keyword.
const std::vector<std::string> &statementKeywords() {
  static const std::vector<std::string> words = {
      "model", "const", "param", "space", "time",
      "input", "net",   "field", "let",   "equation",
      "loss",  "train", "exact", "data",  "constraint"};
  return words;
}

/// Statement keywords of the language reference that this version does not
/// implement yet.
const char *unsupportedStatement(llvm::StringRef word) {
  return llvm::StringSwitch<const char *>(word)
      .Case("dataset", "'dataset' statements are not supported yet")
      .Case("grid", "'grid' statements (grid-based fields) are not supported "
                    "yet")
      .Case("generate",
            "'generate' statements (generative models) are not supported yet")
      .Default(nullptr);
}

bool isReservedInExpr(llvm::StringRef word) {
  return llvm::is_contained(statementKeywords(), word) || word == "in" ||
         word == "on" || word == "or" || unsupportedStatement(word);
}

bool isIdentChar(char c) { return llvm::isAlnum(c) || c == '_'; }

//===----------------------------------------------------------------------===//
// Parse state
//===----------------------------------------------------------------------===//

struct Operand {
  ast::ExprPtr expr;
  unsigned depth = 1;
};

/// One token of a chain of unary minuses and '^' (see `chain` below).
struct ChainToken {
  enum Kind { Minus, Pow, Primary } kind;
  It pos;
};

struct CallFrame {
  std::string callee;
  ast::Location calleeLoc;
  size_t height; ///< operand stack height before the first argument
  /// Labelled groups `label: (a, b)` seen so far: label, location, and the
  /// operand stack height where each starts.
  std::vector<std::string> groupLabels;
  std::vector<ast::Location> groupLocs;
  std::vector<size_t> groupStarts;
  size_t plainArgs = 0; ///< arguments outside any group
};

/// Everything the semantic actions build. It is injected into the X3 context
/// with `x3::with<BuilderTag>`.
struct Builder {
  Builder(It bufBegin, It bufEnd, ast::Module &module)
      : bufBegin(bufBegin), bufEnd(bufEnd), module(module) {}
  It bufBegin, bufEnd;
  ast::Module &module;

  // Expressions.
  std::vector<Operand> operands;
  std::vector<ChainToken> chain;
  std::vector<size_t> chainStarts;
  std::vector<std::pair<char, It>> binaryOps;
  std::vector<CallFrame> calls;
  std::vector<It> openers; ///< '(' and '[' not yet closed, for notes
  std::vector<size_t> listStarts;

  /// The last identifier matched. Actions that only record it are harmless
  /// when X3 backtracks, so that alternatives like `N(` vs. `N` can share it.
  Range lastIdent;
  It lastParen = nullptr;
  std::string lastIdentStr() const {
    return std::string(lastIdent.begin(), lastIdent.end());
  }
  ast::Location lastIdentLoc() const { return makeLoc(lastIdent); }

  // Statements under construction.
  bool sawStatement = false;
  bool sawModel = false;
  It stmtBegin = nullptr;
  ast::Location *lastStmtLoc = nullptr;
  ast::ConstStmt constStmt;
  ast::ParamStmt paramStmt;
  ast::CoordStmt coordStmt;
  ast::NetStmt netStmt;
  ast::FieldStmt fieldStmt;
  ast::LetStmt letStmt;
  ast::EquationStmt eqStmt;
  bool eqHasSamples = false, eqHasWeight = false;
  ast::TrainStmt trainStmt;
  ast::ExactStmt exactStmt;
  /// Keyword arguments being collected (net, optimizer stage or train option).
  std::vector<ast::Arg> args;
  ast::Arg arg;
  /// The argument whose value is a keyword call (`encode: periodic(x: 2)`)
  /// and the arguments collected before it, while the call's own arguments
  /// are parsed into `args`.
  struct OuterArg {
    ast::Arg arg;
    std::vector<ast::Arg> args;
  };
  std::vector<OuterArg> outerArgs;
  ast::Face face;
  ast::Restriction restriction;

  void push(ast::ExprPtr e, unsigned depth) {
    if (depth > kMaxExprDepth)
      throw SyntaxError{e->getLoc().begin,
                        "expression nested too deeply (more than " +
                            std::to_string(kMaxExprDepth) + " levels)",
                        e->getLoc().end};
    operands.push_back({std::move(e), depth});
  }
  Operand pop() {
    assert(!operands.empty() && "operand stack underflow");
    Operand o = std::move(operands.back());
    operands.pop_back();
    return o;
  }
  ast::ExprPtr popExpr() { return pop().expr; }
};

struct BuilderTag;

template <typename Ctx> Builder &builder(const Ctx &ctx) {
  return x3::get<BuilderTag>(ctx);
}

/// Skips white space and comments starting at `p` (used to point errors at
/// the next token rather than at the blank before it).
It skipBlank(It p, It end) {
  while (p < end) {
    if (*p == '#') {
      while (p < end && *p != '\n' && *p != '\r')
        ++p;
    } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
               *p == '\f' || *p == '\v') {
      ++p;
    } else {
      break;
    }
  }
  return p;
}

//===----------------------------------------------------------------------===//
// Expectation points with friendly messages
//===----------------------------------------------------------------------===//

/// `expect(msg, p)`: parses `p` or throws a SyntaxError at the next token
/// saying `msg`. `msg` is a string or a callable that builds the message from
/// the Builder (e.g. to name the function whose ')' is missing). The subject's
/// attribute is discarded: everything is built by actions.
template <typename Subject, typename Msg>
struct ExpectParser : x3::parser<ExpectParser<Subject, Msg>> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;

  ExpectParser(Subject subject, Msg msg) : subject(subject), msg(msg) {}

  template <typename Iterator, typename Context, typename RContext,
            typename Attribute>
  bool parse(Iterator &first, const Iterator &last, const Context &ctx,
             RContext &rctx, Attribute &) const {
    if (subject.parse(first, last, ctx, rctx, x3::unused))
      return true;
    Iterator where = first;
    x3::skip_over(where, last, ctx);
    throw makeError(where, builder(ctx));
  }

  SyntaxError makeError(It where, Builder &b) const {
    if constexpr (std::is_convertible_v<Msg, const char *>) {
      return SyntaxError{where, std::string(msg)};
    } else {
      return msg(where, b);
    }
  }

  Subject subject;
  Msg msg;
};

template <typename P, typename Msg> auto expect(Msg msg, const P &p) {
  using Subject = typename x3::extension::as_parser<P>::value_type;
  return ExpectParser<Subject, Msg>(x3::as_parser(p), msg);
}

/// A parser that always throws: used for constructs that are recognised only
/// to be rejected with a precise message.
template <typename Fn> struct FailParser : x3::parser<FailParser<Fn>> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  explicit FailParser(Fn fn) : fn(fn) {}
  template <typename Iterator, typename Context, typename RContext,
            typename Attribute>
  bool parse(Iterator &first, const Iterator &last, const Context &ctx,
             RContext &, Attribute &) const {
    Iterator where = first;
    x3::skip_over(where, last, ctx);
    return fn(where, last, builder(ctx));
  }
  Fn fn;
};
template <typename Fn> FailParser<Fn> failWith(Fn fn) {
  return FailParser<Fn>(fn);
}

//===----------------------------------------------------------------------===//
// Lexical rules
//===----------------------------------------------------------------------===//

// blank      ::= ' ' | '\t' | '\r' | '\n' | '\f' | '\v'
// comment    ::= '#' (any character but a line end)*
// skipper    ::= blank | comment
const auto skipper =
    x3::char_(" \t\r\n\f\v") | x3::lexeme['#' >> *(x3::char_ - x3::eol)];

// identStart ::= 'a'..'z' | 'A'..'Z' | '_'
// identChar  ::= identStart | '0'..'9'
const auto identStart =
    x3::char_('a', 'z') | x3::char_('A', 'Z') | x3::char_('_');
const auto identChar = identStart | x3::char_('0', '9');

/// Records the identifier in Builder::lastIdent (backtracking-safe).
const auto recordIdent = [](auto &ctx) {
  builder(ctx).lastIdent = x3::_attr(ctx);
};

// ident ::= identStart identChar*
const auto ident = x3::raw[x3::lexeme[identStart >> *identChar]][recordIdent];

/// `kw("model")` matches the whole word only (`models` is an identifier).
auto kw(const char *word) { return x3::lexeme[x3::lit(word) >> !identChar]; }

// string ::= '"' (any character but '"' or a line end)* '"'
const auto stringLit =
    x3::raw[x3::lexeme['"' >> *(x3::char_ - '"' - x3::eol) >>
                       expect("unterminated string: expected '\"' before the "
                              "end of the line",
                              x3::lit('"'))]];

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

x3::rule<class ExprRule> const expr = "an expression";
x3::rule<class TermRule> const term = "an expression";
x3::rule<class ChainRule> const chain = "an expression";
x3::rule<class PrimaryRule> const primary = "an expression";

/// Converts the text of a number literal, rejecting malformed tails such as
/// `1.2.3`, `2x`, `1e` and values a double cannot hold.
const auto onNumber = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range r = x3::_attr(ctx);
  It tail = r.end();
  while (tail < b.bufEnd && (isIdentChar(*tail) || *tail == '.'))
    ++tail;
  std::string text(r.begin(), tail);
  if (tail != r.end()) {
    SyntaxError err{r.begin(), "malformed number '" + text + "'", tail};
    if (llvm::isAlpha(*r.end()) && *r.end() != 'e' && *r.end() != 'E')
      err.hint = "write products explicitly, e.g. '" +
                 std::string(r.begin(), r.end()) + " * " +
                 std::string(r.end(), tail) + "'";
    throw err;
  }
  errno = 0;
  double value = std::strtod(text.c_str(), nullptr);
  if (errno == ERANGE || std::isinf(value)) {
    llvm::StringRef mantissa = llvm::StringRef(text).take_until(
        [](char c) { return c == 'e' || c == 'E'; });
    bool nonZero = mantissa.find_first_of("123456789") != llvm::StringRef::npos;
    if (std::isinf(value) || (nonZero && std::fabs(value) < DBL_MIN))
      throw SyntaxError{r.begin(),
                        "number '" + text + "' is out of the range of a double",
                        r.end()};
  }
  b.push(std::make_unique<ast::NumberExpr>(makeLoc(r), value), 1);
};

// number ::= (digit+ ('.' digit*)? | '.' digit+) (('e'|'E') ('+'|'-')? digit+)?
const auto digits = +x3::char_('0', '9');
const auto number = x3::raw
    [x3::lexeme[(digits >> -('.' >> *x3::char_('0', '9')) | ('.' >> digits)) >>
                -(x3::char_("eE") >> -x3::char_("+-") >> digits)]][onNumber];

/// A plain name; fails on statement keywords (see isReservedInExpr).
const auto onName = [](auto &ctx) {
  Builder &b = builder(ctx);
  std::string name = b.lastIdentStr();
  if (isReservedInExpr(name)) {
    x3::_pass(ctx) = false;
    return;
  }
  b.push(std::make_unique<ast::NameExpr>(b.lastIdentLoc(), std::move(name)), 1);
};

// name ::= ident   (not a keyword)
const auto name = ident[onName];

const auto onCallBegin = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.calls.push_back({b.lastIdentStr(), b.lastIdentLoc(), b.operands.size()});
  b.openers.push_back(b.lastParen);
};
/// Records where the '(' of a call is (backtracking-safe, like lastIdent).
const auto recordParen = [](auto &ctx) {
  builder(ctx).lastParen = x3::_attr(ctx).begin();
};
const auto openParen = x3::raw[x3::lit('(')][recordParen];

/// Closes a call: `d(...)` becomes a DerivExpr, anything else a CallExpr.
const auto onCallEnd = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range close = x3::_attr(ctx);
  CallFrame frame = std::move(b.calls.back());
  b.calls.pop_back();
  b.openers.pop_back();
  std::vector<ast::ExprPtr> args;
  unsigned depth = 0;
  for (size_t i = frame.height; i < b.operands.size(); ++i) {
    depth = std::max(depth, b.operands[i].depth);
    args.push_back(std::move(b.operands[i].expr));
  }
  b.operands.resize(frame.height);
  ast::Location loc{frame.calleeLoc.begin, close.end()};
  std::vector<size_t> groupSizes;
  if (!frame.groupLabels.empty()) {
    // Groups must tile the arguments: `G(branch: (k), x)` mixes the forms.
    if (frame.plainArgs != 0)
      throw SyntaxError{frame.calleeLoc.begin,
                        "a call with labelled groups, like '" + frame.callee +
                            "(branch: (k), trunk: (x, t))', takes only "
                            "labelled groups",
                        close.end()};
    for (size_t i = 0; i < frame.groupStarts.size(); ++i)
      groupSizes.push_back((i + 1 < frame.groupStarts.size()
                                ? frame.groupStarts[i + 1]
                                : frame.height + args.size()) -
                           frame.groupStarts[i]);
  }
  if (frame.callee != "d") {
    auto call = std::make_unique<ast::CallExpr>(
        loc, frame.calleeLoc, std::move(frame.callee), std::move(args));
    call->groupLabels = std::move(frame.groupLabels);
    call->groupLocs = std::move(frame.groupLocs);
    call->groupSizes = std::move(groupSizes);
    b.push(std::move(call), depth + 1);
    return;
  }
  if (!groupSizes.empty())
    throw SyntaxError{frame.calleeLoc.begin,
                      "'d' takes an expression and coordinates, not labelled "
                      "groups",
                      close.end()};
  if (args.size() < 2)
    throw SyntaxError{frame.calleeLoc.begin,
                      "'d' needs an expression and at least one coordinate, "
                      "e.g. 'd(u, x)' or 'd(u, x, x)'",
                      close.end()};
  std::vector<std::string> wrt;
  std::vector<ast::Location> wrtLocs;
  for (size_t i = 1; i < args.size(); ++i) {
    auto *n = llvm::dyn_cast<ast::NameExpr>(args[i].get());
    if (!n)
      throw SyntaxError{args[i]->getLoc().begin,
                        "expected a coordinate name in 'd(...)': the "
                        "expression is the first argument, the coordinates "
                        "follow",
                        args[i]->getLoc().end};
    wrt.push_back(n->name);
    wrtLocs.push_back(n->getLoc());
  }
  b.push(std::make_unique<ast::DerivExpr>(loc, std::move(args[0]),
                                          std::move(wrt), std::move(wrtLocs)),
         depth + 1);
};

/// "expected ')' to close 'sin('", with a note at the opening parenthesis.
const auto closeCallMsg = [](It where, Builder &b) {
  SyntaxError err{where,
                  "expected ')' to close '" + b.calls.back().callee + "('"};
  err.noteAt = b.openers.back();
  err.note = "'" + b.calls.back().callee + "(' is opened here";
  return err;
};

/// "expected an expression", with a hint for the usual slips.
const auto expectedExprMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected an expression"};
  if (where < b.bufEnd && *where == '*' && where > b.bufBegin &&
      where[-1] == '*')
    err.hint = "use '^' for powers, not '**'";
  else if (where < b.bufEnd && isIdentChar(*where)) {
    It e = where;
    while (e < b.bufEnd && isIdentChar(*e))
      ++e;
    std::string word(where, e);
    if (isReservedInExpr(word))
      err.message += ", found the keyword '" + word + "'";
  }
  return err;
};

/// `label: (` opens a labelled group of call arguments (a deeponet's
/// `branch: (k)`); its arguments go on the operand stack like any others.
const auto onGroupBegin = [](auto &ctx) {
  Builder &b = builder(ctx);
  CallFrame &f = b.calls.back();
  f.groupLabels.push_back(b.lastIdentStr());
  f.groupLocs.push_back(b.lastIdentLoc());
  f.groupStarts.push_back(b.operands.size());
  b.openers.push_back(b.lastParen);
};
const auto onGroupEnd = [](auto &ctx) { builder(ctx).openers.pop_back(); };
const auto onPlainArg = [](auto &ctx) {
  ++builder(ctx).calls.back().plainArgs;
};
const auto closeLabelMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected ')' to close the group '" +
                             b.calls.back().groupLabels.back() + ": ('"};
  err.noteAt = b.openers.back();
  err.note = "the group is opened here";
  return err;
};

// group ::= ident ':' '(' expr (',' expr)* ')'
const auto labelledGroup = (ident >> ':' >> openParen)[onGroupBegin] >>
                           expect(expectedExprMsg, expr) >>
                           *(',' >> expect(expectedExprMsg, expr)) >>
                           expect(closeLabelMsg, x3::lit(')'))[onGroupEnd];
const auto callArg = labelledGroup | expr[onPlainArg];

// call ::= ident '(' (')' | arg (',' arg)* ')'),  arg ::= group | expr
const auto closeParen = x3::raw[x3::lit(')')];
const auto call = (ident >> openParen)[onCallBegin] >>
                  (closeParen[onCallEnd] |
                   (callArg >> *(',' >> expect(expectedExprMsg, callArg)) >>
                    expect(closeCallMsg, closeParen[onCallEnd])));

const auto onOpenParen = [](auto &ctx) {
  builder(ctx).openers.push_back(x3::_attr(ctx).begin());
};
const auto onCloseParen = [](auto &ctx) { builder(ctx).openers.pop_back(); };
const auto closeGroupMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected ')' to close '('"};
  err.noteAt = b.openers.back();
  err.note = "'(' is opened here";
  return err;
};

// paren ::= '(' expr ')'
const auto paren = x3::raw[x3::lit('(')][onOpenParen] >>
                   expect(expectedExprMsg, expr) >>
                   expect(closeGroupMsg, x3::lit(')')[onCloseParen]);

// primary ::= number | call | name | paren
const auto primary_def = number | call | name | paren;

const auto onChainBegin = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.chainStarts.push_back(b.chain.size());
};
const auto onMinus = [](auto &ctx) {
  builder(ctx).chain.push_back({ChainToken::Minus, x3::_attr(ctx).begin()});
};
const auto onPow = [](auto &ctx) {
  builder(ctx).chain.push_back({ChainToken::Pow, x3::_attr(ctx).begin()});
};
const auto onChainPrimary = [](auto &ctx) {
  builder(ctx).chain.push_back({ChainToken::Primary, nullptr});
};

/// Folds a chain right to left: `-a ^ -b ^ c` is `-(a ^ (-(b ^ c)))`.
/// Unary minus binds looser than '^' (`-x^2` is `-(x^2)`), '^' associates to
/// the right, and neither recurses in the grammar.
void foldChain(Builder &b) {
  size_t start = b.chainStarts.back();
  b.chainStarts.pop_back();
  assert(b.chain.size() > start && b.chain.back().kind == ChainToken::Primary);
  b.chain.pop_back();
  Operand cur = b.pop();
  while (b.chain.size() > start) {
    ChainToken tok = b.chain.back();
    b.chain.pop_back();
    if (tok.kind == ChainToken::Minus) {
      ast::Location loc{tok.pos, cur.expr->getLoc().end};
      b.push(std::make_unique<ast::UnaryExpr>(loc, '-', std::move(cur.expr)),
             cur.depth + 1);
      cur = b.pop();
      continue;
    }
    assert(tok.kind == ChainToken::Pow &&
           b.chain.back().kind == ChainToken::Primary);
    b.chain.pop_back();
    Operand base = b.pop();
    ast::Location loc{base.expr->getLoc().begin, cur.expr->getLoc().end};
    unsigned depth = std::max(base.depth, cur.depth) + 1;
    b.push(std::make_unique<ast::BinaryExpr>(loc, '^', std::move(base.expr),
                                             std::move(cur.expr)),
           depth);
    cur = b.pop();
  }
  b.operands.push_back(std::move(cur));
}
const auto onChainDone = [](auto &ctx) { foldChain(builder(ctx)); };

// chain ::= '-'* primary ('^' '-'* primary)*
const auto minus = x3::raw[x3::lit('-')][onMinus];
const auto chain_def = x3::eps[onChainBegin] >> *minus >>
                       expect(expectedExprMsg, primary[onChainPrimary]) >>
                       *(x3::raw[x3::lit('^')][onPow] >> *minus >>
                         expect(expectedExprMsg, primary[onChainPrimary])) >>
                       x3::eps[onChainDone];

const auto onBinaryOp = [](auto &ctx) {
  Range r = x3::_attr(ctx);
  builder(ctx).binaryOps.push_back({*r.begin(), r.begin()});
};
const auto onBinary = [](auto &ctx) {
  Builder &b = builder(ctx);
  char op = b.binaryOps.back().first;
  b.binaryOps.pop_back();
  Operand rhs = b.pop();
  Operand lhs = b.pop();
  ast::Location loc{lhs.expr->getLoc().begin, rhs.expr->getLoc().end};
  unsigned depth = std::max(lhs.depth, rhs.depth) + 1;
  b.push(std::make_unique<ast::BinaryExpr>(loc, op, std::move(lhs.expr),
                                           std::move(rhs.expr)),
         depth);
};

// term ::= chain (('*' | '/') chain)*
const auto term_def = chain >> *((x3::raw[x3::char_("*/")][onBinaryOp] >>
                                  expect(expectedExprMsg, chain))[onBinary]);

// expr ::= term (('+' | '-') term)*
const auto expr_def = term >> *((x3::raw[x3::char_("+-")][onBinaryOp] >>
                                 expect(expectedExprMsg, term))[onBinary]);

BOOST_SPIRIT_DEFINE(expr, term, chain, primary)

/// An expression at a place where one is required.
const auto requiredExpr = expect(expectedExprMsg, expr);

//===----------------------------------------------------------------------===//
// Pieces shared by statements
//===----------------------------------------------------------------------===//

/// A name being declared: an identifier that is not a statement keyword.
auto declName(const char *what) { return expect(what, ident); }

const auto onListOpen = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.listStarts.push_back(b.operands.size());
  b.openers.push_back(x3::_attr(ctx).begin());
};
const auto closeListMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected ',' or ']' to close the list"};
  err.noteAt = b.openers.back();
  err.note = "'[' is opened here";
  return err;
};

/// A keyword argument in progress: records the key.
const auto onArgKey = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.arg = ast::Arg();
  b.arg.key = b.lastIdentStr();
  b.arg.keyLoc = b.lastIdentLoc();
};
/// `[a, b, ...]` as the value of the current argument.
const auto onArgList = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range close = x3::_attr(ctx);
  size_t start = b.listStarts.back();
  b.listStarts.pop_back();
  b.arg.kind = ast::Arg::Kind::List;
  for (size_t i = start; i < b.operands.size(); ++i)
    b.arg.list.push_back(std::move(b.operands[i].expr));
  b.operands.resize(start);
  b.arg.loc = {b.arg.keyLoc.begin, close.end()};
  b.openers.pop_back();
};
/// An expression as the value: a bare name becomes an Ident argument.
const auto onArgExpr = [](auto &ctx) {
  Builder &b = builder(ctx);
  ast::ExprPtr e = b.popExpr();
  b.arg.loc = {b.arg.keyLoc.begin, e->getLoc().end};
  if (auto *n = llvm::dyn_cast<ast::NameExpr>(e.get())) {
    b.arg.kind = ast::Arg::Kind::Ident;
    b.arg.ident = n->name;
    return;
  }
  b.arg.kind = ast::Arg::Kind::Number;
  b.arg.number = std::move(e);
};
const auto onArgDone = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.args.push_back(std::move(b.arg));
  b.arg = ast::Arg();
};

/// Only `encode:` takes a keyword call as its value: elsewhere `f(` starts
/// an expression.
const auto onIsEncodeKey = [](auto &ctx) {
  x3::_pass(ctx) = builder(ctx).arg.key == "encode";
};
/// `periodic(`: sets the current argument and its siblings aside while the
/// call's own arguments are collected.
const auto onKeywordCallName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.arg.kind = ast::Arg::Kind::Call;
  b.arg.ident = b.lastIdentStr();
  b.arg.identLoc = b.lastIdentLoc();
  b.outerArgs.push_back({std::move(b.arg), std::move(b.args)});
  b.args.clear();
};
const auto onKeywordCallDone = [](auto &ctx) {
  Builder &b = builder(ctx);
  Builder::OuterArg outer = std::move(b.outerArgs.back());
  b.outerArgs.pop_back();
  outer.arg.args = std::move(b.args);
  outer.arg.loc = {outer.arg.keyLoc.begin, x3::_attr(ctx).end()};
  b.arg = std::move(outer.arg);
  b.args = std::move(outer.args);
};
x3::rule<class KeywordArgsRule> const keywordArgs = "keyword arguments";

// list     ::= '[' (expr (',' expr)*)? ']'
// kwCall   ::= ident argList                    (only after 'encode:')
// argValue ::= kwCall | list | expr
// arg      ::= ident ':' argValue
const auto argList = x3::raw[x3::lit('[')][onListOpen] >>
                     -(expr >> *(',' >> requiredExpr)) >>
                     expect(closeListMsg, x3::raw[x3::lit(']')][onArgList]);
const auto keywordCall =
    x3::eps[onIsEncodeKey] >>
    x3::raw[expect("expected an encoding such as 'periodic(x: 2)' or "
                   "'fourier(features: 64, scale: 10)'",
                   (ident >> &x3::lit('('))[onKeywordCallName]) >>
            keywordArgs][onKeywordCallDone];
const auto argValue = keywordCall | argList | requiredExpr[onArgExpr];
const auto expectedArgMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected an argument 'name: value'"};
  err.hint = "arguments are named, as in '" + b.calls.back().callee +
             "(key: value, ...)'";
  return err;
};
const auto arg =
    expect(expectedArgMsg, ident[onArgKey]) >>
    expect("expected ':' after the argument name", x3::lit(':')) >> argValue
    >> x3::eps[onArgDone];

/// "expected ')' to close 'mlp('" for argument lists.
const auto closeArgsMsg = [](It where, Builder &b) {
  SyntaxError err{where, "expected ',' or ')' to close '" +
                             b.calls.back().callee + "('"};
  err.noteAt = b.openers.back();
  err.note = "'" + b.calls.back().callee + "(' is opened here";
  return err;
};
const auto onArgsOpen = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.calls.push_back({b.lastIdentStr(), b.lastIdentLoc(), 0});
  b.openers.push_back(b.lastParen);
  b.args.clear();
};
const auto onArgsClose = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.calls.pop_back();
  b.openers.pop_back();
};

// argList ::= '(' (arg (',' arg)*)? ')'     (after the callee's name)
const auto keywordArgs_def =
    openParen[onArgsOpen] >>
    (x3::lit(')')[onArgsClose] |
     (arg >> *(',' >> arg) >> expect(closeArgsMsg, x3::lit(')')[onArgsClose])));
BOOST_SPIRIT_DEFINE(keywordArgs)

// range ::= '[' expr ',' expr ']'
const auto
    range = expect("expected '[' to start a range '[A, B]'", x3::lit('[')) >>
            requiredExpr >>
            expect("expected ',' between the bounds of the range '[A, B]'",
                   x3::lit(',')) >>
            requiredExpr >>
            expect("expected ']' to close the range '[A, B]'", x3::lit(']'));

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

const auto onStmtBegin = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range word = x3::_attr(ctx);
  b.stmtBegin = word.begin();
  bool isModel = llvm::StringRef(word.begin(), word.size()) == "model";
  if (!b.sawStatement && !isModel)
    throw SyntaxError{word.begin(),
                      "expected 'model NAME' as the first statement",
                      word.end()};
  b.sawStatement = true;
};
/// Statement keyword: records where the statement begins.
auto stmtKw(const char *word) { return x3::raw[kw(word)][onStmtBegin]; }

/// Sets the location of the statement just built to the text it spans
/// (keyword to last token, without the blank that follows).
const auto onStmtSpan = [](auto &ctx) {
  Builder &b = builder(ctx);
  if (b.lastStmtLoc)
    *b.lastStmtLoc = makeLoc(x3::_attr(ctx));
  b.lastStmtLoc = nullptr;
};
template <typename P> auto stmt(const P &p) { return x3::raw[p][onStmtSpan]; }

// model ::= 'model' ident
const auto onModel = [](auto &ctx) {
  Builder &b = builder(ctx);
  if (b.sawModel) {
    SyntaxError err{b.stmtBegin, "duplicate 'model' statement",
                    b.lastIdent.end()};
    err.noteAt = b.module.model.loc.begin;
    err.note = "the model is named here";
    throw err;
  }
  b.sawModel = true;
  b.module.model.name = b.lastIdentStr();
  b.lastStmtLoc = &b.module.model.loc;
};
const auto modelStmt = stmtKw("model") >>
                       expect("expected the model's name after 'model'",
                              ident[onModel]);

// const ::= 'const' ident '=' expr
const auto onConstName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.constStmt = ast::ConstStmt();
  b.constStmt.name = b.lastIdentStr();
  b.constStmt.nameLoc = b.lastIdentLoc();
};
const auto onConst = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.constStmt.value = b.popExpr();
  b.module.consts.push_back(std::move(b.constStmt));
  b.lastStmtLoc = &b.module.consts.back().loc;
};
const auto constStmt =
    stmtKw("const") >> declName("expected a name after 'const'")[onConstName] >>
    expect("expected '=' after the const's name", x3::lit('=')) >> requiredExpr
    >> x3::eps[onConst];

// param ::= 'param' ident '=' expr ('trainable')? ('in' range)?
const auto onParamName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.paramStmt = ast::ParamStmt();
  b.paramStmt.name = b.lastIdentStr();
  b.paramStmt.nameLoc = b.lastIdentLoc();
};
const auto onParamValue = [](auto &ctx) {
  builder(ctx).paramStmt.value = builder(ctx).popExpr();
};
const auto onParamTrainable = [](auto &ctx) {
  builder(ctx).paramStmt.trainable = true;
};
const auto onParamRange = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.paramStmt.hi = b.popExpr();
  b.paramStmt.lo = b.popExpr();
};
const auto onParam = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.module.params.push_back(std::move(b.paramStmt));
  b.lastStmtLoc = &b.module.params.back().loc;
};
const auto paramStmt =
    stmtKw("param") >> declName("expected a name after 'param'")[onParamName] >>
    expect("expected '=' and the param's value after its name", x3::lit('=')) >>
    requiredExpr[onParamValue] >> -kw("trainable")[onParamTrainable] >>
    -(kw("in") >> range[onParamRange]) >> x3::eps[onParam];

// coord ::= ('space' | 'time' | 'input') ident 'in' range
const auto onCoordKind = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.coordStmt = ast::CoordStmt();
  b.coordStmt.isTime = *b.stmtBegin == 't';
  b.coordStmt.isInput = *b.stmtBegin == 'i';
};
const auto onCoordName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.coordStmt.name = b.lastIdentStr();
  b.coordStmt.nameLoc = b.lastIdentLoc();
};
const auto onCoord = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.coordStmt.hi = b.popExpr();
  b.coordStmt.lo = b.popExpr();
  b.module.coords.push_back(std::move(b.coordStmt));
  b.lastStmtLoc = &b.module.coords.back().loc;
};
const auto coordStmt =
    (stmtKw("space")[onCoordKind] | stmtKw("time")[onCoordKind] |
     stmtKw("input")[onCoordKind]) >>
    declName("expected the coordinate's name")[onCoordName] >>
    expect("expected 'in' and the coordinate's range, e.g. 'space x in "
           "[0, 1]'",
           kw("in")) >>
    range >> x3::eps[onCoord];

// net ::= 'net' ident '=' ident argList
const auto onNetName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.netStmt = ast::NetStmt();
  b.netStmt.name = b.lastIdentStr();
  b.netStmt.nameLoc = b.lastIdentLoc();
};
const auto onNetKind = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.netStmt.kind = b.lastIdentStr();
  b.netStmt.kindLoc = b.lastIdentLoc();
};
const auto onNet = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.netStmt.args = std::move(b.args);
  b.args.clear();
  b.module.nets.push_back(std::move(b.netStmt));
  b.lastStmtLoc = &b.module.nets.back().loc;
};
const auto netStmt =
    stmtKw("net") >> declName("expected a name after 'net'")[onNetName] >>
    expect("expected '=' after the net's name", x3::lit('=')) >>
    expect("expected the kind of net, e.g. 'mlp(in: 2, out: 1, hidden: "
           "[32, 32], act: tanh)'",
           ident[onNetKind]) >>
    expect("expected '(' and the net's arguments", keywordArgs) >>
    x3::eps[onNet];

// field ::= 'field' ident (',' ident)* '(' ident (',' ident)* ')' '=' expr
const auto onFieldBegin = [](auto &ctx) {
  builder(ctx).fieldStmt = ast::FieldStmt();
};
const auto onFieldName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.fieldStmt.names.push_back(b.lastIdentStr());
  b.fieldStmt.nameLocs.push_back(b.lastIdentLoc());
};
const auto onFieldCoord = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.fieldStmt.coords.push_back(b.lastIdentStr());
  b.fieldStmt.coordLocs.push_back(b.lastIdentLoc());
};
const auto onField = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.fieldStmt.value = b.popExpr();
  b.module.fields.push_back(std::move(b.fieldStmt));
  b.lastStmtLoc = &b.module.fields.back().loc;
};
const auto fieldCoord =
    expect("expected a coordinate name", ident[onFieldCoord]);
const auto fieldStmt =
    stmtKw("field")[onFieldBegin] >>
    declName("expected the field's name after 'field'")[onFieldName] >>
    *(',' >> declName("expected a field name after ','")[onFieldName]) >>
    expect("expected '(' and the field's coordinates, e.g. 'field u(x, t) "
           "= N(x, t)'",
           x3::lit('(')) >>
    fieldCoord >> *(',' >> fieldCoord) >>
    expect("expected ',' or ')' to close the field's coordinates",
           x3::lit(')')) >>
    expect("expected '=' and the field's definition", x3::lit('=')) >>
    requiredExpr >> x3::eps[onField];

// let ::= 'let' ident '=' expr
const auto onLetName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.letStmt = ast::LetStmt();
  b.letStmt.name = b.lastIdentStr();
  b.letStmt.nameLoc = b.lastIdentLoc();
};
const auto onLet = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.letStmt.value = b.popExpr();
  b.module.lets.push_back(std::move(b.letStmt));
  b.lastStmtLoc = &b.module.lets.back().loc;
};
const auto letStmt =
    stmtKw("let") >> declName("expected a name after 'let'")[onLetName] >>
    expect("expected '=' after the let's name", x3::lit('=')) >> requiredExpr
    >> x3::eps[onLet];

// face   ::= ident '==' expr
// region ::= ('in' 'interior' | 'on' 'boundary' | 'on' face ('or' face)*)
//            ('in' ident 'in' range)*
const char *const kRegionMsg =
    "expected a region: 'in interior', 'on boundary' or 'on X == V'";
const auto onRegionBegin = [](auto &ctx) {
  builder(ctx).eqStmt.region.loc.begin = x3::_attr(ctx).begin();
};
const auto onInterior = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt.region.kind = ast::Region::Kind::Interior;
  b.eqStmt.region.loc.end = x3::_attr(ctx).end();
};
const auto onBoundary = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt.region.kind = ast::Region::Kind::Boundary;
  b.eqStmt.region.loc.end = x3::_attr(ctx).end();
};
const auto onFaceCoord = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.face = ast::Face();
  b.face.coord = b.lastIdentStr();
  b.face.loc = b.lastIdentLoc();
};
const auto onFace = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.face.value = b.popExpr();
  b.face.loc.end = b.face.value->getLoc().end;
  b.eqStmt.region.kind = ast::Region::Kind::Faces;
  b.eqStmt.region.loc.end = b.face.loc.end;
  b.eqStmt.region.faces.push_back(std::move(b.face));
};
const auto onRestrictionCoord = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.restriction = ast::Restriction();
  b.restriction.coord = b.lastIdentStr();
  b.restriction.loc = b.lastIdentLoc();
};
const auto onRestriction = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.restriction.hi = b.popExpr();
  b.restriction.lo = b.popExpr();
  b.eqStmt.region.restrictions.push_back(std::move(b.restriction));
};
const auto gridRegion = failWith([](It where, It last, Builder &) -> bool {
  if (where < last && *where == '(')
    throw SyntaxError{where, "grid regions ('interior(G)') are not supported "
                             "yet"};
  return true;
});
const auto
    face = expect("expected a coordinate name after 'on' (or 'boundary')",
                  ident[onFaceCoord]) >>
           expect("expected '==' after the coordinate's name", x3::lit("==")) >>
           requiredExpr[onFace];
/// `in boundary` / `on interior`: the other preposition was meant.
const auto swappedPreposition =
    failWith([](It where, It last, Builder &) -> bool {
      It end = where;
      while (end < last && isIdentChar(*end))
        ++end;
      llvm::StringRef word(where, end - where);
      if (word == "boundary")
        throw SyntaxError{where,
                          "the boundary is written 'on boundary', not 'in "
                          "boundary'",
                          end};
      if (word == "interior")
        throw SyntaxError{where,
                          "the interior is written 'in interior', not 'on "
                          "interior'",
                          end};
      return false;
    });
const auto regionHead =
    (x3::raw[kw("in")][onRegionBegin] >>
     (x3::raw[kw("interior")][onInterior] | swappedPreposition |
      expect("expected 'interior' after 'in' (or write 'on X == V' for a "
             "face)",
             x3::eps[([](auto &ctx) { x3::_pass(ctx) = false; })])) >>
     gridRegion) |
    (x3::raw[kw("on")][onRegionBegin] >>
     (x3::raw[kw("boundary")][onBoundary] | swappedPreposition |
      (face >> *(kw("or") >> face))));
const auto restriction =
    kw("in") >>
    expect("expected a coordinate name to restrict, e.g. 'in x in [0, 0.5]'",
           ident[onRestrictionCoord]) >>
    expect("expected 'in' and a range after the coordinate's name", kw("in")) >>
    range >> x3::eps[onRestriction];
/// Extends the restriction (from its coordinate) and the region to ']'.
const auto onRestrictionSpan = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt.region.restrictions.back().loc.end = x3::_attr(ctx).end();
  b.eqStmt.region.loc.end = x3::_attr(ctx).end();
};
const auto region =
    expect(kRegionMsg, regionHead) >> *x3::raw[restriction][onRestrictionSpan];

// equation ::= 'equation' ident ':' expr '==' expr region
//              ('samples' expr | 'weight' expr)*
const auto onEqName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt = ast::EquationStmt();
  b.eqHasSamples = b.eqHasWeight = false;
  b.eqStmt.name = b.lastIdentStr();
  b.eqStmt.nameLoc = b.lastIdentLoc();
};
const auto onEqLhs = [](auto &ctx) {
  builder(ctx).eqStmt.lhs = builder(ctx).popExpr();
};
const auto onEqRhs = [](auto &ctx) {
  builder(ctx).eqStmt.rhs = builder(ctx).popExpr();
};
const auto onSamplesKw = [](auto &ctx) {
  Builder &b = builder(ctx);
  if (b.eqHasSamples)
    throw SyntaxError{x3::_attr(ctx).begin(),
                      "'samples' is given twice for this equation",
                      x3::_attr(ctx).end()};
  b.eqHasSamples = true;
};
const auto onSamples = [](auto &ctx) {
  builder(ctx).eqStmt.samples = builder(ctx).popExpr();
};
const auto onWeightKw = [](auto &ctx) {
  Builder &b = builder(ctx);
  if (b.eqHasWeight)
    throw SyntaxError{x3::_attr(ctx).begin(),
                      "'weight' is given twice for this equation",
                      x3::_attr(ctx).end()};
  b.eqHasWeight = true;
};
const auto onWeight = [](auto &ctx) {
  builder(ctx).eqStmt.weight = builder(ctx).popExpr();
};
const auto onEquation = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.module.equations.push_back(std::move(b.eqStmt));
  b.lastStmtLoc = &b.module.equations.back().loc;
};
const auto eqOperator = failWith([](It where, It last, Builder &) -> bool {
  if (where < last && (*where == '<' || *where == '>'))
    throw SyntaxError{where, "an equation needs '=='; inequalities are "
                             "'constraint' statements, e.g. 'constraint pos: "
                             "u >= 0 in interior'"};
  if (where < last && *where == '=')
    throw SyntaxError{where, "expected '==' between the two sides of the "
                             "equation, found '='"};
  throw SyntaxError{where,
                    "expected '==' between the two sides of the equation"};
  return false;
});
const auto equationStmt =
    stmtKw("equation") >>
    declName("expected a name after 'equation'")[onEqName] >>
    expect("expected ':' after the equation's name", x3::lit(':')) >>
    requiredExpr[onEqLhs] >>
    (x3::lit("==") | eqOperator) >> requiredExpr[onEqRhs] >> region >>
    *((x3::raw[kw("samples")][onSamplesKw] >> requiredExpr[onSamples]) |
      (x3::raw[kw("weight")][onWeightKw] >> requiredExpr[onWeight])) >>
    x3::eps[onEquation];

// data ::= 'data' ident ':' ident '==' 'file' '(' string ')'
//           ('weight' expr)?
const auto onDataName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt = ast::EquationStmt();
  b.eqHasSamples = b.eqHasWeight = false;
  b.eqStmt.isData = true;
  b.eqStmt.name = b.lastIdentStr();
  b.eqStmt.nameLoc = b.lastIdentLoc();
};
const auto onDataField = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt.lhs = std::make_unique<ast::NameExpr>(b.lastIdentLoc(),
                                                 b.lastIdentStr());
  b.eqStmt.region.loc = b.lastIdentLoc();
};
const auto onDataFile = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range r = x3::_attr(ctx);
  b.eqStmt.dataFile = std::string(r.begin() + 1, r.end() - 1);
  b.eqStmt.dataFileLoc = makeLoc(r);
};
const auto dataStmt =
    stmtKw("data") >> declName("expected a name after 'data'")[onDataName] >>
    expect("expected ':' after the data term's name", x3::lit(':')) >>
    expect("expected the name of a field, e.g. 'data obs: u == "
           "file(\"obs.csv\")'",
           ident[onDataField]) >>
    expect("expected '==' and the observations, e.g. file(\"obs.csv\")",
           x3::lit("==")) >>
    expect("expected file(\"...\") with the observations",
           kw("file") >> x3::lit('(')) >>
    expect("expected a quoted file name, e.g. file(\"obs.csv\")",
           stringLit[onDataFile]) >>
    expect("expected ')' to close 'file('", x3::lit(')')) >>
    -(x3::raw[kw("weight")][onWeightKw] >> requiredExpr[onWeight]) >>
    x3::eps[onEquation];

// constraint ::= 'constraint' ident ':' expr ('<=' | '>=' | '==') expr region
//                ('samples' expr | 'weight' expr)*
const auto onConstraintName = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.eqStmt = ast::EquationStmt();
  b.eqHasSamples = b.eqHasWeight = false;
  b.eqStmt.isConstraint = true;
  b.eqStmt.name = b.lastIdentStr();
  b.eqStmt.nameLoc = b.lastIdentLoc();
};
const auto onRelation = [](auto &ctx) {
  Range r = x3::_attr(ctx);
  using Rel = ast::EquationStmt::Relation;
  builder(ctx).eqStmt.relation = *r.begin() == '<'   ? Rel::Le
                                 : *r.begin() == '>' ? Rel::Ge
                                                     : Rel::Eq;
};
const auto relOperator = failWith([](It where, It last, Builder &) -> bool {
  if (where < last && (*where == '<' || *where == '>'))
    throw SyntaxError{where, "expected '<=' or '>=': a constraint's bound is "
                             "never strict"};
  throw SyntaxError{where, "expected '<=', '>=' or '==' between the two sides "
                           "of the constraint"};
  return false;
});
const auto constraintStmt =
    stmtKw("constraint") >>
    declName("expected a name after 'constraint'")[onConstraintName] >>
    expect("expected ':' after the constraint's name", x3::lit(':')) >>
    requiredExpr[onEqLhs] >>
    (x3::raw[x3::lit("<=") | x3::lit(">=") | x3::lit("==")][onRelation] |
     relOperator) >>
    requiredExpr[onEqRhs] >> region >>
    *((x3::raw[kw("samples")][onSamplesKw] >> requiredExpr[onSamples]) |
      (x3::raw[kw("weight")][onWeightKw] >> requiredExpr[onWeight])) >>
    x3::eps[onEquation];

// loss ::= 'loss' expr
const auto onLoss = [](auto &ctx) {
  Builder &b = builder(ctx);
  ast::LossStmt loss;
  loss.value = b.popExpr();
  b.module.losses.push_back(std::move(loss));
  b.lastStmtLoc = &b.module.losses.back().loc;
};
const auto lossStmt = stmtKw("loss") >> requiredExpr >> x3::eps[onLoss];

// stage  ::= ident argList
// option ::= ident ':' argValue ('every' expr)?
// train  ::= 'train' stage ((',' (stage | option)) | option)*
const auto onTrainBegin = [](auto &ctx) {
  builder(ctx).trainStmt = ast::TrainStmt();
};
const auto onStageName = [](auto &ctx) {
  Builder &b = builder(ctx);
  ast::OptimizerCall stage;
  stage.name = b.lastIdentStr();
  stage.nameLoc = b.lastIdentLoc();
  b.trainStmt.stages.push_back(std::move(stage));
};
const auto onStageDone = [](auto &ctx) {
  Builder &b = builder(ctx);
  ast::OptimizerCall &stage = b.trainStmt.stages.back();
  stage.args = std::move(b.args);
  b.args.clear();
};
const auto onStageSpan = [](auto &ctx) {
  ast::OptimizerCall &stage = builder(ctx).trainStmt.stages.back();
  stage.loc = {stage.nameLoc.begin, x3::_attr(ctx).end()};
};
const auto onOptionDone = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.trainStmt.options.push_back(std::move(b.args.back()));
  b.args.clear();
};
const auto onTrain = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.module.trains.push_back(std::move(b.trainStmt));
  b.lastStmtLoc = &b.module.trains.back().loc;
};
const auto stage = x3::raw[(ident >> &x3::lit('('))[onStageName] >>
                           keywordArgs >> x3::eps[onStageDone]][onStageSpan];
const auto onArgEvery = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.arg.every = b.popExpr();
};
const auto option = (ident >> &x3::lit(':'))[onArgKey] >> ':' >> argValue >>
                    -(kw("every") >> requiredExpr[onArgEvery]) >>
                    x3::eps[onArgDone] >> x3::eps[onOptionDone];
const auto trainStmt =
    stmtKw("train")[onTrainBegin] >>
    expect("expected an optimizer, e.g. 'train adam(lr: 1e-3, steps: 1000)'",
           stage) >>
    *((',' >> expect("expected an optimizer such as 'lbfgs(steps: 500)' or "
                     "an option such as 'sampler: sobol' after ','",
                     stage | option)) |
      option) >>
    x3::eps[onTrain];

// exact ::= 'exact' ident '=' ('file' '(' string ')' | expr)
const auto onExactField = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.exactStmt = ast::ExactStmt();
  b.exactStmt.field = b.lastIdentStr();
  b.exactStmt.fieldLoc = b.lastIdentLoc();
};
const auto onExactFile = [](auto &ctx) {
  Builder &b = builder(ctx);
  Range r = x3::_attr(ctx);
  b.exactStmt.file = std::string(r.begin() + 1, r.end() - 1);
  b.exactStmt.fileLoc = makeLoc(r);
};
const auto onExactExpr = [](auto &ctx) {
  builder(ctx).exactStmt.value = builder(ctx).popExpr();
};
const auto onExact = [](auto &ctx) {
  Builder &b = builder(ctx);
  b.module.exacts.push_back(std::move(b.exactStmt));
  b.lastStmtLoc = &b.module.exacts.back().loc;
};
const auto exactStmt =
    stmtKw("exact") >>
    expect("expected the name of a field after 'exact'", ident[onExactField]) >>
    expect("expected '=' and the exact solution", x3::lit('=')) >>
    (((kw("file") >> '(') >>
      expect("expected a quoted file name, e.g. file(\"ref.csv\")",
             stringLit[onExactFile]) >>
      expect("expected ')' to close 'file('", x3::lit(')'))) |
     requiredExpr[onExactExpr]) >>
    x3::eps[onExact];

/// Anything else where a statement should start.
const auto badStatement = failWith([](It where, It last, Builder &b) -> bool {
  if (where == last)
    return false;
  if (!isIdentChar(*where) || llvm::isDigit(*where))
    throw SyntaxError{where, "expected a statement (model, const, param, "
                             "space, time, net, field, let, equation, "
                             "constraint, data, loss, train or exact)"};
  It end = where;
  while (end < last && isIdentChar(*end))
    ++end;
  std::string word(where, end);
  if (const char *msg = unsupportedStatement(word))
    throw SyntaxError{where, msg, end};
  SyntaxError err{where, "unknown statement '" + word + "'", end};
  std::string near = Diagnostics::nearest(word, statementKeywords());
  if (!near.empty())
    err.hint = "did you mean '" + near + "'?";
  else
    err.hint = "statements start with one of: model, const, param, space, "
               "time, net, field, let, equation, constraint, data, loss, "
               "train, exact";
  (void)b;
  throw err;
});

// statement ::= model | const | param | coord | net | field | let
//             | equation | loss | train | exact | data | constraint
// file      ::= statement* end-of-input
const auto statement = stmt(modelStmt) | stmt(constStmt) | stmt(paramStmt) |
                       stmt(coordStmt) | stmt(netStmt) | stmt(fieldStmt) |
                       stmt(letStmt) | stmt(equationStmt) | stmt(lossStmt) |
                       stmt(trainStmt) | stmt(exactStmt) | stmt(dataStmt) |
                       stmt(constraintStmt) | badStatement;
const auto file = *statement >> x3::eoi;

//===----------------------------------------------------------------------===//
// Pre-scan
//===----------------------------------------------------------------------===//

/// Rejects bytes the grammar must never see (NUL, control characters,
/// non-ASCII outside comments and strings) and nesting deeper than
/// kMaxNesting, so that the recursive grammar cannot overflow the stack.
bool prescan(llvm::StringRef buf, Diagnostics &diags) {
  unsigned depth = 0;
  const char *p = buf.begin(), *end = buf.end();
  while (p < end) {
    unsigned char c = *p;
    if (c == '#') {
      while (p < end && *p != '\n' && *p != '\r')
        ++p;
      continue;
    }
    if (c == '"') {
      ++p;
      while (p < end && *p != '"' && *p != '\n' && *p != '\r') {
        unsigned char s = *p;
        if (s < 0x20 && s != '\t') {
          diags.error({p, p + 1}, "invalid character in string (byte 0x" +
                                      llvm::utohexstr(s, false, 2) + ")");
          return false;
        }
        ++p;
      }
      if (p < end && *p == '"')
        ++p;
      continue;
    }
    if (c == '(' || c == '[') {
      if (++depth > kMaxNesting) {
        diags.error({p, p + 1}, "expression nested too deeply (more than " +
                                    llvm::Twine(kMaxNesting) +
                                    " levels of parentheses)");
        return false;
      }
    } else if (c == ')' || c == ']') {
      if (depth > 0)
        --depth;
    } else if (c == 0) {
      diags.error({p, p + 1},
                  "invalid character: NUL byte (is this a binary file?)");
      return false;
    } else if (c >= 0x80) {
      diags.error({p, p + 1}, "invalid character (byte 0x" +
                                  llvm::utohexstr(c, false, 2) +
                                  "): only ASCII is allowed outside comments "
                                  "and strings");
      return false;
    } else if ((c < 0x20 && !llvm::StringRef(" \t\r\n\f\v").contains(c)) ||
               c == 0x7f) {
      diags.error({p, p + 1}, "invalid control character (byte 0x" +
                                  llvm::utohexstr(c, false, 2) + ")");
      return false;
    }
    ++p;
  }
  return true;
}

} // namespace

std::unique_ptr<ast::Module> physc::parseModule(Diagnostics &diags) {
  llvm::SourceMgr &srcMgr = diags.getSourceMgr();
  const llvm::MemoryBuffer *buf =
      srcMgr.getMemoryBuffer(srcMgr.getMainFileID());
  llvm::StringRef text = buf->getBuffer();
  auto module = std::make_unique<ast::Module>();
  module->filename = buf->getBufferIdentifier().str();

  if (!prescan(text, diags))
    return nullptr;

  // X3 recurses about 1.5 KB of stack per nesting level in an optimised
  // build and several times that in a debug build; the parse runs on a
  // thread of its own with a stack large enough for kMaxNesting levels in
  // any build, whatever the stack of the caller.
  bool ok = false;
  auto parse = [&] {
    It first = text.begin(), last = text.end();
    Builder b(first, last, *module);
    try {
      bool matched =
          x3::phrase_parse(first, last, x3::with<BuilderTag>(b)[file], skipper);
      if (!matched || first != last) {
        // `badStatement` throws on anything but the end of input, so this
        // only happens on inputs the grammar cannot describe at all.
        It where = skipBlank(first, last);
        diags.error({where, where}, "unexpected input");
        return;
      }
    } catch (const SyntaxError &err) {
      // Without an explicit end, underline the word or character found.
      It end = err.end ? err.end : err.where;
      if (!err.end)
        while (end < last && isIdentChar(*end))
          ++end;
      if (end == err.where && err.where < last)
        ++end;
      diags.error({err.where, end}, err.message, err.hint);
      if (err.noteAt)
        diags.note({err.noteAt, err.noteAt + 1}, err.note);
      return;
    } catch (const x3::expectation_failure<It> &err) {
      It where = skipBlank(err.where(), last);
      diags.error({where, where}, "expected " + err.which());
      return;
    }
    if (!b.sawModel) {
      const char *at = text.begin();
      diags.error({at, at}, skipBlank(text.begin(), last) == last
                                ? "empty file: expected 'model NAME'"
                                : "expected 'model NAME' as the first "
                                  "statement");
      return;
    }
    ok = true;
  };
  llvm::thread parser(std::optional<unsigned>(kParserStackSize), parse);
  parser.join();
  if (!ok)
    return nullptr;
  return module;
}
