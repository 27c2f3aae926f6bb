//===- LbfgsToGPU.cpp - L-BFGS and its line search, on the GPU ------------===//
//
// Part of physc. With the loss kernels on a GPU, L-BFGS on the host still
// waits for every evaluation: it needs f and g'd to choose the next trial
// step. These kernels move minimizeLbfgs (runtime/lib/Optimizers.cpp) onto
// the device, line search included, as a state machine that takes one step
// per evaluation. After the loss kernels and sum_partials of every term have
// evaluated the parameters at the trial point, a graph launches:
//
//   1. MODEL_lbfgs_grad    (grid)     g_t = sum of the terms' weighted
//                                     gradients at the trial, in f64; the
//                                     partial sums of g_t'd per block
//   2. MODEL_lbfgs_search  (1 thread) the strong Wolfe line search (N&W
//                                     Alg. 3.5 and 3.6 with cubic
//                                     interpolation, the host's tests in the
//                                     host's order): accept, fail, or the
//                                     next trial step
//   3. MODEL_lbfgs_dots    (grid)     on acceptance x, g move to the trial
//                                     and the new pair (s, y) is formed; the
//                                     partial sums of its products with the
//                                     pairs held and with g
//   4. MODEL_lbfgs_total   (grid)     each partial sum over the blocks, in
//                                     order
//   5. MODEL_lbfgs_update  (1 block)  the pair into the ring, its column of
//                                     S'Y and Y'Y, the tolerance tests, and
//                                     the next direction in the compact
//                                     representation (Byrd, Nocedal and
//                                     Schnabel 1994): d = -H g = -gamma g -
//                                     S p + gamma Y q with q = R^-1 S'g, p =
//                                     R^-T ((D + gamma Y'Y) q - gamma Y'g)
//   6. MODEL_lbfgs_trial   (grid)     the pair into its ring slot, d, and
//                                     the trial point x + a d into the
//                                     kernels' parameters
//
// The compact form is the two-loop recursion's H, but it needs no chain of
// dependent dot products: each iteration reads the pairs twice, with every
// block of the grid at work, rather than 4m times in sequence. Every sum is
// in a fixed order (a tree per block, then the blocks in order), so a run
// is the same from run to run, and in f64 agrees with the host's to
// rounding.
//
// physrt/DeviceLbfgs.h names the slots of the arrays. Every kernel takes
// (st, scale, terms, losses, grads, tl, vec, hist, small, part, params, m,
// blocks): the scalars, the terms' weight / points, their count, the loss
// sums and gradients sum_partials wrote, the term losses at x and at the
// best trial, the vectors, the m pairs (s then y, one ring slot per
// numParams), the pairs' products and coefficients, the grid's partial
// sums, the kernels' parameters, the history and the grid size. Once Done,
// a launch changes nothing, so the host launches the graph as often as the
// iterations it wants at least, and reads `st` when it logs.
//
//===----------------------------------------------------------------------===//

#include "GPUKernelBuilder.h"
#include "TrainKernelsToGPU.h"

#include "physrt/DeviceLbfgs.h"

using namespace mlir;
using namespace physc;
using namespace physc::phys;
using namespace physc::gpukernels;
using namespace physrt::lbfgs;

namespace {

constexpr int64_t kB = kLbfgsBlock;
/// Older pairs whose products with the new pair one tree reduces.
constexpr int64_t kPairsPerTree = 8;

/// Builds the kernels. In the grid kernels every thread walks the vectors
/// and only reads the scalars, so every branch around a barrier takes the
/// same way in all threads; thread 0 of `search` and `update` holds the
/// scalar logic (`update` shares one O(m^2) product with its block).
struct LbfgsBuilder : KernelBuilder {
  gpu::GPUModuleOp gpuModule;
  ModelOp model;
  FloatType T;
  int64_t np = 0;
  Value st, scale, nterms, losses, grads, tl, vec, hist, small, part, params, m,
      blocks, wg, tid, bid;

  // --- scalars and the state array -----------------------------------------
  Value S(int64_t slot) { return load(st, idx(slot)); }
  Value S(Value slot) { return load(st, slot); }
  void set(int64_t slot, Value v) { store(v, st, idx(slot)); }
  void set(int64_t slot, double v) { set(slot, f64(v)); }
  void set(Value slot, Value v) { store(v, st, slot); }
  /// A slot that holds a whole number, as an index.
  Value Si(int64_t slot) { return fToIdx(S(slot)); }
  Value fToIdx(Value x) {
    return toIndex(b.create<arith::FPToSIOp>(loc, b.getI64Type(), x));
  }
  Value idxToF(Value i) {
    return b.create<arith::SIToFPOp>(loc, b.getF64Type(), toI64(i));
  }
  Value add(Value x, Value y) { return b.create<arith::AddFOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.create<arith::SubFOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulFOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.create<arith::DivFOp>(loc, x, y); }
  Value neg(Value x) { return b.create<arith::NegFOp>(loc, x); }
  Value abs(Value x) { return b.create<math::AbsFOp>(loc, x); }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return b.create<arith::CmpFOp>(loc, p, x, y);
  }
  Value lt(Value x, Value y) { return cmp(arith::CmpFPredicate::OLT, x, y); }
  Value le(Value x, Value y) { return cmp(arith::CmpFPredicate::OLE, x, y); }
  Value gt(Value x, Value y) { return cmp(arith::CmpFPredicate::OGT, x, y); }
  Value ge(Value x, Value y) { return cmp(arith::CmpFPredicate::OGE, x, y); }
  Value eq(Value x, double v) {
    return cmp(arith::CmpFPredicate::OEQ, x, f64(v));
  }
  Value is(int64_t slot, double v) { return eq(S(slot), v); }
  Value iadd(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value imul(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
  Value irem(Value x, Value y) { return b.create<arith::RemUIOp>(loc, x, y); }
  Value and_(Value x, Value y) { return b.create<arith::AndIOp>(loc, x, y); }
  Value or_(Value x, Value y) { return b.create<arith::OrIOp>(loc, x, y); }
  Value not_(Value x) {
    return b.create<arith::XOrIOp>(
        loc, x, b.create<arith::ConstantOp>(loc, b.getBoolAttr(true)));
  }
  Value sel(Value c, Value x, Value y) {
    return b.create<arith::SelectOp>(loc, c, x, y);
  }
  Value sel(Value c, double x, double y) { return sel(c, f64(x), f64(y)); }
  /// std::max(x, y) and std::min(x, y), as the host computes them.
  Value stdMax(Value x, Value y) { return sel(lt(x, y), y, x); }
  Value stdMin(Value x, Value y) { return sel(lt(y, x), y, x); }

  // --- kernels and control flow ---------------------------------------------
  /// Starts kernel MODEL_`name` with `wgSize` f64 of workgroup memory (0:
  /// none) and binds the arguments.
  void kernel(StringRef name, int64_t wgSize) {
    Type f64t = b.getF64Type(), index = b.getIndexType();
    SmallVector<Type> args = {dynMemRef(f64t),
                              dynMemRef(f64t),
                              index,
                              dynMemRef(T),
                              dynMemRef(T),
                              dynMemRef(f64t),
                              dynMemRef(f64t),
                              dynMemRef(f64t),
                              dynMemRef(f64t),
                              dynMemRef(f64t),
                              dynMemRef(T),
                              index,
                              index};
    SmallVector<Type> workgroup;
    if (wgSize)
      workgroup.push_back(
          MemRefType::get({wgSize}, f64t, AffineMap(),
                          gpu::AddressSpaceAttr::get(
                              b.getContext(), gpu::AddressSpace::Workgroup)));
    b.setInsertionPoint(gpuModule.getBody()->getTerminator());
    auto fn = b.create<gpu::GPUFuncOp>(
        loc, (model.getSymName() + "_lbfgs_" + name).str(),
        b.getFunctionType(args, {}), workgroup, TypeRange());
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    Block &entry = fn.getBody().front();
    b.setInsertionPointToStart(&entry);
    Value *bound[] = {&st,   &scale, &nterms, &losses, &grads, &tl,    &vec,
                      &hist, &small, &part,   &params, &m,     &blocks};
    for (auto [i, v] : llvm::enumerate(bound))
      *v = entry.getArgument(i);
    wg = wgSize ? Value(fn.getWorkgroupAttributions()[0]) : Value();
    tid = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    bid = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
  }
  void end() { b.create<gpu::ReturnOp>(loc); }
  Value ieq(Value x, int64_t v) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, x, idx(v));
  }
  Value ilt(Value x, Value y) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x, y);
  }
  void ifThen(Value cond, llvm::function_ref<void()> then) {
    auto op = b.create<scf::IfOp>(loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    then();
  }
  void ifElse(Value cond, llvm::function_ref<void()> then,
              llvm::function_ref<void()> otherwise) {
    auto op = b.create<scf::IfOp>(loc, cond, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    then();
    b.setInsertionPoint(op.elseBlock()->getTerminator());
    otherwise();
  }
  void barrier() { b.create<gpu::BarrierOp>(loc); }
  void thread0(llvm::function_ref<void()> fn) { ifThen(ieq(tid, 0), fn); }
  /// for (i = lb; i < ub; ++i) fn(i), in sequence.
  void loop(Value lb, Value ub, llvm::function_ref<void(Value)> fn) {
    auto op = b.create<scf::ForOp>(loc, lb, ub, idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(op.getBody()->getTerminator());
    fn(op.getInductionVar());
  }
  /// for (i = hi - 1; i >= lo; --i) fn(i).
  void loopDown(Value lo, Value hi, llvm::function_ref<void(Value)> fn) {
    loop(lo, hi, [&](Value r) {
      fn(b.create<arith::SubIOp>(
          loc, b.create<arith::SubIOp>(loc, iadd(hi, lo), idx(1)), r));
    });
  }
  /// The f64 sum over i in [lb, ub) of fn(i), in order.
  Value sum(Value lb, Value ub, llvm::function_ref<Value(Value)> fn) {
    return foldLoop(b, loc, lb, ub, f64(0),
                    [&](Value i, Value acc) { return add(acc, fn(i)); });
  }

  // --- vectors ---------------------------------------------------------------
  Value at(int64_t v, Value i) { return iadd(idx(v * np), i); }
  Value V(int64_t v, Value i) { return load(vec, at(v, i)); }
  void setV(int64_t v, Value i, Value x) { store(x, vec, at(v, i)); }
  /// Entry i of the s (`y` false) or y vector of ring slot j.
  Value histAt(bool y, Value j, Value i) {
    Value row = y ? iadd(m, j) : j;
    return iadd(imul(row, idx(np)), i);
  }
  Value H(bool y, Value j, Value i) { return load(hist, histAt(y, j, i)); }
  /// The ring slot of logical pair k (0 the oldest).
  Value slotOf(Value k) { return irem(iadd(Si(kHead), k), m); }

  /// Each thread of the grid visits i = its id, + the grid's size, ... <
  /// numParams, folding `inits`; returns the thread's partials.
  SmallVector<Value>
  gridPass(ValueRange inits,
           llvm::function_ref<SmallVector<Value>(Value, ValueRange)> fn) {
    Value gid = iadd(imul(bid, idx(kB)), tid);
    Value stride = imul(blocks, idx(kB));
    auto op = b.create<scf::ForOp>(loc, gid, idx(np), stride, inits);
    OpBuilder::InsertionGuard g(b);
    if (inits.empty())
      b.setInsertionPoint(op.getBody()->getTerminator());
    else
      b.setInsertionPointToEnd(op.getBody());
    SmallVector<Value> next = fn(op.getInductionVar(), op.getRegionIterArgs());
    if (!inits.empty())
      b.create<scf::YieldOp>(loc, next);
    return SmallVector<Value>(op.getResults());
  }
  void forEach(llvm::function_ref<void(Value)> fn) {
    gridPass({}, [&](Value i, ValueRange) {
      fn(i);
      return SmallVector<Value>();
    });
  }
  /// The block's sums (or, where `isMax`, maxima) of its threads' partials,
  /// by a fixed tree in workgroup memory; thread 0 stores value j at
  /// part[rows[j] * blocks + block], where valid[j] (if given) holds.
  void blockReduce(ArrayRef<Value> parts, ArrayRef<Value> rows,
                   ArrayRef<Value> valid = {}, ArrayRef<bool> isMax = {}) {
    auto slot = [&](size_t j, Value t) { return iadd(idx(j * kB), t); };
    for (size_t j = 0; j < parts.size(); ++j)
      store(parts[j], wg, slot(j, tid));
    barrier();
    for (int64_t s = kB / 2; s >= 1; s /= 2) {
      ifThen(ilt(tid, idx(s)), [&] {
        for (size_t j = 0; j < parts.size(); ++j) {
          Value x = load(wg, slot(j, tid));
          Value y = load(wg, slot(j, iadd(tid, idx(s))));
          Value r = j < isMax.size() && isMax[j]
                        ? b.create<arith::MaximumFOp>(loc, x, y).getResult()
                        : add(x, y);
          store(r, wg, slot(j, tid));
        }
      });
      barrier();
    }
    thread0([&] {
      for (size_t j = 0; j < parts.size(); ++j) {
        auto put = [&] {
          store(load(wg, idx(j * kB)), part, iadd(imul(rows[j], blocks), bid));
        };
        if (valid.empty())
          put();
        else
          ifThen(valid[j], put);
      }
    });
    barrier();
  }
  /// Rows row0, row0 + 1, ... for `n` values.
  SmallVector<Value> rowsFrom(Value row0, size_t n) {
    SmallVector<Value> rows;
    for (size_t j = 0; j < n; ++j)
      rows.push_back(iadd(row0, idx(j)));
    return rows;
  }
  /// The grid's total of partials row `row`: the blocks in order.
  Value gridTotal(Value row, bool isMax = false) {
    Value base = imul(row, blocks);
    return foldLoop(b, loc, idx(0), blocks, f64(0),
                    [&](Value k, Value acc) -> Value {
                      Value x = load(part, iadd(base, k));
                      if (isMax)
                        return b.create<arith::MaximumFOp>(loc, acc, x);
                      return add(acc, x);
                    });
  }

  /// The bounded trainable params enter as clamp(x) (Train.cpp's objective).
  Value clamp(Value i, Value x) { return clampTrainable(b, loc, model, i, x); }
  Value termLoss(Value t) { return toF64(load(losses, t)); }
  /// tl[dst * terms + t] = tl[src * terms + t], or the losses now (src <
  /// 0), per term.
  void copyTerms(int64_t dst, int64_t src) {
    loop(idx(0), nterms, [&](Value t) {
      Value v =
          src < 0 ? termLoss(t) : load(tl, iadd(imul(idx(src), nterms), t));
      store(v, tl, iadd(imul(idx(dst), nterms), t));
    });
  }

  // --- the small array
  // ---------------------------------------------------------
  Value mm() { return imul(m, m); }
  /// S'Y (yy false) or Y'Y entry of ring slots (i, j).
  Value prodAt(bool yy, Value i, Value j) {
    Value base = yy ? mm() : idx(0);
    return iadd(base, iadd(imul(i, m), j));
  }
  Value prod(bool yy, Value i, Value j) {
    return load(small, prodAt(yy, i, j));
  }
  Value dotsBase() { return imul(idx(2), mm()); }
  /// This launch's product q (0..3) of ring slot i with the new pair / g.
  Value slotDot(Value i, int64_t q) {
    return load(small,
                iadd(dotsBase(), iadd(imul(i, idx(kDotsPerSlot)), idx(q))));
  }
  Value newDot(int64_t q) {
    return load(small,
                iadd(dotsBase(), iadd(imul(m, idx(kDotsPerSlot)), idx(q))));
  }
  /// The coefficient of s (`ofY` false: p) or y (q) of ring slot i.
  Value coefAt(bool ofY, Value i) {
    Value base =
        iadd(dotsBase(), iadd(imul(m, idx(kDotsPerSlot)), idx(kNewDots)));
    return iadd(base, ofY ? iadd(m, i) : i);
  }
  /// (Y'Y q)_a of logical pair a, after the coefficients.
  Value yyqAt(Value a) { return iadd(coefAt(false, imul(m, idx(2))), a); }

  void buildGrad();
  void buildSearch();
  void buildDots();
  void buildTotal();
  void buildUpdate();
  void buildTrial();
  void decide(Value dt, Value bad);
  void zoomNext();
  Value cubic(Value pa, Value pf, Value pd, Value qa, Value qf, Value qd,
              Value lo, Value hi);
  Value gDot(Value k, bool ofY);
  void directionStart();
  void directionFinish();
};

/// cubicMinimizer of Optimizers.cpp: the minimiser of the cubic through two
/// trials, clamped to [lo, hi], else the midpoint.
Value LbfgsBuilder::cubic(Value pa, Value pf, Value pd, Value qa, Value qf,
                          Value qd, Value lo, Value hi) {
  Value pFirst = le(pa, qa);
  Value aa = sel(pFirst, pa, qa), af = sel(pFirst, pf, qf),
        ad = sel(pFirst, pd, qd);
  Value ba = sel(pFirst, qa, pa), bf = sel(pFirst, qf, pf),
        bd = sel(pFirst, qd, pd);
  Value d1 = sub(add(ad, bd), div(mul(f64(3), sub(af, bf)), sub(aa, ba)));
  Value d2sq = sub(mul(d1, d1), mul(ad, bd));
  Value d2 = b.create<math::SqrtOp>(loc, stdMax(d2sq, f64(0)));
  Value t = sub(ba, mul(sub(ba, aa), div(sub(add(bd, d2), d1),
                                         add(sub(bd, ad), mul(f64(2), d2)))));
  Value ok = and_(and_(isFinite(d2sq), ge(d2sq, f64(0))), isFinite(t));
  return sel(ok, stdMin(stdMax(t, lo), hi), mul(f64(0.5), add(lo, hi)));
}

/// Zoom's next trial between lo and hi, or Fail when the evaluations are
/// spent or the interval has collapsed.
void LbfgsBuilder::zoomNext() {
  Value loA = S(kLoA), hiA = S(kHiA);
  Value amin = stdMin(loA, hiA), amax = stdMax(loA, hiA);
  Value w = sub(amax, amin);
  Value spent = ge(S(kEvals), S(kMaxEvals));
  Value collapsed = not_(gt(w, mul(f64(1e-16), stdMax(f64(1), amax))));
  Value next = cubic(loA, S(kLoF), S(kLoD), hiA, S(kHiF), S(kHiD),
                     add(amin, mul(f64(0.1), w)), sub(amax, mul(f64(0.1), w)));
  Value fail = or_(spent, collapsed);
  set(kOutcome, sel(fail, double(Fail), double(NextTrial)));
  set(kStep, sel(fail, S(kStep), next));
  set(kPhase, f64(Zoom));
}

/// Thread 0, after an evaluation: what it means (kOutcome), N&W Alg. 3.5
/// and 3.6 as LineSearch::run and zoom write them.
void LbfgsBuilder::decide(Value dt, Value bad) {
  Value ft = foldLoop(b, loc, idx(0), nterms, f64(0), [&](Value t, Value acc) {
    return add(acc, mul(load(scale, t), termLoss(t)));
  });
  Value finite = isFinite(ft);
  Value anyBad = gt(bad, f64(0));
  set(kEvaluations, add(S(kEvaluations), f64(1)));
  set(kBad, bad);
  ifElse(
      is(kPhase, Start),
      [&] {
        set(kOutcome,
            sel(and_(finite, not_(anyBad)), double(StartOk), double(StartBad)));
        set(kF, ft);
        copyTerms(0, -1);
      },
      [&] {
        // A non-finite f is (a, +inf, NaN), as LineSearch::eval makes it.
        Value curF = sel(finite, ft, f64(HUGE_VAL));
        Value curD = sel(finite, dt, f64(NAN));
        Value a = S(kStep);
        set(kEvals, add(S(kEvals), f64(1)));
        Value better = and_(and_(finite, lt(ft, S(kPhi0))),
                            or_(is(kHasBest, 0), lt(ft, S(kBestF))));
        ifThen(better, [&] {
          set(kHasBest, 1.0);
          set(kBestF, ft);
          set(kBestBad, sel(anyBad, 1.0, 0.0));
          set(kCopyBest, 1.0);
          copyTerms(1, -1);
        });
        Value phi0 = S(kPhi0), dphi0 = S(kDphi0);
        Value noDecrease = gt(curF, add(phi0, mul(mul(S(kC1), a), dphi0)));
        Value curvature = le(abs(curD), neg(mul(S(kC2), dphi0)));
        // The strong Wolfe conditions hold: accept; else `otherwise`.
        auto acceptElse = [&](llvm::function_ref<void()> otherwise) {
          ifElse(
              curvature, [&] { set(kOutcome, double(Accept)); }, otherwise);
        };
        auto setCur = [&](int64_t A, int64_t F, int64_t D) {
          set(A, a);
          set(F, curF);
          set(D, curD);
        };
        auto copyTrial = [&](int64_t A, int64_t F, int64_t D, int64_t A2,
                             int64_t F2, int64_t D2) {
          Value x = S(A2), y = S(F2), z = S(D2);
          set(A, x);
          set(F, y);
          set(D, z);
        };
        ifElse(
            is(kPhase, Bracket),
            [&] {
              Value i = S(kBracketStep);
              Value up = and_(gt(i, f64(0)), ge(curF, S(kPrevF)));
              ifElse(
                  or_(noDecrease, up),
                  [&] {
                    copyTrial(kLoA, kLoF, kLoD, kPrevA, kPrevF, kPrevD);
                    setCur(kHiA, kHiF, kHiD);
                    zoomNext();
                  },
                  [&] {
                    acceptElse([&] {
                      ifElse(
                          ge(curD, f64(0)),
                          [&] {
                            copyTrial(kHiA, kHiF, kHiD, kPrevA, kPrevF, kPrevD);
                            setCur(kLoA, kLoF, kLoD);
                            zoomNext();
                          },
                          [&] {
                            // Extrapolate: at least a bit beyond a, at
                            // most 10 a.
                            Value next = cubic(
                                S(kPrevA), S(kPrevF), S(kPrevD), a, curF, curD,
                                add(a, mul(f64(0.01), sub(a, S(kPrevA)))),
                                mul(f64(10), a));
                            setCur(kPrevA, kPrevF, kPrevD);
                            set(kStep, next);
                            set(kBracketStep, add(i, f64(1)));
                            set(kOutcome, sel(ge(S(kEvals), S(kMaxEvals)),
                                              double(Fail), double(NextTrial)));
                          });
                    });
                  });
            },
            [&] {
              ifElse(
                  or_(noDecrease, ge(curF, S(kLoF))),
                  [&] {
                    setCur(kHiA, kHiF, kHiD);
                    zoomNext();
                  },
                  [&] {
                    acceptElse([&] {
                      Value toward =
                          ge(mul(curD, sub(S(kHiA), S(kLoA))), f64(0));
                      ifThen(toward, [&] {
                        copyTrial(kHiA, kHiF, kHiD, kLoA, kLoF, kLoD);
                      });
                      setCur(kLoA, kLoF, kLoD);
                      zoomNext();
                    });
                  });
            });
      });
  // A failed line search ends the run, at its best point if it had one
  // (an iteration, as on the host), which the vector pass then copies.
  ifThen(is(kOutcome, Fail), [&] {
    Value best = is(kHasBest, 1);
    ifThen(best, [&] {
      Value it = add(S(kIterations), f64(1));
      set(kIterations, it);
      set(kF, S(kBestF));
      copyTerms(0, 1);
      ifThen(is(kBestBad, 1), [&] { set(kDiverged, it); });
    });
    set(kStop, sel(and_(best, is(kBestBad, 1)), double(Diverged),
                   double(LineSearchFailed)));
    set(kPhase, f64(Done));
  });
  ifThen(is(kOutcome, NextTrial), [&] { set(kTrial, 1.0); });
  // Accepted: f and the term losses move to the trial's (x and g move in
  // the dots kernel).
  ifThen(is(kOutcome, Accept), [&] {
    set(kF, ft);
    set(kIterations, add(S(kIterations), f64(1)));
    copyTerms(0, -1);
  });
  ifThen(is(kOutcome, StartBad), [&] {
    set(kDiverged, add(S(kIterations), f64(1)));
    set(kStop, f64(Diverged));
    set(kPhase, f64(Done));
  });
}

/// MODEL_lbfgs_grad: the trial's gradient, the weighted sum of the terms',
/// with the entries of clamped bounded params zero; per block, the partial
/// sums of g'd and of its non-finite entries.
void LbfgsBuilder::buildGrad() {
  kernel("grad", 2 * kB);
  Value live = and_(not_(is(kPhase, Done)), not_(is(kPhase, Setup)));
  ifThen(live, [&] {
    SmallVector<Value> p = gridPass({f64(0), f64(0)}, [&](Value i,
                                                          ValueRange acc) {
      Value g = sum(idx(0), nterms, [&](Value t) {
        return mul(load(scale, t),
                   toF64(load(grads, iadd(imul(t, idx(np)), i))));
      });
      Value xt = V(kXt, i);
      g = sel(cmp(arith::CmpFPredicate::UNE, clamp(i, xt), xt), f64(0), g);
      setV(kGt, i, g);
      return SmallVector<Value>{add(acc[0], mul(g, V(kD, i))),
                                add(acc[1], sel(isFinite(g), f64(0), f64(1)))};
    });
    blockReduce(p, rowsFrom(idx(0), 2));
  });
  end();
}

/// MODEL_lbfgs_search: one thread; what the evaluation means.
void LbfgsBuilder::buildSearch() {
  kernel("search", 0);
  thread0([&] {
    for (int64_t s : {kCopyBest, kNewDirection, kResetDirection, kTrial})
      set(s, 0.0);
    set(kPushSlot, -1.0);
    set(kOutcome, f64(None));
    ifThen(and_(not_(is(kPhase, Done)), not_(is(kPhase, Setup))),
           [&] { decide(gridTotal(idx(0)), gridTotal(idx(1))); });
  });
  end();
}

/// MODEL_lbfgs_dots: the vectors move (the best trial kept, a failed line
/// search back to it, x and g to an accepted trial with its pair in kS,
/// kY), then per block the partial products of the new pair and g with
/// the older pairs (rows kDotsPerSlot * slot + q) and the new pair's own
/// (rows kDotsPerSlot * m + NewDot). In Setup the "new" pair is a resumed
/// one, in place, and the older ones those before it: the products come
/// out as they did when it was accepted.
void LbfgsBuilder::buildDots() {
  kernel("dots",
         std::max<int64_t>(kNewDots, kPairsPerTree * kDotsPerSlot) * kB);
  Value outcome = S(kOutcome);
  Value accepted = eq(outcome, Accept), startOk = eq(outcome, StartOk);
  Value setup = is(kPhase, Setup);
  Value copyBest = is(kCopyBest, 1);
  Value toBest = and_(eq(outcome, Fail), is(kHasBest, 1));
  forEach([&](Value i) {
    ifThen(copyBest, [&] {
      setV(kBestX, i, V(kXt, i));
      setV(kBestG, i, V(kGt, i));
    });
    ifThen(toBest, [&] {
      setV(kX, i, V(kBestX, i));
      setV(kG, i, V(kBestG, i));
    });
    ifThen(accepted, [&] {
      Value xt = V(kXt, i), gt = V(kGt, i);
      setV(kS, i, sub(xt, V(kX, i)));
      setV(kY, i, sub(gt, V(kG, i)));
      setV(kX, i, xt);
    });
    ifThen(or_(accepted, startOk), [&] { setV(kG, i, V(kGt, i)); });
  });
  ifThen(or_(or_(accepted, startOk), setup), [&] {
    // The pair whose products are wanted, and how many older ones.
    Value pair = slotOf(fToIdx(sel(setup, S(kSetupPair), f64(0))));
    Value older = fToIdx(sel(setup, S(kSetupPair), S(kCount)));
    auto s = [&](Value i) { return sel(setup, H(false, pair, i), V(kS, i)); };
    auto y = [&](Value i) { return sel(setup, H(true, pair, i), V(kY, i)); };
    // kPairsPerTree older pairs at a time: their loads are independent, and
    // one tree reduces the products of all of them.
    Value chunks = b.create<arith::DivUIOp>(
        loc, iadd(older, idx(kPairsPerTree - 1)), idx(kPairsPerTree));
    loop(idx(0), chunks, [&](Value c) {
      SmallVector<Value> slots, inits, valid;
      for (int64_t u = 0; u < kPairsPerTree; ++u) {
        Value k = iadd(imul(c, idx(kPairsPerTree)), idx(u));
        slots.push_back(slotOf(k));
        for (int64_t q = 0; q < kDotsPerSlot; ++q) {
          inits.push_back(f64(0));
          valid.push_back(ilt(k, older));
        }
      }
      SmallVector<Value> p = gridPass(inits, [&](Value i, ValueRange acc) {
        Value yi = y(i), gi = V(kG, i);
        SmallVector<Value> next;
        for (int64_t u = 0; u < kPairsPerTree; ++u) {
          Value sj = H(false, slots[u], i), yj = H(true, slots[u], i);
          auto a = [&](int64_t q) { return acc[u * kDotsPerSlot + q]; };
          next.append({add(a(0), mul(sj, yi)), add(a(1), mul(yj, yi)),
                       add(a(2), mul(sj, gi)), add(a(3), mul(yj, gi))});
        }
        return next;
      });
      SmallVector<Value> rows;
      for (int64_t u = 0; u < kPairsPerTree; ++u)
        for (int64_t q = 0; q < kDotsPerSlot; ++q)
          rows.push_back(iadd(imul(slots[u], idx(kDotsPerSlot)), idx(q)));
      blockReduce(p, rows, valid);
    });
    SmallVector<Value> inits(kNewDots, f64(0));
    SmallVector<Value> p = gridPass(inits, [&](Value i, ValueRange acc) {
      Value si = s(i), yi = y(i), gi = V(kG, i);
      Value ag = abs(gi);
      return SmallVector<Value>{
          add(acc[kSY], mul(si, yi)),
          add(acc[kSS], mul(si, si)),
          add(acc[kYY], mul(yi, yi)),
          add(acc[kSG], mul(si, gi)),
          add(acc[kYG], mul(yi, gi)),
          add(acc[kGG], mul(gi, gi)),
          add(acc[kG1], ag),
          b.create<arith::MaximumFOp>(loc, acc[kGInf], ag)};
    });
    SmallVector<bool> isMax(kNewDots, false);
    isMax[kGInf] = true;
    blockReduce(p, rowsFrom(imul(m, idx(kDotsPerSlot)), kNewDots), {}, isMax);
  });
  end();
}

/// MODEL_lbfgs_total: thread r adds up row r of the partials over the
/// blocks, in order.
void LbfgsBuilder::buildTotal() {
  kernel("total", 0);
  Value outcome = S(kOutcome);
  Value wanted =
      or_(or_(eq(outcome, Accept), eq(outcome, StartOk)), is(kPhase, Setup));
  Value row = iadd(imul(bid, idx(kB)), tid);
  Value rows = iadd(imul(m, idx(kDotsPerSlot)), idx(kNewDots));
  ifThen(and_(wanted, ilt(row, rows)), [&] {
    Value gInfRow = iadd(imul(m, idx(kDotsPerSlot)), idx(kGInf));
    ifElse(
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, row, gInfRow),
        [&] { store(gridTotal(row, true), small, iadd(dotsBase(), row)); },
        [&] { store(gridTotal(row), small, iadd(dotsBase(), row)); });
  });
  end();
}

/// MODEL_lbfgs_update: one thread; the pair's slot and products, the host's
/// callback and tolerance tests, and the next direction.
void LbfgsBuilder::buildUpdate() {
  kernel("update", 1);
  thread0([&] {
    // wg[0]: whether a new direction follows (the other threads wait).
    store(f64(0), wg, idx(0));
    Value outcome = S(kOutcome);
    Value accepted = eq(outcome, Accept), startOk = eq(outcome, StartOk);
    Value setup = is(kPhase, Setup);
    ifThen(or_(or_(accepted, startOk), setup), [&] {
      // The pair's column of S'Y and Y'Y: s_k'y and y_k'y with each older
      // pair k, then its own s'y and y'y.
      auto column = [&](Value j, Value olderCount, Value oldHead) {
        loop(idx(0), olderCount, [&](Value k) {
          Value i = irem(iadd(oldHead, k), m);
          ifThen(b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, i, j),
                 [&] {
                   store(slotDot(i, 0), small, prodAt(false, i, j));
                   Value yy = slotDot(i, 1);
                   store(yy, small, prodAt(true, i, j));
                   store(yy, small, prodAt(true, j, i));
                 });
        });
        store(newDot(kSY), small, prodAt(false, j, j));
        store(newDot(kYY), small, prodAt(true, j, j));
      };
      ifElse(
          setup,
          [&] {
            Value k = S(kSetupPair);
            column(slotOf(fToIdx(k)), fToIdx(k), Si(kHead));
            Value next = add(k, f64(1));
            set(kSetupPair, next);
            ifThen(ge(next, S(kCount)), [&] { set(kPhase, f64(Start)); });
          },
          [&] {
            ifThen(accepted, [&] {
              Value sy = newDot(kSY);
              Value keep = gt(sy, mul(S(kCurvEps),
                                      b.create<math::SqrtOp>(
                                          loc, mul(newDot(kSS), newDot(kYY)))));
              ifThen(keep, [&] {
                Value count = Si(kCount), head = Si(kHead);
                Value full = b.create<arith::CmpIOp>(
                    loc, arith::CmpIPredicate::uge, count, m);
                Value j = b.create<arith::SelectOp>(loc, full, head,
                                                    irem(iadd(head, count), m));
                column(j, count, head);
                set(kHead, idxToF(b.create<arith::SelectOp>(
                               loc, full, irem(iadd(head, idx(1)), m), head)));
                set(kCount, idxToF(b.create<arith::SelectOp>(
                                loc, full, count, iadd(count, idx(1)))));
                set(kPushSlot, idxToF(j));
              });
            });
            // The host's callback (a non-finite gradient), then its
            // tolerance tests, in that order.
            Value it = S(kIterations);
            ifElse(
                gt(S(kBad), f64(0)),
                [&] {
                  set(kDiverged, it);
                  set(kStop, f64(Diverged));
                  set(kPhase, f64(Done));
                },
                [&] {
                  ifElse(
                      le(newDot(kGInf), S(kGradTol)),
                      [&] {
                        set(kStop, f64(GradientTolerance));
                        set(kPhase, f64(Done));
                      },
                      [&] {
                        ifElse(
                            ge(it, S(kMaxIterations)),
                            [&] {
                              set(kStop, f64(MaxIterations));
                              set(kPhase, f64(Done));
                            },
                            [&] {
                              directionStart();
                              store(f64(1), wg, idx(0));
                            });
                      });
                });
          });
    });
  });
  barrier();
  // (Y'Y q)_a, a row per thread: the one O(m^2) product of the direction.
  Value newDirection = eq(load(wg, idx(0)), 1);
  ifThen(newDirection, [&] {
    Value c = Si(kCount);
    auto op = b.create<scf::ForOp>(loc, tid, c, idx(kB));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(op.getBody()->getTerminator());
    Value a = op.getInductionVar();
    store(sum(idx(0), c,
              [&](Value bb) {
                return mul(prod(true, slotOf(a), slotOf(bb)),
                           load(small, coefAt(true, slotOf(bb))));
              }),
          small, yyqAt(a));
  });
  barrier();
  thread0([&] { ifThen(newDirection, [&] { directionFinish(); }); });
  end();
}

/// s_k'g and y_k'g (`ofY`) of logical pair k: this launch's products, or
/// the new pair's own.
Value LbfgsBuilder::gDot(Value k, bool ofY) {
  Value j = slotOf(k);
  Value fresh = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ,
                                        idxToF(j), S(kPushSlot));
  return sel(fresh, newDot(ofY ? kYG : kSG), slotDot(j, ofY ? 3 : 2));
}

/// Thread 0: gamma and q = R^-1 (S'g) of the compact representation (the
/// block then forms Y'Y q).
void LbfgsBuilder::directionStart() {
  set(kNewDirection, 1.0);
  Value c = Si(kCount);
  auto R = [&](Value a, Value bb) {
    return prod(false, slotOf(a), slotOf(bb));
  };
  Value any =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ugt, c, idx(0));
  Value newest = slotOf(b.create<arith::SubIOp>(
      loc, b.create<arith::MaxUIOp>(loc, c, idx(1)), idx(1)));
  Value gamma =
      sel(any, div(prod(false, newest, newest), prod(true, newest, newest)),
          f64(1));
  set(kGamma, gamma);
  // q = R^-1 (S'g), back substitution; stored per slot.
  loopDown(idx(0), c, [&](Value a) {
    Value t = sub(gDot(a, false), sum(iadd(a, idx(1)), c, [&](Value bb) {
                    return mul(R(a, bb), load(small, coefAt(true, slotOf(bb))));
                  }));
    store(div(t, R(a, a)), small, coefAt(true, slotOf(a)));
  });
}

/// Thread 0: p, the direction's slope g'd, and the line search's first
/// trial (minimizeLbfgs's loop body up to LineSearch::run).
void LbfgsBuilder::directionFinish() {
  Value c = Si(kCount);
  Value gamma = S(kGamma);
  auto R = [&](Value a, Value bb) {
    return prod(false, slotOf(a), slotOf(bb));
  };
  // p = R^-T ((D + gamma Y'Y) q - gamma Y'g), forward substitution.
  loop(idx(0), c, [&](Value a) {
    Value qa = load(small, coefAt(true, slotOf(a)));
    Value w = sub(add(mul(R(a, a), qa), mul(gamma, load(small, yyqAt(a)))),
                  mul(gamma, gDot(a, true)));
    Value t =
        sub(w, sum(idx(0), a, [&](Value bb) {
              return mul(R(bb, a), load(small, coefAt(false, slotOf(bb))));
            }));
    store(div(t, R(a, a)), small, coefAt(false, slotOf(a)));
  });
  // g'd = -gamma g'g - p'(S'g) + gamma q'(Y'g).
  Value gg = newDot(kGG);
  Value dphi0 =
      add(sub(neg(mul(gamma, gg)),
              sum(idx(0), c,
                  [&](Value a) {
                    return mul(load(small, coefAt(false, slotOf(a))),
                               gDot(a, false));
                  })),
          mul(gamma, sum(idx(0), c, [&](Value a) {
                return mul(load(small, coefAt(true, slotOf(a))), gDot(a, true));
              })));
  // Not a descent direction (rounding in a poorly scaled history): forget
  // the history and take steepest descent.
  Value descent = lt(dphi0, f64(0));
  ifThen(not_(descent), [&] {
    set(kResetDirection, 1.0);
    set(kCount, 0.0);
    set(kHead, 0.0);
  });
  dphi0 = sel(descent, dphi0, neg(gg));
  Value fx = S(kF);
  Value a1 =
      sel(is(kCount, 0), stdMin(f64(1), div(f64(1), newDot(kG1))), f64(1));
  set(kDphi0, dphi0);
  set(kPhi0, fx);
  set(kEvals, 0.0);
  set(kBracketStep, 0.0);
  set(kPrevA, 0.0);
  set(kPrevF, fx);
  set(kPrevD, dphi0);
  set(kHasBest, 0.0);
  set(kPhase, f64(Bracket));
  set(kStep, a1);
  set(kTrial, 1.0);
}

/// MODEL_lbfgs_trial: the accepted pair into its slot, the direction, and
/// the trial point into the kernels' parameters.
void LbfgsBuilder::buildTrial() {
  kernel("trial", 0);
  Value newDir = is(kNewDirection, 1), reset = is(kResetDirection, 1);
  Value trial = is(kTrial, 1);
  Value pushed = ge(S(kPushSlot), f64(0));
  Value j = fToIdx(stdMax(S(kPushSlot), f64(0)));
  Value gamma = S(kGamma), a = S(kStep);
  Value c = Si(kCount);
  forEach([&](Value i) {
    // (Also when the run stops here: a checkpoint reads the pairs.)
    ifThen(pushed, [&] {
      store(V(kS, i), hist, histAt(false, j, i));
      store(V(kY, i), hist, histAt(true, j, i));
    });
    ifThen(newDir, [&] {
      Value g = V(kG, i);
      // d = -gamma g - S p + gamma Y q.
      Value d = foldLoop(
          b, loc, idx(0), c, neg(mul(gamma, g)), [&](Value k, Value acc) {
            Value sl = slotOf(k);
            Value ps = mul(load(small, coefAt(false, sl)), H(false, sl, i));
            Value qy = mul(load(small, coefAt(true, sl)), H(true, sl, i));
            return add(sub(acc, ps), mul(gamma, qy));
          });
      setV(kD, i, sel(reset, neg(g), d));
    });
    ifThen(trial, [&] {
      Value x = add(V(kX, i), mul(a, V(kD, i)));
      setV(kXt, i, x);
      Value p = clamp(i, x);
      store(T.isF64() ? p : b.create<arith::TruncFOp>(loc, T, p).getResult(),
            params, i);
    });
  });
  end();
}

} // namespace

void physc::emitLbfgs(OpBuilder &b, gpu::GPUModuleOp gpuModule, ModelOp model,
                      FloatType T) {
  LbfgsBuilder L{{b, model.getLoc()}};
  L.gpuModule = gpuModule;
  L.model = model;
  L.T = T;
  L.np = ParamLayout(model).size;
  L.buildGrad();
  L.buildSearch();
  L.buildDots();
  L.buildTotal();
  L.buildUpdate();
  L.buildTrial();
}
