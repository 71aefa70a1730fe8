// The keys and values of one sequence, owned by the caller (a session).
// F16, as the reference stores them by default.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/aligned_buffer.h"
#include "model/hparams.h"

namespace glint::model {

class KvCache {
 public:
  KvCache(const HParams& hp, int32_t n_ctx);

  int32_t capacity() const { return n_ctx_; }
  // Positions filled. Atomic so that other threads may read it (metrics)
  // while the inference thread writes.
  int32_t size() const { return n_past_.load(std::memory_order_relaxed); }
  // Drops positions >= n (rolls back a rejected draft, or restarts a turn
  // from a shared prefix).
  void Truncate(int32_t n) {
    if (n < size()) n_past_.store(n < 0 ? 0 : n, std::memory_order_relaxed);
  }
  void Clear() { n_past_.store(0, std::memory_order_relaxed); }

  // Memory. Truncating keeps the pages a longer sequence committed; Trim
  // hands the pages past `keep` positions back to the operating system
  // (the cache then holds at most `keep` positions), and Trim(0) all of it.
  void Trim(int32_t keep);
  // The positions whose pages may be committed: the most this cache held
  // since it was last trimmed.
  int32_t high_water() const { return high_water_.load(std::memory_order_relaxed); }
  // Resident bytes of a cache that reached `positions` (whole pages, per
  // layer, for K and V): what the KV budget charges.
  size_t ResidentBytes(int32_t positions) const;
  // The most positions whose pages fit in `bytes` (the inverse).
  int32_t PositionsWithin(size_t bytes) const;
  // Bytes reserved for the whole context, and bytes holding positions.
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }
  size_t used_bytes() const {
    return 2 * static_cast<size_t>(n_layers_) * size() * row_ * sizeof(uint16_t);
  }

  // K and V rows of layer l at position pos: n_kv_heads x head_dim halves.
  // Halves from one position's row to the next (within a layer).
  int64_t row_stride() const { return static_cast<int64_t>(row_); }
  uint16_t* k(int32_t layer, int32_t pos) { return k_.data() + Offset(layer, pos); }
  uint16_t* v(int32_t layer, int32_t pos) { return v_.data() + Offset(layer, pos); }
  const uint16_t* k(int32_t layer, int32_t pos) const { return k_.data() + Offset(layer, pos); }
  const uint16_t* v(int32_t layer, int32_t pos) const { return v_.data() + Offset(layer, pos); }

  void Advance(int32_t n) {
    const int32_t now = n_past_.fetch_add(n, std::memory_order_relaxed) + n;
    if (now > high_water_.load(std::memory_order_relaxed)) {
      high_water_.store(now, std::memory_order_relaxed);  // written by the owner only
    }
  }

 private:
  size_t Offset(int32_t layer, int32_t pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * row_;
  }

  int32_t n_ctx_;
  int32_t n_layers_;
  std::atomic<int32_t> n_past_{0};
  std::atomic<int32_t> high_water_{0};
  size_t row_;                   // n_kv_heads * head_dim
  AlignedBuffer<uint16_t> k_;    // [n_layers][n_ctx][n_kv_heads][head_dim]
  AlignedBuffer<uint16_t> v_;    // [n_layers][n_ctx][n_kv_heads][head_dim]
};

}  // namespace glint::model
