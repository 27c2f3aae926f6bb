//===- Pictures.h - What to draw for a trained model ------------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). After `physc train --out DIR` a user
// wants to see whether training converged and what the solution looks like
// without writing a plotting script: DIR gets loss.png / loss.csv (the loss
// of every term along the run), field_NAME.png per field (a heat map, next
// to the exact solution and the pointwise error when there is one) and
// fields.vti (the same grids for ParaView).
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_PICTURES_H
#define PHYSRT_PICTURES_H

#include "physrt/Model.h"
#include "physrt/Plot.h"
#include "physrt/ThreadPool.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

/// Per-term losses along a run, recorded every `every` steps (and at step 1
/// and the last step seen) so a long run keeps ~1000 samples.
struct LossHistory {
  struct Sample {
    int64_t step = 0;
    std::string stage;         ///< adam|lbfgs
    std::vector<double> terms; ///< unweighted mean squared residual per term
    double total = 0;          ///< weighted sum
  };
  std::vector<std::string> termNames;
  int64_t every = 1;
  std::vector<Sample> samples;

  /// Notes the losses after step `step`; keeps them if the step is due.
  void add(int64_t step, const std::string &stage,
           const std::vector<double> &terms, double total);
  /// Keeps the last step noted if it was not kept (end of the run).
  void flush();

private:
  Sample last;
  bool pending = false;
};

/// The recording interval for a run of `plannedSteps`: about 1000 samples.
int64_t lossHistoryInterval(int64_t plannedSteps);

/// "step,stage,TERM...,total" then one row per sample.
std::string lossCSV(const LossHistory &H);

/// The loss curves: one line per term and the weighted total, log-scale y.
/// Non-positive and non-finite values are left out (the line breaks there);
/// with no positive value at all the axes are still drawn, with a note.
Canvas plotLoss(const LossHistory &H);

/// A regular tensor grid found in tabulated points: the sorted distinct
/// values per coordinate and, for each point, its flat index in that grid
/// (first coordinate slowest). Empty `axes` when the points are no grid
/// (some combination missing or repeated).
struct TableGrid {
  std::vector<std::vector<double>> axes;
  std::vector<int64_t> flat;
};
TableGrid findTableGrid(const std::vector<double> &points, int64_t count,
                        int numCoords);

/// The picture of field output `field`: for 2+ coordinates a heat map over
/// the first two (others at their midpoint), for one a line plot; with an
/// exact solution, three panels: prediction | exact | |error|. A tabulated
/// exact on a regular grid is drawn on that grid.
Canvas plotField(const CompiledModel &M, int field,
                 const std::vector<double> &params,
                 const std::vector<double> &rt, ThreadPool &pool);

/// VTK ImageData (XML, ASCII) of every field, `exact_NAME` and `error_NAME`
/// (|prediction - exact|) on a grid over up to three coordinates (further
/// ones at their midpoint). The grid is that of a uniformly spaced
/// tabulated exact when there is one, else a tensor grid of the box.
std::string fieldsVTI(const CompiledModel &M, const std::vector<double> &params,
                      const std::vector<double> &rt, ThreadPool &pool);

/// Writes loss.png, loss.csv, field_NAME.png per field and fields.vti into
/// `dir`, each atomically.
void writePictures(const std::string &dir, const CompiledModel &M,
                   const std::vector<double> &params,
                   const std::vector<double> &rt, const LossHistory &H,
                   ThreadPool &pool);

} // namespace physrt

#endif // PHYSRT_PICTURES_H
