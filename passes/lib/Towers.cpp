//===- Towers.cpp - Derivative towers of elementary functions -------------===//
//
// Part of physc.
//
//===----------------------------------------------------------------------===//

#include "Towers.h"

#include <cmath>
#include <cstdlib>
#include <vector>

using namespace mlir;
using namespace physc;

bool physc::ruleIsBroken(StringRef rule) {
  const char *env = std::getenv("PHYSC_BREAK_RULE");
  return env && rule == env;
}

/// p'(t) for p given by its coefficients.
static std::vector<double> derivative(const std::vector<double> &p) {
  std::vector<double> d;
  for (size_t i = 1; i < p.size(); ++i)
    d.push_back(p[i] * i);
  if (d.empty())
    d.push_back(0);
  return d;
}

/// p(t) * q(t).
static std::vector<double> product(const std::vector<double> &p,
                                   const std::vector<double> &q) {
  std::vector<double> r(p.size() + q.size() - 1, 0.0);
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < q.size(); ++j)
      r[i + j] += p[i] * q[j];
  return r;
}

/// Towers of functions whose derivative is a polynomial in the function
/// itself: f' = g(f) gives f^(k+1) = P_k'(f) g(f), P_0(f) = f.
static SmallVector<Value> polynomialTower(JetBuilder &jb, Value f,
                                          const std::vector<double> &g,
                                          int order) {
  SmallVector<Value> out{f};
  std::vector<double> p{0, 1};
  for (int k = 1; k <= order; ++k) {
    p = product(derivative(p), g);
    Value v = jb.poly(p, f);
    out.push_back(v ? v : jb.cst(f.getType(), 0));
  }
  return out;
}

static Value sigmoid(JetBuilder &jb, Value z) {
  Type t = z.getType();
  Value e = jb.create<math::ExpOp>(jb.neg(z));
  return jb.div(jb.cst(t, 1), jb.add(jb.cst(t, 1), e));
}

SmallVector<Value> physc::buildTower(JetBuilder &jb, StringRef fn, Value z,
                                     int order, double p) {
  Type t = z.getType();
  SmallVector<Value> out;
  auto zero = [&] { return jb.cst(t, 0); };
  if (fn == "tanh") {
    Value th = jb.create<math::TanhOp>(z);
    out = polynomialTower(jb, th, {1, 0, -1}, order); // 1 - t^2
    if (ruleIsBroken("tanh-jet") && order >= 2)
      out[2] = jb.scale(out[2], 1.01);
    return out;
  }
  if (fn == "tan")
    return polynomialTower(jb, jb.create<math::TanOp>(z), {1, 0, 1}, order);
  if (fn == "sigmoid")
    return polynomialTower(jb, sigmoid(jb, z), {0, 1, -1}, order); // s - s^2
  if (fn == "sin" || fn == "cos") {
    Value s = jb.create<math::SinOp>(z), c = jb.create<math::CosOp>(z);
    Value cycle[4] = {s, c, jb.neg(s), jb.neg(c)};
    int shift = fn == "sin" ? 0 : 1;
    for (int k = 0; k <= order; ++k)
      out.push_back(cycle[(k + shift) % 4]);
    return out;
  }
  if (fn == "sinh" || fn == "cosh") {
    Value s = jb.create<math::SinhOp>(z), c = jb.create<math::CoshOp>(z);
    for (int k = 0; k <= order; ++k)
      out.push_back(((k + (fn == "cosh")) % 2) ? c : s);
    return out;
  }
  if (fn == "exp") {
    Value e = jb.create<math::ExpOp>(z);
    out.assign(order + 1, e);
    return out;
  }
  if (fn == "log" || fn == "log1p" || fn == "recip") {
    // log(y)^(k) = (-1)^(k-1) (k-1)! y^-k ; (1/y)^(k) = (-1)^k k! y^-(k+1).
    Value y = fn == "log1p" ? jb.add(z, jb.cst(t, 1)) : z;
    Value r = jb.div(jb.cst(t, 1), y);
    if (fn == "recip") {
      out.push_back(r);
    } else {
      out.push_back(fn == "log" ? jb.create<math::LogOp>(z)
                                : jb.create<math::Log1pOp>(z));
    }
    Value rk = r;
    double fact = 1;
    for (int k = 1; k <= order; ++k) {
      if (fn == "recip") {
        fact *= k;
        rk = jb.mul(rk, r);
        out.push_back(jb.scale(rk, (k % 2 ? -1 : 1) * fact));
      } else {
        out.push_back(jb.scale(rk, ((k - 1) % 2 ? -1 : 1) * fact));
        fact *= k;
        rk = jb.mul(rk, r);
      }
    }
    return out;
  }
  if (fn == "sqrt" || fn == "powc") {
    // (z^p)^(k) = p (p-1) ... (p-k+1) z^(p-k). For powc z^(p-k) is its own
    // powf, not z^p / z^k, which is 0 * inf = NaN at z = 0 even where the
    // derivative is finite (p - k >= 0).
    if (fn == "sqrt")
      p = 0.5;
    Value base = fn == "sqrt" ? jb.create<math::SqrtOp>(z)
                              : jb.create<math::PowFOp>(z, jb.cst(t, p));
    out.push_back(base);
    Value r = fn == "sqrt" ? jb.div(jb.cst(t, 1), z) : Value();
    Value cur = base;
    double c = 1;
    for (int k = 1; k <= order; ++k) {
      c *= p - (k - 1);
      if (c == 0) {
        out.push_back(zero());
        continue;
      }
      if (fn == "sqrt")
        cur = jb.mul(cur, r);
      else
        cur = p == k ? jb.cst(t, 1)
                     : jb.create<math::PowFOp>(z, jb.cst(t, p - k));
      out.push_back(jb.scale(cur, c));
    }
    return out;
  }
  if (fn == "relu") {
    // max(z, 0); its derivative is the step H(z) = (1 + copysign(1, z)) / 2
    // (1 at z = +0, as for abs), and every higher one is zero. Sema refuses
    // second derivatives of relu nets, which would silently vanish.
    out.push_back(jb.create<arith::MaximumFOp>(z, zero()));
    if (order >= 1)
      out.push_back(
          jb.add(jb.cst(t, 0.5),
                 jb.scale(jb.create<math::CopySignOp>(jb.cst(t, 1), z), 0.5)));
    for (int k = 2; k <= order; ++k)
      out.push_back(zero());
    return out;
  }
  if (fn == "abs") {
    out.push_back(jb.create<math::AbsFOp>(z));
    if (order >= 1)
      out.push_back(jb.create<math::CopySignOp>(jb.cst(t, 1), z));
    for (int k = 2; k <= order; ++k)
      out.push_back(zero());
    return out;
  }
  if (fn == "softplus" || fn == "swish") {
    // softplus' = sigmoid; swish = z s(z): swish^(k) = z s^(k) + k s^(k-1).
    Value s = sigmoid(jb, z);
    SmallVector<Value> st = polynomialTower(jb, s, {0, 1, -1}, order);
    if (fn == "softplus") {
      // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z.
      Value az = jb.create<math::AbsFOp>(z);
      Value mz = jb.create<arith::MaximumFOp>(z, zero());
      out.push_back(jb.add(
          mz, jb.create<math::Log1pOp>(jb.create<math::ExpOp>(jb.neg(az)))));
      for (int k = 1; k <= order; ++k)
        out.push_back(st[k - 1]);
      return out;
    }
    out.push_back(jb.mul(z, s));
    for (int k = 1; k <= order; ++k)
      out.push_back(jb.add(jb.mul(z, st[k]), jb.scale(st[k - 1], k)));
    return out;
  }
  if (fn == "gelu" || fn == "erf") {
    // Phi(z) = (1 + erf(z / sqrt 2)) / 2, phi = Phi' = exp(-z^2/2)/sqrt(2 pi),
    // phi^(m) = (-1)^m He_m(z) phi with He_{m+1} = z He_m - m He_{m-1}.
    // erf(z) = 2 Phi(sqrt 2 z) - 1: erf^(k)(z) = 2 sqrt(2)^k Phi^(k)(sqrt 2 z).
    double s2 = std::sqrt(2.0);
    Value x = fn == "erf" ? jb.scale(z, s2) : z;
    Value erfv = fn == "erf" ? jb.create<math::ErfOp>(z)
                             : jb.create<math::ErfOp>(jb.scale(z, 1 / s2));
    Value Phi = jb.scale(jb.add(erfv, jb.cst(t, 1)), 0.5);
    Value phi = jb.scale(jb.create<math::ExpOp>(jb.scale(jb.mul(x, x), -0.5)),
                         1 / std::sqrt(2 * M_PI));
    // Phi^(k) for k = 0..order (Phi^(k) = phi^(k-1)).
    std::vector<std::vector<double>> he{{1}, {0, 1}};
    for (int m = 1; m < order; ++m) {
      std::vector<double> next(he[m].size() + 1, 0.0);
      for (size_t i = 0; i < he[m].size(); ++i)
        next[i + 1] += he[m][i];
      for (size_t i = 0; i < he[m - 1].size(); ++i)
        next[i] -= m * he[m - 1][i];
      he.push_back(next);
    }
    SmallVector<Value> PhiK{Phi};
    for (int k = 1; k <= order; ++k) {
      int m = k - 1;
      Value v = jb.mul(jb.poly(he[m], x), phi);
      PhiK.push_back(v ? (m % 2 ? jb.neg(v) : v) : jb.cst(t, 0));
    }
    if (fn == "erf") {
      out.push_back(erfv);
      double c = 2;
      for (int k = 1; k <= order; ++k) {
        c *= s2;
        out.push_back(jb.scale(PhiK[k], c));
      }
      return out;
    }
    out.push_back(jb.mul(z, Phi));
    for (int k = 1; k <= order; ++k)
      out.push_back(jb.add(jb.mul(z, PhiK[k]), jb.scale(PhiK[k - 1], k)));
    return out;
  }
  return out;
}
