//===- DeviceLbfgs.h - The state of L-BFGS run on a device ------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt), and the contract with the compiler:
// the `MODEL_lbfgs_*` kernels (passes/lib/LbfgsToGPU.cpp) keep the whole of
// minimizeLbfgs (Optimizers.cpp), its strong Wolfe line search included, in
// device arrays, so that the host need not look at a step to choose the
// next trial point. This header names the slots of their arrays; both sides
// include it, so they cannot disagree.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_DEVICELBFGS_H
#define PHYSRT_DEVICELBFGS_H

#include <cstdint>

namespace physrt {
namespace lbfgs {

/// Slots of the f64 state array `st` (integers are held exactly as
/// doubles).
enum Slot : int64_t {
  kPhase = 0,     ///< a Phase
  kStop,          ///< a Stop, once kPhase is Done
  kIterations,    ///< iterations done (accepted steps, best-point stops)
  kMaxIterations, ///< stop after this many
  kEvals,         ///< evaluations in the current line search
  kBracketStep,   ///< i of the bracketing loop
  kStep,          ///< a: the trial step length along d
  kF,             ///< f at x
  kPhi0,          ///< f at the line search's start
  kDphi0,         ///< g'd there
  kPrevA,         ///< the bracketing loop's previous trial (a, f, g'd)
  kPrevF,
  kPrevD,
  kLoA, ///< zoom: the low end (a, f, g'd)
  kLoF,
  kLoD,
  kHiA, ///< zoom: the high end
  kHiF,
  kHiD,
  kHasBest,     ///< a trial below phi0 was seen in this line search
  kBestF,       ///< its f
  kBestBad,     ///< its gradient was not finite
  kCount,       ///< curvature pairs held
  kHead,        ///< ring slot of the oldest pair
  kGradTol,     ///< stop when |g|_inf <= this
  kC1,          ///< sufficient decrease
  kC2,          ///< curvature
  kMaxEvals,    ///< evaluations allowed per line search
  kCurvEps,     ///< keep a pair only if s'y > this * |s| |y|
  kDiverged,    ///< 0, or the iteration (from 1) with a non-finite f or g
  kEvaluations, ///< objective evaluations in all
  kSetupPair,   ///< Setup: the pair (logical index) whose products come next
  // Per-launch values, each written by one kernel for the next ones.
  kOutcome,        ///< an Outcome
  kBad,            ///< non-finite entries of the trial's gradient
  kCopyBest,       ///< this trial is the best so far: copy it
  kPushSlot,       ///< ring slot the accepted pair goes to, or -1
  kNewDirection,   ///< compute the next direction and start a line search
  kResetDirection, ///< the direction was not a descent one: steepest descent
  kGamma,          ///< the initial inverse Hessian is gamma I
  kTrial,          ///< write x + a d to the parameters
  kSlots,
};

enum Phase : int64_t {
  Start = 0, ///< the evaluation is at x itself
  Bracket,   ///< N&W Alg. 3.5: looking for an interval
  Zoom,      ///< N&W Alg. 3.6
  Done,      ///< nothing more happens on later launches
  Setup,     ///< resumed pairs: their products, one pair per launch
};

enum Stop : int64_t {
  Running = 0,
  MaxIterations,
  GradientTolerance,
  LineSearchFailed,
  Diverged,
};

enum Outcome : int64_t {
  None = 0,  ///< launched while Done or in Setup
  StartOk,   ///< the evaluation at x: take its gradient
  Accept,    ///< the trial meets the strong Wolfe conditions
  Fail,      ///< the line search failed; with a best point, take it
  NextTrial, ///< evaluate another step length
  StartBad,  ///< f or g at x is not finite
};

/// Vectors of `vec` (f64, each numParams long), in this order; kS and kY
/// hold the accepted step's pair until it has a ring slot.
enum Vector : int64_t {
  kX = 0,
  kG,
  kD,
  kXt,
  kGt,
  kBestX,
  kBestG,
  kS,
  kY,
  kVectors
};

/// The small array `small` (f64) with history m: the products of the
/// pairs by ring slot, S'Y (m x m, entry (i, j) = s_i'y_j) and Y'Y; then
/// the dot products of one launch (kDotsPerSlot per slot: s_i'y, y_i'y,
/// s_i'g, y_i'g with the new pair (s, y) and gradient g, then kNewDots);
/// then the compact representation's coefficients of s_i and y_i, and
/// (Y'Y q)_k by logical pair k.
constexpr int64_t kDotsPerSlot = 4;
enum NewDot : int64_t {
  kSY = 0,
  kSS,
  kYY,
  kSG,
  kYG,
  kGG,
  kG1,
  kGInf,
  kNewDots
};
inline int64_t smallSize(int64_t m) {
  return 2 * m * m + kDotsPerSlot * m + kNewDots + 3 * m;
}
/// Dot products reduced per launch (the partials' rows).
inline int64_t dotCount(int64_t m) { return kDotsPerSlot * m + kNewDots; }

/// Threads per block of the MODEL_lbfgs_* kernels.
constexpr int64_t kLbfgsBlock = 64;

} // namespace lbfgs
} // namespace physrt

#endif // PHYSRT_DEVICELBFGS_H
