#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <algorithm>
#include <numeric>
#include <thread>
#include <vector>

namespace glint {
namespace {

// Runs body on another thread and fails (then exits) if it does not finish in
// time, so a deadlocked pool is reported instead of hanging the test binary.
template <typename Fn>
void WithDeadline(int seconds, Fn body) {
  std::promise<void> done;
  std::future<void> f = done.get_future();
  std::thread t([&] {
    body();
    done.set_value();
  });
  if (f.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    ADD_FAILURE() << "deadlock: did not finish within " << seconds << " s";
    std::fflush(nullptr);
    std::_Exit(1);
  }
  t.join();
}

TEST(ThreadPoolTest, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_EQ(ThreadPool(0).size(), 1);
  EXPECT_EQ(ThreadPool(-5).size(), 1);
  EXPECT_GE(ThreadPool::HardwareThreads(), 1);
}

TEST(ThreadPoolTest, RunGivesEachThreadItsIndex) {
  WithDeadline(60, [] {
    for (int n = 1; n <= 4; ++n) {
      ThreadPool pool(n);
      std::vector<std::atomic<int>> hits(n);
      std::atomic<int> bad_nth{0};
      pool.Run([&](int ith, int nth) {
        if (nth != n) bad_nth++;
        hits[ith]++;
      });
      EXPECT_EQ(bad_nth.load(), 0);
      for (int i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "threads " << n << " ith " << i;
    }
  });
}

TEST(ThreadPoolTest, RunSumsCorrectly) {
  WithDeadline(60, [] {
    const int64_t n = 1'000'003;
    for (int threads = 1; threads <= 4; ++threads) {
      ThreadPool pool(threads);
      std::vector<int64_t> partial(threads, 0);
      pool.Run([&](int ith, int nth) {
        int64_t begin = n * ith / nth, end = n * (ith + 1) / nth;
        for (int64_t i = begin; i < end; ++i) partial[ith] += i;
      });
      EXPECT_EQ(std::accumulate(partial.begin(), partial.end(), int64_t{0}), n * (n - 1) / 2)
          << threads << " threads";
    }
  });
}

TEST(ThreadPoolTest, ParallelForCoversEachIndexOnce) {
  WithDeadline(120, [] {
    for (int threads = 1; threads <= 4; ++threads) {
      ThreadPool pool(threads);
      for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 100, 1000, 4097}) {
        std::vector<std::atomic<int>> seen(n);
        std::atomic<int> calls{0}, empty_ranges{0};
        pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
          calls++;
          if (begin >= end) empty_ranges++;
          for (int64_t i = begin; i < end; ++i) seen[i]++;
        });
        EXPECT_EQ(empty_ranges.load(), 0);
        EXPECT_LE(calls.load(), threads);
        EXPECT_EQ(calls.load(), std::min<int64_t>(n, threads)) << "n " << n;
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(seen[i].load(), 1) << "threads " << threads << " n " << n << " i " << i;
        }
      }
    }
  });
}

TEST(ThreadPoolTest, ThousandsOfBackToBackRuns) {
  // As many threads as cores: with more, the spinning caller and workers
  // share cores and each Run waits for a time slice (milliseconds), see
  // OversubscribedRunsStillFinish.
  const int threads = std::min(4, std::max(2, ThreadPool::HardwareThreads()));
  WithDeadline(120, [threads] {
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    const int kRuns = 20000;
    for (int r = 0; r < kRuns; ++r) {
      pool.Run([&](int ith, int nth) { total.fetch_add(ith + 1, std::memory_order_relaxed); });
    }
    EXPECT_EQ(total.load(), int64_t{kRuns} * threads * (threads + 1) / 2);
  });
}

TEST(ThreadPoolTest, OversubscribedRunsStillFinish) {
  WithDeadline(120, [] {
    const int threads = ThreadPool::HardwareThreads() + 2;
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    for (int r = 0; r < 300; ++r) {
      pool.Run([&](int, int) { total.fetch_add(1, std::memory_order_relaxed); });
    }
    EXPECT_EQ(total.load(), int64_t{300} * threads);
  });
}

TEST(ThreadPoolTest, ResultsOfOneRunAreVisibleAfterIt) {
  WithDeadline(60, [] {
    ThreadPool pool(3);
    std::vector<int> data(3000, 0);  // plain ints: Run must publish the writes
    for (int r = 1; r <= 500; ++r) {
      pool.ParallelFor(3000, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) data[i] += 1;
      });
      ASSERT_EQ(std::accumulate(data.begin(), data.end(), 0), 3000 * r);
    }
  });
}

TEST(ThreadPoolTest, RunRightAfterConstruction) {
  // Regression: workers used to read the epoch when they started, so one that
  // started after the first Run() missed it and Run() never returned.
  WithDeadline(120, [] {
    for (int i = 0; i < 300; ++i) {
      ThreadPool pool(2 + i % 3);
      std::atomic<int> n{0};
      pool.Run([&](int, int) { n++; });
      ASSERT_EQ(n.load(), pool.size());
    }
  });
}

TEST(ThreadPoolTest, DestructionWhileIdle) {
  WithDeadline(120, [] {
    for (int i = 0; i < 300; ++i) ThreadPool pool(1 + i % 4);  // never ran
    ThreadPool pool(4);
    pool.Run([](int, int) {});
    // Let the workers stop spinning and go to sleep before destruction.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });
}

TEST(ThreadPoolTest, SingleThreadRunsInline) {
  ThreadPool pool(1);
  std::thread::id caller = std::this_thread::get_id(), ran;
  pool.Run([&](int ith, int nth) {
    EXPECT_EQ(ith, 0);
    EXPECT_EQ(nth, 1);
    ran = std::this_thread::get_id();
  });
  EXPECT_EQ(ran, caller);
}

TEST(ThreadPoolTest, CallerIsThreadZero) {
  WithDeadline(60, [] {
    ThreadPool pool(3);
    std::thread::id caller = std::this_thread::get_id(), zero;
    pool.Run([&](int ith, int) {
      if (ith == 0) zero = std::this_thread::get_id();
    });
    EXPECT_EQ(zero, caller);
  });
}

}  // namespace
}  // namespace glint
