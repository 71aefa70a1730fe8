#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "base/check.h"
#include "kernels/ops.h"
#include "model/forward_scratch.h"

namespace glint::model {
namespace {

// The reference engine's batch size (llama.cpp n_batch = n_ubatch = 512).
constexpr int32_t kRefBatch = 512;

Status BindMatrix(const gguf::GgufFile& f, const std::string& name, int64_t rows, int64_t cols,
                  Matrix* m) {
  const gguf::TensorInfo* t = f.FindTensor(name);
  if (t == nullptr) return Error(StatusCode::kNotFound, "tensor '{}' is missing", name);
  if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows) {
    return Error(StatusCode::kInvalidArgument, "tensor '{}' has shape {}, expected [{}, {}]", name,
                 t->ShapeString(), cols, rows);
  }
  if (!kernels::IsSupportedWeightType(t->type)) {
    return Error(StatusCode::kUnimplemented, "tensor '{}' has type {}, which glint cannot multiply",
                 name, DTypeName(t->type));
  }
  m->type = t->type;
  m->rows = rows;
  m->cols = cols;
  m->data = t->data;
  m->row_bytes = RowBytes(t->type, cols);
  return Status::Ok();
}

Status BindVector(const gguf::GgufFile& f, const std::string& name, int64_t n, const float** out) {
  const gguf::TensorInfo* t = f.FindTensor(name);
  if (t == nullptr) return Error(StatusCode::kNotFound, "tensor '{}' is missing", name);
  if (t->type != DType::kF32 || t->n_elements() != n || t->ne[0] != n) {
    return Error(StatusCode::kInvalidArgument, "tensor '{}' is {} {}, expected F32 [{}]", name,
                 DTypeName(t->type), t->ShapeString(), n);
  }
  if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
    return Error(StatusCode::kInvalidArgument, "tensor '{}' data is not 4-byte aligned", name);
  }
  *out = reinterpret_cast<const float*>(t->data);
  return Status::Ok();
}

}  // namespace

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  std::unique_ptr<Model> m(new Model());
  ASSIGN_OR_RETURN(m->file_, gguf::GgufFile::Open(path));
  auto hp = ReadHParams(*m->file_);
  if (!hp.ok()) return hp.status().WithContext(fmt::format("cannot load '{}'", path));
  m->hparams_ = std::move(hp).value();
  m->kernels_ = &kernels::ActiveKernels();
  Status st = m->Bind();
  if (!st.ok()) return st.WithContext(fmt::format("cannot load '{}'", path));
  return m;
}

Status Model::Bind() {
  const gguf::GgufFile& f = *file_;
  const HParams& hp = hparams_;
  RETURN_IF_ERROR(BindMatrix(f, "token_embd.weight", hp.n_vocab, hp.n_embd, &token_embd_));
  RETURN_IF_ERROR(BindVector(f, "output_norm.weight", hp.n_embd, &output_norm_));
  if (f.FindTensor("output.weight")) {
    RETURN_IF_ERROR(BindMatrix(f, "output.weight", hp.n_vocab, hp.n_embd, &output_));
  } else {
    output_ = token_embd_;  // tied embeddings
  }
  layers_.resize(hp.n_layers);
  for (int32_t l = 0; l < hp.n_layers; ++l) {
    LayerWeights& w = layers_[l];
    auto name = [l](const char* suffix) { return fmt::format("blk.{}.{}", l, suffix); };
    RETURN_IF_ERROR(BindVector(f, name("attn_norm.weight"), hp.n_embd, &w.attn_norm));
    RETURN_IF_ERROR(BindMatrix(f, name("attn_q.weight"), hp.n_embd_q(), hp.n_embd, &w.wq));
    RETURN_IF_ERROR(BindMatrix(f, name("attn_k.weight"), hp.n_embd_kv(), hp.n_embd, &w.wk));
    RETURN_IF_ERROR(BindMatrix(f, name("attn_v.weight"), hp.n_embd_kv(), hp.n_embd, &w.wv));
    RETURN_IF_ERROR(BindMatrix(f, name("attn_output.weight"), hp.n_embd, hp.n_embd_q(), &w.wo));
    if (hp.qkv_bias) {
      RETURN_IF_ERROR(BindVector(f, name("attn_q.bias"), hp.n_embd_q(), &w.bq));
      RETURN_IF_ERROR(BindVector(f, name("attn_k.bias"), hp.n_embd_kv(), &w.bk));
      RETURN_IF_ERROR(BindVector(f, name("attn_v.bias"), hp.n_embd_kv(), &w.bv));
    }
    RETURN_IF_ERROR(BindVector(f, name("ffn_norm.weight"), hp.n_embd, &w.ffn_norm));
    RETURN_IF_ERROR(BindMatrix(f, name("ffn_gate.weight"), hp.n_ff, hp.n_embd, &w.w_gate));
    RETURN_IF_ERROR(BindMatrix(f, name("ffn_up.weight"), hp.n_ff, hp.n_embd, &w.w_up));
    RETURN_IF_ERROR(BindMatrix(f, name("ffn_down.weight"), hp.n_embd, hp.n_ff, &w.w_down));
  }
  weight_bytes_ = 0;
  for (const auto& t : f.tensors()) weight_bytes_ += t.n_bytes;
  return PackWeights();
}

Status Model::PackWeights() {
  // Every matrix a decode step streams goes into one huge-page region: the
  // load-time packing where the kernels have one, otherwise a copy of the
  // rows (Matrix::data then points at the copy). token_embd_ stays in the
  // mapped file, since a step reads one of its rows per token; when it is
  // also the output matrix, output_ gets its own packing or copy here.
  std::vector<Matrix*> matrices;
  for (LayerWeights& w : layers_) {
    for (Matrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
      matrices.push_back(m);
    }
  }
  matrices.push_back(&output_);
  auto packed_bytes = [&](const Matrix& m) {
    return kernels::PackedRows8Bytes(*kernels_, m.type, m.rows, m.cols);
  };
  constexpr size_t kAlign = 64;
  std::vector<size_t> offsets;
  size_t total = 0;
  for (const Matrix* m : matrices) {
    offsets.push_back(total);
    size_t bytes = packed_bytes(*m);
    if (bytes == 0) bytes = static_cast<size_t>(m->rows) * m->row_bytes;
    total += (bytes + kAlign - 1) / kAlign * kAlign;
  }
  ASSIGN_OR_RETURN(weights_, HugePageBuffer::Allocate(total));
  for (size_t i = 0; i < matrices.size(); ++i) {
    Matrix& m = *matrices[i];
    uint8_t* dst = weights_.data() + offsets[i];
    if (packed_bytes(m) > 0) {
      kernels::PackRows8Into(*kernels_, m.type, m.data, m.rows, m.cols, dst);
      m.packed8 = dst;
    } else {
      std::memcpy(dst, m.data, static_cast<size_t>(m.rows) * m.row_bytes);
      m.data = dst;
    }
  }
  return Status::Ok();
}

std::string Model::QuantName() const { return file_->DominantTypeName(); }
std::unique_ptr<KvCache> Model::NewKvCache(int32_t n_ctx) const {
  return std::make_unique<KvCache>(hparams_, n_ctx);
}

std::unique_ptr<ForwardScratch> Model::NewScratch(int32_t max_batch) const {
  return std::make_unique<ForwardScratch>(hparams_, max_batch);
}

Status Model::CheckTokens(const int32_t* tokens, int32_t n) const {
  for (int32_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= hparams_.n_vocab) {
      return Error(StatusCode::kInvalidArgument, "token id {} is outside the vocabulary (0..{})",
                   tokens[i], hparams_.n_vocab - 1);
    }
  }
  return Status::Ok();
}

Status Model::Forward(const int32_t* tokens, int32_t n, KvCache& kv, float* logits,
                      bool all_logits, ThreadPool& pool, ForwardScratch& scratch) const {
  if (n <= 0) return Error(StatusCode::kInvalidArgument, "no tokens to evaluate");
  if (!all_logits) return ForwardSpan(tokens, n, 0, n, kv, logits, pool, scratch);
  if (n > kv.capacity() - kv.size()) {
    return Error(StatusCode::kResourceExhausted,
                 "{} tokens do not fit: the context holds {} of {} positions", n, kv.size(),
                 kv.capacity());
  }
  RETURN_IF_ERROR(CheckTokens(tokens, n));
  scratch.Reserve(kv.capacity(), pool.size());
  KvCache* kvs[1] = {&kv};
  for (int32_t done = 0; done < n;) {
    const int32_t chunk = std::min(n - done, scratch.max_batch());
    const int32_t ub_start = done / kRefBatch * kRefBatch;
    scratch.ref_batch = std::min(n - ub_start, kRefBatch);
    scratch.ref_first = done - ub_start;
    scratch.SetPositions(kv.size(), chunk, kvs[0]);
    ForwardChunk(tokens + done, chunk, scratch.pos.data(), scratch.seq_kv.data(),
                 logits + static_cast<size_t>(done) * hparams_.n_vocab, true, pool, scratch);
    done += chunk;
  }
  return Status::Ok();
}

Status Model::ForwardSpan(const int32_t* prompt, int32_t n_total, int32_t done, int32_t n,
                          KvCache& kv, float* logits, ThreadPool& pool,
                          ForwardScratch& scratch) const {
  if (n <= 0 || done < 0 || done + n > n_total) {
    return Error(StatusCode::kInvalidArgument, "span {}+{} is not inside a prompt of {} tokens",
                 done, n, n_total);
  }
  if (n > kv.capacity() - kv.size()) {
    return Error(StatusCode::kResourceExhausted,
                 "{} tokens do not fit: the context holds {} of {} positions", n, kv.size(),
                 kv.capacity());
  }
  RETURN_IF_ERROR(CheckTokens(prompt + done, n));
  scratch.Reserve(kv.capacity(), pool.size());
  KvCache* kv_ptr = &kv;
  for (const int32_t end = done + n; done < end;) {
    const int32_t chunk = std::min(end - done, scratch.max_batch());
    const bool last = done + chunk == n_total;
    // The reference evaluates a prompt in batches of up to kRefBatch tokens;
    // its attention products change order between one token and several.
    const int32_t ub_start = done / kRefBatch * kRefBatch;
    scratch.ref_batch = std::min(n_total - ub_start, kRefBatch);
    scratch.ref_first = done - ub_start;
    scratch.SetPositions(kv.size(), chunk, kv_ptr);
    ForwardChunk(prompt + done, chunk, scratch.pos.data(), scratch.seq_kv.data(),
                 last ? logits : nullptr, false, pool, scratch);
    done += chunk;
  }
  return Status::Ok();
}

Status Model::ForwardDecode(const int32_t* tokens, KvCache* const* kvs, int32_t n, float* logits,
                            ThreadPool& pool, ForwardScratch& scratch) const {
  if (n <= 0) return Error(StatusCode::kInvalidArgument, "no sequences to decode");
  if (n > scratch.max_batch()) {
    return Error(StatusCode::kInvalidArgument, "{} sequences exceed the batch of {}", n,
                 scratch.max_batch());
  }
  RETURN_IF_ERROR(CheckTokens(tokens, n));
  // Positions: each cache continues from its size, one per token given.
  int32_t max_ctx = 0;
  for (int32_t i = 0; i < n; ++i) {
    int32_t earlier = 0;
    for (int32_t j = 0; j < i; ++j) earlier += kvs[j] == kvs[i];
    if (kvs[i]->size() + earlier >= kvs[i]->capacity()) {
      return Error(StatusCode::kResourceExhausted, "sequence {} has filled its context of {}", i,
                   kvs[i]->capacity());
    }
    scratch.pos[i] = kvs[i]->size() + earlier;
    scratch.seq_kv[i] = kvs[i];
    max_ctx = std::max(max_ctx, kvs[i]->capacity());
  }
  scratch.Reserve(max_ctx, pool.size());
  // Each token is the whole reference batch of its own decode step.
  scratch.ref_batch = 1;
  scratch.ref_first = 0;
  ForwardChunk(tokens, n, scratch.pos.data(), scratch.seq_kv.data(), logits, true, pool, scratch);
  return Status::Ok();
}

// Rotary position embedding (RoFormer, arXiv:2104.09864). theta_i =
// pos * base^(-2i/n_rot), computed by repeated multiplication in float as
// the reference does, so that both engines rotate by the same angles.
static void RopeTables(const HParams& hp, const int32_t* pos, int32_t n, float* cos_out,
                       float* sin_out) {
  const int32_t half = hp.n_rot / 2;
  const float theta_scale = std::pow(hp.rope_freq_base, -2.0f / static_cast<float>(hp.n_rot));
  for (int32_t t = 0; t < n; ++t) {
    float theta = static_cast<float>(pos[t]) * hp.rope_freq_scale;
    for (int32_t i = 0; i < half; ++i) {
      cos_out[t * half + i] = std::cos(theta);
      sin_out[t * half + i] = std::sin(theta);
      theta *= theta_scale;
    }
  }
}

void Model::ForwardChunk(const int32_t* tokens, int32_t n, const int32_t* pos,
                         KvCache* const* kvs, float* logits, bool all_logits, ThreadPool& pool,
                         ForwardScratch& s) const {
  const HParams& hp = hparams_;
  const kernels::KernelTable& K = *kernels_;
  const kernels::OpsTable& ops = kernels::ActiveOps();
  const int64_t n_embd = hp.n_embd, n_ff = hp.n_ff;
  s.matmul.ref_batch = s.matmul_next.ref_batch = s.ref_batch;
  s.matmul.ref_first = s.matmul_next.ref_first = s.ref_first;
  // Matrices with the same input: those that share a weight type take their
  // activations quantized once and the pool once (a decode step is short
  // enough that each wait for the pool shows). `ready`: the input already
  // quantized for the first matrix (see `begin`), or nullptr; x has `rows`
  // rows (the tokens').
  // side_grain > 0: the matrices (of one type, the same rows) split side by
  // side in units of that many rows (MatMulQuantizedSideBySide). done: as
  // MatMulQuantizedMany's, or nullptr.
  struct Product {
    const Matrix* w;
    float* y;
    int64_t grain = 0;  // MatMulOutput::grain
  };
  auto matmuls = [&](std::initializer_list<Product> ws, const float* x,
                     const kernels::QuantizedActivations* ready, int32_t rows,
                     const kernels::RowsDone* done = nullptr, int64_t side_grain = 0) {
    Product left[4];
    DCHECK(ws.size() <= 4);
    int n_left = 0;
    for (const auto& p : ws) left[n_left++] = p;
    const int64_t cols = left[0].w->cols;
    kernels::QuantizedActivations xq;
    bool have = ready != nullptr;
    if (have) xq = *ready;
    while (n_left > 0) {
      const DType type = left[0].w->type;
      kernels::MatMulOutput outs[4];
      int n_outs = 0, n_rest = 0;
      for (int i = 0; i < n_left; ++i) {
        const Matrix& w = *left[i].w;
        DCHECK(w.cols == cols);
        if (w.type == type) {
          outs[n_outs++] = {w.data, w.rows, left[i].y, w.rows, w.packed8, left[i].grain};
        } else {
          left[n_rest++] = left[i];
        }
      }
      // (Quantizing reuses s.matmul: the previous activations end there.)
      if (!have || !kernels::ActivationsServe(K, type, xq)) {
        xq = kernels::QuantizeActivations(K, type, x, cols, rows, &pool, &s.matmul);
        have = true;
      }
      if (side_grain > 0) {
        DCHECK(n_rest == 0);
        kernels::MatMulQuantizedSideBySide(K, type, outs, n_outs, xq, &pool, side_grain, done);
      } else {
        kernels::MatMulQuantizedMany(K, type, outs, n_outs, xq, &pool, done);
      }
      n_left = n_rest;
    }
  };
  // The input of matrix w, x [rows][w.cols], quantized row by row by the
  // section that writes it (quantize_row once row t is final), so that the
  // quantization is split across the pool with the rest of that work.
  auto begin = [&](const Matrix& w, const float* x, int32_t rows) {
    return kernels::BeginActivations(K, w.type, x, w.cols, rows, &s.matmul);
  };
  auto quantize_row = [&](const kernels::QuantizedActivations& xq, int32_t t, const float* row) {
    kernels::QuantizeActivationRow(K, xq.weight_type, xq, t, row, &s.matmul);
  };

  // The work between the matrix products is per token (norms, RoPE, the
  // cache writes, residual adds, SwiGLU, quantization). Several tokens split
  // it across the pool in contiguous runs (their rows and cache slots are
  // disjoint; the quantized activations' per-block scales of neighbouring
  // tokens share cache lines); one token keeps it on this thread, where
  // waking the pool would cost more than the work.
  auto each_token = [&](auto&& fn) {
    if (n == 1 || pool.size() == 1) {
      for (int32_t t = 0; t < n; ++t) fn(t);
      return;
    }
    pool.Run([&](int ith, int nth) {
      for (int32_t t = n * ith / nth; t < n * (ith + 1) / nth; ++t) fn(t);
    });
  };
  // cur[t] = rmsnorm(x[t]) * attn_norm of layer l, quantized into xq.
  auto attn_norm = [&](int32_t l, int32_t t, const kernels::QuantizedActivations& xq) {
    float* cur = s.cur.data() + t * n_embd;
    ops.rms_norm(s.x.data() + t * n_embd, layers_[l].attn_norm, cur, n_embd, hp.rms_eps);
    quantize_row(xq, t, cur);
  };

  // x[t] = token_embd[tokens[t]]                                   [n][n_embd]
  for (int32_t t = 0; t < n; ++t) {
    K[token_embd_.type].dequantize(token_embd_.data + tokens[t] * token_embd_.row_bytes,
                                   s.x.data() + t * n_embd, n_embd);
  }
  RopeTables(hp, pos, n, s.rope_cos.data(), s.rope_sin.data());
  const int32_t half = hp.n_rot / 2;
  // Rows of Q and K per unit of the products' split: whole heads.
  const int64_t head_grain = std::lcm<int64_t>(hp.head_dim, 16);
  // Attention block of layer 0: cur = rmsnorm(x) * attn_norm       [n][n_embd]
  // (of the later layers: at the end of the one before)
  kernels::QuantizedActivations xq = begin(layers_[0].wq, s.cur.data(), n);
  each_token([&](int32_t t) { attn_norm(0, t, xq); });

  // The logits' rows: every token's, or the last one's.
  const int32_t first = all_logits ? 0 : n - 1;
  const int32_t rows = n - first;
  for (int32_t l = 0; l < hp.n_layers; ++l) {
    const LayerWeights& w = layers_[l];

    // q = cur Wq^T [n][n_embd_q], k = cur Wk^T and v = cur Wv^T [n][n_embd_kv],
    // then the biases, RoPE and the cache writes (in f16; the table's
    // conversion rounds as FloatToHalf does, vectorized) of the rows each
    // thread computed, in the product's section: Q and K split by whole
    // heads, V anywhere.
    auto qkv_done = [&](const kernels::MatMulOutput* o, int64_t r0, int64_t r1) {
      // kNorm pairs adjacent elements, kNeox element i with i + n_rot / 2.
      const bool adjacent = hp.rope_style == RopeStyle::kNorm;
      const int64_t len = r1 - r0;
      const bool is_q = o->y == s.q.data(), is_k = o->y == s.k.data();
      const float* bias = is_q ? w.bq : is_k ? w.bk : w.bv;
      for (int32_t t = 0; t < n; ++t) {
        float* y = o->y + t * o->y_stride + r0;
        if (hp.qkv_bias) ops.add(bias + r0, y, len);
        if (is_q || is_k) {
          DCHECK(r0 % hp.head_dim == 0 && len % hp.head_dim == 0);
          ops.rope(y, static_cast<int32_t>(len / hp.head_dim), hp.head_dim, hp.n_rot, adjacent,
                   s.rope_cos.data() + t * half, s.rope_sin.data() + t * half);
        }
        if (!is_q) {
          uint16_t* cache = is_k ? kvs[t]->k(l, pos[t]) : kvs[t]->v(l, pos[t]);
          K[DType::kF16].quantize(y, cache + r0, len);
        }
      }
    };
    const kernels::RowsDone qkv_rows = kernels::RowsDoneBy(qkv_done);
    matmuls({{&w.wq, s.q.data(), head_grain}, {&w.wk, s.k.data(), head_grain}, {&w.wv, s.v.data()}},
            s.cur.data(), &xq, n, &qkv_rows);
    Attention(l, n, pos, kvs, pool, s);                       // attn [n][n_embd_q]
    matmuls({{&w.wo, s.cur.data()}}, s.attn.data(), nullptr, n);  // cur = attn Wo^T [n][n_embd]

    // Feed-forward block (SwiGLU, arXiv:2002.05202):
    // x += Wdown (silu(Wgate h) * Wup h), h = rmsnorm(x) * ffn_norm
    xq = begin(w.w_gate, s.cur.data(), n);
    each_token([&](int32_t t) {
      float* cur = s.cur.data() + t * n_embd;
      ops.add(cur, s.x.data() + t * n_embd, n_embd);
      ops.rms_norm(s.x.data() + t * n_embd, w.ffn_norm, cur, n_embd, hp.rms_eps);
      quantize_row(xq, t, cur);
    });
    // gate = h Wgate^T, up = h Wup^T                                  [n][n_ff]
    // then gate = silu(gate) * up, quantized for Wdown: by the thread that
    // computed those rows of both, in the products' section, where the
    // split in units of Wdown's activation blocks is even enough (the
    // quantization goes to the second scratch: the products still read the
    // first); else in a section of its own.
    const int64_t ff_grain = std::max<int64_t>(
        16, GetDTypeInfo(K[w.w_down.type].vec_dot_type).block_size);
    const kernels::QuantizedActivations up_in = xq;
    if (w.w_gate.type == w.w_up.type && n_ff % ff_grain == 0 &&
        kernels::SideBySideBalanced(n_ff, ff_grain, pool.size())) {
      xq = kernels::BeginActivations(K, w.w_down.type, s.gate.data(), n_ff, n, &s.matmul_next);
      auto swiglu_done = [&](const kernels::MatMulOutput*, int64_t r0, int64_t r1) {
        for (int32_t t = 0; t < n; ++t) {
          float* gate = s.gate.data() + t * n_ff + r0;
          ops.swiglu(gate, s.up.data() + t * n_ff + r0, gate, r1 - r0);
          kernels::QuantizeActivationRange(K, xq, t, r0, r1, gate, &s.matmul_next);
        }
      };
      const kernels::RowsDone swiglu_rows = kernels::RowsDoneBy(swiglu_done);
      matmuls({{&w.w_gate, s.gate.data()}, {&w.w_up, s.up.data()}}, s.cur.data(), &up_in, n,
              &swiglu_rows, ff_grain);
    } else {
      matmuls({{&w.w_gate, s.gate.data()}, {&w.w_up, s.up.data()}}, s.cur.data(), &up_in, n);
      xq = begin(w.w_down, s.gate.data(), n);
      each_token([&](int32_t t) {
        float* gate = s.gate.data() + t * n_ff;
        ops.swiglu(gate, s.up.data() + t * n_ff, gate, n_ff);
        quantize_row(xq, t, gate);
      });
    }
    matmuls({{&w.w_down, s.cur.data()}}, s.gate.data(), &xq, n);  //    [n][n_embd]
    const bool last = l + 1 == hp.n_layers;
    if (last && logits != nullptr) {
      // The reference computes the logits of the requested tokens only: all
      // of its batch, or one row.
      s.matmul.ref_batch = all_logits ? s.ref_batch : 1;
      s.matmul.ref_first = all_logits ? s.ref_first : 0;
      xq = begin(output_, s.cur.data() + first * n_embd, rows);
    } else if (!last) {
      xq = begin(layers_[l + 1].wq, s.cur.data(), n);
    }
    each_token([&](int32_t t) {
      ops.add(s.cur.data() + t * n_embd, s.x.data() + t * n_embd, n_embd);
      if (!last) {
        attn_norm(l + 1, t, xq);
      } else if (logits != nullptr && t >= first) {
        // logits = rmsnorm(x) * output_norm  Wout^T (the rows from `first`)
        float* cur = s.cur.data() + t * n_embd;
        ops.rms_norm(s.x.data() + t * n_embd, output_norm_, cur, n_embd, hp.rms_eps);
        quantize_row(xq, t - first, cur);
      }
    });
  }
  for (int32_t t = 0; t < n; ++t) kvs[t]->Advance(1);
  if (logits == nullptr) return;
  matmuls({{&output_, logits}}, s.cur.data() + first * n_embd, &xq, rows);
}

// Of `count` units costing `cost` each, whose cumulative cost starts at
// `base`, the ones [*begin, *end) that start inside the share [lo, hi) of a
// thread: shares that tile the total cost hand out every unit exactly once.
static void UnitsInShare(int64_t base, int64_t cost, int64_t count, int64_t lo, int64_t hi,
                         int64_t* begin, int64_t* end) {
  auto first_from = [&](int64_t c) {
    return c <= base ? int64_t{0} : std::min(count, (c - base + cost - 1) / cost);
  };
  *begin = first_from(lo);
  *end = first_from(hi);
}

// The attention items' runs of tokens: maximal runs of consecutive
// positions of one cache, cut into equal parts of at most kAttnMaxRun
// tokens, then the longest halved while the items (runs x KV heads) are
// few and do not go round the threads evenly.
static void AttentionRuns(int32_t n, const int32_t* pos, KvCache* const* kvs, int32_t n_kv_heads,
                          int32_t n_threads, std::vector<ForwardScratch::Run>* runs) {
  constexpr int32_t kMax = ForwardScratch::kAttnMaxRun;
  runs->clear();  // capacity n: no allocation below
  for (int32_t t = 0; t < n;) {
    int32_t end = t + 1;
    while (end < n && kvs[end] == kvs[t] && pos[end] == pos[end - 1] + 1) ++end;
    const int32_t len = end - t;
    const int32_t parts = (len + kMax - 1) / kMax;
    for (int32_t i = 0; i < parts; ++i) {
      const int32_t a = t + len * i / parts;
      runs->push_back({a, t + len * (i + 1) / parts - a});
    }
    t = end;
  }
  auto items = [&] { return static_cast<int64_t>(runs->size()) * n_kv_heads; };
  while (items() % n_threads != 0 &&
         items() < int64_t{ForwardScratch::kAttnShareItemsPerThread} * n_threads) {
    auto longest = std::max_element(runs->begin(), runs->end(),
                                    [](const auto& a, const auto& b) { return a.n < b.n; });
    if (longest->n == 1) break;
    const ForwardScratch::Run tail = {longest->first + longest->n / 2, longest->n - longest->n / 2};
    longest->n /= 2;
    runs->insert(longest + 1, tail);
  }
}

// Causal self-attention of n new tokens over the cache, grouped-query: the
// heads that share a KV head are processed together so each K and V row is
// read once for all of them. The arithmetic follows the reference engine
// (llama.cpp without flash attention) operation by operation:
//   kq = K . f16(q)        one F16 dot per position (order: see below)
//   p  = softmax(kq * scale), rows padded with -inf to a multiple of 16
//   out = V^T . f16(p)     one F16 dot per output dimension over positions
// An item (a run of consecutive tokens of one cache and a KV head: their
// queries share each K and V row read) is a thread's work when there are
// enough of them to go round evenly; otherwise the threads share every
// item, phase by phase: positions of the scores, rows of the softmax,
// output dimensions of the weighted sum. Each value is computed by the same
// operations in the same order either way, so the results do not depend on
// the split or the runs.
void Model::Attention(int32_t layer, int32_t n, const int32_t* pos, KvCache* const* kvs,
                      ThreadPool& pool, ForwardScratch& s) const {
  const HParams& hp = hparams_;
  const kernels::KernelTable& K = *kernels_;
  const kernels::OpsTable& ops = kernels::ActiveOps();
  const int32_t hd = hp.head_dim;
  const int32_t group = hp.n_heads / hp.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t n_q = hp.n_embd_q();
  const kernels::TypeKernels& f16 = K[DType::kF16];
  const int64_t n_items = static_cast<int64_t>(n) * hp.n_kv_heads;
  // One token: ggml_vec_dot_f16 (four accumulators, 64 partial sums per
  // output). Several: tinyBLAS (one 16-lane accumulator, 16 partial sums).
  const bool batched = s.ref_batch > 1;
  // (tinyBLAS needs head_dim % 16 == 0; otherwise the reference falls back
  // to ggml_vec_dot_f16.)
  const auto dot_kq = batched && hd % 16 == 0 ? ops.dot_f16_x1 : ops.dot_f16_x4;
  const int32_t slots = batched ? 16 : ForwardScratch::kAttnMaxSlots;
  constexpr int32_t kF16Run = 256;

  // scores[g][j] = (k_j . q_g) * scale for the qn queries of each of KV
  // heads [kvh0, kvh1) in token t's cache, positions [j0, j1); q16: those
  // queries in f16, [kvh][qn][hd].
  auto scores_of = [&](int32_t t, int32_t kvh0, int32_t kvh1, int32_t qn, int32_t j0, int32_t j1,
                       const uint16_t* q16, float* scores, int64_t stride) {
    const model::KvCache& kv = *kvs[t];
    const auto scores_kq = dot_kq == ops.dot_f16_x1 ? ops.scores_f16_x1
                           : hd % 64 == 0          ? ops.scores_f16_x4
                                                   : nullptr;
    if (scores_kq != nullptr) {
      // Many keys per call, each converted once for the group's queries
      // (given in f32: the conversion from f16 is exact).
      thread_local std::vector<float> q32;
      const int64_t n_q32 = static_cast<int64_t>(kvh1 - kvh0) * qn * hd;
      if (static_cast<int64_t>(q32.size()) < n_q32) q32.resize(n_q32);
      f16.dequantize(q16, q32.data(), n_q32);
      // Keys in blocks that stay in L1 while each KV head takes its slice of
      // them, so the cache rows stream from memory once, in order.
      constexpr int32_t kKeyBlock = 256;
      for (int32_t jb = j0; jb < j1; jb += kKeyBlock) {
        const int32_t n_keys = std::min(kKeyBlock, j1 - jb);
        for (int32_t kvh = kvh0; kvh < kvh1; ++kvh) {
          const int64_t off = static_cast<int64_t>(kvh - kvh0) * qn;
          scores_kq(kv.k(layer, jb) + kvh * hd, kv.row_stride(), n_keys, q32.data() + off * hd,
                    qn, hd, scale, scores + off * stride + jb, stride);
        }
      }
      return;
    }
    for (int32_t j = j0; j < j1; ++j) {
      for (int32_t kvh = kvh0; kvh < kvh1; ++kvh) {
        const uint16_t* krow = kv.k(layer, j) + kvh * hd;
        const uint16_t* q = q16 + static_cast<int64_t>(kvh - kvh0) * qn * hd;
        float* sc = scores + static_cast<int64_t>(kvh - kvh0) * qn * stride;
        for (int32_t g = 0; g < qn; ++g) {
          sc[g * stride + j] = dot_kq(krow, q + g * hd, hd) * scale;
        }
      }
    }
  };
  // p = f16(softmax(scores)) over one row of n_ctx scores, -inf past the
  // causal limit.
  auto softmax_row = [&](float* p, int32_t n_ctx) {
    const int32_t n_pad = ForwardScratch::PadAttention(n_ctx);
    std::fill(p + n_ctx, p + n_pad, -INFINITY);
    ops.softmax(p, n_pad);
    // The reference multiplies by V with the weights in f16: round
    // through f16 in runs that fit a small stack buffer.
    for (int32_t j = 0; j < n_ctx; j += kF16Run) {
      uint16_t h[kF16Run];
      const int32_t len = std::min(kF16Run, n_ctx - j);
      f16.quantize(p + j, h, len);
      f16.dequantize(h, p + j, len);
    }
  };
  // out[g][d0, d1) = sum_j p_g[j] v_j[d0, d1) for KV head kvh of the m
  // tokens from t0 (one run), over the positions the last of them sees
  // (an earlier token's weights past its own are zeros, whose products
  // leave the sums as they are); vacc: a thread's [m * group][slots][hd]
  // partial sums.
  auto weighted_v = [&](int32_t t0, int32_t m, int32_t kvh, const float* p, int64_t stride,
                        int32_t d0, int32_t d1, float* vacc) {
    const model::KvCache& kv = *kvs[t0];
    const int32_t n_ctx = pos[t0 + m - 1] + 1;
    const int32_t qn = m * group;
    const int32_t len = d1 - d0;
    if (n_ctx <= slots) {
      // A context of one position per slot: storing each slot's row and
      // reducing the rows cost more than the products (10% of a step of 8
      // sequences at depth 0-64); the slots are reduced in registers as
      // they form instead. (At two positions per slot, measured even.)
      for (int32_t tt = 0; tt < m; ++tt) {
        float* out = s.attn.data() + (t0 + tt) * n_q + static_cast<int64_t>(kvh) * group * hd + d0;
        ops.weighted_slots_f16(kv.v(layer, 0) + kvh * hd + d0, kv.row_stride(), n_ctx,
                               p + static_cast<int64_t>(tt) * group * stride, stride, group, slots,
                               out, hd, len);
      }
      return;
    }
    auto row = [&](int32_t g, int32_t r) {
      return vacc + (static_cast<size_t>(g) * slots + r) * hd + d0;
    };
    // vacc[g][j % slots] = the sum of p_g[j] * v_j, one fused multiply-add
    // per element, for the slots below n_ctx
    ops.weighted_sum_f16(kv.v(layer, 0) + kvh * hd + d0, kv.row_stride(), n_ctx, p, stride, qn,
                         slots, row(0, 0), static_cast<int64_t>(slots) * hd, hd, len);
    // Combine the partial sums as the dot products reduce their lanes.
    for (int32_t g = 0; g < qn; ++g) {
      float* out = s.attn.data() + (t0 + g / group) * n_q +
                   (static_cast<int64_t>(kvh) * group + g % group) * hd + d0;
      ops.sum_slots(row(g, 0), hd, slots, std::min(n_ctx, slots), len, out);
    }
  };

  int32_t max_ctx = 0;
  for (int32_t t = 0; t < n; ++t) max_ctx = std::max(max_ctx, pos[t] + 1);
  if (!s.ShareAttention(n_items, pool.size(), max_ctx)) {
    std::vector<ForwardScratch::Run>& runs = s.attn_runs;
    AttentionRuns(n, pos, kvs, hp.n_kv_heads, pool.size(), &runs);
    const int64_t n_run_items = static_cast<int64_t>(runs.size()) * hp.n_kv_heads;
    pool.Run([&](int ith, int nth) {
      ForwardScratch::ThreadBuffers& tb = s.threads[ith];
      for (int64_t item = ith; item < n_run_items; item += nth) {
        const ForwardScratch::Run run = runs[item / hp.n_kv_heads];
        const int32_t kvh = static_cast<int32_t>(item % hp.n_kv_heads);
        // Causal: token t sees positions 0 .. pos[t]; the run's last token
        // sees them all.
        const int32_t n_ctx = pos[run.first + run.n - 1] + 1;
        const int32_t n_pad = ForwardScratch::PadAttention(n_ctx);
        for (int32_t i = 0; i < run.n; ++i) {
          f16.quantize(s.q.data() + (run.first + i) * n_q + static_cast<int64_t>(kvh) * group * hd,
                       tb.q16.data() + static_cast<int64_t>(i) * group * hd, group * hd);
        }
        scores_of(run.first, kvh, kvh + 1, run.n * group, 0, n_ctx, tb.q16.data(),
                  tb.scores.data(), n_pad);
        for (int32_t i = 0; i < run.n; ++i) {
          const int32_t n_ctx_i = pos[run.first + i] + 1;
          for (int32_t g = 0; g < group; ++g) {
            float* p = tb.scores.data() + static_cast<int64_t>(i * group + g) * n_pad;
            softmax_row(p, n_ctx_i);
            std::fill(p + ForwardScratch::PadAttention(n_ctx_i), p + n_pad, 0.0f);
          }
        }
        weighted_v(run.first, run.n, kvh, tb.scores.data(), n_pad, 0, hd, tb.vacc.data());
      }
    });
    return;
  }

  // Shared items: every thread takes part in each of the three phases below,
  // and each pool.Run ends when all threads have finished theirs.
  // q16 = f16(q)                                                [n][n_embd_q]
  // scores: row g of item i at (i * group + g) * stride   [n_items][group][stride]
  const int64_t stride = ForwardScratch::PadAttention(max_ctx);
  DCHECK(static_cast<size_t>(n_items * group * stride) <= s.shared_scores.size());
  f16.quantize(s.q.data(), s.shared_q16.data(), n * n_q);
  float* scores = s.shared_scores.data();
  auto item_scores = [&](int64_t item) { return scores + item * group * stride; };
  // Threads take shares of equal cost; a unit's cost is its number of
  // positions.
  auto share = [](int64_t total, int ith, int nth, int64_t* lo, int64_t* hi) {
    *lo = total * ith / nth;
    *hi = total * (ith + 1) / nth;
  };
  int64_t positions = 0;
  for (int32_t t = 0; t < n; ++t) positions += pos[t] + 1;
  // Scores: positions of every token, all KV heads at each.
  pool.Run([&](int ith, int nth) {
    int64_t lo, hi, base = 0;
    share(positions, ith, nth, &lo, &hi);
    for (int32_t t = 0; t < n; base += pos[t] + 1, ++t) {
      int64_t j0, j1;
      UnitsInShare(base, 1, pos[t] + 1, lo, hi, &j0, &j1);
      if (j0 >= j1) continue;
      scores_of(t, 0, hp.n_kv_heads, group, static_cast<int32_t>(j0), static_cast<int32_t>(j1),
                s.shared_q16.data() + t * n_q,
                item_scores(static_cast<int64_t>(t) * hp.n_kv_heads), stride);
    }
  });
  // Softmax: whole rows, one thread each, so that each row's sum (of 16-wide
  // group sums, in order) is ops.softmax's own.
  pool.Run([&](int ith, int nth) {
    int64_t lo, hi, base = 0;
    share(positions * hp.n_heads, ith, nth, &lo, &hi);
    for (int64_t item = 0; item < n_items; ++item) {
      const int32_t n_ctx = pos[item / hp.n_kv_heads] + 1;
      int64_t g0, g1;
      UnitsInShare(base, n_ctx, group, lo, hi, &g0, &g1);
      for (int64_t g = g0; g < g1; ++g) softmax_row(item_scores(item) + g * stride, n_ctx);
      base += static_cast<int64_t>(group) * n_ctx;
    }
  });
  // Weighted sum of V: ranges of output dimensions, in steps of 8.
  const int32_t step = hd % 8 == 0 ? 8 : hd;
  pool.Run([&](int ith, int nth) {
    float* vacc = s.threads[ith].vacc.data();
    int64_t lo, hi, base = 0;
    share(positions * hp.n_kv_heads * (hd / step), ith, nth, &lo, &hi);
    for (int64_t item = 0; item < n_items; ++item) {
      const int32_t t = static_cast<int32_t>(item / hp.n_kv_heads);
      const int32_t kvh = static_cast<int32_t>(item % hp.n_kv_heads);
      const int32_t n_ctx = pos[t] + 1;
      int64_t c0, c1;
      UnitsInShare(base, n_ctx, hd / step, lo, hi, &c0, &c1);
      if (c0 < c1) {
        weighted_v(t, 1, kvh, item_scores(item), stride, static_cast<int32_t>(c0 * step),
                   static_cast<int32_t>(c1 * step), vacc);
      }
      base += static_cast<int64_t>(hd / step) * n_ctx;
    }
  });
}

}  // namespace glint::model
