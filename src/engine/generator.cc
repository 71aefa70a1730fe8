#include "engine/generator.h"

#include <algorithm>

#include "base/clock.h"

namespace glint::engine {

Session::Session(const model::Model& model, int32_t n_ctx, std::shared_ptr<KvBudget> budget)
    : kv_(model.NewKvCache(n_ctx)), budget_(std::move(budget)) {
  if (budget_) budget_->Add(this);
}

Session::~Session() {
  // Before the cache goes: the budget may be evicting it right now.
  if (budget_) budget_->Remove(this);
}

size_t Session::CommonPrefix(const std::vector<TokenId>& prompt) const {
  if (evicted_.load(std::memory_order_acquire)) return 0;
  const size_t n = std::min(tokens_.size(), prompt.size());
  return static_cast<size_t>(
      std::mismatch(tokens_.begin(), tokens_.begin() + n, prompt.begin()).first - tokens_.begin());
}

void Session::Truncate(int32_t n) {
  if (n < static_cast<int32_t>(tokens_.size())) tokens_.resize(std::max(n, 0));
  if (n < logits_len_) logits_len_ = -1;
  kv_->Truncate(static_cast<int32_t>(tokens_.size()));
}

double GenerateStats::prefill_tok_s() const {
  int32_t n = prompt_tokens - cached_tokens;
  return prefill_s > 0 ? n / prefill_s : 0;
}

double GenerateStats::decode_tok_s() const {
  return decode_s > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_s : 0;
}

Generator::Generator(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                     int32_t n_threads, int32_t max_batch)
    : model_(model),
      tokenizer_(tokenizer),
      pool_(n_threads),
      scratch_(model.NewScratch(max_batch)),
      logits_(model.hparams().n_vocab) {}

Result<int32_t> Generator::Prefill(Session& session, const std::vector<TokenId>& prompt) {
  if (prompt.empty()) return Error(StatusCode::kInvalidArgument, "the prompt is empty");
  if (static_cast<int32_t>(prompt.size()) >= session.n_ctx()) {
    return Error(StatusCode::kResourceExhausted,
                 "the prompt has {} tokens; the context holds {} (prompt plus at least one "
                 "generated token)", prompt.size(), session.n_ctx());
  }
  size_t common = session.CommonPrefix(prompt);
  // The last prompt token is always evaluated, to have its logits.
  if (common == prompt.size()) --common;
  session.Truncate(static_cast<int32_t>(common));
  const int32_t n_new = static_cast<int32_t>(prompt.size() - common);
  RETURN_IF_ERROR(model_.Forward(prompt.data() + common, n_new, session.kv(), logits_.data(),
                                 /*all_logits=*/false, pool_, *scratch_));
  session.tokens_.insert(session.tokens_.end(), prompt.begin() + common, prompt.end());
  return static_cast<int32_t>(common);
}

Result<std::vector<float>> Generator::PromptLogits(Session& session,
                                                   const std::vector<TokenId>& prompt) {
  ASSIGN_OR_RETURN(int32_t cached, Prefill(session, prompt));
  (void)cached;
  return logits_;
}

Result<GenerateStats> Generator::Generate(Session& session, const std::vector<TokenId>& prompt,
                                          const GenerateOptions& options,
                                          const TokenCallback& on_token) {
  GenerateStats stats;
  const auto start = Clock::now();
  stats.prompt_tokens = static_cast<int32_t>(prompt.size());
  ASSIGN_OR_RETURN(stats.cached_tokens, Prefill(session, prompt));
  stats.prefill_s = SecondsSince(start);

  sampling::Sampler sampler(options.sampling);
  for (TokenId t : prompt) sampler.Accept(t);
  tokenizer::StreamDecoder decoder(tokenizer_);
  const int32_t n_vocab = model_.hparams().n_vocab;
  Clock::time_point first_token_time{};
  stats.finish_reason = "length";

  for (int32_t i = 0; i < options.max_tokens; ++i) {
    TokenId next = sampler.Sample(logits_.data(), n_vocab);
    sampler.Accept(next);
    if (i == 0) {
      first_token_time = Clock::now();
      stats.ttft_s = SecondsSince(start);
    }
    if (options.stop_at_end_of_generation && tokenizer_.IsEndOfGeneration(next)) {
      stats.finish_reason = "stop";
      break;
    }
    ++stats.generated_tokens;
    std::string text = decoder.Push(next);
    if (on_token && !on_token(next, text)) {
      stats.finish_reason = "cancelled";
      break;
    }
    if (i + 1 == options.max_tokens) break;  // no need to evaluate the last token
    if (session.kv().size() + 1 > session.n_ctx()) {
      stats.finish_reason = "length";
      break;
    }
    RETURN_IF_ERROR(model_.Forward(&next, 1, session.kv(), logits_.data(), false, pool_,
                                   *scratch_));
    session.tokens_.push_back(next);
  }
  if (std::string rest = decoder.Flush(); !rest.empty() && on_token) on_token(-1, rest);
  if (stats.generated_tokens > 0) stats.decode_s = SecondsSince(first_token_time);
  return stats;
}

}  // namespace glint::engine
