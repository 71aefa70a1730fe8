#include "engine/session_pool.h"

namespace glint::engine {

SessionPool::SessionPool(const model::Model& model, int32_t n_ctx, int32_t slots,
                         std::shared_ptr<KvBudget> budget)
    : model_(model), n_ctx_(n_ctx), slots_(slots < 0 ? 0 : slots), budget_(std::move(budget)) {}

std::shared_ptr<Session> SessionPool::Acquire(const std::vector<TokenId>& prompt) {
  std::lock_guard<std::mutex> lock(mu_);
  Slot* best = nullptr;
  size_t best_common = 0;
  for (Slot& s : pool_) {
    if (s.busy) continue;
    const size_t common = s.session->CommonPrefix(prompt);
    if (best == nullptr || common > best_common ||
        (common == best_common && s.last_used < best->last_used)) {
      best = &s;
      best_common = common;
    }
  }
  if (best == nullptr && static_cast<int32_t>(pool_.size()) < slots_) {
    pool_.push_back({std::make_shared<Session>(model_, n_ctx_, budget_), false, 0});
    best = &pool_.back();
  }
  if (best == nullptr) return std::make_shared<Session>(model_, n_ctx_, budget_);  // all busy
  best->busy = true;
  best->last_used = ++clock_;
  return best->session;
}

void SessionPool::Release(std::shared_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Slot& s : pool_) {
    if (s.session == session) {
      s.busy = false;
      s.last_used = ++clock_;
      return;
    }
  }
}

size_t SessionPool::KvBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Slot& s : pool_) n += s.session->kv().used_bytes();  // a relaxed atomic read
  return n;
}

}  // namespace glint::engine
