// Activation buffers of one forward pass, reused from call to call so that
// decoding allocates nothing. One per session (or per engine thread).
#pragma once

#include <cstdint>
#include <vector>

#include "base/aligned_buffer.h"
#include "kernels/matmul.h"
#include "model/hparams.h"

namespace glint::model {

class ForwardScratch {
 public:
  ForwardScratch(const HParams& hp, int32_t max_batch);

  // Grows the per-thread attention buffers for a cache of n_ctx positions and
  // `n_threads` threads; a no-op once large enough.
  void Reserve(int32_t n_ctx, int32_t n_threads);

  int32_t max_batch() const { return max_batch_; }

  struct ThreadBuffers {
    AlignedBuffer<float> scores;   // [group][n_ctx]: attention weights of the heads sharing a KV head
    AlignedBuffer<uint16_t> q16;   // [group][head_dim]: queries rounded to f16, as the reference does
    AlignedBuffer<float> row;      // [head_dim]: one V row in f32
  };

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
  kernels::MatMulScratch matmul;

 private:
  HParams hp_;
  int32_t max_batch_;
  int32_t reserved_ctx_ = 0;
};

}  // namespace glint::model
