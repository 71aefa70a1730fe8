// Hyper-parameters of a decoder-only transformer, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"

namespace glint::model {

enum class RopeStyle {
  kNorm,  // rotate adjacent pairs (x[2i], x[2i+1]); llama GGUFs are converted for this
  kNeox,  // rotate halves (x[i], x[i + n_rot/2]); Qwen2
};

struct HParams {
  std::string arch;        // general.architecture
  std::string name;        // general.name
  int32_t n_layers = 0;
  int32_t n_embd = 0;      // residual width
  int32_t n_ff = 0;        // feed-forward width
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;  // grouped-query attention: n_heads % n_kv_heads == 0
  int32_t head_dim = 0;    // n_embd / n_heads unless the file says otherwise
  int32_t n_rot = 0;       // rotary dimensions per head
  int32_t n_ctx_train = 0;
  int32_t n_vocab = 0;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::kNorm;
  bool qkv_bias = false;

  int32_t n_embd_kv() const { return n_kv_heads * head_dim; }  // width of one K or V row
  int32_t n_embd_q() const { return n_heads * head_dim; }
};

// Reads `<arch>.*` keys and checks them for consistency (positive, divisible,
// bounded), naming the offending key on failure. n_vocab comes from the token
// list when the arch key is absent.
Result<HParams> ReadHParams(const gguf::GgufFile& file);

}  // namespace glint::model
