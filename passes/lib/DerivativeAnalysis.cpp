//===- DerivativeAnalysis.cpp - Which jet components each value needs -----===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "DerivativeAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>

using namespace mlir;
using namespace physc;

int physc::degree(const MultiIndex &a) {
  int d = 0;
  for (int x : a)
    d += x;
  return d;
}

double physc::factorial(const MultiIndex &a) {
  double f = 1;
  for (int x : a)
    for (int k = 2; k <= x; ++k)
      f *= k;
  return f;
}

static bool lessIndex(const MultiIndex &a, const MultiIndex &b) {
  int da = degree(a), db = degree(b);
  if (da != db)
    return da < db;
  // Higher powers of earlier coordinates first: (1,0) before (0,1).
  return std::lexicographical_compare(b.begin(), b.end(), a.begin(), a.end());
}

IndexSet IndexSet::value(unsigned dims) {
  IndexSet s(dims);
  s.insertOne(MultiIndex(dims, 0));
  return s;
}

int IndexSet::find(const MultiIndex &a) const {
  auto it = std::lower_bound(items.begin(), items.end(), a, lessIndex);
  if (it != items.end() && *it == a)
    return it - items.begin();
  return -1;
}

int IndexSet::maxDegree() const {
  return items.empty() ? -1 : degree(items.back());
}

void IndexSet::insertOne(const MultiIndex &a) {
  auto it = std::lower_bound(items.begin(), items.end(), a, lessIndex);
  if (it == items.end() || *it != a)
    items.insert(it, a);
}

void IndexSet::insertClosed(const MultiIndex &a) {
  if (contains(a))
    return;
  insertOne(a);
  for (unsigned i = 0; i < a.size(); ++i) {
    if (a[i] == 0)
      continue;
    MultiIndex b = a;
    --b[i];
    insertClosed(b);
  }
}

void IndexSet::unite(const IndexSet &other) {
  if (dims == 0)
    dims = other.dims;
  for (const MultiIndex &a : other.items)
    insertClosed(a);
}

IndexSet IndexSet::shifted(const MultiIndex &shift) const {
  IndexSet s(dims);
  for (const MultiIndex &a : items) {
    MultiIndex b = a;
    for (unsigned i = 0; i < dims; ++i)
      b[i] += shift[i];
    s.insertClosed(b);
  }
  return s;
}

DerivativeAnalysis::DerivativeAnalysis(phys::KernelOp kernel) {
  model = kernel->getParentOfType<phys::ModelOp>();
  dims = model.getCoords().size();
  emptySet = IndexSet(dims);
  Block &body = kernel.getBody().front();
  auto need = [&](Value v, const IndexSet &s) {
    auto it = sets.find(v);
    if (it == sets.end())
      sets[v] = s;
    else
      it->second.unite(s);
  };
  // SSA order inside one block: every user comes after its definition, so
  // one backward walk sees all uses of a value before the value's op.
  for (Operation &op : llvm::reverse(body)) {
    if (isa<phys::YieldOp, phys::AccumLossOp>(op)) {
      for (Value v : op.getOperands())
        need(v, IndexSet::value(dims));
      continue;
    }
    IndexSet result(dims);
    for (Value r : op.getResults()) {
      auto it = sets.find(r);
      if (it != sets.end())
        result.unite(it->second);
    }
    if (result.empty())
      continue;
    if (auto d = dyn_cast<phys::DOp>(op)) {
      need(d.getOperand(), result.shifted(wrtIndex(d)));
      continue;
    }
    // Non-smooth predicates (cmpf, select's condition) only need values.
    for (Value v : op.getOperands()) {
      if (v.getType().isInteger(1) || v.getType().isIndex() ||
          isa<arith::CmpFOp>(op))
        need(v, IndexSet::value(dims));
      else
        need(v, result);
    }
  }
}

const IndexSet &DerivativeAnalysis::get(Value v) const {
  auto it = sets.find(v);
  return it == sets.end() ? emptySet : it->second;
}

MultiIndex DerivativeAnalysis::wrtIndex(phys::DOp op) const {
  MultiIndex a(dims, 0);
  for (auto ref : op.getWrt().getAsRange<FlatSymbolRefAttr>())
    ++a[model.coordIndex(ref.getValue())];
  return a;
}
