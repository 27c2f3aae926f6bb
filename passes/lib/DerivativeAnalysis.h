//===- DerivativeAnalysis.h - Which jet components each value needs -*- C++
//-*-===//
//
// Part of physc. Taylor-mode expansion only computes the coefficients that
// some derivative actually reads; this analysis finds them. A multi-index
// counts how often each model coordinate is differentiated; every set is
// downward closed, which makes truncated products and compositions over it
// exact.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_DERIVATIVEANALYSIS_H
#define PHYSC_PASSES_DERIVATIVEANALYSIS_H

#include "physc/Dialect/Phys/PhysOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <map>
#include <vector>

namespace physc {

using MultiIndex = llvm::SmallVector<int, 4>;

/// A downward-closed set of multi-indices, ordered by total degree then
/// lexicographically, so that index 0 is always the value itself.
class IndexSet {
public:
  IndexSet() = default;
  explicit IndexSet(unsigned dims) : dims(dims) {}
  static IndexSet value(unsigned dims);

  unsigned getDims() const { return dims; }
  size_t size() const { return items.size(); }
  bool empty() const { return items.empty(); }
  const MultiIndex &operator[](size_t i) const { return items[i]; }
  const std::vector<MultiIndex> &getItems() const { return items; }
  /// Position of `a`, or -1.
  int find(const MultiIndex &a) const;
  bool contains(const MultiIndex &a) const { return find(a) >= 0; }
  int maxDegree() const;

  /// Adds `a` and everything below it.
  void insertClosed(const MultiIndex &a);
  void unite(const IndexSet &other);
  /// { a + shift : a in this }, closed.
  IndexSet shifted(const MultiIndex &shift) const;

  bool operator==(const IndexSet &o) const { return items == o.items; }

private:
  void insertOne(const MultiIndex &a);
  unsigned dims = 0;
  std::vector<MultiIndex> items;
};

int degree(const MultiIndex &a);
/// a! = prod a_i!
double factorial(const MultiIndex &a);

/// The derivative analysis of one pointwise body (a phys.kernel). Seeds:
/// every yielded value and every `phys.accum_loss` operand needs {0}.
class DerivativeAnalysis {
public:
  DerivativeAnalysis(phys::KernelOp kernel);
  /// The set a value needs; empty when the value is dead for the kernel.
  const IndexSet &get(mlir::Value v) const;
  unsigned getDims() const { return dims; }
  /// Multi-index of `phys.d`'s `wrt` list.
  MultiIndex wrtIndex(phys::DOp op) const;

private:
  unsigned dims;
  mutable phys::ModelOp model;
  llvm::DenseMap<mlir::Value, IndexSet> sets;
  IndexSet emptySet;
};

} // namespace physc

#endif // PHYSC_PASSES_DERIVATIVEANALYSIS_H
