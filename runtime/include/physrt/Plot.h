//===- Plot.h - A tiny raster canvas saved as PNG ---------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). `physc train --out` leaves pictures
// people can look at (loss curves, heat maps of the fields). The runtime
// must not depend on a plotting stack, so it draws into an RGB pixel buffer
// itself: lines, rectangles, text from a built-in 5x7 bitmap font and the
// viridis colour map; libpng encodes the result.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_PLOT_H
#define PHYSRT_PLOT_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace physrt {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb &o) const {
    return r == o.r && g == o.g && b == o.b;
  }
  bool operator!=(const Rgb &o) const { return !(*this == o); }
};

namespace colors {
inline constexpr Rgb White{255, 255, 255};
inline constexpr Rgb Black{0, 0, 0};
inline constexpr Rgb Grey{128, 128, 128};
inline constexpr Rgb LightGrey{225, 225, 225};
} // namespace colors

/// The viridis colour map (perceptually uniform, readable in grey and by
/// colour-blind readers): t = 0 is dark purple, t = 1 yellow. `t` is clamped
/// to [0, 1]; NaN gives grey so missing values stand out.
Rgb viridis(double t);

/// Distinct colours for line series (matplotlib's "tab10"), cycling.
Rgb seriesColor(int i);

/// Up to about `maxTicks` round tick positions (1, 2 or 5 times a power of
/// ten) inside [lo, hi]; returns {lo} when the range is empty or not finite.
std::vector<double> niceTicks(double lo, double hi, int maxTicks);

/// Labels for one axis' ticks (as from niceTicks), in one style for the
/// whole axis: fixed decimals just enough to tell the ticks apart ("0.25",
/// "-1", "2000"), or, for very small or large values, "2e-4"; 0 is "0".
std::vector<std::string> tickLabels(const std::vector<double> &ticks);

/// Compact scientific text with 3 significant digits, e.g. "3.14e-3".
std::string shortSci(double v);

enum class Align { Left, Center, Right };

/// An RGB image, origin at the top left, y growing downwards. Drawing
/// outside the image is clipped silently.
class Canvas {
public:
  Canvas(int width, int height, Rgb background = colors::White);

  int width() const { return w; }
  int height() const { return h; }
  Rgb pixel(int x, int y) const;
  void set(int x, int y, Rgb c);

  void fillRect(int x, int y, int width, int height, Rgb c);
  /// One-pixel outline of the rectangle [x, x+width) x [y, y+height).
  void strokeRect(int x, int y, int width, int height, Rgb c);
  /// A straight line `thickness` pixels wide; with `dash` > 0, alternating
  /// dashes and gaps of `dash` pixels.
  void line(double x0, double y0, double x1, double y1, Rgb c,
            int thickness = 1, int dash = 0);

  /// Text in the built-in 5x7 font magnified `scale` times; (x, y) is the
  /// top of the text and its left end, centre or right end per `align`.
  /// Characters outside printable ASCII draw as '?'.
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1,
            Align align = Align::Left);
  /// Text rotated a quarter turn anticlockwise (reading upwards), centred
  /// vertically on `y` with its top at `x`: for a y axis label.
  void textUp(int x, int y, std::string_view s, Rgb c, int scale = 1);
  static int textWidth(std::string_view s, int scale = 1);
  /// Cap height: descenders reach one more row below.
  static int textHeight(int scale = 1) { return 7 * scale; }

  /// The image as PNG bytes (indexed colour when it has at most 256
  /// colours, which keeps heat maps small; RGB otherwise). Throws Error if
  /// libpng fails.
  std::string encodePNG() const;
  /// encodePNG() written atomically to `path`.
  void savePNG(const std::string &path) const;

private:
  int w, h;
  std::vector<uint8_t> px; ///< RGB, row-major
};

} // namespace physrt

#endif // PHYSRT_PLOT_H
