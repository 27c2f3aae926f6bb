//===- KernelSchedule.h - The emission order of a kernel body ---*- C++ -*-===//
//
// Part of physc. The code generators (phys-fuse-kernels for the CPU,
// phys-kernels-to-gpu and `physc emit cuda`) walk a kernel body the same way:
// gradient accumulations are deferred to the end of a tile, runs of
// elementwise row ops become one loop over the row, scalar ops met inside
// such a run are hoisted in front of it, and a row's storage is released
// after its last reader. This class owns that walk; the generators only say
// how to emit each piece.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TRANSFORMS_KERNELSCHEDULE_H
#define PHYSC_TRANSFORMS_KERNELSCHEDULE_H

#include "physc/Dialect/Phys/PhysOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <functional>
#include <optional>
#include <string>

namespace physc {

/// A row: one jet component of a layer, `tensor<W x f64>`.
bool isRow(mlir::Value v);
int64_t rowWidth(mlir::Value v);
/// Ops that act element by element (and lane by lane): they can be cloned
/// onto vectors or printed per element unchanged.
bool isElementwise(mlir::Operation *op);
/// phys.accum_weight_grad / phys.accum_bias_grad.
bool isGradAccum(mlir::Operation *op);

/// The deferred gradient accumulations of one layer's weights or biases.
struct LayerGradAccums {
  std::string net;
  int64_t layer;
  /// (dy, x) per accumulation; x is null for a bias.
  llvm::SmallVector<std::pair<mlir::Value, mlir::Value>> items;
};
struct GroupedGradAccums {
  llvm::SmallVector<LayerGradAccums> weights, biases;
};
/// Groups phys.accum_weight_grad / phys.accum_bias_grad by (net, layer), in
/// (net, layer) order: a generator then makes one pass over a layer's dW (or
/// db) that accumulates every jet component, instead of one per component.
GroupedGradAccums groupGradAccums(llvm::ArrayRef<mlir::Operation *> accums);

class KernelSchedule {
public:
  /// Schedules the ops of `body` (but its terminator) for which `skip` is
  /// false; skipped ops (hoisted constants) are the generator's business.
  /// With `eagerGradAccums`, the gradient accumulations of one layer's
  /// weights (or biases) run where the last of them stands, instead of at
  /// the end of the tile, so their rows die there. With `fuseMatvecs` > 1,
  /// up to that many matvecs of one layer and direction are scheduled
  /// together (fusedWith): each later one is moved up to the first, with
  /// the ops its input needs that have not run yet, as long as those
  /// include no matvec. The jets then push all components of a layer's row
  /// through W at once, instead of one derivative direction after another.
  KernelSchedule(mlir::Block &body,
                 llvm::function_ref<bool(mlir::Operation *)> skip,
                 bool eagerGradAccums = false, int64_t fuseMatvecs = 1);

  /// Position of the last reader of row `v`; readers that run at the end
  /// of a tile (the yield, gradient accumulations unless eager) count as
  /// after every op.
  int lastUse(mlir::Value v) const { return lastUses.lookup(v); }
  /// With eager accumulations: whether `accum` is the last of its layer's
  /// weight (or bias) accumulations, where they all run.
  bool closesGradGroup(mlir::Operation *accum) const {
    return groupClosers.contains(accum);
  }
  /// With `fuseMatvecs` > 1: the matvecs scheduled with matvec `op`, `op`
  /// first, when it leads a group of two or more; empty otherwise. The
  /// others of a group are not passed to Emitter::matvec.
  llvm::ArrayRef<mlir::Operation *> fusedWith(mlir::Operation *op) const {
    auto it = fusedGroups.find(op);
    return it == fusedGroups.end() ? llvm::ArrayRef<mlir::Operation *>()
                                   : llvm::ArrayRef(it->second);
  }

  /// phys.matvec (y = W x, plus the layer's bias when `bias`) or
  /// phys.matvec_t (y = W^T x, `transposed`), with its operands decoded.
  struct Matvec {
    mlir::Operation *op;
    mlir::Value x, y;
    llvm::StringRef net;
    int64_t layer;
    bool bias, transposed;
  };
  /// `op` decoded, if it is a phys.matvec or phys.matvec_t.
  static std::optional<Matvec> decodeMatvec(mlir::Operation *op);

  /// What to emit for each piece (owning callables: an Emitter is filled
  /// in field by field from lambdas).
  struct Emitter {
    /// A scalar op (also those hoisted out of a run of row ops).
    std::function<mlir::LogicalResult(mlir::Operation *)> scalar;
    /// A run of elementwise row ops of one width: one loop. `last` is the
    /// position of its last op: rows whose last reader is at or before it
    /// die in the loop (an output may take the storage of such an input).
    std::function<void(llvm::ArrayRef<mlir::Operation *>, int last)> group;
    /// phys.matvec or phys.matvec_t.
    std::function<void(const Matvec &)> matvec;
    /// A gradient accumulation, to be emitted at the end of the tile.
    std::function<void(mlir::Operation *)> defer;
    /// Every row whose last reader is at or before `position` is dead.
    std::function<void(int position)> release;
  };
  mlir::LogicalResult emit(const Emitter &e) const;

private:
  llvm::SmallVector<mlir::Operation *> ops;
  llvm::DenseMap<mlir::Value, int> lastUses;
  llvm::DenseSet<mlir::Operation *> groupClosers;
  llvm::DenseMap<mlir::Operation *, llvm::SmallVector<mlir::Operation *>>
      fusedGroups;
  llvm::DenseSet<mlir::Operation *> fusedFollowers;
};

} // namespace physc

#endif // PHYSC_TRANSFORMS_KERNELSCHEDULE_H
