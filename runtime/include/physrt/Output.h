//===- Output.h - Trained fields on a grid (fields.csv) ---------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). After training, every field output is
// tabulated on a tensor grid of the box so users can plot it with any tool,
// next to the analytic exact solution where the model has one.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_OUTPUT_H
#define PHYSRT_OUTPUT_H

#include "physrt/Model.h"
#include "physrt/Sampler.h"
#include "physrt/ThreadPool.h"

#include <cstdint>
#include <string>
#include <vector>

namespace physrt {

/// Grid points per coordinate for `numCoords` coordinates, keeping the grid
/// at most ~200k points: 1001, 101, 41, 21, 11, 7, 5, 4, then 3.
int64_t gridPointsPerCoord(int numCoords);

/// The tensor grid with `perCoord` points per coordinate spanning each
/// coordinate's [lo, hi] (endpoints included), the first coordinate varying
/// slowest (row-major, like numpy's meshgrid(indexing="ij")).
Batch tensorGrid(const CompiledModel &M, int64_t perCoord);

/// Shortest decimal text that reads back as the same double.
std::string formatDouble(double x);

/// CSV text of the fields on tensorGrid(M, gridPointsPerCoord(...)):
/// a header of the coordinate names, the field names and `exact_NAME` for
/// each field with an analytic (`eval`) exact, then one row per point.
std::string fieldsCSV(const CompiledModel &M, const std::vector<double> &params,
                      const std::vector<double> &rt, ThreadPool &pool);

/// Writes fieldsCSV(...) to `path` atomically.
void writeFieldsCSV(const std::string &path, const CompiledModel &M,
                    const std::vector<double> &params,
                    const std::vector<double> &rt, ThreadPool &pool);

} // namespace physrt

#endif // PHYSRT_OUTPUT_H
