// Exceptions and OpenMP regions.
//
// An exception must not leave an OpenMP parallel region: the runtime calls std::terminate and
// the process dies with SIGABRT (a bad_alloc of a thread's scratch buffer did exactly that).
// Work inside a region therefore runs through OmpGuard::run: the first exception any thread
// throws is kept, the rest of every thread's work is skipped, and guard.rethrow() after the
// region raises it on the calling thread, where pybind11 turns it into a Python exception
// (std::bad_alloc -> MemoryError).  Skipping, not leaving: each thread still reaches every
// worksharing construct and barrier of the region, so nothing waits forever on a thread that
// threw.
//
//   OmpGuard guard;
//   #pragma omp parallel
//   {
//     std::vector<T> scratch;
//     guard.run([&] { scratch.resize(n); });
//   #pragma omp for
//     for (index_t i = 0; i < m; ++i) guard.run([&] { work(i, scratch); });
//   }
//   guard.rethrow();
//
// Scratch that each thread of a region needs is best allocated before the region, so that a
// bad_alloc is an ordinary exception: PerThread<T>(len) holds omp_get_max_threads() slices of
// len elements (each padded to a cache line), and get() is the calling thread's slice.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <vector>

#include "common.h"

namespace pycnn {

class OmpGuard {
 public:
  template <typename F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      keep(std::current_exception());
    }
  }

  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void keep(std::exception_ptr e) noexcept {
#pragma omp critical(pycnn_omp_guard)
    {
      if (!error_) error_ = e;
    }
    failed_.store(true, std::memory_order_relaxed);
  }

  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

template <typename T>
class PerThread {
 public:
  explicit PerThread(index_t len, T init = T())
      : stride_(ceil_div(std::max<index_t>(len, 1), kLine) * kLine),
        buf_(size_t(stride_ * omp_get_max_threads()), init) {}
  // the calling thread's slice (call inside a region without a num_threads clause larger than
  // omp_get_max_threads(), which is every region here)
  T* get() { return buf_.data() + stride_ * omp_get_thread_num(); }

 private:
  static constexpr index_t kLine = sizeof(T) >= 64 ? 1 : index_t(64 / sizeof(T));
  index_t stride_;
  std::vector<T> buf_;
};

}  // namespace pycnn
