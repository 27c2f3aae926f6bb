//===- Progress.h - Live training progress line -----------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Training runs for minutes; the user
// wants to see the losses move, the speed and when it will finish, without
// the log drowning a terminal or a CI log.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_PROGRESS_H
#define PHYSRT_PROGRESS_H

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace physrt {

/// "1h02m", "3m05s", "24s", "0.8s".
std::string formatDuration(double seconds);

/// Whether `os` is std::cout / std::cerr / std::clog attached to a terminal.
bool isTerminal(const std::ostream &os);

/// Prints "STAGE step K/TOTAL  TERM LOSS ...  total LOSS  R steps/s  ETA T".
/// On a terminal one line is rewritten in place with '\r' (at most ~10 times
/// a second, and always at the last step); otherwise a plain line is printed
/// every `every` steps and at the last one.
class Progress {
public:
  Progress(std::ostream &os, bool tty, bool quiet, int64_t total, int64_t every,
           std::vector<std::string> termNames);

  /// `done` steps are finished (1-based), with these unweighted term losses
  /// and weighted total. `total` may shrink when an optimiser stops early.
  /// A step already shown is shown again only if `force`.
  void update(int64_t done, const std::string &stage,
              const std::vector<double> &terms, double loss,
              bool force = false);
  /// Lowers the planned total (an optimiser stopped early).
  void setTotal(int64_t newTotal) { total = newTotal; }
  /// A resumed run starts at `step`: the rate counts steps from there.
  void startAt(int64_t step) { first = step; }
  /// Ends a terminal line so later output starts on a fresh line.
  void finish();

private:
  std::string line(int64_t done, const std::string &stage,
                   const std::vector<double> &terms, double loss) const;

  std::ostream &os;
  bool tty, quiet;
  int64_t total, every;
  int64_t first = 0; ///< steps done before this process started
  std::vector<std::string> names;
  std::chrono::steady_clock::time_point start, lastDraw;
  bool drawn = false;
  int64_t lastShown = -1; ///< step of the last line shown (no duplicates)
  size_t lastWidth = 0;
};

} // namespace physrt

#endif // PHYSRT_PROGRESS_H
