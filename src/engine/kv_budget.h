// The server's memory for KV caches: one budget shared by every model and
// session. A job reserves, before it runs, the most its session's cache may
// reach (prompt plus max_tokens), so a running job never runs out; when the
// budget is short, the caches of the least recently used idle sessions are
// handed back to the operating system. Such a session stays valid: its next
// job finds it empty and prefills its whole context again (fewer cached
// tokens, same output). Only sessions that running jobs use make a job wait.
// A job whose max_tokens would not fit even in an empty budget generates
// what the budget holds (as at the end of a context); one whose prompt does
// not fit is refused.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace glint::engine {

class Session;

class KvBudget {
 public:
  explicit KvBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  KvBudget(const KvBudget&) = delete;
  KvBudget& operator=(const KvBudget&) = delete;

  enum class Grant {
    kGranted,  // the session is in use, its reservation charged
    kWait,     // running jobs hold the memory: try again when one ends
    kNever,    // more than the whole budget
  };
  // For a job about to run on `session` that may fill `positions`: marks
  // the session in use and charges it for that many positions, evicting idle
  // sessions (least recently used first) when that is needed to fit. The
  // session's own pages past `positions` are its owner's to trim (Admit).
  Grant Reserve(Session& session, int32_t positions);
  // The job is done: the session is idle (evictable) and charged for the
  // pages it holds.
  void Release(Session& session);

  size_t limit() const { return limit_; }
  // Bytes charged: reservations of sessions in use, pages of idle ones.
  size_t charged() const;
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  // What one more job of `positions` on a fresh session would need.
  size_t BytesFor(const Session& session, int32_t positions) const;

 private:
  friend class Session;  // registers itself for its lifetime
  struct Entry {
    bool in_use = false;
    int32_t reserved = 0;    // positions, while in use
    uint64_t last_used = 0;  // LRU order among idle sessions
  };
  void Add(Session* session);
  void Remove(Session* session);
  size_t ChargeLocked(const Session* session, const Entry& e) const;

  const size_t limit_;
  mutable std::mutex mu_;
  std::unordered_map<Session*, Entry> entries_;
  uint64_t clock_ = 0;
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace glint::engine
