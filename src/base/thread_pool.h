// A fixed pool of worker threads for data-parallel kernels.
//
// Decoding a small model issues hundreds of parallel sections per token, each
// a few microseconds long, so waking workers through a condition variable
// would cost more than the work. Workers spin on an epoch counter for a short
// while after each section and only then sleep (std::atomic::wait, a futex).
// The calling thread always takes part as thread 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace glint {

class ThreadPool {
 public:
  // n_threads counts the caller; n_threads <= 1 runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) on every thread and returns when all have finished.
  // Not reentrant: fn must not call Run on the same pool.
  template <typename Fn>
  void Run(Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    RunImpl([](void* ctx, int ith, int nth) { (*static_cast<F*>(ctx))(ith, nth); },
            const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into one contiguous range per thread: fn(begin, end).
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    Run([&](int ith, int nth) {
      int64_t begin = n * ith / nth;
      int64_t end = n * (ith + 1) / nth;
      if (begin < end) fn(begin, end);
    });
  }

  // The cores this process may use (base/machine.h), at least 1.
  static int HardwareThreads();

 private:
  using TaskFn = void (*)(void* ctx, int ith, int nth);
  void RunImpl(TaskFn fn, void* ctx);
  void WorkerLoop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  TaskFn task_fn_ = nullptr;
  void* task_ctx_ = nullptr;
  alignas(64) std::atomic<uint64_t> epoch_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<bool> stop_{false};
};

}  // namespace glint
