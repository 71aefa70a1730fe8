#include "model/forward_scratch.h"

#include <algorithm>

namespace glint::model {

ForwardScratch::ForwardScratch(const HParams& hp, int32_t max_batch)
    : hp_(hp), max_batch_(max_batch < 1 ? 1 : max_batch) {
  size_t b = static_cast<size_t>(max_batch_);
  pos.resize(b);
  seq_kv.resize(b);
  x.Resize(b * hp.n_embd);
  cur.Resize(b * hp.n_embd);
  q.Resize(b * hp.n_embd_q());
  k.Resize(b * hp.n_embd_kv());
  v.Resize(b * hp.n_embd_kv());
  attn.Resize(b * hp.n_embd_q());
  gate.Resize(b * hp.n_ff);
  up.Resize(b * hp.n_ff);
  rope_cos.Resize(b * hp.n_rot / 2);
  rope_sin.Resize(b * hp.n_rot / 2);
  shared_q16.Resize(b * hp.n_embd_q());
  attn_runs.reserve(b);
}

bool ForwardScratch::ShareAttention(int64_t n_items, int32_t n_threads, int32_t max_ctx) const {
  if (n_threads <= 1 || n_items % n_threads == 0) return false;
  if (n_items >= kAttnShareItemsPerThread * n_threads) return false;
  const int64_t work =
      static_cast<int64_t>(max_ctx) * (hp_.n_heads / hp_.n_kv_heads) * hp_.head_dim;
  return work >= attn_share_min_work;
}

void ForwardScratch::Reserve(int32_t n_ctx, int32_t n_threads) {
  if (n_ctx <= reserved_ctx_ && static_cast<int32_t>(threads.size()) >= n_threads) return;
  if (n_ctx < reserved_ctx_) n_ctx = reserved_ctx_;
  int32_t group = hp_.n_heads / hp_.n_kv_heads;
  threads.resize(std::max<size_t>(threads.size(), n_threads));
  const size_t queries = static_cast<size_t>(std::min(kAttnMaxRun, max_batch_)) * group;
  for (ThreadBuffers& t : threads) {
    t.scores.Resize(queries * PadAttention(n_ctx));
    t.q16.Resize(queries * hp_.head_dim);
    t.vacc.Resize(queries * kAttnMaxSlots * hp_.head_dim);
  }
  // At most kAttnShareItemsPerThread * threads - 1 shared items.
  const int64_t shared_items =
      std::min<int64_t>(kAttnShareItemsPerThread * static_cast<int64_t>(threads.size()) - 1,
                        static_cast<int64_t>(max_batch_) * hp_.n_kv_heads);
  shared_scores.Resize(static_cast<size_t>(shared_items) * group * PadAttention(n_ctx));
  reserved_ctx_ = n_ctx;
}

}  // namespace glint::model
