//===- EmitCUDA.cpp - physc emit cuda: the kernels as CUDA C++ -----------===//
//
// Part of physc. The first CUDA path: prints every phys.kernel of a model
// after stage 3 (adjoint) as a self-contained CUDA C++ kernel. It mirrors the
// CPU code generator (passes/lib/FuseKernels.cpp): a kernel body is
// straight-line code on scalars (one value per point) and rows (W values per
// point). Here one thread runs one point; rows are per-thread `T rK[W]`
// arrays recycled by liveness, and runs of elementwise row ops are fused into
// one loop over W whose group-local values stay scalars.
//
// loss_grad kernels run one warp per block over tiles of 32 points; the loss
// and the parameter gradient are reduced across the warp with shuffles and
// added into the block's own slice of `block_grad` (no atomics, so the result
// is deterministic); `<model>_reduce` sums the block slices in order.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Pipeline.h"

#include "physc/Dialect/Phys/PhysOps.h"
#include "physc/Frontend/MLIRGen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"
#include "physc/Transforms/KernelSchedule.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace physc;
using namespace physc::phys;

namespace {

bool isBoolType(Type t) {
  if (auto s = dyn_cast<ShapedType>(t))
    t = s.getElementType();
  return t.isInteger(1);
}

bool isConstRow(Operation *op) {
  auto c = dyn_cast<arith::ConstantOp>(op);
  return c && isRow(c.getResult()) && isa<DenseElementsAttr>(c.getValue());
}

std::string cName(StringRef s) {
  std::string r = s.str();
  for (char &ch : r)
    if (!isalnum((unsigned char)ch))
      ch = '_';
  return r;
}

/// A C literal of type T (float with f32, double with f64).
std::string literal(double v, bool f32) {
  if (std::isnan(v))
    return f32 ? "__int_as_float(0x7fc00000)"
               : "__longlong_as_double(0x7ff8000000000000LL)";
  if (std::isinf(v)) {
    std::string s =
        f32 ? (v > 0 ? "__int_as_float(0x7f800000)"
                     : "__int_as_float(0xff800000)")
            : (v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)"
                     : "__longlong_as_double(0xfff0000000000000LL)");
    return s;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  if (f32)
    s += "f";
  if (v < 0)
    s = "(" + s + ")";
  return s;
}

/// The C name of a math op's function (f32 appends `f`).
std::string mathFn(Operation *op, bool f32) {
  StringRef name = op->getName().getStringRef().drop_front(5); // "math."
  std::string fn = llvm::StringSwitch<std::string>(name)
                       .Case("absf", "fabs")
                       .Case("powf", "pow")
                       .Default(name.str());
  if (fn == "rsqrt")
    return f32 ? "rsqrtf" : "rsqrt";
  return f32 ? fn + "f" : fn;
}

class CudaPrinter {
public:
  CudaPrinter(KernelOp kernel, ModelOp model, const ParamLayout &layout,
              bool f32)
      : kernel(kernel), model(model), layout(layout), f32(f32),
        T(f32 ? "float" : "double") {
    int i = 0;
    for (ParamOp p : model.getBody().front().getOps<ParamOp>())
      rtIndex[p.getSymName()] = i++;
  }

  LogicalResult print(raw_ostream &os);

private:
  /// `target += ` the warp's sum of `value` (lane 0 writes): the per-block
  /// accumulation of a loss or of a scalar gradient entry.
  LogicalResult warpSumInto(Operation *op, Value value,
                            const std::string &target) {
    if (!lossGrad)
      return op->emitOpError("outside a loss_grad kernel");
    line() << "{\n";
    line() << "  const " << T << " s = " << prefix() << "_warp_sum("
           << scalarOf(value) << ");\n";
    line() << "  if (lane == 0)\n";
    line() << "    " << target << " += s;\n";
    line() << "}\n";
    return success();
  }

  raw_ostream &line() {
    body.indent(indent * 2);
    return body;
  }
  std::string fresh(StringRef prefix) {
    return (prefix + Twine(counter++)).str();
  }
  std::string scalarOf(Value v) {
    auto it = scalars.find(v);
    assert(it != scalars.end() && "scalar used before definition");
    return it->second;
  }
  /// Element `j` (a C expression) of row `row`.
  std::string rowElem(Value row, StringRef j,
                      const DenseMap<Value, std::string> &env) {
    auto e = env.find(row);
    if (e != env.end())
      return e->second;
    auto s = rowSplat.find(row);
    if (s != rowSplat.end())
      return s->second;
    auto b = rowBuf.find(row);
    assert(b != rowBuf.end() && "row has no storage");
    return b->second + "[" + j.str() + "]";
  }
  std::string allocRow(int64_t width, bool isBool);
  void freeRow(Value row);
  void releaseDead(int position, const KernelSchedule &schedule);
  std::string elementwise(Operation *op, ArrayRef<std::string> operands);
  LogicalResult emitScalarOp(Operation *op);
  void emitGroup(ArrayRef<Operation *> group);
  void emitMatvec(Value x, Value y, StringRef net, int64_t layer, bool bias,
                  bool transposed);
  void emitGradAccum();
  std::string prefix() { return cName(model.getSymName()); }

  KernelOp kernel;
  ModelOp model;
  const ParamLayout &layout;
  bool f32;
  std::string T;
  llvm::StringMap<int> rtIndex;
  const DenseMap<Value, std::string> noEnv;

  std::string bodyText;
  llvm::raw_string_ostream body{bodyText};
  int indent = 1;
  int counter = 0;
  bool lossGrad = false;

  DenseMap<Value, std::string> scalars;  ///< scalar => C expression/name
  DenseMap<Value, std::string> rowBuf;   ///< row => array name
  DenseMap<Value, std::string> rowSplat; ///< splat row => literal
  DenseSet<Value> constRows;             ///< rows in hoisted const arrays
  std::map<std::pair<int64_t, bool>, SmallVector<std::string>> freeRows;
  /// Every array declared: name, width, bool.
  SmallVector<std::tuple<std::string, int64_t, bool>> arrays;
  SmallVector<std::string> constDecls;
  SmallVector<Operation *> deferred;
};

std::string CudaPrinter::allocRow(int64_t width, bool isBool) {
  auto &pool = freeRows[{width, isBool}];
  if (!pool.empty())
    return pool.pop_back_val();
  std::string name = "r" + std::to_string(arrays.size());
  arrays.push_back({name, width, isBool});
  return name;
}

void CudaPrinter::freeRow(Value row) {
  auto it = rowBuf.find(row);
  if (it == rowBuf.end() || constRows.contains(row))
    return;
  freeRows[{rowWidth(row), isBoolType(row.getType())}].push_back(it->second);
  rowBuf.erase(it);
}

void CudaPrinter::releaseDead(int position, const KernelSchedule &schedule) {
  SmallVector<Value> dead;
  for (auto &[v, buf] : rowBuf)
    if (!constRows.contains(v) && schedule.lastUse(v) <= position)
      dead.push_back(v);
  // Deterministic order of the pool (DenseMap iteration is not).
  llvm::sort(dead, [&](Value a, Value b) { return rowBuf[a] < rowBuf[b]; });
  for (Value v : dead)
    freeRow(v);
}

std::string CudaPrinter::elementwise(Operation *op, ArrayRef<std::string> a) {
  if (isa<arith::AddFOp>(op))
    return a[0] + " + " + a[1];
  if (isa<arith::SubFOp>(op))
    return a[0] + " - " + a[1];
  if (isa<arith::MulFOp>(op))
    return a[0] + " * " + a[1];
  if (isa<arith::DivFOp>(op))
    return a[0] + " / " + a[1];
  if (isa<arith::NegFOp>(op))
    return "-" + a[0];
  if (isa<arith::SelectOp>(op))
    return a[0] + " ? " + a[1] + " : " + a[2];
  if (isa<arith::MaximumFOp>(op))
    return std::string(f32 ? "fmaxf(" : "fmax(") + a[0] + ", " + a[1] + ")";
  if (isa<arith::MinimumFOp>(op))
    return std::string(f32 ? "fminf(" : "fmin(") + a[0] + ", " + a[1] + ")";
  if (auto c = dyn_cast<arith::CmpFOp>(op)) {
    const std::string &x = a[0], &y = a[1];
    using P = arith::CmpFPredicate;
    switch (c.getPredicate()) {
    case P::AlwaysFalse:
      return "false";
    case P::OEQ:
      return x + " == " + y;
    case P::OGT:
      return x + " > " + y;
    case P::OGE:
      return x + " >= " + y;
    case P::OLT:
      return x + " < " + y;
    case P::OLE:
      return x + " <= " + y;
    case P::ONE:
      return "(" + x + " < " + y + " || " + x + " > " + y + ")";
    case P::ORD:
      return "(" + x + " == " + x + " && " + y + " == " + y + ")";
    case P::UEQ:
      return "!(" + x + " < " + y + " || " + x + " > " + y + ")";
    case P::UGT:
      return "!(" + x + " <= " + y + ")";
    case P::UGE:
      return "!(" + x + " < " + y + ")";
    case P::ULT:
      return "!(" + x + " >= " + y + ")";
    case P::ULE:
      return "!(" + x + " > " + y + ")";
    case P::UNE:
      return x + " != " + y;
    case P::UNO:
      return "(" + x + " != " + x + " || " + y + " != " + y + ")";
    case P::AlwaysTrue:
      return "true";
    }
  }
  // math.*: a call of the C function of the same name.
  std::string s = mathFn(op, f32) + "(";
  for (auto [i, x] : llvm::enumerate(a))
    s += (i ? ", " : "") + x;
  return s + ")";
}

LogicalResult CudaPrinter::emitScalarOp(Operation *op) {
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (c.getType().isIndex())
      return success(); // read through getConstantIntValue
    if (auto i = dyn_cast<IntegerAttr>(c.getValue());
        i && c.getType().isInteger(1)) {
      scalars[c] = i.getValue().getBoolValue() ? "true" : "false";
      return success();
    }
    auto f = dyn_cast<FloatAttr>(c.getValue());
    if (!f)
      return op->emitOpError("cannot be printed as CUDA");
    scalars[c] = literal(f.getValueAsDouble(), f32);
    return success();
  }
  if (auto p = dyn_cast<ParamRefOp>(op)) {
    // A trainable param lives in the parameter vector, the others in rt.
    std::string v = fresh("v");
    int64_t off = layout.paramOffset(p.getParam());
    if (off >= 0)
      line() << "const " << T << " " << v << " = params[" << off << "];\n";
    else
      line() << "const " << T << " " << v << " = rt[" << rtIndex[p.getParam()]
             << "];\n";
    scalars[p] = v;
    return success();
  }
  if (auto o = dyn_cast<ObservedOp>(op)) {
    std::string v = fresh("v");
    int64_t column = kernel.getBody().front().getNumArguments() + o.getIndex();
    line() << "const " << T << " " << v << " = pts[" << column
           << " * ld + p];\n";
    scalars[o] = v;
    return success();
  }
  if (auto acc = dyn_cast<AccumParamGradOp>(op))
    return warpSumInto(
        op, acc.getValue(),
        "g[" + std::to_string(layout.paramOffset(acc.getParam())) + "]");
  if (auto m = dyn_cast<MaskOp>(op)) {
    std::string v = fresh("v");
    line() << "const " << T << " " << v << " = i < n ? "
           << scalarOf(m.getValue()) << " : " << literal(0, f32) << ";\n";
    scalars[m] = v;
    return success();
  }
  if (auto acc = dyn_cast<AccumLossOp>(op))
    return warpSumInto(op, acc.getValue(), "block_loss[blockIdx.x]");
  if (auto ex = dyn_cast<tensor::ExtractOp>(op)) {
    std::optional<int64_t> k = getConstantIntValue(ex.getIndices()[0]);
    if (!k)
      return op->emitOpError("with a dynamic index cannot be printed as CUDA");
    std::string v = fresh("v");
    line() << "const " << T << " " << v << " = "
           << rowElem(ex.getTensor(), std::to_string(*k), noEnv) << ";\n";
    scalars[ex] = v;
    return success();
  }
  if (auto fe = dyn_cast<tensor::FromElementsOp>(op)) {
    std::string buf = allocRow(rowWidth(fe), isBoolType(fe.getType()));
    for (auto [i, e] : llvm::enumerate(fe.getElements()))
      line() << buf << "[" << i << "] = " << scalarOf(e) << ";\n";
    rowBuf[fe] = buf;
    return success();
  }
  if (isElementwise(op) && op->getNumResults() == 1) {
    SmallVector<std::string> operands;
    for (Value v : op->getOperands())
      operands.push_back(scalarOf(v));
    std::string v = fresh("v");
    line() << "const " << (isBoolType(op->getResult(0).getType()) ? "bool" : T)
           << " " << v << " = " << elementwise(op, operands) << ";\n";
    scalars[op->getResult(0)] = v;
    return success();
  }
  return op->emitOpError("cannot be printed as CUDA");
}

void CudaPrinter::emitGroup(ArrayRef<Operation *> group) {
  int64_t width = rowWidth(group.front()->getResult(0));
  DenseSet<Operation *> inGroup(group.begin(), group.end());
  SmallVector<std::pair<Value, std::string>> stores;
  for (Operation *op : group) {
    Value r = op->getResult(0);
    if (llvm::any_of(r.getUsers(),
                     [&](Operation *u) { return !inGroup.contains(u); }))
      stores.push_back({r, ""});
  }
  for (auto &s : stores)
    s.second = allocRow(width, isBoolType(s.first.getType()));
  line() << "#pragma unroll 4\n";
  line() << "for (int j = 0; j < " << width << "; ++j) {\n";
  ++indent;
  DenseMap<Value, std::string> env;
  for (Operation *op : group) {
    SmallVector<std::string> operands;
    for (Value v : op->getOperands())
      operands.push_back(isRow(v) ? rowElem(v, "j", env) : scalarOf(v));
    std::string e = fresh("e");
    line() << "const " << (isBoolType(op->getResult(0).getType()) ? "bool" : T)
           << " " << e << " = " << elementwise(op, operands) << ";\n";
    env[op->getResult(0)] = e;
  }
  for (auto &[r, buf] : stores) {
    line() << buf << "[j] = " << env[r] << ";\n";
    rowBuf[r] = buf;
  }
  --indent;
  line() << "}\n";
}

void CudaPrinter::emitMatvec(Value x, Value y, StringRef net, int64_t layer,
                             bool bias, bool transposed) {
  auto netOp = model.lookupSymbol<NetOp>(net);
  int64_t in = netOp.getFanIn(layer), outW = netOp.getFanOut(layer);
  int64_t wOff = layout.offset(net, layer, false);
  int64_t bOff = layout.offset(net, layer, true);
  int64_t nOut = transposed ? in : outW, nIn = transposed ? outW : in;
  std::string yb = allocRow(nOut, false);
  line() << "// " << (transposed ? "matvec_t " : "matvec ") << net << "["
         << layer << "]" << (bias && !transposed ? " bias" : "") << ": " << nIn
         << " -> " << nOut << "\n";
  line() << "for (int j = 0; j < " << nOut << "; ++j) {\n";
  ++indent;
  if (bias && !transposed)
    line() << T << " acc = params[" << bOff << " + j];\n";
  else
    line() << T << " acc = " << literal(0, f32) << ";\n";
  // W[o][i] = params[wOff + o*in + i]; transposed: element (j, i) is W[i][j].
  std::string w = transposed ? "params[" + std::to_string(wOff) + " + q * " +
                                   std::to_string(in) + " + j]"
                             : "params[" + std::to_string(wOff) + " + j * " +
                                   std::to_string(in) + " + q]";
  line() << "#pragma unroll 8\n";
  line() << "for (int q = 0; q < " << nIn << "; ++q)\n";
  line() << "  acc = " << (f32 ? "fmaf(" : "fma(") << w << ", "
         << rowElem(x, "q", noEnv) << ", acc);\n";
  line() << yb << "[j] = acc;\n";
  --indent;
  line() << "}\n";
  rowBuf[y] = yb;
}

void CudaPrinter::emitGradAccum() {
  GroupedGradAccums grouped = groupGradAccums(deferred);
  std::string zero = literal(0, f32);
  // Sum over the components of one gradient entry, a C expression.
  auto sumOf = [&](auto &items, StringRef j, StringRef i) {
    std::string s;
    for (auto &[dy, x] : items) {
      std::string term = rowElem(dy, j, noEnv);
      if (x)
        term += " * " + rowElem(x, i, noEnv);
      s += (s.empty() ? "" : " + ") + term;
    }
    return s.empty() ? zero : s;
  };
  auto entry = [&](auto &items, int64_t off, int64_t count, StringRef what,
                   auto index, auto elemJ, auto elemI) {
    (void)what;
    if (count % 32 == 0) {
      // 32 consecutive entries at a time: a reduce-scatter across the warp
      // (31 shuffles) leaves entry k0 + lane's sum in lane `lane`.
      line() << "for (int k0 = 0; k0 < " << count << "; k0 += 32) {\n";
      line() << "  " << T << " a[32];\n";
      line() << "#pragma unroll\n";
      line() << "  for (int t = 0; t < 32; ++t) {\n";
      line() << "    const int k = k0 + t;\n";
      line() << "    " << index() << "\n";
      line() << "    a[t] = " << sumOf(items, elemJ, elemI) << ";\n";
      line() << "  }\n";
      line() << "  g[" << off << " + k0 + lane] += " << prefix()
             << "_reduce_scatter32(a, lane);\n";
      line() << "}\n";
    } else {
      line() << "for (int k = 0; k < " << count << "; ++k) {\n";
      line() << "  " << index() << "\n";
      line() << "  const " << T << " s = " << prefix() << "_warp_sum("
             << sumOf(items, elemJ, elemI) << ");\n";
      line() << "  if (lane == 0)\n";
      line() << "    g[" << off << " + k] += s;\n";
      line() << "}\n";
    }
  };
  for (LayerGradAccums &g : grouped.weights) {
    auto net = model.lookupSymbol<NetOp>(g.net);
    int64_t in = net.getFanIn(g.layer), outW = net.getFanOut(g.layer);
    int64_t off = layout.offset(g.net, g.layer, false);
    line() << "// dW " << g.net << "[" << g.layer << "] (" << outW << " x "
           << in << "), " << g.items.size() << " component(s)\n";
    std::string inS = std::to_string(in);
    entry(
        g.items, off, outW * in, "weight",
        [&] { return "const int jj = k / " + inS + ", ii = k % " + inS + ";"; },
        "jj", "ii");
  }
  for (LayerGradAccums &g : grouped.biases) {
    auto net = model.lookupSymbol<NetOp>(g.net);
    int64_t outW = net.getFanOut(g.layer);
    int64_t off = layout.offset(g.net, g.layer, true);
    line() << "// db " << g.net << "[" << g.layer << "] (" << outW << "), "
           << g.items.size() << " component(s)\n";
    entry(
        g.items, off, outW, "bias",
        [&] { return std::string("const int jj = k;"); }, "jj", "ii");
  }
}

LogicalResult CudaPrinter::print(raw_ostream &os) {
  lossGrad = kernel.getKind() == "loss_grad";
  Block &blk = kernel.getBody().front();
  std::string name = prefix() + "_" + cName(kernel.getSymName());

  // Constant rows: splats become literals, others per-thread const arrays.
  for (Operation &op : blk) {
    if (!isConstRow(&op))
      continue;
    auto c = cast<arith::ConstantOp>(op);
    auto dense = cast<DenseElementsAttr>(c.getValue());
    if (dense.isSplat()) {
      rowSplat[c] =
          literal(dense.getSplatValue<APFloat>().convertToDouble(), f32);
      continue;
    }
    std::string cn = "c" + std::to_string(constDecls.size());
    std::string decl =
        "const " + T + " " + cn + "[" + std::to_string(rowWidth(c)) + "] = {";
    for (auto [i, v] : llvm::enumerate(dense.getValues<APFloat>()))
      decl += (i ? ", " : "") + literal(v.convertToDouble(), f32);
    constDecls.push_back(decl + "};");
    rowBuf[c] = cn;
    constRows.insert(c);
  }

  KernelSchedule schedule(blk, isConstRow);

  indent = lossGrad ? 2 : 1;
  for (auto [c, arg] : llvm::enumerate(blk.getArguments())) {
    std::string a = "x" + std::to_string(c);
    line() << "const " << T << " " << a << " = pts[" << c << " * ld + p];\n";
    scalars[arg] = a;
  }
  KernelSchedule::Emitter emitter;
  emitter.scalar = [&](Operation *op) { return emitScalarOp(op); };
  emitter.group = [&](ArrayRef<Operation *> group, int) { emitGroup(group); };
  emitter.matvec = [&](const KernelSchedule::Matvec &mv) {
    emitMatvec(mv.x, mv.y, mv.net, mv.layer, mv.bias, mv.transposed);
  };
  emitter.defer = [&](Operation *op) { deferred.push_back(op); };
  emitter.release = [&](int position) { releaseDead(position, schedule); };
  if (failed(schedule.emit(emitter)))
    return failure();
  if (lossGrad) {
    line() << "// the gradient of this tile, summed over its 32 points\n";
    emitGradAccum();
  } else {
    for (auto [k, v] : llvm::enumerate(blk.getTerminator()->getOperands()))
      line() << "out[" << k << " * ld + p] = " << scalarOf(v) << ";\n";
  }

  // Now the function around the body.
  std::string rowsDecl;
  for (auto &[an, w, isBool] : arrays)
    rowsDecl += "  " + std::string(isBool ? "bool" : T) + " " + an + "[" +
                std::to_string(w) + "];\n";
  for (auto &d : constDecls)
    rowsDecl += "  " + d + "\n";
  os << "// kernel " << kernel.getSymName() << " (" << kernel.getKind()
     << "): " << arrays.size() << " row arrays\n";
  if (!lossGrad) {
    os << "extern \"C\" __global__ void " << name << "(const " << T
       << " *__restrict__ params, const " << T
       << " *__restrict__ pts, long long ld, long long n, const " << T
       << " *__restrict__ rt, " << T << " *__restrict__ out) {\n";
    os << "  const long long i = (long long)blockIdx.x * blockDim.x + "
          "threadIdx.x;\n";
    os << "  if (i >= n)\n    return;\n";
    os << "  const long long p = i;\n";
    os << rowsDecl << bodyText << "}\n\n";
    return success();
  }
  int64_t np = layout.size;
  os << "extern \"C\" __global__ void __launch_bounds__(32) " << name
     << "(const " << T << " *__restrict__ params, const " << T
     << " *__restrict__ pts, long long ld, long long n, const " << T
     << " *__restrict__ rt, " << T << " *__restrict__ block_loss, " << T
     << " *__restrict__ block_grad) {\n";
  os << "  const int lane = threadIdx.x & 31;\n";
  os << "  " << T << " *__restrict__ g = block_grad + (long long)blockIdx.x * "
     << np << ";\n";
  os << "  for (int k = lane; k < " << np << "; k += 32)\n";
  os << "    g[k] = " << literal(0, f32) << ";\n";
  os << "  if (lane == 0)\n    block_loss[blockIdx.x] = " << literal(0, f32)
     << ";\n";
  os << "  __syncwarp();\n";
  os << rowsDecl;
  os << "  const long long ntiles = (n + 31) / 32;\n";
  os << "  for (long long tile = blockIdx.x; tile < ntiles; tile += "
        "gridDim.x) {\n";
  os << "    const long long i = tile * 32 + lane;\n";
  os << "    const long long p = i < n ? i : n - 1;\n";
  os << bodyText;
  os << "  }\n}\n\n";
  return success();
}

} // namespace

int physc::emitCUDA(const std::string &file, const std::string &precision) {
  DialectRegistry registry;
  registerPhyscDialects(registry);
  MLIRContext ctx(registry);
  CodegenOptions options;
  options.precision = precision;
  OwningOpRef<ModuleOp> module =
      loadAndLower(file, ctx, Stage::Adjoint, options);
  if (!module)
    return 1;
  std::optional<std::string> text = cudaSource(*module, precision, file);
  if (!text)
    return 1;
  llvm::outs() << *text;
  return 0;
}

std::optional<std::string> physc::cudaSource(ModuleOp module,
                                             const std::string &precision,
                                             StringRef file) {
  bool f32 = precision == "f32";
  std::string T = f32 ? "float" : "double";

  std::string text;
  llvm::raw_string_ostream os(text);
  for (ModelOp model : module.getOps<ModelOp>()) {
    ParamLayout layout(model);
    std::string m = cName(model.getSymName());
    Block &body = model.getBody().front();
    SmallVector<std::string> coords, terms, termKernels;
    SmallVector<double> weights;
    for (CoordOp c : model.getCoords())
      coords.push_back(c.getSymName().str());
    for (EquationOp eq : body.getOps<EquationOp>()) {
      terms.push_back(eq.getSymName().str());
      termKernels.push_back(m + "_" + cName(eq.getSymName()) + "_loss_grad");
      weights.push_back(eq.getWeight().convertToDouble());
    }
    SmallVector<std::pair<std::string, double>> rts;
    for (ParamOp p : body.getOps<ParamOp>())
      rts.push_back({p.getSymName().str(), p.getValue().convertToDouble()});

    auto list = [](ArrayRef<std::string> xs) {
      std::string s;
      for (auto &x : xs)
        s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    os << "// Generated by `physc emit cuda` from " << file << " (precision "
       << precision << "). Do not edit.\n"
       << "//\n"
       << "// Kernel ABI of model " << model.getSymName() << "\n"
       << "//   T = " << T << "; numParams = " << layout.size << "; coords ("
       << coords.size() << ") = " << list(coords) << "\n"
       << "//   params: nets in order, per layer the weight row-major "
          "(fanOut x fanIn), then the bias\n"
       << "//   points: SoA, coordinate c of point i at pts[c * ld + i]\n"
       << "//   runtime params rt (" << rts.size() << "):";
    for (auto &[n, v] : rts)
      os << " " << n << "=" << v;
    os << "\n//   terms (loss = sum_t weight_t * loss_t, loss_t = sum of "
          "squared residuals):\n";
    for (size_t t = 0; t < terms.size(); ++t)
      os << "//     " << terms[t] << ": " << termKernels[t] << ", weight "
         << weights[t] << "\n";
    os << "//   loss_grad kernels: blockDim.x = 32 (one warp), any gridDim.x "
          "(grid-stride over\n"
       << "//     tiles of 32 points; suggested min(ceil(n/32), 4 * SMs)); "
          "block_loss[gridDim.x],\n"
       << "//     block_grad[gridDim.x * numParams]: each block writes its "
          "own slice (zeroed by it)\n"
       << "//   " << m
       << "_reduce(block_vals, blocks, count, out): out[k] = "
          "sum_b block_vals[b * count + k];\n"
       << "//     one thread per k (suggested blockDim 256); use count 1 for "
          "the loss, numParams for the grad\n"
       << "//   eval/jets kernels: one thread per point, out[k * ld + i]; "
          "any blockDim (suggested 128)\n\n";

    os << "typedef " << T << " " << m << "_real;\n"
       << "static const long long " << m << "_num_params = " << layout.size
       << ";\n"
       << "static const int " << m << "_num_coords = " << coords.size()
       << ";\n";
    auto strs = [](ArrayRef<std::string> xs) {
      std::string s;
      for (auto &x : xs)
        s += (s.empty() ? "\"" : ", \"") + x + "\"";
      return s.empty() ? std::string("0") : s;
    };
    os << "static const char *const " << m << "_coord_names[] = {"
       << strs(coords) << "};\n"
       << "static const int " << m << "_num_terms = " << terms.size() << ";\n"
       << "static const char *const " << m << "_term_names[] = {" << strs(terms)
       << "};\n"
       << "static const char *const " << m << "_term_kernel_names[] = {"
       << strs(termKernels) << "};\n"
       << "static const double " << m << "_term_weights[] = {";
    for (size_t t = 0; t < weights.size(); ++t)
      os << (t ? ", " : "") << literal(weights[t], false);
    if (weights.empty())
      os << "0";
    os << "};\n"
       << "static const int " << m << "_num_runtime_params = " << rts.size()
       << ";\n"
       << "static const int " << m << "_loss_grad_block = 32;\n"
       << "static const int " << m << "_points_per_tile = 32;\n"
       << "static const int " << m << "_blocks_per_sm = 4;\n"
       << "static const int " << m << "_reduce_block = 256;\n"
       << "static const int " << m << "_eval_block = 128;\n\n";

    os << "static __device__ __forceinline__ " << T << " " << m << "_warp_sum("
       << T << " v) {\n"
       << "#pragma unroll\n"
       << "  for (int s = 16; s >= 1; s >>= 1)\n"
       << "    v += __shfl_xor_sync(0xffffffffu, v, s);\n"
       << "  return v;\n}\n\n"
       << "// Lane l returns sum over the warp's lanes of a[l] (31 "
          "shuffles).\n"
       << "static __device__ __forceinline__ " << T << " " << m
       << "_reduce_scatter32(" << T << " (&a)[32], int lane) {\n"
       << "#pragma unroll\n"
       << "  for (int s = 16; s >= 1; s >>= 1) {\n"
       << "    const bool upper = (lane & s) != 0;\n"
       << "#pragma unroll\n"
       << "    for (int k = 0; k < s; ++k) {\n"
       << "      const " << T << " send = upper ? a[k] : a[k + s];\n"
       << "      const " << T << " keep = upper ? a[k + s] : a[k];\n"
       << "      a[k] = keep + __shfl_xor_sync(0xffffffffu, send, s);\n"
       << "    }\n  }\n  return a[0];\n}\n\n";

    for (KernelOp k : body.getOps<KernelOp>()) {
      CudaPrinter p(k, model, layout, f32);
      if (failed(p.print(os)))
        return std::nullopt;
    }

    os << "extern \"C\" __global__ void " << m << "_reduce(const " << T
       << " *__restrict__ block_vals, long long blocks, long long count, " << T
       << " *__restrict__ out) {\n"
       << "  const long long k = (long long)blockIdx.x * blockDim.x + "
          "threadIdx.x;\n"
       << "  if (k >= count)\n    return;\n"
       << "  " << T << " s = " << literal(0, f32) << ";\n"
       << "  for (long long b = 0; b < blocks; ++b)\n"
       << "    s += block_vals[b * count + k];\n"
       << "  out[k] = s;\n}\n\n";

    // Model-independent names for a host program that includes this file.
    os << "#define PHYSC_MODEL_NAME \"" << model.getSymName() << "\"\n"
       << "#define PHYSC_PRECISION \"" << precision << "\"\n"
       << "typedef " << m << "_real physc_real;\n"
       << "typedef void (*physc_loss_grad_fn)(const physc_real *, const "
          "physc_real *, long long, long long, const physc_real *, physc_real "
          "*, physc_real *);\n"
       << "static const physc_loss_grad_fn physc_term_fns[] = {";
    for (size_t t = 0; t < termKernels.size(); ++t)
      os << (t ? ", " : "") << termKernels[t];
    if (termKernels.empty())
      os << "0";
    os << "};\n"
       << "#define PHYSC_NUM_PARAMS " << m << "_num_params\n"
       << "#define PHYSC_NUM_TERMS " << m << "_num_terms\n"
       << "#define PHYSC_NUM_COORDS " << m << "_num_coords\n"
       << "#define PHYSC_TERM_NAMES " << m << "_term_names\n"
       << "#define PHYSC_TERM_KERNEL_NAMES " << m << "_term_kernel_names\n"
       << "#define PHYSC_NUM_RUNTIME_PARAMS " << m << "_num_runtime_params\n"
       << "#define PHYSC_REDUCE " << m << "_reduce\n";
  }
  return text;
}
