//===- PhysOps.cpp - Verifiers and helpers of the phys ops ----------------===//
//
// Part of physc. Verifiers check what the type system cannot: symbol
// references resolve to the right kind of op, body arities match the
// coordinates, layer shapes match the net.
//
//===----------------------------------------------------------------------===//

#include "physc/Dialect/Phys/PhysOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace physc::phys;

#define GET_OP_CLASSES
#include "physc/Dialect/Phys/PhysOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static ModelOp getModel(Operation *op) {
  if (auto m = dyn_cast<ModelOp>(op))
    return m;
  return op->getParentOfType<ModelOp>();
}

SmallVector<CoordOp> ModelOp::getCoords() {
  SmallVector<CoordOp> coords;
  for (auto c : getBody().front().getOps<CoordOp>())
    coords.push_back(c);
  return coords;
}

int ModelOp::coordIndex(StringRef name) {
  int i = 0;
  for (auto c : getBody().front().getOps<CoordOp>()) {
    if (c.getSymName() == name)
      return i;
    ++i;
  }
  return -1;
}

/// Checks that `body` takes one f64 per coordinate of `coords` and that the
/// coordinates exist.
static LogicalResult verifyCoordBody(Operation *op, Region &body,
                                     ArrayRef<StringRef> coordNames) {
  ModelOp model = getModel(op);
  if (!model)
    return op->emitOpError("must be inside a phys.model");
  Block &block = body.front();
  if (block.getNumArguments() != coordNames.size())
    return op->emitOpError("body takes ")
           << block.getNumArguments() << " arguments but there are "
           << coordNames.size() << " coordinates";
  for (auto [i, name] : llvm::enumerate(coordNames)) {
    if (model.coordIndex(name) < 0)
      return op->emitOpError("unknown coordinate @") << name;
    if (!block.getArgument(i).getType().isF64())
      return op->emitOpError("coordinate argument #") << i << " must be f64";
  }
  return success();
}

static SmallVector<StringRef> allCoordNames(ModelOp model) {
  SmallVector<StringRef> names;
  for (CoordOp c : model.getCoords())
    names.push_back(c.getSymName());
  return names;
}

static LogicalResult verifyYieldsF64(Operation *op, Region &body,
                                     int expected) {
  // Not getTerminator(): the block may be empty or end in a non-terminator.
  Block &block = body.front();
  auto yield = block.empty() ? YieldOp() : dyn_cast<YieldOp>(block.back());
  if (!yield)
    return op->emitOpError("body must end with phys.yield");
  if (expected >= 0 && (int)yield.getValues().size() != expected)
    return op->emitOpError("body must yield ")
           << expected << " value(s), got " << yield.getValues().size();
  for (Value v : yield.getValues())
    if (!v.getType().isF64())
      return op->emitOpError("body must yield f64 values");
  return success();
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult CoordOp::verify() {
  if (getKind() != "space" && getKind() != "time" && getKind() != "input")
    return emitOpError("kind must be \"space\", \"time\" or \"input\", got \"")
           << getKind() << "\"";
  if (!(getLo().convertToDouble() < getHi().convertToDouble()))
    return emitOpError("range is empty: [") << getLo().convertToDouble() << ", "
                                            << getHi().convertToDouble() << "]";
  return success();
}

LogicalResult NetOp::verify() {
  if (getKind() != "mlp" && getKind() != "resnet" && getKind() != "siren" &&
      getKind() != "modified_mlp")
    return emitOpError("unknown kind \"") << getKind() << "\"";
  if (getW0().has_value() != (getKind() == "siren"))
    return emitOpError("w0 is required exactly for siren nets");
  if (getW0() && !(getW0()->convertToDouble() > 0))
    return emitOpError("w0 must be positive");
  // I64Attr getters are unsigned: compare as signed so that -1 is caught.
  if ((int64_t)getIn() < 1 || (int64_t)getOut() < 1)
    return emitOpError("in and out must be positive");
  for (int64_t w : getHidden())
    if (w < 1)
      return emitOpError("hidden widths must be positive");
  // (1 - z_l) U + z_l V mixes rows of the encoders' width into every layer.
  if (isModifiedMLP() &&
      (getHidden().empty() || llvm::any_of(getHidden(), [&](int64_t w) {
         return w != getHidden()[0];
       })))
    return emitOpError("a modified_mlp needs hidden layers of equal widths");
  static const char *acts[] = {"tanh",  "sin",     "gelu", "softplus",
                               "swish", "sigmoid", "relu"};
  if (!llvm::is_contained(acts, getAct()))
    return emitOpError("unknown activation \"") << getAct() << "\"";
  if (getInit() != "glorot" && getInit() != "he" && getInit() != "siren")
    return emitOpError("unknown init \"") << getInit() << "\"";
  return success();
}

int64_t NetOp::getFanIn(unsigned l) {
  // The encoders of a modified_mlp read the input, like layer 0.
  return l == 0 || l >= getNumStackLayers() ? getIn() : getHidden()[l - 1];
}
int64_t NetOp::getFanOut(unsigned l) {
  if (l >= getNumStackLayers())
    return getHidden()[0];
  return l == getHidden().size() ? getOut() : getHidden()[l];
}
std::string NetOp::getLayerName(unsigned l) {
  if (isModifiedMLP() && l == getEncoderU())
    return "enc_u";
  if (isModifiedMLP() && l == getEncoderV())
    return "enc_v";
  return "layer" + std::to_string(l);
}
int64_t NetOp::getNumParams() {
  int64_t n = 0;
  for (unsigned l = 0; l < getNumLayers(); ++l)
    n += getFanOut(l) * (getFanIn(l) + 1);
  return n;
}

LogicalResult FieldOp::verify() {
  SmallVector<StringRef> names;
  for (auto a : getCoords().getAsRange<FlatSymbolRefAttr>())
    names.push_back(a.getValue());
  if (failed(verifyCoordBody(*this, getBody(), names)))
    return failure();
  return verifyYieldsF64(*this, getBody(), 1);
}

LogicalResult EquationOp::verify() {
  ModelOp model = getModel(*this);
  if (failed(verifyCoordBody(*this, getBody(), allCoordNames(model))))
    return failure();
  if (failed(verifyYieldsF64(*this, getBody(), 1)))
    return failure();
  StringRef kind = getRegionKind();
  if (kind != "interior" && kind != "boundary" && kind != "faces" &&
      kind != "data")
    return emitOpError(
               "region must be interior, boundary, faces or data, got \"")
           << kind << "\"";
  if (getNorm() && *getNorm() != "l1" && *getNorm() != "mse")
    return emitOpError("norm must be \"l1\" or \"mse\", got \"")
           << *getNorm() << "\"";
  if ((kind == "data") != getFile().has_value())
    return emitOpError("a file is required exactly for a \"data\" term");
  if (kind != "data") {
    WalkResult w = getBody().walk([](ObservedOp) {
      return WalkResult::interrupt();
    });
    if (w.wasInterrupted())
      return emitOpError("reads phys.observed outside a \"data\" term");
  }
  ArrayAttr faces =
      getFacesAttr() ? getFacesAttr() : ArrayAttr::get(getContext(), {});
  ArrayAttr restrictions = getRestrictionsAttr()
                               ? getRestrictionsAttr()
                               : ArrayAttr::get(getContext(), {});
  if ((kind == "faces") != !faces.empty())
    return emitOpError("faces are required exactly for a \"faces\" region");
  for (Attribute f : faces) {
    auto pair = dyn_cast<ArrayAttr>(f);
    if (!pair || pair.size() != 2 || !isa<FlatSymbolRefAttr>(pair[0]) ||
        !isa<FloatAttr>(pair[1]))
      return emitOpError("each face must be [@coord, value]");
    if (model.coordIndex(cast<FlatSymbolRefAttr>(pair[0]).getValue()) < 0)
      return emitOpError("face on unknown coordinate ") << pair[0];
  }
  for (Attribute r : restrictions) {
    auto triple = dyn_cast<ArrayAttr>(r);
    if (!triple || triple.size() != 3 || !isa<FlatSymbolRefAttr>(triple[0]))
      return emitOpError("each restriction must be [@coord, lo, hi]");
    if (model.coordIndex(cast<FlatSymbolRefAttr>(triple[0]).getValue()) < 0)
      return emitOpError("restriction of unknown coordinate ") << triple[0];
  }
  if ((int64_t)getSamples() < 1)
    return emitOpError("samples must be positive");
  return success();
}

LogicalResult ExactOp::verify() {
  ModelOp model = getModel(*this);
  if (!model.lookupSymbol<FieldOp>(getField()))
    return emitOpError("unknown field @") << getField();
  if (getFile()) {
    if (!getBody().empty())
      return emitOpError("an exact from a file has an empty body");
    return success();
  }
  if (getBody().empty())
    return emitOpError("needs a body or a file");
  if (failed(verifyCoordBody(*this, getBody(), allCoordNames(model))))
    return failure();
  return verifyYieldsF64(*this, getBody(), 1);
}

LogicalResult DOp::verify() {
  if (getWrt().empty())
    return emitOpError("needs at least one coordinate");
  ModelOp model = getModel(*this);
  if (!model)
    return success();
  for (auto a : getWrt().getAsRange<FlatSymbolRefAttr>())
    if (model.coordIndex(a.getValue()) < 0)
      return emitOpError("derivative with respect to unknown coordinate @")
             << a.getValue();
  return success();
}

LogicalResult KernelOp::verify() {
  ModelOp model = getModel(*this);
  if (failed(verifyCoordBody(*this, getBody(), allCoordNames(model))))
    return failure();
  StringRef kind = getKind();
  if (kind == "loss_grad")
    return verifyYieldsF64(*this, getBody(), 0);
  if (kind != "eval" && kind != "jets")
    return emitOpError("kind must be eval, jets or loss_grad, got \"")
           << kind << "\"";
  return verifyYieldsF64(*this, getBody(), -1);
}

//===----------------------------------------------------------------------===//
// Symbol uses
//===----------------------------------------------------------------------===//

LogicalResult FieldCallOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto field = tables.lookupNearestSymbolFrom<FieldOp>(*this, getFieldAttr());
  if (!field)
    return emitOpError("unknown field ") << getFieldAttr();
  if (field.getCoords().size() != getArgs().size())
    return emitOpError("field ")
           << getFieldAttr() << " takes " << field.getCoords().size()
           << " coordinates, got " << getArgs().size();
  return success();
}

LogicalResult NetCallOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto net = tables.lookupNearestSymbolFrom<NetOp>(*this, getNetAttr());
  if (!net)
    return emitOpError("unknown net ") << getNetAttr();
  if ((int64_t)net.getIn() != (int64_t)getArgs().size())
    return emitOpError("net ") << getNetAttr() << " takes " << net.getIn()
                               << " inputs, got " << getArgs().size();
  if ((int64_t)net.getOut() != (int64_t)getResults().size())
    return emitOpError("net ") << getNetAttr() << " has " << net.getOut()
                               << " outputs, got " << getResults().size();
  return success();
}

LogicalResult
AccumParamGradOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto p = tables.lookupNearestSymbolFrom<ParamOp>(*this, getParamAttr());
  if (!p)
    return emitOpError("unknown param ") << getParamAttr();
  if (!p.getTrainable())
    return emitOpError("param ") << getParamAttr() << " is not trainable";
  return success();
}

LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &tables) {
  if (!tables.lookupNearestSymbolFrom<ParamOp>(*this, getParamAttr()))
    return emitOpError("unknown param ") << getParamAttr();
  return success();
}

/// Checks that `net[layer]` exists and maps `inDim` to `outDim`.
static LogicalResult verifyLayer(Operation *op, SymbolTableCollection &tables,
                                 FlatSymbolRefAttr netRef, int64_t layer,
                                 int64_t inDim, int64_t outDim) {
  auto net = tables.lookupNearestSymbolFrom<NetOp>(op, netRef);
  if (!net)
    return op->emitOpError("unknown net ") << netRef;
  if (layer < 0 || layer >= (int64_t)net.getNumLayers())
    return op->emitOpError("net ") << netRef << " has no layer " << layer;
  if (net.getFanIn(layer) != inDim || net.getFanOut(layer) != outDim)
    return op->emitOpError("layer ")
           << layer << " of " << netRef << " maps " << net.getFanIn(layer)
           << " to " << net.getFanOut(layer) << ", not " << inDim << " to "
           << outDim;
  return success();
}

static int64_t rowLen(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(0);
}

LogicalResult MatvecOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyLayer(*this, tables, getNetAttr(), getLayer(),
                     rowLen(getInput()), rowLen(getResult()));
}
LogicalResult MatvecTOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyLayer(*this, tables, getNetAttr(), getLayer(),
                     rowLen(getResult()), rowLen(getInput()));
}
LogicalResult
AccumWeightGradOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyLayer(*this, tables, getNetAttr(), getLayer(), rowLen(getX()),
                     rowLen(getDy()));
}
LogicalResult AccumBiasGradOp::verifySymbolUses(SymbolTableCollection &tables) {
  auto net = tables.lookupNearestSymbolFrom<NetOp>(*this, getNetAttr());
  if (!net)
    return emitOpError("unknown net ") << getNetAttr();
  int64_t layer = getLayer();
  if (layer < 0 || layer >= (int64_t)net.getNumLayers() ||
      net.getFanOut(layer) != rowLen(getDy()))
    return emitOpError("bias gradient does not match layer ")
           << getLayer() << " of " << getNetAttr();
  return success();
}

//===----------------------------------------------------------------------===//
// ParamLayout
//===----------------------------------------------------------------------===//

ParamLayout::ParamLayout(ModelOp model) {
  for (NetOp net : model.getBody().front().getOps<NetOp>()) {
    for (unsigned l = 0; l < net.getNumLayers(); ++l) {
      int64_t rows = net.getFanOut(l), cols = net.getFanIn(l);
      blocks.push_back({net.getSymName().str(), l, false, size, rows, cols});
      size += rows * cols;
      blocks.push_back({net.getSymName().str(), l, true, size, rows, 1});
      size += rows;
    }
  }
  for (ParamOp p : model.getBody().front().getOps<ParamOp>())
    if (p.getTrainable()) {
      blocks.push_back({p.getSymName().str(), 0, false, size, 1, 1, true});
      size += 1;
    }
}

int64_t ParamLayout::paramOffset(StringRef param) const {
  for (const Block &b : blocks)
    if (b.isParam && b.net == param)
      return b.offset;
  return -1;
}

int64_t ParamLayout::offset(StringRef net, unsigned layer, bool bias) const {
  for (const Block &b : blocks)
    if (!b.isParam && b.net == net && b.layer == layer && b.isBias == bias)
      return b.offset;
  llvm_unreachable("no such parameter block");
}
