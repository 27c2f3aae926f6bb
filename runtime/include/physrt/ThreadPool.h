//===- ThreadPool.h - A persistent pool for parallel loops ------*- C++ -*-===//
//
// Part of physc's runtime (libphysrt). Training runs thousands of steps of a
// few milliseconds each, so the worker threads are started once and reused:
// a step only hands out loop indices, it never creates threads.
//
//===----------------------------------------------------------------------===//

#ifndef PHYSRT_THREADPOOL_H
#define PHYSRT_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace physrt {

/// A fixed set of worker threads running parallel-for loops. The calling
/// thread takes part, so a pool of size 1 has no worker thread at all.
/// One loop at a time: parallelFor is not reentrant and not meant to be
/// called from several threads at once.
class ThreadPool {
public:
  /// `threads` <= 0 means std::thread::hardware_concurrency() (at least 1).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Number of threads that run loop bodies, the caller included.
  int size() const { return static_cast<int>(workers.size()) + 1; }

  /// Runs body(i) for every i in [0, count), indices handed out dynamically.
  /// Which thread runs which index is unspecified, so bodies must write to
  /// disjoint places. If bodies throw, the exception of the lowest such
  /// index is rethrown here after all indices have finished.
  void parallelFor(int64_t count, const std::function<void(int64_t)> &body);

private:
  void workerLoop();
  void runIndices();

  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake, done;
  const std::function<void(int64_t)> *job = nullptr;
  int64_t jobCount = 0, next = 0;
  uint64_t generation = 0;
  int busy = 0;
  bool stopping = false;
  int64_t errorIndex = -1;
  std::exception_ptr error;
};

} // namespace physrt

#endif // PHYSRT_THREADPOOL_H
