#include "engine/kv_budget.h"

#include <algorithm>
#include <vector>

#include "engine/generator.h"

namespace glint::engine {

size_t KvBudget::BytesFor(const Session& session, int32_t positions) const {
  return session.kv().ResidentBytes(positions);
}

size_t KvBudget::ChargeLocked(const Session* session, const Entry& e) const {
  const model::KvCache& kv = session->kv();
  const int32_t positions = e.in_use ? std::max(e.reserved, kv.high_water()) : kv.high_water();
  return kv.ResidentBytes(positions);
}

KvBudget::Grant KvBudget::Reserve(Session& session, int32_t positions) {
  const size_t need = BytesFor(session, positions);
  if (need > limit_) return Grant::kNever;
  std::lock_guard<std::mutex> lock(mu_);
  auto self = entries_.find(&session);
  if (self == entries_.end()) self = entries_.emplace(&session, Entry{}).first;
  size_t others = 0;
  std::vector<std::pair<uint64_t, Session*>> idle;  // (last_used, session)
  for (const auto& [s, e] : entries_) {
    if (s == &session) continue;
    const size_t charge = ChargeLocked(s, e);
    others += charge;
    if (!e.in_use && charge > 0) idle.emplace_back(e.last_used, s);
  }
  if (others + need > limit_) {
    // What eviction could free first, so that a job that must wait anyway
    // does not throw caches away for nothing.
    size_t evictable = 0;
    for (const auto& [t, s] : idle) evictable += ChargeLocked(s, entries_.at(s));
    if (others - evictable + need > limit_) return Grant::kWait;
    std::sort(idle.begin(), idle.end());
    for (const auto& [t, s] : idle) {
      if (others + need <= limit_) break;
      others -= ChargeLocked(s, entries_.at(s));
      // Idle: no thread touches the session's cache until it is reserved
      // again, which needs this lock. Its owner sees `evicted_` then and
      // forgets the tokens the cache no longer holds.
      s->kv().Trim(0);
      s->evicted_.store(true, std::memory_order_release);
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  self->second.in_use = true;
  self->second.reserved = positions;
  return Grant::kGranted;
}

void KvBudget::Release(Session& session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(&session);
  if (it == entries_.end()) return;
  it->second.in_use = false;
  it->second.reserved = 0;
  it->second.last_used = ++clock_;
}

size_t KvBudget::charged() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [s, e] : entries_) n += ChargeLocked(s, e);
  return n;
}

void KvBudget::Add(Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.emplace(session, Entry{false, 0, ++clock_});
}

void KvBudget::Remove(Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(session);
}

}  // namespace glint::engine
