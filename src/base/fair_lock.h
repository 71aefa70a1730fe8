// A first-come, first-served mutex (a ticket lock that sleeps). Models
// served side by side take it around each forward pass, so that their
// passes do not run on the same cores at once (a pool's workers still spin
// briefly after their last section before they sleep), and neither model
// can starve the other: passes alternate in arrival order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace glint {

class FairLock {
 public:
  void lock() {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t ticket = next_++;
    cv_.wait(l, [&] { return serving_ == ticket; });
  }
  void unlock() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++serving_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 0;     // the ticket the next caller draws
  uint64_t serving_ = 0;  // the ticket that holds the lock
};

}  // namespace glint
