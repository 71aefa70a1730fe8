// The forward pass against a naive double-precision transformer, on tiny
// synthetic models written with GgufWriter (both architectures), plus the
// properties the engine relies on: chunked prefill equals one pass,
// token-by-token decode equals prefill, truncation rolls back, and bad
// inputs fail cleanly.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/forward_scratch.h"
#include "model/model.h"

namespace glint::model {
namespace {

struct TinySpec {
  std::string arch = "llama";
  int n_layers = 2, n_embd = 64, n_ff = 96, n_heads = 4, n_kv_heads = 2, n_vocab = 50;
  int n_ctx = 64;
  float rope_base = 10000.0f, eps = 1e-5f;
  DType weight_type = DType::kF32;
  bool tied = true;
};

// All weights of a tiny model in f32 (what the reference computes with).
struct TinyWeights {
  std::vector<float> embd, out_norm, output;
  struct Layer {
    std::vector<float> attn_norm, wq, wk, wv, bq, bk, bv, wo, ffn_norm, gate, up, down;
  };
  std::vector<Layer> layers;
};

std::vector<float> Random(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Round-trips weights through the storage type so the reference sees exactly
// what glint multiplies with.
std::vector<uint8_t> Store(DType t, std::vector<float>& w, int64_t cols) {
  const auto& k = kernels::GenericKernels()[t];
  std::vector<uint8_t> bytes(RowBytes(t, static_cast<int64_t>(w.size())));
  if (t == DType::kF32) {
    std::memcpy(bytes.data(), w.data(), bytes.size());
    return bytes;
  }
  k.quantize(w.data(), bytes.data(), static_cast<int64_t>(w.size()));
  k.dequantize(bytes.data(), w.data(), static_cast<int64_t>(w.size()));
  return bytes;
}

std::string WriteTinyModel(const TinySpec& s, TinyWeights* w, const std::string& name) {
  std::mt19937 rng(42);
  const int hd = s.n_embd / s.n_heads, n_kv = s.n_kv_heads * hd;
  gguf::GgufWriter g;
  g.AddString("general.architecture", s.arch);
  g.AddString("general.name", "tiny-" + s.arch);
  const std::string p = s.arch + ".";
  g.AddU32(p + "block_count", s.n_layers);
  g.AddU32(p + "embedding_length", s.n_embd);
  g.AddU32(p + "feed_forward_length", s.n_ff);
  g.AddU32(p + "attention.head_count", s.n_heads);
  g.AddU32(p + "attention.head_count_kv", s.n_kv_heads);
  g.AddU32(p + "context_length", s.n_ctx);
  g.AddU32(p + "vocab_size", s.n_vocab);
  g.AddF32(p + "rope.freq_base", s.rope_base);
  g.AddF32(p + "attention.layer_norm_rms_epsilon", s.eps);
  auto matrix = [&](const std::string& tname, std::vector<float>* m, int rows, int cols,
                    float scale) {
    *m = Random(rng, static_cast<size_t>(rows) * cols, scale);
    auto bytes = Store(s.weight_type, *m, cols);
    g.AddTensor(tname, s.weight_type, {cols, rows}, bytes.data(), bytes.size());
  };
  auto vec = [&](const std::string& tname, std::vector<float>* v, int n, float mean, float scale) {
    *v = Random(rng, n, scale);
    for (float& x : *v) x += mean;
    g.AddTensor(tname, DType::kF32, {n}, v->data(), v->size() * 4);
  };
  // token_embd is stored in f32 so get_rows is exact in both.
  w->embd = Random(rng, static_cast<size_t>(s.n_vocab) * s.n_embd, 1.0f);
  g.AddTensor("token_embd.weight", DType::kF32, {s.n_embd, s.n_vocab}, w->embd.data(),
              w->embd.size() * 4);
  vec("output_norm.weight", &w->out_norm, s.n_embd, 1.0f, 0.1f);
  if (s.tied) {
    w->output = w->embd;
  } else {
    matrix("output.weight", &w->output, s.n_vocab, s.n_embd, 0.2f);
  }
  w->layers.resize(s.n_layers);
  for (int l = 0; l < s.n_layers; ++l) {
    auto& L = w->layers[l];
    auto n = [l](const char* suffix) { return "blk." + std::to_string(l) + "." + suffix; };
    vec(n("attn_norm.weight"), &L.attn_norm, s.n_embd, 1.0f, 0.1f);
    matrix(n("attn_q.weight"), &L.wq, s.n_embd, s.n_embd, 0.15f);
    matrix(n("attn_k.weight"), &L.wk, n_kv, s.n_embd, 0.15f);
    matrix(n("attn_v.weight"), &L.wv, n_kv, s.n_embd, 0.15f);
    if (s.arch == "qwen2") {
      vec(n("attn_q.bias"), &L.bq, s.n_embd, 0.0f, 0.3f);
      vec(n("attn_k.bias"), &L.bk, n_kv, 0.0f, 0.3f);
      vec(n("attn_v.bias"), &L.bv, n_kv, 0.0f, 0.3f);
    }
    matrix(n("attn_output.weight"), &L.wo, s.n_embd, s.n_embd, 0.15f);
    vec(n("ffn_norm.weight"), &L.ffn_norm, s.n_embd, 1.0f, 0.1f);
    matrix(n("ffn_gate.weight"), &L.gate, s.n_ff, s.n_embd, 0.15f);
    matrix(n("ffn_up.weight"), &L.up, s.n_ff, s.n_embd, 0.15f);
    matrix(n("ffn_down.weight"), &L.down, s.n_embd, s.n_ff, 0.15f);
  }
  std::string path = ::testing::TempDir() + "/" + name + ".gguf";
  EXPECT_TRUE(g.WriteFile(path).ok());
  return path;
}

// The textbook computation in double: logits for every position.
std::vector<std::vector<double>> NaiveForward(const TinySpec& s, const TinyWeights& w,
                                              const std::vector<int>& tokens) {
  const int D = s.n_embd, hd = D / s.n_heads, group = s.n_heads / s.n_kv_heads;
  const int n_kv = s.n_kv_heads * hd, T = static_cast<int>(tokens.size());
  auto matvec = [](const std::vector<float>& m, const std::vector<double>& x, int rows) {
    std::vector<double> y(rows, 0.0);
    int cols = static_cast<int>(x.size());
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) y[r] += m[static_cast<size_t>(r) * cols + c] * x[c];
    return y;
  };
  auto rms = [&](const std::vector<double>& x, const std::vector<float>& g) {
    double ss = 0;
    for (double v : x) ss += v * v;
    double sc = 1.0 / std::sqrt(ss / x.size() + s.eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * sc * g[i];
    return y;
  };
  auto rope = [&](std::vector<double>& v, int heads, int pos) {
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < hd / 2; ++i) {
        double theta = pos * std::pow(static_cast<double>(s.rope_base), -2.0 * i / hd);
        int a = s.arch == "qwen2" ? i : 2 * i, b = s.arch == "qwen2" ? i + hd / 2 : 2 * i + 1;
        double x0 = v[h * hd + a], x1 = v[h * hd + b];
        v[h * hd + a] = x0 * std::cos(theta) - x1 * std::sin(theta);
        v[h * hd + b] = x0 * std::sin(theta) + x1 * std::cos(theta);
      }
  };
  std::vector<std::vector<double>> x(T, std::vector<double>(D));
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < D; ++i) x[t][i] = w.embd[static_cast<size_t>(tokens[t]) * D + i];
  for (const auto& L : w.layers) {
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      auto h = rms(x[t], L.attn_norm);
      q[t] = matvec(L.wq, h, D);
      k[t] = matvec(L.wk, h, n_kv);
      v[t] = matvec(L.wv, h, n_kv);
      if (!L.bq.empty()) {
        for (int i = 0; i < D; ++i) q[t][i] += L.bq[i];
        for (int i = 0; i < n_kv; ++i) k[t][i] += L.bk[i], v[t][i] += L.bv[i];
      }
      rope(q[t], s.n_heads, t);
      rope(k[t], s.n_kv_heads, t);
    }
    for (int t = 0; t < T; ++t) {
      std::vector<double> att(D, 0.0);
      for (int h = 0; h < s.n_heads; ++h) {
        int kh = h / group;
        std::vector<double> sc(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[t][h * hd + i] * k[j][kh * hd + i];
          sc[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (double& e : sc) sum += (e = std::exp(e - mx));
        for (int j = 0; j <= t; ++j)
          for (int i = 0; i < hd; ++i) att[h * hd + i] += sc[j] / sum * v[j][kh * hd + i];
      }
      auto o = matvec(L.wo, att, D);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
      auto h = rms(x[t], L.ffn_norm);
      auto g = matvec(L.gate, h, s.n_ff), u = matvec(L.up, h, s.n_ff);
      for (int i = 0; i < s.n_ff; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = matvec(L.down, g, D);
      for (int i = 0; i < D; ++i) x[t][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits(T);
  for (int t = 0; t < T; ++t) logits[t] = matvec(w.output, rms(x[t], w.out_norm), s.n_vocab);
  return logits;
}

struct Loaded {
  std::unique_ptr<Model> model;
  TinyWeights weights;
};

Loaded LoadTiny(const TinySpec& s, const std::string& name) {
  Loaded l;
  std::string path = WriteTinyModel(s, &l.weights, name);
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (m.ok()) l.model = std::move(m).value();
  return l;
}

const std::vector<int> kTokens = {3, 17, 42, 8, 8, 29, 1, 0, 49, 33, 12, 5};

class ModelVsNaive : public ::testing::TestWithParam<std::tuple<std::string, DType, bool>> {};

TEST_P(ModelVsNaive, AllLogitsMatch) {
  TinySpec s;
  s.arch = std::get<0>(GetParam());
  s.weight_type = std::get<1>(GetParam());
  s.tied = std::get<2>(GetParam());
  Loaded l = LoadTiny(s, "naive_" + s.arch + DTypeName(s.weight_type) + (s.tied ? "t" : "u"));
  ASSERT_NE(l.model, nullptr);
  auto want = NaiveForward(s, l.weights, kTokens);
  ThreadPool pool(2);
  auto kv = l.model->NewKvCache(s.n_ctx);
  auto scratch = l.model->NewScratch(5);  // forces chunking: 12 tokens in chunks of 5
  const int T = static_cast<int>(kTokens.size());
  std::vector<float> got(static_cast<size_t>(T) * s.n_vocab);
  ASSERT_TRUE(l.model->Forward(kTokens.data(), T, *kv, got.data(), true, pool, *scratch).ok());
  // Errors come from f16 queries/keys/values (as in the reference) and, for
  // quantized weights, 8-bit activations: both well under 3% of the range.
  double max_err = 0, max_abs = 0;
  for (int t = 0; t < T; ++t)
    for (int v = 0; v < s.n_vocab; ++v) {
      max_err = std::max(max_err, std::fabs(got[static_cast<size_t>(t) * s.n_vocab + v] - want[t][v]));
      max_abs = std::max(max_abs, std::fabs(want[t][v]));
    }
  const double tol = (s.weight_type == DType::kF32 ? 0.005 : 0.03) * max_abs;
  EXPECT_LT(max_err, tol) << s.arch << " " << DTypeName(s.weight_type) << ", max |logit| " << max_abs;
  EXPECT_EQ(kv->size(), T);
}

INSTANTIATE_TEST_SUITE_P(
    Archs, ModelVsNaive,
    ::testing::Values(std::make_tuple("llama", DType::kF32, true),
                      std::make_tuple("qwen2", DType::kF32, false),
                      std::make_tuple("llama", DType::kQ8_0, false),
                      std::make_tuple("qwen2", DType::kQ4_1, true)));

TEST(Model, DecodeEqualsPrefillAndTruncateRollsBack) {
  TinySpec s;
  s.arch = "qwen2";
  Loaded l = LoadTiny(s, "decode");
  ASSERT_NE(l.model, nullptr);
  ThreadPool pool(2);
  const int T = static_cast<int>(kTokens.size());
  auto scratch = l.model->NewScratch(64);
  auto kv_a = l.model->NewKvCache(s.n_ctx);
  std::vector<float> prefill(s.n_vocab), step(s.n_vocab), again(s.n_vocab);
  ASSERT_TRUE(l.model->Forward(kTokens.data(), T, *kv_a, prefill.data(), false, pool, *scratch).ok());
  auto kv_b = l.model->NewKvCache(s.n_ctx);
  for (int t = 0; t < T; ++t) {
    ASSERT_TRUE(l.model->Forward(&kTokens[t], 1, *kv_b, step.data(), false, pool, *scratch).ok());
  }
  for (int v = 0; v < s.n_vocab; ++v) EXPECT_NEAR(prefill[v], step[v], 1e-4);
  // Roll back the last three tokens and replay them: same logits.
  kv_b->Truncate(T - 3);
  ASSERT_TRUE(l.model->Forward(&kTokens[T - 3], 3, *kv_b, again.data(), false, pool, *scratch).ok());
  for (int v = 0; v < s.n_vocab; ++v) EXPECT_NEAR(step[v], again[v], 1e-5);
}

// A chunked prefill (ForwardSpan) is bit-identical to one Forward, and a
// batched decode of several sequences to decoding each alone.
TEST(Model, SpansAndBatchedDecodeEqualSingleSequence) {
  for (DType type : {DType::kF32, DType::kQ4_0, DType::kQ8_0}) {
    TinySpec s;
    s.weight_type = type;
    Loaded l = LoadTiny(s, "batched");
    ASSERT_NE(l.model, nullptr);
    ThreadPool pool(2);
    auto scratch = l.model->NewScratch(64);
    const int T = static_cast<int>(kTokens.size());
    auto kv_whole = l.model->NewKvCache(s.n_ctx);
    std::vector<float> whole(s.n_vocab), spans(s.n_vocab, -1.0f);
    ASSERT_TRUE(l.model->Forward(kTokens.data(), T, *kv_whole, whole.data(), false, pool, *scratch).ok());
    auto kv_spans = l.model->NewKvCache(s.n_ctx);
    for (int done = 0; done < T; done += 3) {
      ASSERT_TRUE(l.model->ForwardSpan(kTokens.data(), T, done, std::min(3, T - done), *kv_spans,
                                       spans.data(), pool, *scratch).ok());
    }
    EXPECT_EQ(whole, spans);
    EXPECT_FALSE(l.model->ForwardSpan(kTokens.data(), T, T - 1, 2, *kv_spans, spans.data(), pool,
                                      *scratch).ok());

    // Five sequences with different histories, decoded together and alone.
    constexpr int kSeqs = 5;
    std::vector<std::unique_ptr<KvCache>> together, alone;
    for (int i = 0; i < kSeqs; ++i) {
      together.push_back(l.model->NewKvCache(s.n_ctx));
      alone.push_back(l.model->NewKvCache(s.n_ctx));
      for (auto* kv : {together.back().get(), alone.back().get()}) {
        ASSERT_TRUE(l.model->Forward(kTokens.data(), 2 + i, *kv, whole.data(), false, pool,
                                     *scratch).ok());
      }
    }
    for (int step = 0; step < 3; ++step) {
      std::vector<int32_t> tokens;
      std::vector<KvCache*> kvs;
      for (int i = 0; i < kSeqs; ++i) {
        tokens.push_back(kTokens[(i + step) % T]);
        kvs.push_back(together[i].get());
      }
      std::vector<float> batched(static_cast<size_t>(kSeqs) * s.n_vocab);
      ASSERT_TRUE(l.model->ForwardDecode(tokens.data(), kvs.data(), kSeqs, batched.data(), pool,
                                         *scratch).ok());
      for (int i = 0; i < kSeqs; ++i) {
        std::vector<float> single(s.n_vocab);
        ASSERT_TRUE(l.model->Forward(&tokens[i], 1, *alone[i], single.data(), false, pool,
                                     *scratch).ok());
        EXPECT_EQ(single, std::vector<float>(batched.begin() + i * s.n_vocab,
                                             batched.begin() + (i + 1) * s.n_vocab))
            << DTypeName(type) << " sequence " << i << " step " << step;
        EXPECT_EQ(together[i]->size(), alone[i]->size());
      }
    }

    // A draft to verify: several tokens of one cache in one pass, beside a
    // token of another sequence, give exactly the logits of decoding them
    // one by one.
    auto kv_draft = l.model->NewKvCache(s.n_ctx), kv_steps = l.model->NewKvCache(s.n_ctx);
    auto kv_other = l.model->NewKvCache(s.n_ctx), kv_other1 = l.model->NewKvCache(s.n_ctx);
    for (auto* kv : {kv_draft.get(), kv_steps.get()}) {
      ASSERT_TRUE(l.model->Forward(kTokens.data(), 3, *kv, whole.data(), false, pool, *scratch).ok());
    }
    for (auto* kv : {kv_other.get(), kv_other1.get()}) {
      ASSERT_TRUE(l.model->Forward(kTokens.data(), 5, *kv, whole.data(), false, pool, *scratch).ok());
    }
    constexpr int kDraft = 6;
    std::vector<int32_t> tokens;
    std::vector<KvCache*> kvs;
    for (int i = 0; i < kDraft; ++i) {
      tokens.push_back(kTokens[(3 + i) % T]);
      kvs.push_back(kv_draft.get());
    }
    tokens.push_back(kTokens[0]);
    kvs.push_back(kv_other.get());
    std::vector<float> draft((kDraft + 1) * static_cast<size_t>(s.n_vocab));
    ASSERT_TRUE(l.model->ForwardDecode(tokens.data(), kvs.data(), kDraft + 1, draft.data(), pool,
                                       *scratch).ok());
    EXPECT_EQ(kv_draft->size(), 3 + kDraft);
    EXPECT_EQ(kv_other->size(), 6);
    for (int i = 0; i <= kDraft; ++i) {
      std::vector<float> single(s.n_vocab);
      KvCache& kv = i < kDraft ? *kv_steps : *kv_other1;
      ASSERT_TRUE(l.model->Forward(&tokens[i], 1, kv, single.data(), false, pool, *scratch).ok());
      EXPECT_EQ(single, std::vector<float>(draft.begin() + i * s.n_vocab,
                                           draft.begin() + (i + 1) * s.n_vocab))
          << DTypeName(type) << " draft token " << i;
    }
    // A draft that would overrun the context is refused whole.
    auto small = l.model->NewKvCache(4);
    ASSERT_TRUE(l.model->Forward(kTokens.data(), 2, *small, whole.data(), false, pool, *scratch).ok());
    kvs.assign(3, small.get());
    EXPECT_FALSE(l.model->ForwardDecode(tokens.data(), kvs.data(), 3, draft.data(), pool,
                                        *scratch).ok());
    EXPECT_EQ(small->size(), 2);
  }
}

// Consecutive tokens of one cache share their attention reads (runs of up
// to ForwardScratch::kAttnMaxRun tokens): drafts of every length, across the
// 16-position softmax groups and the 64 partial sums of a decode, give
// exactly the logits of decoding their tokens one by one, and a prompt
// chunk exactly those of evaluating it one token per pass.
TEST(Model, RunsOfTokensGiveTheResultsOfOneTokenAtATime) {
  TinySpec s;
  s.n_embd = 384;
  s.n_heads = 6;
  s.n_kv_heads = 3;
  s.n_ff = 128;
  s.n_ctx = 320;
  Loaded l = LoadTiny(s, "runs");
  ASSERT_NE(l.model, nullptr);
  std::mt19937 rng(11);
  std::vector<int32_t> prompt(s.n_ctx);
  for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % s.n_vocab);
  const size_t V = static_cast<size_t>(s.n_vocab);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    auto scratch = l.model->NewScratch(64);
    for (int depth : {1, 60, 250}) {
      for (int n : {2, 5, 8, 9, 19}) {
        auto kv_draft = l.model->NewKvCache(s.n_ctx), kv_steps = l.model->NewKvCache(s.n_ctx);
        std::vector<float> draft(n * V), single(V);
        for (auto* kv : {kv_draft.get(), kv_steps.get()}) {
          ASSERT_TRUE(l.model->Forward(prompt.data(), depth, *kv, single.data(), false, pool,
                                       *scratch).ok());
        }
        std::vector<KvCache*> kvs(n, kv_draft.get());
        ASSERT_TRUE(l.model->ForwardDecode(&prompt[depth], kvs.data(), n, draft.data(), pool,
                                           *scratch).ok());
        for (int i = 0; i < n; ++i) {
          ASSERT_TRUE(l.model->Forward(&prompt[depth + i], 1, *kv_steps, single.data(), false,
                                       pool, *scratch).ok());
          EXPECT_EQ(single, std::vector<float>(draft.begin() + i * V, draft.begin() + (i + 1) * V))
              << threads << " threads, depth " << depth << ", token " << i << " of " << n;
        }
      }
    }
    // A prompt evaluated in chunks of 64 and one token per pass (the same
    // batched order, ForwardScratch::ref_batch).
    const int n = 150;
    std::vector<float> chunked(n * V), one_by_one(n * V);
    auto kv_a = l.model->NewKvCache(s.n_ctx), kv_b = l.model->NewKvCache(s.n_ctx);
    ASSERT_TRUE(l.model->Forward(prompt.data(), n, *kv_a, chunked.data(), true, pool, *scratch).ok());
    auto tiny_batch = l.model->NewScratch(1);
    ASSERT_TRUE(l.model->Forward(prompt.data(), n, *kv_b, one_by_one.data(), true, pool,
                                 *tiny_batch).ok());
    EXPECT_EQ(chunked, one_by_one) << threads << " threads";
  }
}

TEST(Model, ThreadCountDoesNotChangeResults) {
  TinySpec s;
  Loaded l = LoadTiny(s, "threads");
  ASSERT_NE(l.model, nullptr);
  std::vector<std::vector<float>> out;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    auto kv = l.model->NewKvCache(s.n_ctx);
    auto scratch = l.model->NewScratch(64);
    out.emplace_back(s.n_vocab);
    ASSERT_TRUE(l.model->Forward(kTokens.data(), static_cast<int>(kTokens.size()), *kv,
                                 out.back().data(), false, pool, *scratch).ok());
  }
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
}

// Three KV heads of 64 dimensions (as the fast model has): one token's three
// attention items do not go round 2 or 4 threads, nor 3 tokens' nine, so the
// threads share each item (scores by position, softmax by row, the sum over
// V by output dimension). Every logit must equal the one-thread result: at
// depths around the 16-position softmax groups, the 64 partial sums of a
// decode and the 256-position f16 runs, for single decodes, a prompt chunk
// (the batched order), and several sequences and a draft in one pass.
TEST(Model, SharedAttentionItemsGiveTheResultsOfOneThread) {
  TinySpec s;
  s.n_embd = 384;
  s.n_heads = 6;
  s.n_kv_heads = 3;
  s.n_ff = 128;
  s.n_ctx = 600;
  Loaded l = LoadTiny(s, "shared_attention");
  ASSERT_NE(l.model, nullptr);
  ASSERT_EQ(l.model->hparams().head_dim, 64);
  auto probe = l.model->NewScratch(4);
  EXPECT_TRUE(probe->ShareAttention(3, 2, 520));
  EXPECT_TRUE(probe->ShareAttention(3, 4, 520));
  EXPECT_TRUE(probe->ShareAttention(9, 4, 520));
  EXPECT_FALSE(probe->ShareAttention(3, 3, 520));
  EXPECT_FALSE(probe->ShareAttention(3, 1, 520));

  std::mt19937 rng(7);
  std::vector<int32_t> prompt(s.n_ctx);
  for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % s.n_vocab);
  auto run = [&](int threads) {
    ThreadPool pool(threads);
    auto scratch = l.model->NewScratch(64);
    scratch->attn_share_min_work = 0;  // share at every depth
    std::vector<float> out, logits(4 * static_cast<size_t>(s.n_vocab));
    auto keep = [&](int rows) {
      out.insert(out.end(), logits.begin(), logits.begin() + rows * s.n_vocab);
    };
    for (int depth : {0, 5, 64, 130, 520}) {
      auto kv = l.model->NewKvCache(s.n_ctx);
      if (depth > 0) {
        EXPECT_TRUE(l.model->Forward(prompt.data(), depth, *kv, logits.data(), false, pool,
                                     *scratch).ok());
      }
      for (int i = 0; i < 2; ++i) {
        EXPECT_TRUE(l.model->Forward(&prompt[depth + i], 1, *kv, logits.data(), false, pool,
                                     *scratch).ok());
        keep(1);
      }
      EXPECT_TRUE(l.model->Forward(&prompt[depth + 2], 3, *kv, logits.data(), true, pool,
                                   *scratch).ok());
      keep(3);
    }
    // One sequence at depth 130 and a draft of two tokens of another at 64.
    auto kv_a = l.model->NewKvCache(s.n_ctx), kv_b = l.model->NewKvCache(s.n_ctx);
    for (auto [kv, depth] : {std::pair{kv_a.get(), 130}, std::pair{kv_b.get(), 64}}) {
      EXPECT_TRUE(l.model->Forward(prompt.data(), depth, *kv, logits.data(), false, pool,
                                   *scratch).ok());
    }
    KvCache* kvs[3] = {kv_a.get(), kv_b.get(), kv_b.get()};
    EXPECT_TRUE(l.model->ForwardDecode(&prompt[200], kvs, 3, logits.data(), pool, *scratch).ok());
    keep(3);
    return out;
  };
  const std::vector<float> want = run(1);
  for (int threads : {2, 3, 4}) {
    const std::vector<float> got = run(threads);
    ASSERT_EQ(want.size(), got.size());
    size_t differ = 0;
    for (size_t i = 0; i < want.size(); ++i) differ += want[i] != got[i];
    EXPECT_EQ(differ, 0u) << "of " << want.size() << " logits with " << threads << " threads";
  }
}

TEST(Model, RejectsOverflowAndBadTokens) {
  TinySpec s;
  Loaded l = LoadTiny(s, "errors");
  ASSERT_NE(l.model, nullptr);
  ThreadPool pool(1);
  auto kv = l.model->NewKvCache(8);
  auto scratch = l.model->NewScratch(4);
  std::vector<float> logits(s.n_vocab);
  std::vector<int32_t> many(9, 1);
  Status st = l.model->Forward(many.data(), 9, *kv, logits.data(), false, pool, *scratch);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_EQ(kv->size(), 0);
  int32_t bad = s.n_vocab;
  st = l.model->Forward(&bad, 1, *kv, logits.data(), false, pool, *scratch);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("outside the vocabulary"), std::string::npos);
  bad = -1;
  EXPECT_FALSE(l.model->Forward(&bad, 1, *kv, logits.data(), false, pool, *scratch).ok());
  EXPECT_FALSE(l.model->Forward(&bad, 0, *kv, logits.data(), false, pool, *scratch).ok());
}

std::string WriteWithout(const std::string& arch, const std::string& drop_tensor,
                         const std::string& name, int n_kv_heads = 2) {
  // Rewrites a tiny model, leaving out one tensor (or with a bad head count).
  TinySpec s;
  s.arch = arch;
  s.n_kv_heads = n_kv_heads;
  TinyWeights w;
  std::string path = WriteTinyModel(s, &w, name + "_full");
  auto file = gguf::GgufFile::Open(path);
  EXPECT_TRUE(file.ok());
  gguf::GgufWriter g;
  for (const auto& [key, v] : (*file)->metadata()) {
    if (v.type == gguf::ValueType::kString) g.AddString(key, std::string(v.s));
    else if (v.type == gguf::ValueType::kFloat32) g.AddF32(key, static_cast<float>(v.f));
    else g.AddU32(key, static_cast<uint32_t>(v.u));
  }
  for (const auto& t : (*file)->tensors()) {
    if (t.name == drop_tensor) continue;
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    g.AddTensor(t.name, t.type, ne, t.data, t.n_bytes);
  }
  std::string out = ::testing::TempDir() + "/" + name + ".gguf";
  EXPECT_TRUE(g.WriteFile(out).ok());
  return out;
}

TEST(Model, LoadErrorsNameTheProblem) {
  auto missing = Model::Load(WriteWithout("qwen2", "blk.1.attn_k.bias", "nobias"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("blk.1.attn_k.bias"), std::string::npos);
  EXPECT_NE(missing.status().message().find("nobias.gguf"), std::string::npos);

  auto gqa = Model::Load(WriteWithout("llama", "", "badgqa", /*n_kv_heads=*/3));
  ASSERT_FALSE(gqa.ok());
  EXPECT_NE(gqa.status().message().find("head_count_kv"), std::string::npos)
      << gqa.status().message();
}

}  // namespace
}  // namespace glint::model
