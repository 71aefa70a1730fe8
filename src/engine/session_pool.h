// Sessions for requests that bring their whole context each time
// (stateless HTTP): a small pool of KV caches, and each request takes the
// idle one that already holds the longest prefix of its prompt, so a
// conversation resent turn after turn is prefilled only from where it grew.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/generator.h"
#include "model/model.h"

namespace glint::engine {

class SessionPool {
 public:
  // `slots` sessions of n_ctx positions at most are kept between requests.
  SessionPool(const model::Model& model, int32_t n_ctx, int32_t slots,
              std::shared_ptr<KvBudget> budget = nullptr);

  // An idle session for `prompt` (the longest common prefix wins, then the
  // least recently used); a new one when all are busy. Thread-safe.
  std::shared_ptr<Session> Acquire(const std::vector<TokenId>& prompt);
  // Hands a session back after its job finished (sessions beyond the
  // pool's size are dropped).
  void Release(std::shared_ptr<Session> session);

  // Bytes of KV cache holding positions, over the pool's sessions.
  size_t KvBytes() const;
  int32_t n_ctx() const { return n_ctx_; }

 private:
  struct Slot {
    std::shared_ptr<Session> session;
    bool busy = false;
    uint64_t last_used = 0;
  };
  const model::Model& model_;
  int32_t n_ctx_;
  int32_t slots_;
  std::shared_ptr<KvBudget> budget_;
  mutable std::mutex mu_;
  std::vector<Slot> pool_;
  uint64_t clock_ = 0;
};

}  // namespace glint::engine
