// Activation buffers of one forward pass, reused from call to call so that
// decoding allocates nothing. One per session (or per engine thread).
#pragma once

#include <cstdint>
#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/matmul.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

namespace glint::model {

class ForwardScratch {
 public:
  ForwardScratch(const HParams& hp, int32_t max_batch);

  // Grows the per-thread attention buffers for a cache of n_ctx positions and
  // `n_threads` threads; a no-op once large enough.
  void Reserve(int32_t n_ctx, int32_t n_threads);

  int32_t max_batch() const { return max_batch_; }

  // Attention rows are padded to a multiple of 16 positions (the reference
  // pads its KV view to 256; the padding only matters per 16-lane group).
  static int32_t PadAttention(int32_t n_ctx) { return (n_ctx + 15) / 16 * 16; }
  // The weighted sum of V keeps one partial sum per position modulo 64
  // (decode) or 16 (prompt), as the reference's two F16 dot products do.
  static constexpr int32_t kAttnMaxSlots = 64;

  // Attention is split over threads by item (a token and a KV head) unless
  // the items are fewer than kAttnShareItemsPerThread per thread and do not
  // go round evenly (one decode step of a model with 3 KV heads on 2
  // threads): then all threads share every item, at the cost of two more
  // synchronizations per layer, worth it once a row of the largest context
  // in the chunk holds attn_share_min_work multiply-adds per head group
  // (n_ctx * group * head_dim; measured on SmolLM2-135M at 2 threads: even
  // at about 128 positions, 3% faster at 256, 20% at 2048).
  static constexpr int32_t kAttnShareItemsPerThread = 4;
  static constexpr int64_t kAttnShareMinWork = 1 << 15;
  int64_t attn_share_min_work = kAttnShareMinWork;  // tests set 0 to share at every depth
  bool ShareAttention(int64_t n_items, int32_t n_threads, int32_t max_ctx) const;

  // Consecutive tokens of one cache (a prompt chunk, a speculative draft)
  // are an item together, up to kAttnMaxRun of them: their queries share
  // each read of a K and V row, which otherwise every token would stream
  // from memory again.
  static constexpr int32_t kAttnMaxRun = 8;
  struct Run {
    int32_t first;  // token index in the chunk
    int32_t n;      // tokens
  };
  std::vector<Run> attn_runs;  // capacity max_batch: filled without allocating

  struct ThreadBuffers {
    AlignedBuffer<float> scores;   // [run][group][PadAttention(n_ctx)]: attention weights of the heads sharing a KV head
    AlignedBuffer<uint16_t> q16;   // [run][group][head_dim]: queries rounded to f16, as the reference does
    AlignedBuffer<float> vacc;     // [run][group][kAttnMaxSlots][head_dim]: partial sums of p * V
  };

  // The tokens of the chunk being evaluated are tokens ref_first.. of a
  // batch of ref_batch tokens of the reference engine, which picks its
  // summation orders by batch size (attention: tinyBLAS for more than one
  // token; weights: see kernels::BatchedOrder).
  int32_t ref_batch = 1;
  int32_t ref_first = 0;

  // Where each token of the chunk goes: position and cache.  [max_batch]
  std::vector<int32_t> pos;
  std::vector<KvCache*> seq_kv;
  // n consecutive positions of one cache, from `first`.
  void SetPositions(int32_t first, int32_t n, KvCache* kv) {
    for (int32_t t = 0; t < n; ++t) {
      pos[t] = first + t;
      seq_kv[t] = kv;
    }
  }

  AlignedBuffer<float> x;         // [max_batch][n_embd]   residual stream
  AlignedBuffer<float> cur;       // [max_batch][n_embd]   normed input of a sub-layer
  AlignedBuffer<float> q;         // [max_batch][n_embd_q]
  AlignedBuffer<float> k;         // [max_batch][n_embd_kv]
  AlignedBuffer<float> v;         // [max_batch][n_embd_kv]
  AlignedBuffer<float> attn;      // [max_batch][n_embd_q]  attention output before wo
  AlignedBuffer<float> gate;      // [max_batch][n_ff]
  AlignedBuffer<float> up;        // [max_batch][n_ff]
  AlignedBuffer<float> rope_cos;  // [max_batch][n_rot/2]
  AlignedBuffer<float> rope_sin;  // [max_batch][n_rot/2]
  std::vector<ThreadBuffers> threads;
  // For attention items shared by all threads:
  AlignedBuffer<uint16_t> shared_q16;  // [max_batch][n_embd_q]  queries in f16
  AlignedBuffer<float> shared_scores;  // [items][group][PadAttention(n_ctx)]  attention weights
  kernels::MatMulScratch matmul;
  // Activations quantized while the products still read `matmul`'s (Wdown's
  // input, written by the gate and up products' section).
  kernels::MatMulScratch matmul_next;

 private:
  HParams hp_;
  int32_t max_batch_;
  int32_t reserved_ctx_ = 0;
};

}  // namespace glint::model
