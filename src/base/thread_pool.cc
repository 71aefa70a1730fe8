#include "base/thread_pool.h"

#include "base/machine.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GLINT_CPU_RELAX() _mm_pause()
#else
#define GLINT_CPU_RELAX() ((void)0)
#endif

namespace glint {
namespace {
// About a millisecond of spinning before a worker sleeps: long enough to span
// the gap between the kernels of one forward pass, short enough that an idle
// server does not burn a core.
constexpr int kSpinIterations = 1 << 15;
// After this many pause-spins a waiting thread yields its core on each
// iteration: when there are more runnable threads than cores, the thread it
// waits for may need exactly that core.
constexpr int kPauseSpins = 1 << 10;

inline void Backoff(int spin) {
  if (spin < kPauseSpins) {
    GLINT_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  epoch_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::HardwareThreads() { return UsableCores(); }

void ThreadPool::RunImpl(TaskFn fn, void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  task_fn_ = fn;
  task_ctx_ = ctx;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  epoch_.fetch_add(1, std::memory_order_acq_rel);  // publishes task_fn_/task_ctx_
  epoch_.notify_all();
  fn(ctx, 0, n_threads_);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) Backoff(spin);
}

void ThreadPool::WorkerLoop(int ith) {
  // Not epoch_.load(): a worker that starts after the first Run() (or the
  // destructor) has bumped the epoch would wait for the next one forever.
  uint64_t seen = 0;  // the epoch at construction
  for (;;) {
    uint64_t now = seen;
    for (int spin = 0; spin < kSpinIterations; ++spin) {
      now = epoch_.load(std::memory_order_acquire);
      if (now != seen) break;
      Backoff(spin);
    }
    while (now == seen) {
      epoch_.wait(seen, std::memory_order_acquire);
      now = epoch_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    task_fn_(task_ctx_, ith, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace glint
