// A loaded model: hyper-parameters and weights bound to the memory-mapped
// GGUF file. Immutable after Load and shared by every session; the mutable
// per-sequence state lives in KvCache and ForwardScratch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/huge_page_buffer.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

namespace glint::model {

// A weight matrix of `rows` rows, each `cols` elements of `type`.
struct Matrix {
  DType type = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  // The rows repacked at load for the packed kernels (kernels::PackRows8:
  // decode, and for some types prompts), owned by the Model; nullptr when
  // the type has no such kernel.
  const uint8_t* packed8 = nullptr;
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  Matrix wq;                         // [n_embd_q x n_embd]
  Matrix wk;                         // [n_embd_kv x n_embd]
  Matrix wv;                         // [n_embd_kv x n_embd]
  const float* bq = nullptr;         // [n_embd_q]   (qwen2)
  const float* bk = nullptr;         // [n_embd_kv]  (qwen2)
  const float* bv = nullptr;         // [n_embd_kv]  (qwen2)
  Matrix wo;                         // [n_embd x n_embd_q]
  const float* ffn_norm = nullptr;   // [n_embd]
  Matrix w_gate;                     // [n_ff x n_embd]
  Matrix w_up;                       // [n_ff x n_embd]
  Matrix w_down;                     // [n_embd x n_ff]
};

class ForwardScratch;

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path);
  ~Model();

  const HParams& hparams() const { return hparams_; }
  const gguf::GgufFile& file() const { return *file_; }
  const std::string& path() const { return file_->path(); }
  // The type most weights are stored in ("Q4_K"), for display.
  std::string QuantName() const;
  size_t WeightBytes() const { return weight_bytes_; }

  // Runs tokens[0..n) at positions kv.size() .. kv.size()+n-1, appending
  // their keys and values to `kv`. Writes logits for the last token
  // (n_vocab floats) to `logits`, or for every token (n x n_vocab) when
  // all_logits is set. Long inputs are processed in chunks of the scratch's
  // batch size. Fails (leaving kv unchanged) when the tokens do not fit in
  // the cache or an id is out of range.
  Status Forward(const int32_t* tokens, int32_t n, KvCache& kv, float* logits, bool all_logits,
                 ThreadPool& pool, ForwardScratch& scratch) const;

  // Tokens [done, done + n) of a prompt of n_total tokens whose first
  // `done` tokens are already in `kv`: one step of a chunked prefill that
  // gives exactly the numbers Forward gives for the whole prompt (the
  // reference's batch boundaries are those of the whole prompt). Logits of
  // the prompt's last token go to `logits` when the span reaches it.
  Status ForwardSpan(const int32_t* prompt, int32_t n_total, int32_t done, int32_t n, KvCache& kv,
                     float* logits, ThreadPool& pool, ForwardScratch& scratch) const;

  // One decode step of several sequences in one pass: token i is appended
  // to *kvs[i] and its logits written to logits[i * n_vocab ..]. A cache may
  // take several tokens (a draft to verify): its tokens go to consecutive
  // positions in the order given, each attending to the ones before it. The
  // weights are read once for all of them, and every token gets exactly the
  // numbers of a single-token decode at its position, so a verified draft
  // gives what decoding its tokens one by one gives.
  Status ForwardDecode(const int32_t* tokens, KvCache* const* kvs, int32_t n, float* logits,
                       ThreadPool& pool, ForwardScratch& scratch) const;

  std::unique_ptr<KvCache> NewKvCache(int32_t n_ctx) const;
  std::unique_ptr<ForwardScratch> NewScratch(int32_t max_batch = 64) const;

 private:
  Model() = default;
  Status Bind();
  // Places the matrices a decode step reads in weights_: in the kernels'
  // load-time packed layout where they have one, else as copied rows.
  Status PackWeights();
  Status CheckTokens(const int32_t* tokens, int32_t n) const;
  // Evaluates n tokens; token t goes to position pos[t] of *kvs[t]. Logits
  // of every token (all_logits) or of the last one.
  void ForwardChunk(const int32_t* tokens, int32_t n, const int32_t* pos, KvCache* const* kvs,
                    float* logits, bool all_logits, ThreadPool& pool, ForwardScratch& s) const;
  void Attention(int32_t layer, int32_t n, const int32_t* pos, KvCache* const* kvs,
                 ThreadPool& pool, ForwardScratch& s) const;

  std::unique_ptr<gguf::GgufFile> file_;
  HParams hparams_;
  const kernels::KernelTable* kernels_ = nullptr;
  Matrix token_embd_;                // [n_vocab x n_embd]
  const float* output_norm_ = nullptr;
  Matrix output_;                    // [n_vocab x n_embd] (token_embd when tied)
  std::vector<LayerWeights> layers_;
  // What Matrix::packed8, and Matrix::data of the matrices without a
  // packing (other than token_embd_), point into.
  HugePageBuffer weights_;
  size_t weight_bytes_ = 0;
};

}  // namespace glint::model
