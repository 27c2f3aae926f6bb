//===- Pictures.cpp - What to draw for a trained model --------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Pictures.h"
#include "physrt/Error.h"
#include "physrt/File.h"
#include "physrt/Metrics.h"
#include "physrt/Output.h"
#include "physrt/Sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace physrt;

//===----------------------------------------------------------------------===//
// Loss history
//===----------------------------------------------------------------------===//

void LossHistory::add(int64_t step, const std::string &stage,
                      const std::vector<double> &terms, double total) {
  Sample S{step, stage, terms, total};
  // The same step noted again (L-BFGS re-evaluated where it stopped): the
  // later losses are the accurate ones.
  if (!samples.empty() && samples.back().step == step) {
    samples.back() = std::move(S);
    return;
  }
  bool due = step == 1 || every <= 1 || step % every == 0 ||
             (!samples.empty() && samples.back().stage != stage);
  if (due) {
    samples.push_back(std::move(S));
    pending = false;
  } else {
    last = std::move(S);
    pending = true;
  }
}

void LossHistory::flush() {
  if (pending && (samples.empty() || samples.back().step < last.step))
    samples.push_back(last);
  pending = false;
}

int64_t physrt::lossHistoryInterval(int64_t plannedSteps) {
  return std::max<int64_t>(1, plannedSteps / 1000);
}

std::string physrt::lossCSV(const LossHistory &H) {
  std::string out = "step,stage";
  for (const std::string &n : H.termNames)
    out += "," + n;
  out += ",total\n";
  for (const LossHistory::Sample &S : H.samples) {
    out += std::to_string(S.step) + "," + S.stage;
    for (size_t t = 0; t < H.termNames.size(); ++t)
      out += "," + (t < S.terms.size() ? formatDouble(S.terms[t])
                                       : std::string("nan"));
    out += "," + formatDouble(S.total) + "\n";
  }
  return out;
}

namespace {

constexpr int kText = 2; ///< font magnification of every label

/// A plot area on a canvas and the data range it shows.
struct Frame {
  int x, y, w, h;        ///< pixels
  double x0, x1, y0, y1; ///< data (y: log10 of the value on a log axis)
  double px(double v) const { return x + (v - x0) / (x1 - x0) * (w - 1); }
  double py(double v) const {
    return y + h - 1 - (v - y0) / (y1 - y0) * (h - 1);
  }
};

/// Tick marks and labels on the bottom and left edges of `F`, with light
/// grid lines, the frame and the axis names.
void drawAxes(Canvas &C, const Frame &F, const std::vector<double> &xt,
              const std::vector<std::string> &xl, const std::vector<double> &yt,
              const std::vector<std::string> &yl, const std::string &xname,
              const std::string &yname, bool grid) {
  int th = Canvas::textHeight(kText);
  for (size_t k = 0; k < xt.size(); ++k) {
    int x = static_cast<int>(std::lround(F.px(xt[k])));
    if (grid)
      C.line(x, F.y, x, F.y + F.h - 1, colors::LightGrey);
    C.line(x, F.y + F.h, x, F.y + F.h + 5, colors::Black);
    C.text(x, F.y + F.h + 9, xl[k], colors::Black, kText, Align::Center);
  }
  int maxLabel = 0;
  for (size_t k = 0; k < yt.size(); ++k) {
    int y = static_cast<int>(std::lround(F.py(yt[k])));
    if (grid)
      C.line(F.x, y, F.x + F.w - 1, y, colors::LightGrey);
    C.line(F.x - 6, y, F.x - 1, y, colors::Black);
    C.text(F.x - 10, y - th / 2, yl[k], colors::Black, kText, Align::Right);
    maxLabel = std::max(maxLabel, Canvas::textWidth(yl[k], kText));
  }
  C.strokeRect(F.x - 1, F.y - 1, F.w + 2, F.h + 2, colors::Black);
  C.text(F.x + F.w / 2, F.y + F.h + 16 + th, xname, colors::Black, kText,
         Align::Center);
  // A short name reads better upright than turned.
  if (yname.size() <= 3)
    C.text(F.x - 24 - maxLabel, F.y + F.h / 2 - th / 2, yname, colors::Black,
           kText, Align::Right);
  else
    C.textUp(F.x - 18 - maxLabel - th, F.y + F.h / 2, yname, colors::Black,
             kText);
}

std::string sanitize(const std::string &name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
          c == '.')
             ? c
             : '_';
  return s.empty() ? "field" : s;
}

std::string joinPath(const std::string &dir, const std::string &file) {
  if (dir.empty() || dir.back() == '/')
    return dir + file;
  return dir + "/" + file;
}

} // namespace

Canvas physrt::plotLoss(const LossHistory &H) {
  const int W = 960, Ht = 600;
  Canvas C(W, Ht);
  Frame F{120, 66, W - 120 - 30, Ht - 66 - 90, 0, 1, 0, 1};
  C.text(W / 2, 16, "training loss (unweighted per term, weighted total)",
         colors::Black, kText, Align::Center);

  // Series: each term, then the weighted total.
  size_t nt = H.termNames.size();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t s0 = H.samples.empty() ? 0 : H.samples.front().step;
  int64_t s1 = H.samples.empty() ? 1 : H.samples.back().step;
  auto value = [&](const LossHistory::Sample &S, size_t k) {
    if (k < nt)
      return k < S.terms.size() ? S.terms[k]
                                : std::numeric_limits<double>::quiet_NaN();
    return S.total;
  };
  for (const LossHistory::Sample &S : H.samples)
    for (size_t k = 0; k <= nt; ++k) {
      double v = value(S, k);
      if (std::isfinite(v) && v > 0) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
  bool any = lo <= hi;
  // Whole decades on the log axis, at least one.
  double d0 = any ? std::floor(std::log10(lo)) : -6;
  double d1 = any ? std::ceil(std::log10(hi)) : 0;
  if (d1 <= d0)
    d1 = d0 + 1;
  F.y0 = d0;
  F.y1 = d1;
  // From step 0 when the run starts there (round ticks), else where it
  // starts (a resumed run).
  F.x0 = static_cast<double>(s0 <= 1 ? 0 : s0);
  F.x1 = static_cast<double>(std::max(s1, s0 + 1));

  std::vector<double> yt;
  std::vector<std::string> yl;
  int decadeStep = std::max(1, static_cast<int>(std::ceil((d1 - d0) / 8)));
  for (int e = static_cast<int>(d0); e <= static_cast<int>(d1);
       e += decadeStep) {
    yt.push_back(e);
    yl.push_back(e == 0 ? "1" : "1e" + std::to_string(e));
  }
  std::vector<double> xt = niceTicks(F.x0, F.x1, 7);
  drawAxes(C, F, xt, tickLabels(xt), yt, yl, "step", "loss (log scale)", true);

  // Stage boundaries: a dashed line where the optimiser changes, the stage
  // names above the frame (inside it they would hide the curves' start).
  for (size_t i = 0; i < H.samples.size(); ++i) {
    bool first = i == 0;
    if (!first && H.samples[i].stage == H.samples[i - 1].stage)
      continue;
    double x = F.px(
        static_cast<double>(first ? H.samples[i].step : H.samples[i - 1].step));
    if (!first)
      C.line(x, F.y, x, F.y + F.h - 1, colors::Grey, 1, 4);
    C.text(static_cast<int>(x) + 4, F.y - Canvas::textHeight(kText) - 8,
           H.samples[i].stage, colors::Grey, kText);
  }

  // The curves, clipped to the frame; a non-positive or non-finite value
  // breaks the line instead of plotting log(0).
  for (size_t k = 0; k <= nt; ++k) {
    Rgb col = k < nt ? seriesColor(static_cast<int>(k)) : colors::Black;
    bool have = false;
    double px = 0, py = 0;
    for (const LossHistory::Sample &S : H.samples) {
      double v = value(S, k);
      if (!(std::isfinite(v) && v > 0)) {
        have = false;
        continue;
      }
      double x = F.px(static_cast<double>(S.step));
      double y = F.py(std::log10(v));
      if (have)
        C.line(px, py, x, y, col, 2, k < nt ? 0 : 6);
      else
        C.fillRect(static_cast<int>(x) - 1, static_cast<int>(y) - 1, 2, 2, col);
      have = true;
      px = x;
      py = y;
    }
  }
  // Redraw the frame over line ends that touch it, then the legend.
  C.strokeRect(F.x - 1, F.y - 1, F.w + 2, F.h + 2, colors::Black);
  if (!any)
    C.text(F.x + F.w / 2, F.y + F.h / 2,
           H.samples.empty() ? "no losses recorded"
                             : "no positive loss to show on a log scale",
           colors::Grey, kText, Align::Center);
  int lw = 0;
  for (size_t k = 0; k <= nt; ++k)
    lw = std::max(lw,
                  Canvas::textWidth(k < nt ? H.termNames[k] : "total", kText));
  int rowH = Canvas::textHeight(kText) + 8;
  int bw = lw + 56, bh = static_cast<int>(nt + 1) * rowH + 10;
  int bx = F.x + F.w - bw - 10, by = F.y + 10;
  C.fillRect(bx, by, bw, bh, colors::White);
  C.strokeRect(bx, by, bw, bh, colors::Grey);
  for (size_t k = 0; k <= nt; ++k) {
    int y = by + 6 + static_cast<int>(k) * rowH + Canvas::textHeight(kText) / 2;
    Rgb col = k < nt ? seriesColor(static_cast<int>(k)) : colors::Black;
    C.line(bx + 8, y, bx + 36, y, col, 2, k < nt ? 0 : 6);
    C.text(bx + 44, y - Canvas::textHeight(kText) / 2,
           k < nt ? H.termNames[k] : "total", colors::Black, kText);
  }
  return C;
}

//===----------------------------------------------------------------------===//
// Fields
//===----------------------------------------------------------------------===//

TableGrid physrt::findTableGrid(const std::vector<double> &points,
                                int64_t count, int numCoords) {
  TableGrid G;
  if (count <= 0 || numCoords <= 0 ||
      static_cast<int64_t>(points.size()) < count * numCoords)
    return G;
  std::vector<std::vector<double>> axes(numCoords);
  std::vector<double> tol(numCoords);
  int64_t total = 1;
  for (int c = 0; c < numCoords; ++c) {
    std::vector<double> v(points.begin() + c * count,
                          points.begin() + (c + 1) * count);
    std::sort(v.begin(), v.end());
    // Values a CSV writer rounded slightly differently are the same line.
    tol[c] = 1e-9 * std::max(1.0, std::fabs(v.back() - v.front()));
    std::vector<double> u;
    for (double x : v)
      if (u.empty() || x - u.back() > tol[c])
        u.push_back(x);
    total *= static_cast<int64_t>(u.size());
    if (total > count)
      return G;
    axes[c] = std::move(u);
  }
  if (total != count)
    return G;
  std::vector<int64_t> flat(count);
  std::vector<bool> seen(count, false);
  for (int64_t i = 0; i < count; ++i) {
    int64_t f = 0;
    for (int c = 0; c < numCoords; ++c) {
      const std::vector<double> &a = axes[c];
      double x = points[c * count + i];
      auto it = std::lower_bound(a.begin(), a.end(), x - tol[c]);
      if (it == a.end() || std::fabs(*it - x) > tol[c])
        return G;
      f = f * static_cast<int64_t>(a.size()) + (it - a.begin());
    }
    if (seen[f])
      return G;
    seen[f] = true;
    flat[i] = f;
  }
  G.axes = std::move(axes);
  G.flat = std::move(flat);
  return G;
}

namespace {

const Exact *exactOf(const CompiledModel &M, int field) {
  for (const Exact &E : M.exacts)
    if (E.field == field)
      return &E;
  return nullptr;
}

std::vector<double> linspace(double lo, double hi, int64_t n) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = n == 1 ? 0.5 * (lo + hi)
                  : lo + (hi - lo) * static_cast<double>(i) / (n - 1);
  if (n > 1)
    v[n - 1] = hi;
  return v;
}

/// A field sampled on a 1- or 2-D grid: values[j * xs.size() + i] at
/// (xs[i], ys[j]).
struct Slice {
  std::vector<double> xs, ys;
  std::vector<double> pred, exact;
  bool hasExact = false;
  std::string note; ///< e.g. "t = 0.5" for the fixed coordinates
};

/// Points given per coordinate as `coordValue(c, k)` for k in [0, n).
template <typename Fn> Batch makePoints(int d, int64_t n, Fn coordValue) {
  Batch B;
  B.n = n;
  B.ld = paddedLd(n);
  B.pts.assign(static_cast<size_t>(d) * B.ld, 0.0);
  for (int c = 0; c < d; ++c)
    for (int64_t k = 0; k < n; ++k)
      B.pts[c * B.ld + k] = coordValue(c, k);
  fillPadding(B, d);
  return B;
}

Slice sampleField(const CompiledModel &M, int field,
                  const std::vector<double> &params,
                  const std::vector<double> &rt, ThreadPool &pool) {
  int d = static_cast<int>(M.coords.size());
  int dims = std::min(d, 2);
  const FieldOutput &F = M.fields[field];
  if (!F.eval)
    throw Error("field '" + F.name + "' has no evaluation kernel");
  const Exact *E = exactOf(M, field);
  Slice S;
  std::vector<double> fixed(d);
  for (int c = 0; c < d; ++c)
    fixed[c] = 0.5 * (M.coords[c].lo + M.coords[c].hi);

  if (E && !E->eval && E->count > 0) {
    TableGrid G = findTableGrid(E->points, E->count, d);
    bool ok = !G.axes.empty();
    for (int c = 0; ok && c < dims; ++c)
      ok = G.axes[c].size() >= 2;
    if (ok) {
      // Draw on the table's own grid: the reference is shown as tabulated,
      // the prediction evaluated at the same points.
      std::vector<int64_t> fixIdx(d, 0);
      for (int c = dims; c < d; ++c) {
        const std::vector<double> &a = G.axes[c];
        size_t best = 0;
        for (size_t k = 1; k < a.size(); ++k)
          if (std::fabs(a[k] - fixed[c]) < std::fabs(a[best] - fixed[c]))
            best = k;
        fixIdx[c] = static_cast<int64_t>(best);
        fixed[c] = a[best];
      }
      std::vector<int64_t> rowOf(E->count, -1);
      for (int64_t i = 0; i < E->count; ++i)
        rowOf[G.flat[i]] = i;
      S.xs = G.axes[0];
      S.ys = dims == 2 ? G.axes[1] : std::vector<double>{};
      int64_t nx = S.xs.size(), ny = dims == 2 ? S.ys.size() : 1;
      int64_t n = nx * ny;
      S.exact.resize(n);
      for (int64_t j = 0; j < ny; ++j)
        for (int64_t i = 0; i < nx; ++i) {
          int64_t f = 0;
          for (int c = 0; c < d; ++c) {
            int64_t k = c == 0 ? i : c == 1 ? j : fixIdx[c];
            f = f * static_cast<int64_t>(G.axes[c].size()) + k;
          }
          S.exact[j * nx + i] = E->values[rowOf[f]];
        }
      Batch B = makePoints(d, n, [&](int c, int64_t k) {
        return c == 0 ? S.xs[k % nx] : c == 1 ? S.ys[k / nx] : fixed[c];
      });
      S.pred = evaluatePoints(F.eval, params, B, rt, pool);
      S.hasExact = true;
    } else {
      S.note = "exact: scattered points, not drawn";
    }
  }
  if (S.pred.empty()) {
    int64_t per = dims == 1 ? 1001 : 201;
    S.xs = linspace(M.coords[0].lo, M.coords[0].hi, per);
    if (dims == 2)
      S.ys = linspace(M.coords[1].lo, M.coords[1].hi, per);
    int64_t nx = S.xs.size(), n = nx * (dims == 2 ? per : 1);
    Batch B = makePoints(d, n, [&](int c, int64_t k) {
      return c == 0 ? S.xs[k % nx] : c == 1 ? S.ys[k / nx] : fixed[c];
    });
    S.pred = evaluatePoints(F.eval, params, B, rt, pool);
    if (E && E->eval) {
      S.exact = evaluatePoints(E->eval, params, B, rt, pool);
      S.hasExact = true;
    }
  }
  std::string fixedNote;
  for (int c = dims; c < d; ++c)
    fixedNote += (fixedNote.empty() ? "" : ", ") + M.coords[c].name + " = " +
                 shortSci(fixed[c]);
  if (!fixedNote.empty())
    S.note = "slice at " + fixedNote + (S.note.empty() ? "" : "; " + S.note);
  return S;
}

/// Value range of the finite entries of `a` and `b`, widened when flat.
std::pair<double, double> range(const std::vector<double> &a,
                                const std::vector<double> *b = nullptr) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const std::vector<double> *v : {&a, b})
    if (v)
      for (double x : *v)
        if (std::isfinite(x)) {
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
  if (!(lo <= hi))
    return {0, 1};
  if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(hi))) {
    double pad = std::max(1e-12, 0.05 * std::fabs(hi));
    lo -= pad;
    hi += pad;
  }
  return {lo, hi};
}

/// Per-pixel interpolation position on an axis: index of the left grid
/// value and the weight of the right one.
struct AxisMap {
  std::vector<int64_t> idx;
  std::vector<double> frac;
};
AxisMap mapAxis(const std::vector<double> &a, int pixels, bool flip) {
  AxisMap m;
  m.idx.resize(pixels);
  m.frac.resize(pixels);
  double lo = a.front(), hi = a.back();
  for (int p = 0; p < pixels; ++p) {
    double t = (p + 0.5) / pixels;
    if (flip)
      t = 1 - t;
    double v = lo + t * (hi - lo);
    auto it = std::upper_bound(a.begin(), a.end(), v);
    int64_t i = std::clamp<int64_t>((it - a.begin()) - 1, 0,
                                    static_cast<int64_t>(a.size()) - 2);
    double span = a[i + 1] - a[i];
    m.idx[p] = i;
    m.frac[p] = span > 0 ? std::clamp((v - a[i]) / span, 0.0, 1.0) : 0.0;
  }
  return m;
}

constexpr int kPanel = 300;                ///< heat map side in pixels
constexpr int kPanelW = 90 + kPanel + 110; ///< with axes and colour bar
constexpr int kHeatH = 40 + kPanel + 64;

/// One heat map panel with its colour bar; `left` is the panel's x origin.
void heatPanel(Canvas &C, int left, int top, const Slice &S,
               const std::vector<double> &v, std::pair<double, double> rng,
               const std::string &title, const CompiledModel &M) {
  Frame F{left + 90,    top + 40,    kPanel,       kPanel,
          S.xs.front(), S.xs.back(), S.ys.front(), S.ys.back()};
  C.text(F.x + F.w / 2, top + 12, title, colors::Black, kText, Align::Center);
  int64_t nx = S.xs.size();
  AxisMap mx = mapAxis(S.xs, F.w, false), my = mapAxis(S.ys, F.h, true);
  double span = rng.second - rng.first;
  for (int py = 0; py < F.h; ++py)
    for (int px = 0; px < F.w; ++px) {
      int64_t i = mx.idx[px], j = my.idx[py];
      double fx = mx.frac[px], fy = my.frac[py];
      double a = v[j * nx + i], b = v[j * nx + i + 1];
      double c = v[(j + 1) * nx + i], d = v[(j + 1) * nx + i + 1];
      double val =
          (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d);
      C.set(F.x + px, F.y + py, viridis((val - rng.first) / span));
    }
  std::vector<double> xt = niceTicks(F.x0, F.x1, 5),
                      yt = niceTicks(F.y0, F.y1, 5);
  drawAxes(C, F, xt, tickLabels(xt), yt, tickLabels(yt), M.coords[0].name,
           M.coords[1].name, false);
  // Colour bar: value increasing upwards, its own ticks on the right.
  int bx = F.x + F.w + 14, bw = 16;
  for (int py = 0; py < F.h; ++py)
    C.fillRect(bx, F.y + py, bw, 1,
               viridis(1.0 - (py + 0.5) / static_cast<double>(F.h)));
  C.strokeRect(bx - 1, F.y - 1, bw + 2, F.h + 2, colors::Black);
  std::vector<double> ct = niceTicks(rng.first, rng.second, 6);
  std::vector<std::string> cl = tickLabels(ct);
  for (size_t k = 0; k < ct.size(); ++k) {
    int y = static_cast<int>(
        std::lround(F.y + F.h - 1 - (ct[k] - rng.first) / span * (F.h - 1)));
    C.line(bx + bw, y, bx + bw + 4, y, colors::Black);
    C.text(bx + bw + 8, y - Canvas::textHeight(kText) / 2, cl[k], colors::Black,
           kText);
  }
}

/// One line panel for a 1-D field: series drawn in order with a legend.
void linePanel(
    Canvas &C, int left, int top, int w, int h, const std::vector<double> &xs,
    const std::vector<std::pair<std::string, const std::vector<double> *>>
        &series,
    const std::string &title, const std::string &xname,
    const std::string &yname) {
  Frame F{left + 110, top + 40,  w - 150, h - 40 - 80,
          xs.front(), xs.back(), 0,       1};
  C.text(F.x + F.w / 2, top + 12, title, colors::Black, kText, Align::Center);
  std::pair<double, double> r{0, 1};
  bool first = true;
  for (const auto &s : series) {
    std::pair<double, double> q = range(*s.second);
    r = first ? q
              : std::pair{std::min(r.first, q.first),
                          std::max(r.second, q.second)};
    first = false;
  }
  double pad = 0.05 * (r.second - r.first);
  F.y0 = r.first - pad;
  F.y1 = r.second + pad;
  std::vector<double> xt = niceTicks(F.x0, F.x1, 6),
                      yt = niceTicks(F.y0, F.y1, 6);
  drawAxes(C, F, xt, tickLabels(xt), yt, tickLabels(yt), xname, yname, true);
  for (size_t k = 0; k < series.size(); ++k) {
    const std::vector<double> &v = *series[k].second;
    Rgb col = k == 0 ? seriesColor(0) : k == 1 ? colors::Black : seriesColor(3);
    for (size_t i = 1; i < xs.size(); ++i)
      if (std::isfinite(v[i - 1]) && std::isfinite(v[i]))
        C.line(F.px(xs[i - 1]), F.py(v[i - 1]), F.px(xs[i]), F.py(v[i]), col, 2,
               k == 1 ? 6 : 0);
  }
  C.strokeRect(F.x - 1, F.y - 1, F.w + 2, F.h + 2, colors::Black);
  if (series.size() > 1) {
    int rowH = Canvas::textHeight(kText) + 8, bw = 0;
    for (const auto &s : series)
      bw = std::max(bw, Canvas::textWidth(s.first, kText));
    bw += 56;
    int bh = static_cast<int>(series.size()) * rowH + 10;
    int bx = F.x + F.w - bw - 10, by = F.y + 10;
    C.fillRect(bx, by, bw, bh, colors::White);
    C.strokeRect(bx, by, bw, bh, colors::Grey);
    for (size_t k = 0; k < series.size(); ++k) {
      int y =
          by + 6 + static_cast<int>(k) * rowH + Canvas::textHeight(kText) / 2;
      Rgb col = k == 0   ? seriesColor(0)
                : k == 1 ? colors::Black
                         : seriesColor(3);
      C.line(bx + 8, y, bx + 36, y, col, 2, k == 1 ? 6 : 0);
      C.text(bx + 44, y - Canvas::textHeight(kText) / 2, series[k].first,
             colors::Black, kText);
    }
  }
}

} // namespace

Canvas physrt::plotField(const CompiledModel &M, int field,
                         const std::vector<double> &params,
                         const std::vector<double> &rt, ThreadPool &pool) {
  if (field < 0 || field >= static_cast<int>(M.fields.size()))
    throw Error("no field output with index " + std::to_string(field));
  if (M.coords.empty())
    throw Error("model '" + M.name + "' has no coordinates");
  const std::string &name = M.fields[field].name;
  Slice S = sampleField(M, field, params, rt, pool);
  std::vector<double> err;
  double maxErr = 0;
  if (S.hasExact) {
    err.resize(S.pred.size());
    for (size_t i = 0; i < err.size(); ++i) {
      err[i] = std::fabs(S.pred[i] - S.exact[i]);
      if (std::isfinite(err[i]))
        maxErr = std::max(maxErr, err[i]);
    }
  }
  std::string coordList;
  for (const Coord &Co : M.coords)
    coordList += (coordList.empty() ? "" : ", ") + Co.name;
  std::string heading = M.name + ": " + name + "(" + coordList + ")";
  if (S.hasExact)
    heading += "   rel L2 " + shortSci(relativeL2(S.pred, S.exact)) +
               "   max |error| " + shortSci(maxErr);
  if (!S.note.empty())
    heading += "   (" + S.note + ")";

  int panels = S.hasExact ? 3 : 1;
  if (M.coords.size() == 1) {
    int pw = 640, ph = 440;
    int np = S.hasExact ? 2 : 1;
    Canvas C(std::max(pw * np, Canvas::textWidth(heading, kText) + 40),
             ph + 40);
    C.text(C.width() / 2, 10, heading, colors::Black, kText, Align::Center);
    std::vector<std::pair<std::string, const std::vector<double> *>> series{
        {name + " prediction", &S.pred}};
    if (S.hasExact)
      series.push_back({name + " exact", &S.exact});
    linePanel(C, 0, 40, pw, ph, S.xs, series,
              S.hasExact ? name + ": prediction and exact" : name,
              M.coords[0].name, name);
    if (S.hasExact)
      linePanel(C, pw, 40, pw, ph, S.xs, {{"|error|", &err}},
                "|" + name + " - exact|", M.coords[0].name, "|error|");
    return C;
  }
  Canvas C(std::max(kPanelW * panels, Canvas::textWidth(heading, kText) + 40),
           kHeatH + 40);
  C.text(C.width() / 2, 10, heading, colors::Black, kText, Align::Center);
  int left = (C.width() - kPanelW * panels) / 2;
  std::pair<double, double> r = range(S.pred, S.hasExact ? &S.exact : nullptr);
  heatPanel(C, left, 40, S, S.pred, r, name + " prediction", M);
  if (S.hasExact) {
    heatPanel(C, left + kPanelW, 40, S, S.exact, r, name + " exact", M);
    heatPanel(C, left + 2 * kPanelW, 40, S, err,
              {0.0, maxErr > 0 ? maxErr : 1.0}, "|" + name + " - exact|", M);
  }
  return C;
}

//===----------------------------------------------------------------------===//
// VTK
//===----------------------------------------------------------------------===//

namespace {

bool uniform(const std::vector<double> &a) {
  if (a.size() < 2)
    return true;
  double h = (a.back() - a.front()) / static_cast<double>(a.size() - 1);
  for (size_t k = 0; k < a.size(); ++k)
    if (std::fabs(a[k] - (a.front() + h * k)) > 1e-6 * std::fabs(h))
      return false;
  return true;
}

bool sameAxes(const std::vector<std::vector<double>> &a,
              const std::vector<std::vector<double>> &b) {
  if (a.size() != b.size())
    return false;
  for (size_t c = 0; c < a.size(); ++c) {
    if (a[c].size() != b[c].size())
      return false;
    for (size_t k = 0; k < a[c].size(); ++k)
      if (std::fabs(a[c][k] - b[c][k]) >
          1e-9 * std::max(1.0, std::fabs(a[c].back() - a[c].front())))
        return false;
  }
  return true;
}

void appendArray(std::string &out, const std::string &name,
                 const std::vector<double> &v) {
  out += "        <DataArray type=\"Float64\" Name=\"" + name +
         "\" NumberOfComponents=\"1\" format=\"ascii\">\n";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i % 8 == 0 ? "          " : " ");
    out += formatDouble(v[i]);
    if (i % 8 == 7 || i + 1 == v.size())
      out += '\n';
  }
  out += "        </DataArray>\n";
}

} // namespace

std::string physrt::fieldsVTI(const CompiledModel &M,
                              const std::vector<double> &params,
                              const std::vector<double> &rt, ThreadPool &pool) {
  int d = static_cast<int>(M.coords.size());
  if (d == 0)
    throw Error("model '" + M.name + "' has no coordinates");
  int dims = std::min(d, 3);
  // The grid: a uniformly spaced tabulated exact's own (so its values go
  // in unchanged), else a tensor grid of the box.
  std::vector<std::vector<double>> axes;
  if (d <= 3)
    for (const Exact &E : M.exacts) {
      if (E.eval || E.count <= 0)
        continue;
      TableGrid G = findTableGrid(E.points, E.count, d);
      if (G.axes.empty() || !std::all_of(G.axes.begin(), G.axes.end(), uniform))
        continue;
      axes = G.axes;
      break;
    }
  if (axes.empty())
    for (int c = 0; c < dims; ++c)
      axes.push_back(
          linspace(M.coords[c].lo, M.coords[c].hi, gridPointsPerCoord(dims)));
  int64_t n[3] = {1, 1, 1};
  for (int c = 0; c < dims; ++c)
    n[c] = static_cast<int64_t>(axes[c].size());
  int64_t total = n[0] * n[1] * n[2];
  // VTK orders points with the first axis fastest.
  Batch B = makePoints(d, total, [&](int c, int64_t k) {
    if (c >= dims)
      return 0.5 * (M.coords[c].lo + M.coords[c].hi);
    int64_t i = k;
    for (int q = 0; q < c; ++q)
      i /= n[q];
    return axes[c][i % n[c]];
  });

  std::string arrays, first;
  for (size_t f = 0; f < M.fields.size(); ++f) {
    const FieldOutput &F = M.fields[f];
    if (!F.eval)
      throw Error("field '" + F.name + "' has no evaluation kernel");
    std::vector<double> pred = evaluatePoints(F.eval, params, B, rt, pool);
    std::string name = sanitize(F.name);
    if (first.empty())
      first = name;
    appendArray(arrays, name, pred);
    const Exact *E = exactOf(M, static_cast<int>(f));
    std::vector<double> exact;
    if (E && E->eval) {
      exact = evaluatePoints(E->eval, params, B, rt, pool);
    } else if (E && E->count > 0 && d <= 3) {
      TableGrid G = findTableGrid(E->points, E->count, d);
      if (!G.axes.empty() && sameAxes(G.axes, axes)) {
        exact.resize(total);
        for (int64_t i = 0; i < E->count; ++i) {
          // G.flat is first-coordinate-slowest; VTK wants it fastest.
          int64_t rest = G.flat[i], k = 0, mul = 1;
          std::vector<int64_t> idx(d);
          for (int c = d - 1; c >= 0; --c) {
            idx[c] = rest % n[c];
            rest /= n[c];
          }
          for (int c = 0; c < d; ++c) {
            k += idx[c] * mul;
            mul *= n[c];
          }
          exact[k] = E->values[i];
        }
      }
    }
    if (!exact.empty()) {
      std::vector<double> err(total);
      for (int64_t i = 0; i < total; ++i)
        err[i] = std::fabs(pred[i] - exact[i]);
      appendArray(arrays, "exact_" + name, exact);
      appendArray(arrays, "error_" + name, err);
    }
  }

  auto num = [](double x) { return formatDouble(x); };
  std::string extent, origin, spacing, axisNames;
  for (int c = 0; c < 3; ++c) {
    extent += (c ? " 0 " : "0 ") + std::to_string(n[c] - 1);
    double o = c < dims ? axes[c].front() : 0.0;
    double s = c < dims && n[c] > 1
                   ? (axes[c].back() - axes[c].front()) / (n[c] - 1)
                   : 1.0;
    origin += (c ? " " : "") + num(o);
    spacing += (c ? " " : "") + num(s);
  }
  for (int c = 0; c < d; ++c)
    axisNames +=
        (c ? ", " : "") + M.coords[c].name +
        (c < dims ? "" : " = " + num(0.5 * (M.coords[c].lo + M.coords[c].hi)));
  std::string out = "<?xml version=\"1.0\"?>\n";
  out += "<!-- physc: model " + M.name + "; axes " + axisNames + " -->\n";
  out += "<VTKFile type=\"ImageData\" version=\"1.0\" "
         "byte_order=\"LittleEndian\" header_type=\"UInt64\">\n";
  out += "  <ImageData WholeExtent=\"" + extent + "\" Origin=\"" + origin +
         "\" Spacing=\"" + spacing + "\">\n";
  out += "    <Piece Extent=\"" + extent + "\">\n";
  out += "      <PointData" +
         (first.empty() ? std::string() : " Scalars=\"" + first + "\"") + ">\n";
  out += arrays;
  out += "      </PointData>\n      <CellData>\n      </CellData>\n";
  out += "    </Piece>\n  </ImageData>\n</VTKFile>\n";
  return out;
}

void physrt::writePictures(const std::string &dir, const CompiledModel &M,
                           const std::vector<double> &params,
                           const std::vector<double> &rt, const LossHistory &H,
                           ThreadPool &pool) {
  writeFileAtomic(joinPath(dir, "loss.csv"), lossCSV(H));
  plotLoss(H).savePNG(joinPath(dir, "loss.png"));
  if (M.fields.empty() || M.coords.empty())
    return;
  for (size_t f = 0; f < M.fields.size(); ++f)
    plotField(M, static_cast<int>(f), params, rt, pool)
        .savePNG(joinPath(dir, "field_" + sanitize(M.fields[f].name) + ".png"));
  writeFileAtomic(joinPath(dir, "fields.vti"), fieldsVTI(M, params, rt, pool));
}
