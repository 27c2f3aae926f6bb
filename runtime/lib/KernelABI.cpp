//===- KernelABI.cpp - Calling compiled kernels from the runtime ----------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/KernelABI.h"

#include <algorithm>
#include <vector>

using namespace physrt;

namespace {

template <typename T> using Desc = MemRef1D<T>;
template <typename T> Desc<T> desc(T *p, int64_t n) {
  return Desc<T>{p, p, 0, {n}, {1}};
}
template <typename T>
using LossGradC = void (*)(Desc<T> *, Desc<T> *, int64_t, int64_t, Desc<T> *,
                           Desc<T> *, Desc<T> *);
template <typename T>
using EvalC = void (*)(Desc<T> *, Desc<T> *, int64_t, int64_t, Desc<T> *,
                       Desc<T> *);

int64_t roundUp(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/// Per-thread staging buffers for f32 kernels: the evaluator calls kernels
/// from its pool threads, each on its own chunk.
struct F32Buffers {
  std::vector<float> params, pts, rt, out, grad;
};
thread_local F32Buffers f32;

void toF32(std::vector<float> &dst, const double *src, int64_t n) {
  dst.resize(std::max<int64_t>(n, 1));
  for (int64_t i = 0; i < n; ++i)
    dst[i] = (float)src[i];
}

/// Copies `n` points (SoA, stride `ld`) into a float buffer with stride
/// `ld2`, padding the tail of each coordinate with its last point so that
/// vector tiles past `n` read finite values.
void pointsToF32(std::vector<float> &dst, const double *pts, int64_t ld,
                 int64_t n, int coords, int64_t ld2) {
  dst.resize(std::max<int64_t>(coords * ld2, 1));
  for (int c = 0; c < coords; ++c) {
    const double *src = pts + c * ld;
    float *d = dst.data() + c * ld2;
    for (int64_t i = 0; i < n; ++i)
      d[i] = (float)src[i];
    for (int64_t i = n; i < ld2; ++i)
      d[i] = n ? (float)src[n - 1] : 0.f;
  }
}

/// Converts the inputs of an f32 kernel call into this thread's buffers;
/// returns the padded leading dimension of the points.
int64_t stageF32(F32Buffers &b, const double *params, int64_t numParams,
                 const double *pts, int64_t ld, int64_t n, int columns,
                 const double *rt, int64_t numRt) {
  int64_t ld2 = roundUp(n, 64);
  toF32(b.params, params, numParams);
  toF32(b.rt, rt, numRt);
  pointsToF32(b.pts, pts, ld, n, columns, ld2);
  return ld2;
}

} // namespace

LossGradFn physrt::bindLossGrad(void *fn, bool f64, int columns,
                                int64_t numParams, int64_t numRt) {
  if (f64) {
    auto k = (LossGradC<double>)fn;
    return [=](const double *params, const double *pts, int64_t ld, int64_t n,
               const double *rt, double *loss, double *grad) {
      if (n <= 0)
        return;
      auto p = desc(const_cast<double *>(params), numParams);
      auto x = desc(const_cast<double *>(pts), columns * ld);
      auto r = desc(const_cast<double *>(rt), numRt);
      auto l = desc(loss, 1);
      auto g = desc(grad, numParams);
      k(&p, &x, ld, n, &r, &l, &g);
    };
  }
  auto k = (LossGradC<float>)fn;
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *loss, double *grad) {
    if (n <= 0)
      return;
    F32Buffers &b = f32;
    int64_t ld2 =
        stageF32(b, params, numParams, pts, ld, n, columns, rt, numRt);
    b.out.assign(1, 0.f);
    b.grad.assign(numParams, 0.f);
    auto p = desc(b.params.data(), numParams);
    auto x = desc(b.pts.data(), columns * ld2);
    auto r = desc(b.rt.data(), numRt);
    auto l = desc(b.out.data(), 1);
    auto g = desc(b.grad.data(), numParams);
    k(&p, &x, ld2, n, &r, &l, &g);
    *loss += b.out[0];
    for (int64_t i = 0; i < numParams; ++i)
      grad[i] += b.grad[i];
  };
}

EvalFn physrt::bindEval(void *fn, bool f64, int coords, int outputs,
                        int64_t numParams, int64_t numRt) {
  if (f64) {
    auto k = (EvalC<double>)fn;
    return [=](const double *params, const double *pts, int64_t ld, int64_t n,
               const double *rt, double *out) {
      if (n <= 0)
        return;
      auto p = desc(const_cast<double *>(params), numParams);
      auto x = desc(const_cast<double *>(pts), coords * ld);
      auto r = desc(const_cast<double *>(rt), numRt);
      auto o = desc(out, outputs * ld);
      k(&p, &x, ld, n, &r, &o);
    };
  }
  auto k = (EvalC<float>)fn;
  return [=](const double *params, const double *pts, int64_t ld, int64_t n,
             const double *rt, double *out) {
    if (n <= 0)
      return;
    F32Buffers &b = f32;
    int64_t ld2 = stageF32(b, params, numParams, pts, ld, n, coords, rt, numRt);
    b.out.assign(outputs * ld2, 0.f);
    auto p = desc(b.params.data(), numParams);
    auto x = desc(b.pts.data(), coords * ld2);
    auto r = desc(b.rt.data(), numRt);
    auto o = desc(b.out.data(), outputs * ld2);
    k(&p, &x, ld2, n, &r, &o);
    for (int j = 0; j < outputs; ++j)
      for (int64_t i = 0; i < n; ++i)
        out[j * ld + i] = b.out[j * ld2 + i];
  };
}
