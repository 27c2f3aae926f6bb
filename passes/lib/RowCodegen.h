//===- RowCodegen.h - Shared lowering of a kernel body ----------*- C++ -*-===//
//
// Part of physc. phys-fuse-kernels (CPU: `lanes` points in vector lanes) and
// phys-kernels-to-gpu (GPU: one point per thread, in scalar registers) lower
// a stage-3 kernel body the same way: scalars map to registers, rows to
// W-long scratch arrays that are recycled after their last reader, runs of
// elementwise row ops to one loop over W, matvecs to loops over the layer's
// weights, and gradient accumulations are deferred to the end of the body.
// RowCodegen owns that lowering; the passes derive from it, supply the few
// hooks in which a vector of lanes and a scalar register differ, and build
// what surrounds the body (the function, the tile or point loop, the final
// reduction).
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_PASSES_ROWCODEGEN_H
#define PHYSC_PASSES_ROWCODEGEN_H

#include "physc/Transforms/KernelSchedule.h"
#include "physc/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace physc {

/// The element type named by a pass's `precision` option (f32 or f64); an
/// error on `module` otherwise.
mlir::FailureOr<mlir::FloatType> parsePrecision(mlir::ModuleOp module,
                                                llvm::StringRef precision);

/// Row constants whose elements are all equal: they are hoisted to one
/// register each instead of being given storage.
bool isSplatConst(mlir::Operation *op);

/// Lowers one phys.kernel body into the function a derived generator has
/// begun. The hooks are virtual rather than CRTP: they run once per emitted
/// op at compile time, and virtual calls keep the shared code out of the
/// header.
class RowCodegen {
public:
  virtual ~RowCodegen() = default;

protected:
  RowCodegen(phys::KernelOp kernel, mlir::FloatType elt);

  //===--- Hooks: where a vector of lanes and a scalar register differ ---===//

  /// A real constant, one register (a splat vector on the CPU).
  virtual mlir::Value constant(double v) = 0;
  /// An i1 constant; null when it cannot be expressed (an error).
  virtual mlir::Value boolConstant(mlir::arith::ConstantOp c) = 0;
  /// A scalar loaded from memory (a param, a weight), as a register.
  virtual mlir::Value broadcast(mlir::Value scalar) = 0;
  /// Column `c` of the SoA point array at the current point(s).
  virtual mlir::Value pointColumn(int64_t c) = 0;
  /// Stores `v` to column `c` of the SoA output at the current point(s).
  virtual void storePointColumn(int64_t c, mlir::Value v) = 0;
  /// phys.mask: zero where there is no point.
  virtual mlir::Value mask(mlir::Value v) = 0;
  /// x * y + z: vector.fma on the CPU; on the GPU a contractable mulf/addf,
  /// as convert-gpu-to-nvvm cannot lower math.fma in LLVM 19.
  virtual mlir::Value fma(mlir::Value x, mlir::Value y, mlir::Value z) = 0;
  /// The register type of a value whose element type is `elt`.
  virtual mlir::Type registerType(mlir::Type elt) = 0;
  /// The element type of the scratch array that holds row `row`.
  virtual mlir::Type rowStorageType(mlir::Value row) = 0;
  /// How an op that cannot be lowered is reported (tests check the text).
  virtual llvm::StringRef unsupportedMessage() = 0;
  /// Outputs of a matvec computed together: each x[i] is loaded once for
  /// all of them, and their weights sit side by side in W (for W^T x) or
  /// in rows a load can read several of at once (for W x). 1 by default.
  virtual int64_t matvecBlock() { return 1; }
  /// Byte alignment of scratch rows (0: the element type's). Rows aligned
  /// to 16 bytes let a GPU read four f32 of a row with one vector load.
  virtual int64_t rowAlignment() { return 0; }
  /// Whether a layer's gradient accumulations run where the last of them
  /// stands (emitGradAccum on just that layer's), so that their dy and x
  /// rows die there, rather than all at the end of the body.
  virtual bool eagerGradAccums() { return false; }
  /// How many matvecs of one layer and direction the schedule may put
  /// together (KernelSchedule::fusedWith); emitMatvec is then called for
  /// the first of each group only, and computes all of them. 1 by default.
  virtual int64_t fusedMatvecs() { return 1; }
  /// phys.accum_param_grad of the param at layout offset `offset`: by
  /// default gradAcc[gradBase + offset] += v.
  virtual void accumParamGrad(int64_t offset, mlir::Value v);
  /// The deferred phys.accum_weight_grad / accum_bias_grad of one point (or
  /// tile), at the end of the body: by default one pass over each layer's
  /// dW and db in gradAcc. The GPU reduces them across the block instead.
  virtual void emitGradAccum();
  /// phys.accum_loss: by default lossAcc[0] += v.
  virtual void accumLoss(mlir::Value v);

  //===--- Rows: where they live ------------------------------------===//
  // By default a row is a W-long scratch array (rowBuf) and a run of
  // elementwise row ops one loop over it. The GPU's lane-split loss kernels
  // override these to spread each row over the lanes that share a point.

  /// A non-splat constant row `c` (e.g. a unit direction).
  virtual void emitConstRow(mlir::arith::ConstantOp c,
                            mlir::DenseElementsAttr dense);
  /// tensor.extract: element `i` of `row`, as a scalar register.
  virtual mlir::Value emitExtract(mlir::Value row, mlir::Value i);
  /// tensor.from_elements: row `row` made of the registers `elems`.
  virtual void emitFromElements(mlir::Value row,
                                llvm::ArrayRef<mlir::Value> elems);
  /// A run of elementwise row ops of one width, `last` the position of its
  /// last op.
  virtual void emitGroup(llvm::ArrayRef<mlir::Operation *> group, int last,
                         const KernelSchedule &schedule);
  /// phys.matvec / phys.matvec_t.
  virtual void emitMatvec(const KernelSchedule::Matvec &mv);
  /// Every row whose last reader is at or before `position` is dead.
  virtual void releaseDead(int position, const KernelSchedule &schedule);

  //===--- The shared lowering ----------------------------------------===//

  /// The symbol of the generated function: MODEL_KERNEL, dots replaced.
  std::string functionName();
  /// The argument types both ABIs begin with: (params, pts, ld, n, rt, out),
  /// memrefs of T and indices.
  llvm::SmallVector<mlir::Type> argumentTypes();
  /// Binds those arguments of the generated function's entry block.
  void bindArguments(mlir::Block *entryBlock);

  mlir::Value idx(int64_t v) {
    return b.create<mlir::arith::ConstantIndexOp>(loc, v);
  }
  /// The register of scalar `v`.
  mlir::Value scalarOf(mlir::Value v);
  /// Element `j` of `row`: from `env` inside a row loop, the register of a
  /// hoisted splat, or a load from its storage.
  mlir::Value rowElem(mlir::Value row, mlir::Value j,
                      llvm::DenseMap<mlir::Value, mlir::Value> &env);
  /// `op` (elementwise) applied to `operands`, with register result types.
  mlir::Operation *cloneElementwise(mlir::Operation *op,
                                    mlir::ValueRange operands);
  /// Sums over i < n: `acc = step(i, acc)` from `init`, unrolled when
  /// n <= 8, else one scf.for carrying the sums, `unroll` i per iteration
  /// (n a multiple of it). Returns the final sums.
  llvm::SmallVector<mlir::Value> emitSumLoop(
      int64_t n, int64_t unroll, llvm::ArrayRef<mlir::Value> init,
      llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                        mlir::ValueRange)>
          step);
  /// Hoists the splat row constants of `body` to registers at the current
  /// insertion point.
  void hoistSplatConstants(mlir::Block &body);
  /// Lowers `body` (but its yield) at the current insertion point; at the
  /// end, a loss kernel accumulates its deferred gradients, an eval kernel
  /// stores its outputs.
  mlir::LogicalResult emitBody(mlir::Block &body);

  phys::KernelOp kernel;
  phys::ModelOp model;
  phys::ParamLayout layout;
  mlir::FloatType T;
  mlir::OpBuilder b;
  mlir::Location loc;
  llvm::StringMap<int> rtIndex; ///< non-trainable param => index in rt

  /// Function arguments shared by both ABIs.
  mlir::Value params, pts, ld, n, rt, out;
  /// Where the loss and the gradient are accumulated; gradient entry k lives
  /// at gradAcc[gradBase + k].
  mlir::Value lossAcc, gradAcc;
  int64_t gradBase = 0;
  /// The schedule emitBody walks, while it walks it.
  const KernelSchedule *schedule = nullptr;
  /// Where scratch arrays are allocated: in front of all their users.
  mlir::OpBuilder::InsertPoint entry;

  llvm::DenseMap<mlir::Value, mlir::Value> scalars;  ///< value => register
  llvm::DenseMap<mlir::Value, mlir::Value> rowBuf;   ///< row => scratch
  llvm::DenseMap<mlir::Value, mlir::Value> rowConst; ///< splat row => reg

private:
  mlir::Value allocRow(mlir::Value row);
  void freeRow(mlir::Value row);
  mlir::LogicalResult emitScalarOp(mlir::Operation *op);

  /// Released scratch arrays by (width, element type), reused before new
  /// ones are allocated.
  llvm::DenseMap<std::pair<int64_t, mlir::Type>, llvm::SmallVector<mlir::Value>>
      freeRows;

protected:
  llvm::SmallVector<mlir::Operation *> deferred; ///< gradient accumulations
};

} // namespace physc

#endif // PHYSC_PASSES_ROWCODEGEN_H
