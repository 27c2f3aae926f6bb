//===- Passes.td - The physc lowering pipeline -------------*- tablegen -*-===//
//
// Part of physc. The stages, in order (physc emit STAGE prints each):
//   1. phys-outline-kernels       model      -> one phys.kernel per use
//   2. phys-annotate-derivatives  (analysis) -> jet index sets, printable
//   3. phys-expand-derivatives    d(), nets  -> Taylor jets over matvec rows
//   4. phys-build-adjoint         loss       -> loss + reverse sweep
//      phys-rematerialize         (same)     -> cheap rows recomputed late
//   5. phys-fuse-kernels          kernels    -> point-loop functions
//   6. phys-to-cpu                functions  -> LLVM dialect, JIT-able
// and, for the GPU, from stage 4's input instead:
//   5'. phys-kernels-to-gpu       kernels    -> gpu.module of gpu.func
//   6'. phys-to-cuda              gpu.module -> NVVM -> PTX (gpu.binary)
//       (with phys-extern-dynamic-shared after the NVVM conversion)
//
//===----------------------------------------------------------------------===//

#ifndef PHYSC_TRANSFORMS_PASSES
#define PHYSC_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def OutlineKernels : Pass<"phys-outline-kernels", "::physc::phys::ModelOp"> {
  let summary = "Clone each pointwise program into a phys.kernel";
  let description = [{
    Creates, inside the model, the kernels the runtime calls:
    - `FIELD_eval` (kind `eval`) for every field, and `EXACT_eval` for every
      exact given by an expression;
    - `EQ_loss_grad` (kind `loss_grad`) for every equation, whose body is the
      residual followed by `phys.accum_loss` of its masked square (of its
      masked absolute value for `norm = "l1"`);
    - `EQ_residual` (kind `eval`) yielding the residual, for every equation
      when training resamples by residual (`resample = "r3"`) or weights
      by causality (`causal_eps`);
    - `EQ_jets` (kind `jets`) for every equation that takes derivatives: for
      each `phys.d %v wrt [a, b, ...]` it yields `v, d(v,a), d(v,a,b), ...`
      with `checks` saying which yield is the derivative of which, so that
      `physc gradcheck` can verify every jet order against finite
      differences of the order below.
    - with `derivatives=true`, `FIELD_derivs` (kind `eval`) for every field:
      `u, d(u,c0), ..., d(u,c0,c0), d(u,c0,c1), ...` over all coordinates
      (first derivatives in coordinate order, then the upper triangle of the
      Hessian row by row), for libraries whose users evaluate derivatives.
    Field calls are inlined: `phys.field_call @u(%x, %t)` => the body of
    `@u` with its arguments replaced.
  }];
  let options = [
    Option<"derivatives", "derivatives", "bool", /*default=*/"false",
           "Also outline FIELD_derivs kernels (value, gradient, Hessian)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def AnnotateDerivatives : Pass<"phys-annotate-derivatives",
                               "::physc::phys::ModelOp"> {
  let summary = "Attach the derivative analysis to every op, for inspection";
  let description = [{
    The derivative analysis walks each kernel backwards and computes, for
    every value, the downward-closed set of multi-indices of its Taylor jet
    that the kernel needs: `phys.d %v wrt [@x, @x]` needing {0} of its result
    needs {(2,0)} + lower of `v`; any other op passes its result's set to
    its operands. This pass writes the sets as `jet = [[0,0],[1,0],...]`
    attributes (multi-indices over the model's coordinates) so tests can see
    them; `phys-expand-derivatives` computes the same analysis itself.
  }];
}

def ExpandDerivatives : Pass<"phys-expand-derivatives",
                             "::physc::phys::ModelOp"> {
  let summary = "Replace phys.d and net calls by Taylor-mode jets";
  let description = [{
    Every value `v` becomes its truncated Taylor coefficients
    c_a = d^a v / a! over the index set of the derivative analysis; then
    - `v + w`, `v - w`        => componentwise;
    - `v * w`                 => (vw)_g = sum_{a+b=g} v_a w_b (Leibniz);
    - `f(v)`                  => sum_k f^(k)(v_0)/k! (v - v_0)^k (Faa di
                                 Bruno), with f^(k) from closed towers:
                                 d(tanh(z)) => (1 - tanh(z)^2) * d(z), ...;
    - `phys.d %v wrt b`       => c_g(d^b v) = c_(g+b)(v) (g+b)!/g!;
    - `phys.net_call @N(...)` => per layer, `phys.matvec` of every jet
                                 component (bias on the value only) and the
                                 activation's composition on whole rows;
                                 siren scales every component by w0 before
                                 the sine, resnet adds the previous layer's
                                 jet (h_l += h_{l-1}) where widths match.
    Derivative components are shared, not recomputed: each coefficient is
    one SSA value, products of known-zero components are never built, and
    CSE merges the rest.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def BuildAdjoint : Pass<"phys-build-adjoint", "::physc::phys::ModelOp"> {
  let summary = "Append the reverse sweep for the parameter gradient";
  let description = [{
    In every `loss_grad` kernel, seeds d(loss)/d(r^2) = 1 at each
    `phys.accum_loss` and walks the jet program backwards, op by op:
      d(a * b)          => da += dr * b,  db += dr * a
      d(a / b)          => da += dr / b,  db -= dr * r / b
      d(tanh(z))        => dz += dr * (1 - r^2)
      d(matvec_l(x))    => dx += matvec_t_l(dy), dW_l += dy x^T, db_l += dy
      d(param_ref @p)   => dp += dr             (p trainable)
    Only values that depend on network parameters or trainable params get
    adjoints. The result
    is one straight-line program: residual, loss, gradient.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Rematerialize : Pass<"phys-rematerialize", "::physc::phys::ModelOp"> {
  let summary = "Recompute cheap rows next to their late uses instead of keeping them live";
  let description = [{
    The reverse sweep reads rows the forward sweep computed long before
    (tanh' = 1 - h^2, products of jets), so each stays live, in scratch
    storage, from one sweep to the other. In every kernel, for a row
    v = f(a, ...) of elementwise arith ops, at the widest gap of at least
    `min-gap` ops between two of its uses:
      v = f(a, b); ... use1(v) ... [gap] ... use2(v) ...
        => v = f(a, b); ... use1(v) ... v' = f(a, b); use2(v') ...
    when a and b are live at use2 anyway, or are themselves recomputed
    there (at most `max-cost` ops in all). Transcendental ops (math.*)
    and matvecs are never recomputed. Values are the same bit for bit;
    the cost is a few elementwise ops per row.
  }];
  let options = [
    Option<"minGap", "min-gap", "unsigned", "16",
           "Shortest run of ops between two uses worth a recomputation">,
    Option<"maxCost", "max-cost", "unsigned", "2",
           "Most elementwise ops cloned for one recomputation">,
  ];
}

def FuseKernels : Pass<"phys-fuse-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn each phys.kernel into one point-loop function";
  let description = [{
    Each kernel becomes `func.func @MODEL_KERNEL(params, points, ld, n, rt,
    out...)` that loops over tiles of `lanes` points held in vector
    registers. Rows (`tensor<W x f64>`) live in stack scratch reused by
    liveness; runs of elementwise row ops become one loop over W;
    `phys.matvec` a loop of broadcast FMAs over the weights. Parameter
    gradients are summed per lane in one buffer and reduced once at the end;
    nothing per point leaves the kernel.
  }];
  let options = [
    Option<"precision", "precision", "std::string", "\"f32\"",
           "Element type of the generated code: f32 or f64">,
    Option<"lanes", "lanes", "unsigned", "16",
           "Points per vector tile">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
}

def ApproximateMath : Pass<"phys-approximate-math", "::mlir::func::FuncOp"> {
  let summary = "Vectorisable polynomial approximations of f32 tanh, exp, ...";
  let description = [{
    `math.tanh : vector<16xf32>` => a rational approximation in arith ops, so
    the activation stays in vector registers instead of sixteen libm calls.
    Only f32 (and vectors of f32) are rewritten: f64 kernels, used for
    checks, keep exact libm calls.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::x86vector::X86VectorDialect"];
}

def KernelsToGPU : Pass<"phys-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Turn each phys.kernel into a gpu.func: a point per thread, a tile per block";
  let description = [{
    Every model becomes `gpu.module @MODEL_kernels` and every kernel
    `gpu.func @MODEL_KERNEL(params, pts, ld, n, rt, out) kernel`, with
    `params`, `pts`, `rt`, `out` of type `memref<?xT>` and `ld`, `n` index:
      phys.kernel "eval"/"jets" => i = blockIdx.x * blockDim.x + threadIdx.x;
                                   if (i < n) out[k * ld + i] = yield_k(i)
      phys.kernel "loss_grad"   => the block zeroes its row
                                   out[blockIdx.x * (1 + numParams) + k];
                                   grid-stride loop over tiles of
                                   blockDim.x points, thread t on point
                                   tile * B + t (past n: point n - 1 with
                                   its residual masked to 0);
                                   loss, d(scalar params) => private sums;
                                   dW += dy (x) x, db += dy over the tile,
                                   where the layer's last dy is known
                                   => rows staged in workgroup memory,
                                   thread t sums entries t, t + B, ... and
                                   adds them into the block's row;
                                   after the tiles, the private sums by a
                                   fixed tree in workgroup memory, stored
                                   by thread 0;
                                   with `stage-params`: first
                                   smem[k] = params[k] (k = t, t + B, ...,
                                   in dynamic shared memory), barrier,
                                   then every weight load reads smem
    plus, when the model has loss kernels, `gpu.func
    @MODEL_sum_partials(partials, blocks, loss, grad)`: thread k adds column
    k of the partials over the blocks in block order and adds the sum into
    loss[0] (k = 0) or grad[k - 1]. No atomics: the result is deterministic.
    The whole training step follows in the same module:
      MODEL_sample, MODEL_adam, MODEL_advance => a device-drawn batch and an
                                   Adam step (TrainKernelsToGPU.cpp)
      MODEL_lbfgs_{grad, search, dots, total, update, trial}
                                => one step of L-BFGS's strong Wolfe line
                                   search per evaluation, then the
                                   compact-representation update
                                   (LbfgsToGPU.cpp)
    With `lanes-per-point` L > 1, loss kernels split each point over the
    L lanes of a group (eval kernels keep a point per thread):
      lane q = t mod L, group g = t / L => point tile * (B / L) + g
      row slot k                         => element q + k L, a register
      matvec / tensor.extract            => the row into the group's slice
                                            of workgroup memory (two, used
                                            in turn); nvvm.bar.warp.sync;
                                            y[q + k L] = b + sum_i W(., i) x[i]
      staged W of 32k inputs             => (r, c) at r in + (c ^ (r & 31))
      accum_loss, accum_param_grad       => on lane 0 of the group only
      + llvm.mlir.global @MODEL_loss_points_per_block = B / L, which the
        runtime reads from the PTX to size its grids.
    Loss kernels must be launched with blockDim.x = `block-size` (recorded
    as `known_block_size`); scalars stay in registers, rows are private
    arrays, runs of elementwise row ops one loop (as phys-fuse-kernels).
    Static workgroup memory stays below 48 KB. The staged parameters are
    dynamic shared memory (numParams elements of T): a loss kernel whose PTX
    declares the `.extern .shared` array must be launched with that many
    bytes. Parameters above 56 KB are not staged, so that every block fits
    the 99 KB per block of the smallest chip physc targets.
  }];
  let options = [
    Option<"precision", "precision", "std::string", "\"f32\"",
           "Element type of the generated code: f32 or f64">,
    Option<"blockSize", "block-size", "unsigned", "128",
           "Threads per block of the loss kernels (a power of two)">,
    Option<"stageParams", "stage-params", "bool", "true",
           "Copy the parameters into shared memory at the start of each "
           "loss kernel (when they fit)">,
    Option<"lanesPerPoint", "lanes-per-point", "unsigned", "1",
           "Lanes of a warp that share one point in the loss kernels (a "
           "power of two up to 32; 1: a point per thread)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ExternDynamicShared : Pass<"phys-extern-dynamic-shared",
                               "::mlir::gpu::GPUModuleOp"> {
  let summary = "Give dynamic shared memory CUDA's linkage: `.extern .shared`";
  let description = [{
    Runs after convert-gpu-to-nvvm, inside phys-to-cuda. LLVM 19 lowers
    `gpu.dynamic_shared_memory` to an internal zero-length global in
    address space 3, which the NVPTX printer demotes into its one kernel as
    a one-byte static `.shared` variable: the launch's dynamic bytes are
    not where that variable lives. External linkage makes it what nvcc
    emits for `extern __shared__ T x[]`:
      llvm.mlir.global internal @__dynamic_shmem__N() {addr_space = 3}
          : !llvm.array<0 x i8>
        => llvm.mlir.global external @__dynamic_shmem__N() ...
        => PTX `.extern .shared .align 16 .b8 __dynamic_shmem__N[];`
  }];
}

#endif // PHYSC_TRANSFORMS_PASSES
