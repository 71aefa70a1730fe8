#include "model/hparams.h"

#include <fmt/format.h>

#include "model/arch.h"

namespace glint::model {
namespace {

// Upper bounds far above any model glint can run on a CPU; they keep products
// of dimensions far from overflow and reject garbage early.
constexpr int64_t kMaxDim = 1 << 20;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxCtx = 1 << 24;

Status ReadDim(const gguf::GgufFile& f, const std::string& key, int64_t max, int32_t* out) {
  auto v = f.GetInt(key);
  if (!v.ok()) return v.status();
  if (*v <= 0 || *v > max) {
    return Error(StatusCode::kInvalidArgument, "metadata '{}' = {} is out of range (1..{})", key,
                 *v, max);
  }
  *out = static_cast<int32_t>(*v);
  return Status::Ok();
}

}  // namespace

Result<HParams> ReadHParams(const gguf::GgufFile& f) {
  HParams hp;
  ASSIGN_OR_RETURN(std::string_view arch, f.GetString("general.architecture"));
  hp.arch = std::string(arch);
  const ArchSpec* spec = FindArch(hp.arch);
  if (spec == nullptr) {
    return Error(StatusCode::kUnimplemented, "architecture '{}' is not supported (supported: {})",
                 hp.arch, SupportedArchNames());
  }
  hp.rope_style = spec->rope_style;
  hp.qkv_bias = spec->qkv_bias;
  if (auto name = f.GetString("general.name"); name.ok()) hp.name = std::string(*name);

  const std::string p = hp.arch + ".";
  RETURN_IF_ERROR(ReadDim(f, p + "block_count", kMaxLayers, &hp.n_layers));
  RETURN_IF_ERROR(ReadDim(f, p + "embedding_length", kMaxDim, &hp.n_embd));
  RETURN_IF_ERROR(ReadDim(f, p + "feed_forward_length", kMaxDim, &hp.n_ff));
  RETURN_IF_ERROR(ReadDim(f, p + "attention.head_count", kMaxDim, &hp.n_heads));
  hp.n_kv_heads = hp.n_heads;
  if (f.Find(p + "attention.head_count_kv")) {
    RETURN_IF_ERROR(ReadDim(f, p + "attention.head_count_kv", kMaxDim, &hp.n_kv_heads));
  }
  hp.n_ctx_train = 4096;
  if (f.Find(p + "context_length")) {
    RETURN_IF_ERROR(ReadDim(f, p + "context_length", kMaxCtx, &hp.n_ctx_train));
  }
  if (hp.n_heads % hp.n_kv_heads != 0) {
    return Error(StatusCode::kInvalidArgument,
                 "attention.head_count {} is not a multiple of attention.head_count_kv {}",
                 hp.n_heads, hp.n_kv_heads);
  }
  hp.head_dim = hp.n_embd / hp.n_heads;
  if (f.Find(p + "attention.key_length")) {
    RETURN_IF_ERROR(ReadDim(f, p + "attention.key_length", kMaxDim, &hp.head_dim));
  } else if (hp.n_embd % hp.n_heads != 0) {
    return Error(StatusCode::kInvalidArgument, "embedding_length {} is not a multiple of "
                 "head_count {}", hp.n_embd, hp.n_heads);
  }
  if (hp.head_dim % 2 != 0) {
    return Error(StatusCode::kInvalidArgument, "head dimension {} is odd", hp.head_dim);
  }
  hp.n_rot = hp.head_dim;
  if (f.Find(p + "rope.dimension_count")) {
    RETURN_IF_ERROR(ReadDim(f, p + "rope.dimension_count", hp.head_dim, &hp.n_rot));
    if (hp.n_rot % 2 != 0) {
      return Error(StatusCode::kInvalidArgument, "rope.dimension_count {} is odd", hp.n_rot);
    }
  }
  ASSIGN_OR_RETURN(double base, f.GetFloatOr(p + "rope.freq_base", 10000.0));
  ASSIGN_OR_RETURN(double scale, f.GetFloatOr(p + "rope.scale_linear", 1.0));
  ASSIGN_OR_RETURN(double eps, f.GetFloatOr(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(base > 0) || !(scale > 0) || !(eps > 0) || eps > 1) {
    return Error(StatusCode::kInvalidArgument,
                 "rope.freq_base {}, rope.scale_linear {} or layer_norm_rms_epsilon {} invalid",
                 base, scale, eps);
  }
  hp.rope_freq_base = static_cast<float>(base);
  hp.rope_freq_scale = static_cast<float>(1.0 / scale);
  hp.rms_eps = static_cast<float>(eps);

  if (f.Find(p + "vocab_size")) {
    RETURN_IF_ERROR(ReadDim(f, p + "vocab_size", kMaxCtx, &hp.n_vocab));
  } else {
    ASSIGN_OR_RETURN(const gguf::Value* tokens, f.GetArray("tokenizer.ggml.tokens"));
    if (tokens->array.empty() || tokens->array.size() > static_cast<size_t>(kMaxCtx)) {
      return Error(StatusCode::kInvalidArgument, "tokenizer.ggml.tokens has {} entries",
                   tokens->array.size());
    }
    hp.n_vocab = static_cast<int32_t>(tokens->array.size());
  }
  return hp;
}

}  // namespace glint::model
