//===- Progress.cpp - Live training progress line -------------------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/Progress.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <unistd.h>

using namespace physrt;

std::string physrt::formatDuration(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0)
    return "?";
  if (s < 10)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) / 60 % 60);
  return buf;
}

bool physrt::isTerminal(const std::ostream &os) {
  if (&os == &std::cout)
    return ::isatty(1);
  if (&os == &std::cerr || &os == &std::clog)
    return ::isatty(2);
  return false;
}

Progress::Progress(std::ostream &os, bool tty, bool quiet, int64_t total,
                   int64_t every, std::vector<std::string> termNames)
    : os(os), tty(tty), quiet(quiet), total(total),
      every(every > 0 ? every : 1), names(std::move(termNames)),
      start(std::chrono::steady_clock::now()), lastDraw(start) {}

std::string Progress::line(int64_t done, const std::string &stage,
                           const std::vector<double> &terms,
                           double loss) const {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  double rate = elapsed > 0 ? (done - first) / elapsed : 0;
  char buf[64];
  std::string s = stage;
  std::snprintf(buf, sizeof buf, " step %lld/%lld", (long long)done,
                (long long)total);
  s += buf;
  for (size_t t = 0; t < terms.size() && t < names.size(); ++t) {
    std::snprintf(buf, sizeof buf, " %.3e", terms[t]);
    s += "  " + names[t] + buf;
  }
  std::snprintf(buf, sizeof buf, "  total %.3e  %.1f steps/s", loss, rate);
  s += buf;
  if (rate > 0 && total > done)
    s += "  ETA " + formatDuration((total - done) / rate);
  return s;
}

void Progress::update(int64_t done, const std::string &stage,
                      const std::vector<double> &terms, double loss,
                      bool force) {
  if (quiet || (done == lastShown && !force))
    return;
  bool last = done >= total;
  if (!tty) {
    if (done % every == 0 || last) {
      os << line(done, stage, terms, loss) << '\n' << std::flush;
      lastShown = done;
    }
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (!last && !force && drawn &&
      now - lastDraw < std::chrono::milliseconds(100))
    return;
  lastDraw = now;
  drawn = true;
  lastShown = done;
  std::string s = line(done, stage, terms, loss);
  size_t width = s.size();
  if (width < lastWidth)
    s.append(lastWidth - width, ' '); // erase the rest of a longer line
  lastWidth = width;
  os << '\r' << s << std::flush;
}

void Progress::finish() {
  if (!quiet && tty && drawn)
    os << '\n' << std::flush;
  drawn = false;
  lastWidth = 0;
}
