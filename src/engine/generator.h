// Generation over one session: prefill what the session's cache does not
// already hold, then decode token by token, streaming each token as soon as
// it exists. Times queueing-free prefill, time to first token and decode.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/kv_budget.h"
#include "model/forward_scratch.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace glint::engine {

using tokenizer::TokenId;

// A conversation's state: the tokens its cache holds, and the cache.
class Session {
 public:
  // With a budget, the session's cache counts against it, and the budget
  // may evict it while the session is idle (see engine/kv_budget.h).
  Session(const model::Model& model, int32_t n_ctx, std::shared_ptr<KvBudget> budget = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<TokenId>& tokens() const { return tokens_; }
  // How many leading tokens of `prompt` the session already holds (none
  // once the budget evicted its cache).
  size_t CommonPrefix(const std::vector<TokenId>& prompt) const;
  int32_t n_ctx() const { return kv_->capacity(); }
  model::KvCache& kv() { return *kv_; }
  const model::KvCache& kv() const { return *kv_; }
  // Forgets everything after the first n tokens.
  void Truncate(int32_t n);
  void Clear() { Truncate(0); }

 private:
  friend class Generator;
  friend class Scheduler;
  friend class KvBudget;
  std::unique_ptr<model::KvCache> kv_;
  std::shared_ptr<KvBudget> budget_;
  // The budget emptied the cache while the session was idle; its owner
  // clears tokens_ to match before the next job (inference thread).
  std::atomic<bool> evicted_{false};
  std::vector<TokenId> tokens_;
  // The logits after the first logits_len_ tokens (the end of the last
  // prompt prefilled), so that the same prompt again needs no forward pass;
  // -1 when none.
  std::vector<float> logits_;
  int32_t logits_len_ = -1;
  bool in_use_ = false;  // a scheduler job holds it (inference thread only)
};

struct GenerateOptions {
  int32_t max_tokens = 256;
  sampling::SamplingParams sampling;
  bool stop_at_end_of_generation = true;
  // Speculative decoding (the scheduler; see engine/draft.h): drafts from
  // `prediction` (the expected output, as tokens) and, with `lookup`, from
  // n-grams of the prompt and output. Off: one token per step.
  bool speculate = true;
  bool lookup = true;
  std::vector<TokenId> prediction;
};

struct GenerateStats {
  int32_t prompt_tokens = 0;     // tokens of the request's prompt
  int32_t cached_tokens = 0;     // of those, already in the session's cache
  int32_t generated_tokens = 0;
  double prefill_s = 0;          // evaluating the uncached prompt tokens
  double ttft_s = 0;             // request start to first generated token
  double decode_s = 0;           // first token to last
  std::string finish_reason;     // "stop", "length", "cancelled"
  int32_t draft_accepted = 0;    // speculative draft tokens kept
  int32_t draft_rejected = 0;    // and those verified and thrown away
  int32_t verify_steps = 0;      // forward passes that verified a draft

  double prefill_tok_s() const;
  double decode_tok_s() const;   // tokens after the first, per second
};

// Called with each generated token and the text it completes (UTF-8 safe);
// returning false stops generation ("cancelled").
using TokenCallback = std::function<bool(TokenId id, const std::string& text)>;

class Generator {
 public:
  Generator(const model::Model& model, const tokenizer::Tokenizer& tokenizer, int32_t n_threads,
            int32_t max_batch = 64);

  // Makes `prompt` the session's context (reusing the longest common prefix
  // of what it holds), then generates. The generated tokens are appended to
  // the session too, so a next turn continues from them.
  Result<GenerateStats> Generate(Session& session, const std::vector<TokenId>& prompt,
                                 const GenerateOptions& options, const TokenCallback& on_token);

  // Evaluates the prompt and returns the logits of its last position
  // (n_vocab floats), for tools and tests.
  Result<std::vector<float>> PromptLogits(Session& session, const std::vector<TokenId>& prompt);

  ThreadPool& pool() { return pool_; }
  const model::Model& model() const { return model_; }

 private:
  // Brings the session to `prompt` and leaves the logits of its last token
  // in logits_. Returns how many tokens were reused.
  Result<int32_t> Prefill(Session& session, const std::vector<TokenId>& prompt);

  const model::Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  ThreadPool pool_;
  std::unique_ptr<model::ForwardScratch> scratch_;
  std::vector<float> logits_;  // [n_vocab]
};

}  // namespace glint::engine
