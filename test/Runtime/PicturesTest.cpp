//===- PicturesTest.cpp - Tests of the canvas, PNG, loss plot and VTK -----===//
//
// Part of physc's runtime tests.
//
//===----------------------------------------------------------------------===//

#include "physrt/Pictures.h"
#include "TestFiles.h"
#include "physrt/Error.h"
#include "physrt/File.h"
#include "physrt/Plot.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <regex>
#include <sstream>

using namespace physrt;

namespace {

/// An image decoded by libpng (independently of the encoder): RGB8.
struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    size_t i = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
};

Decoded decodePNG(const std::string &bytes) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  Decoded D;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) {
    ADD_FAILURE() << "libpng cannot read the PNG: " << img.message;
    return D;
  }
  img.format = PNG_FORMAT_RGB;
  D.width = static_cast<int>(img.width);
  D.height = static_cast<int>(img.height);
  D.rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, D.rgb.data(), 0, nullptr))
    ADD_FAILURE() << "libpng cannot decode the PNG: " << img.message;
  return D;
}

/// The number of pixels of colour `c`.
int64_t countColor(const Canvas &C, Rgb c) {
  int64_t n = 0;
  for (int y = 0; y < C.height(); ++y)
    for (int x = 0; x < C.width(); ++x)
      n += C.pixel(x, y) == c;
  return n;
}

/// A model with coordinates x in [0, 1], y in [0, 2] and one field
/// u = x + 2 y; its exact is u + 0.25 (so |error| is 0.25 everywhere).
CompiledModel planeModel(bool withExact) {
  CompiledModel M;
  M.name = "plane";
  M.coords = {{"x", false, 0, 1}, {"y", false, 0, 2}};
  auto plane = [](double shift) {
    return [shift](const double *, const double *pts, int64_t ld, int64_t n,
                   const double *, double *out) {
      for (int64_t i = 0; i < n; ++i)
        out[i] = pts[i] + 2 * pts[ld + i] + shift;
    };
  };
  M.fields.push_back({"u", plane(0)});
  if (withExact) {
    Exact E;
    E.field = 0;
    E.eval = plane(0.25);
    M.exacts.push_back(E);
  }
  return M;
}

std::vector<std::string> arrayNames(const std::string &vti) {
  std::vector<std::string> names;
  std::regex re("<DataArray [^>]*Name=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(vti.begin(), vti.end(), re);
       it != std::sregex_iterator(); ++it)
    names.push_back((*it)[1]);
  return names;
}

/// The values of DataArray `name`.
std::vector<double> arrayValues(const std::string &vti,
                                const std::string &name) {
  std::string open = "Name=\"" + name + "\"";
  size_t a = vti.find(open);
  if (a == std::string::npos)
    return {};
  a = vti.find('>', a) + 1;
  size_t b = vti.find("</DataArray>", a);
  std::istringstream in(vti.substr(a, b - a));
  std::vector<double> v;
  double x;
  while (in >> x)
    v.push_back(x);
  return v;
}

} // namespace

TEST(Plot, PNGRoundTripIndexed) {
  Canvas C(40, 30, colors::White);
  C.fillRect(10, 5, 4, 3, {200, 10, 20});
  C.set(0, 29, {1, 2, 3});
  std::string png = C.encodePNG();
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  Decoded D = decodePNG(png);
  ASSERT_EQ(D.width, 40);
  ASSERT_EQ(D.height, 30);
  EXPECT_EQ(D.at(11, 6), (Rgb{200, 10, 20}));
  EXPECT_EQ(D.at(0, 29), (Rgb{1, 2, 3}));
  EXPECT_EQ(D.at(39, 0), colors::White);
}

TEST(Plot, PNGRoundTripRGB) {
  // More than 256 colours: written as RGB, still exact.
  Canvas C(64, 8);
  for (int x = 0; x < 64; ++x)
    for (int y = 0; y < 8; ++y)
      C.set(x, y,
            {static_cast<uint8_t>(x * 4), static_cast<uint8_t>(y * 30),
             static_cast<uint8_t>(x + y)});
  Decoded D = decodePNG(C.encodePNG());
  ASSERT_EQ(D.width, 64);
  ASSERT_EQ(D.height, 8);
  for (int x = 0; x < 64; x += 7)
    for (int y = 0; y < 8; ++y)
      EXPECT_EQ(D.at(x, y), C.pixel(x, y));
}

TEST(Plot, SavePNGIsAtomic) {
  test::ScratchDir dir;
  Canvas C(5, 4, {9, 8, 7});
  C.savePNG(dir.file("a.png"));
  Decoded D = decodePNG(readFile(dir.file("a.png")));
  EXPECT_EQ(D.width, 5);
  EXPECT_EQ(D.at(4, 3), (Rgb{9, 8, 7}));
  int files = 0;
  for ([[maybe_unused]] auto &e : std::filesystem::directory_iterator(dir.path))
    ++files;
  EXPECT_EQ(files, 1); // no temporary left behind
  EXPECT_THROW(C.savePNG(dir.file("missing/a.png")), Error);
}

TEST(Plot, DrawingClipsAndText) {
  Canvas C(20, 20);
  C.fillRect(-5, -5, 10, 10, colors::Black); // clipped to [0, 5)^2
  EXPECT_EQ(countColor(C, colors::Black), 25);
  C.line(-100, 10, 100, 10, {0, 0, 255});
  EXPECT_EQ(countColor(C, {0, 0, 255}), 20);
  C.line(0, 0, std::numeric_limits<double>::quiet_NaN(), 5, {0, 255, 0});
  EXPECT_EQ(countColor(C, {0, 255, 0}), 0);

  EXPECT_EQ(Canvas::textWidth("ab", 1), 11);
  EXPECT_EQ(Canvas::textWidth("ab", 2), 22);
  Canvas T(40, 20);
  T.text(1, 1, "E", colors::Black, 2);
  // 'E' is 5 + 3 + 5 + 3 + 5 ... = its set bits, each a 2x2 block.
  EXPECT_EQ(countColor(T, colors::Black), (5 + 1 + 1 + 4 + 1 + 1 + 5) * 4);
  EXPECT_EQ(T.pixel(1, 1), colors::Black); // top-left of 'E'
  EXPECT_EQ(T.pixel(3, 3), colors::White); // inside the first row gap
  Canvas U(20, 40);
  U.textUp(0, 20, "I", colors::Black);
  EXPECT_GT(countColor(U, colors::Black), 0);
}

TEST(Plot, Viridis) {
  Rgb lo = viridis(0), hi = viridis(1), mid = viridis(0.5);
  // Dark purple, teal, yellow.
  EXPECT_LT(lo.r, 90);
  EXPECT_LT(lo.g, 20);
  EXPECT_GT(lo.b, 60);
  EXPECT_LT(mid.r, 60);
  EXPECT_GT(mid.g, 120);
  EXPECT_GT(mid.b, 120);
  EXPECT_GT(hi.r, 230);
  EXPECT_GT(hi.g, 210);
  EXPECT_LT(hi.b, 60);
  EXPECT_EQ(viridis(-3), lo);
  EXPECT_EQ(viridis(7), hi);
  EXPECT_EQ(viridis(std::numeric_limits<double>::quiet_NaN()), colors::Grey);
  // Lightness grows monotonically (what makes viridis readable).
  double prev = -1;
  for (int k = 0; k <= 255; ++k) {
    Rgb c = viridis(k / 255.0);
    double l = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GE(l, prev - 0.5) << "at " << k;
    prev = l;
  }
}

TEST(Plot, TicksAndLabels) {
  std::vector<double> t = niceTicks(-1, 1, 5);
  EXPECT_EQ(t, (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(tickLabels(t),
            (std::vector<std::string>{"-1.0", "-0.5", "0", "0.5", "1.0"}));
  EXPECT_EQ(tickLabels(niceTicks(0, 2000, 3)),
            (std::vector<std::string>{"0", "1000", "2000"}));
  EXPECT_EQ(tickLabels(niceTicks(0, 8e-4, 5)),
            (std::vector<std::string>{"0", "2e-4", "4e-4", "6e-4", "8e-4"}));
  EXPECT_EQ(niceTicks(3, 3, 5), (std::vector<double>{3}));
  EXPECT_EQ(niceTicks(0, std::numeric_limits<double>::infinity(), 5).size(),
            1u);
  EXPECT_EQ(shortSci(0.00314159), "3.14e-3");
  EXPECT_EQ(shortSci(120), "1.20e2");
}

TEST(Pictures, LossHistoryKeepsEveryKthAndTheLast) {
  LossHistory H;
  H.termNames = {"pde"};
  H.every = lossHistoryInterval(10000);
  EXPECT_EQ(H.every, 10);
  for (int64_t s = 1; s <= 25; ++s)
    H.add(s, s <= 20 ? "adam" : "lbfgs", {1.0 / s}, 2.0 / s);
  H.flush();
  std::vector<int64_t> steps;
  for (const auto &S : H.samples)
    steps.push_back(S.step);
  // 1, multiples of 10, the first step of a new stage, the last.
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 10, 20, 21, 25}));
  // Noting a step again replaces it.
  H.add(25, "lbfgs", {0.5}, 1.0);
  EXPECT_EQ(H.samples.back().terms[0], 0.5);
  EXPECT_EQ(H.samples.size(), 5u);

  std::string csv = lossCSV(H);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "step,stage,pde,total");
  EXPECT_NE(csv.find("\n10,adam,0.1,0.2\n"), std::string::npos) << csv;
}

TEST(Pictures, LossPlotSurvivesZeroNaNAndNegative) {
  LossHistory H;
  H.termNames = {"pde", "bc", "zero"};
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  for (int64_t s = 1; s <= 200; ++s) {
    double pde = std::exp(-0.05 * s);
    double bc = s % 17 == 0   ? nan
                : s % 13 == 0 ? -1.0
                : s % 11 == 0 ? inf
                              : 1e-3;
    H.add(s, s <= 100 ? "adam" : "lbfgs", {pde, bc, 0.0}, pde + bc);
  }
  H.flush();
  Canvas C = plotLoss(H);
  EXPECT_EQ(C.width(), 960);
  EXPECT_EQ(C.height(), 600);
  EXPECT_GT(countColor(C, seriesColor(0)), 200); // the pde curve
  EXPECT_GT(countColor(C, seriesColor(1)), 100); // bc where it is positive
  // Decodes as a PNG.
  Decoded D = decodePNG(C.encodePNG());
  EXPECT_EQ(D.width, 960);

  // Only zeros, nothing at all: axes and a note, no crash.
  LossHistory Z;
  Z.termNames = {"pde"};
  Z.add(1, "adam", {0.0}, 0.0);
  Z.add(2, "adam", {0.0}, 0.0);
  Canvas CZ = plotLoss(Z);
  EXPECT_GT(countColor(CZ, colors::Black), 100);
  LossHistory E;
  Canvas CE = plotLoss(E);
  EXPECT_EQ(CE.width(), 960);
}

TEST(Pictures, FindTableGrid) {
  // (x, t) with x in {0, 1, 2}, t in {5, 6}, rows shuffled.
  std::vector<double> xs = {2, 0, 1, 0, 2, 1}, ts = {6, 5, 6, 6, 5, 5};
  std::vector<double> pts = xs;
  pts.insert(pts.end(), ts.begin(), ts.end());
  TableGrid G = findTableGrid(pts, 6, 2);
  ASSERT_EQ(G.axes.size(), 2u);
  EXPECT_EQ(G.axes[0], (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(G.axes[1], (std::vector<double>{5, 6}));
  EXPECT_EQ(G.flat, (std::vector<int64_t>{5, 0, 3, 1, 4, 2}));
  // A repeated point (and so a missing one): not a grid.
  pts[0] = 0;
  pts[6] = 5;
  EXPECT_TRUE(findTableGrid(pts, 6, 2).axes.empty());
  // Scattered points.
  EXPECT_TRUE(findTableGrid({0, 1, 2, 0, 1, 2}, 3, 2).axes.empty());
}

TEST(Pictures, VTIWithAnalyticExact) {
  CompiledModel M = planeModel(true);
  ThreadPool pool(2);
  std::string vti = fieldsVTI(M, {}, {}, pool);
  EXPECT_EQ(vti.rfind("<?xml version=\"1.0\"?>", 0), 0u);
  EXPECT_NE(vti.find("<VTKFile type=\"ImageData\""), std::string::npos);
  EXPECT_NE(vti.find("WholeExtent=\"0 100 0 100 0 0\""), std::string::npos);
  EXPECT_NE(vti.find("Origin=\"0 0 0\""), std::string::npos);
  EXPECT_NE(vti.find("Spacing=\"0.01 0.02 1\""), std::string::npos);
  EXPECT_EQ(arrayNames(vti),
            (std::vector<std::string>{"u", "exact_u", "error_u"}));
  std::vector<double> u = arrayValues(vti, "u"),
                      err = arrayValues(vti, "error_u");
  ASSERT_EQ(u.size(), 101u * 101u);
  ASSERT_EQ(err.size(), 101u * 101u);
  // x varies fastest: point 1 is (0.01, 0), point 101 is (0, 0.02).
  EXPECT_NEAR(u[1], 0.01, 1e-12);
  EXPECT_NEAR(u[101], 0.04, 1e-12);
  EXPECT_NEAR(err[5000], 0.25, 1e-12);
  EXPECT_NE(vti.find("</VTKFile>"), std::string::npos);
}

TEST(Pictures, VTIOnTheGridOfATable) {
  // The table: u at x in {0, 0.5, 1}, y in {0, 2}, in shuffled row order.
  CompiledModel M = planeModel(false);
  Exact E;
  E.field = 0;
  E.count = 6;
  std::vector<double> xs = {1, 0, 0.5, 0, 1, 0.5}, ys = {2, 0, 2, 2, 0, 0};
  E.points = xs;
  E.points.insert(E.points.end(), ys.begin(), ys.end());
  for (int i = 0; i < 6; ++i)
    E.values.push_back(100 * xs[i] + ys[i]); // tells the points apart
  M.exacts.push_back(E);
  ThreadPool pool(1);
  std::string vti = fieldsVTI(M, {}, {}, pool);
  EXPECT_NE(vti.find("WholeExtent=\"0 2 0 1 0 0\""), std::string::npos);
  EXPECT_NE(vti.find("Spacing=\"0.5 2 1\""), std::string::npos);
  EXPECT_EQ(arrayValues(vti, "exact_u"),
            (std::vector<double>{0, 50, 100, 2, 52, 102}));
  EXPECT_EQ(arrayValues(vti, "u"), (std::vector<double>{0, 0.5, 1, 4, 4.5, 5}));
}

TEST(Pictures, FieldPictures) {
  ThreadPool pool(2);
  CompiledModel M = planeModel(true);
  Canvas three = plotField(M, 0, {}, {}, pool);
  Canvas one = plotField(planeModel(false), 0, {}, {}, pool);
  EXPECT_GT(three.width(), 2 * one.width()); // prediction | exact | error
  // The heat map uses the colour map's ends: u spans [0, 5] over the box.
  EXPECT_GT(countColor(one, viridis(0)) + countColor(one, viridis(1.0 / 255)),
            0);
  EXPECT_GT(countColor(one, viridis(1)), 0);

  // One coordinate: a line plot; three: a slice at the midpoint of z.
  CompiledModel L;
  L.name = "line";
  L.coords = {{"x", false, -1, 1}};
  L.fields.push_back({"u", [](const double *, const double *pts, int64_t,
                              int64_t n, const double *, double *out) {
                        for (int64_t i = 0; i < n; ++i)
                          out[i] = pts[i] * pts[i];
                      }});
  Canvas line = plotField(L, 0, {}, {}, pool);
  EXPECT_GT(countColor(line, seriesColor(0)), 300);

  CompiledModel V = planeModel(true);
  V.coords.push_back({"z", false, 0, 4});
  Canvas slice = plotField(V, 0, {}, {}, pool);
  EXPECT_EQ(slice.height(), three.height());
  EXPECT_THROW(plotField(V, 3, {}, {}, pool), Error);
}

TEST(Pictures, WritePictures) {
  test::ScratchDir dir;
  CompiledModel M = planeModel(true);
  LossHistory H;
  H.termNames = {"pde"};
  H.add(1, "adam", {1.0}, 1.0);
  H.add(2, "adam", {0.5}, 0.5);
  ThreadPool pool(2);
  writePictures(dir.path.string(), M, {}, {}, H, pool);
  for (const char *f : {"loss.png", "loss.csv", "field_u.png", "fields.vti"})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir.file(f))) << f;
  Decoded D = decodePNG(readFile(dir.file("field_u.png")));
  EXPECT_GT(D.width, 1000);
}
