//===- ThreadPool.cpp - A persistent pool for parallel loops --------------===//
//
// Part of physc's runtime (libphysrt).
//
//===----------------------------------------------------------------------===//

#include "physrt/ThreadPool.h"

using namespace physrt;

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0)
    threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0)
    threads = 1;
  workers.reserve(threads - 1);
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

/// Takes indices of the current job until none are left. Called with `mu`
/// unlocked.
void ThreadPool::runIndices() {
  for (;;) {
    int64_t i;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (next >= jobCount)
        return;
      i = next++;
    }
    try {
      (*job)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (errorIndex < 0 || i < errorIndex) {
        errorIndex = i;
        error = std::current_exception();
      }
    }
  }
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      ++busy;
    }
    runIndices();
    {
      std::lock_guard<std::mutex> lock(mu);
      --busy;
    }
    done.notify_all();
  }
}

void ThreadPool::parallelFor(int64_t count,
                             const std::function<void(int64_t)> &body) {
  if (count <= 0)
    return;
  if (workers.empty() || count == 1) {
    // No hand-off needed; exceptions propagate from the first failing index,
    // which is also the lowest.
    for (int64_t i = 0; i < count; ++i)
      body(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    job = &body;
    jobCount = count;
    next = 0;
    errorIndex = -1;
    error = nullptr;
    ++generation;
  }
  wake.notify_all();
  runIndices();
  std::exception_ptr e;
  {
    std::unique_lock<std::mutex> lock(mu);
    // All indices are handed out; wait for workers still running one. A
    // worker that wakes late finds no index left and leaves at once.
    done.wait(lock, [&] { return busy == 0; });
    job = nullptr;
    jobCount = 0;
    e = error;
    error = nullptr;
  }
  if (e)
    std::rethrow_exception(e);
}
