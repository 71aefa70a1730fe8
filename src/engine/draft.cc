#include "engine/draft.h"

#include <algorithm>

namespace glint::engine {
namespace {

// Re-synchronising on a prediction looks for the output's last tokens:
// the longest suffix first, and at least this many (shorter ones match too
// many places in code: indentation, brackets, "return").
constexpr int32_t kResyncMaxNgram = 8;
constexpr int32_t kResyncMinNgram = 3;

}  // namespace

PredictionDraft::PredictionDraft(std::vector<TokenId> prediction)
    : prediction_(std::move(prediction)) {}

void PredictionDraft::Propose(const std::vector<TokenId>& /*prompt*/,
                              const std::vector<TokenId>& generated, int32_t max,
                              std::vector<TokenId>* out) {
  // Follow the tokens generated since the last call.
  if (generated.size() < seen_) {  // a different output: start over
    seen_ = 0;
    cursor_ = 0;
    synced_ = true;
  }
  while (seen_ < generated.size()) {
    const TokenId g = generated[seen_++];
    if (synced_ && cursor_ < prediction_.size() && prediction_[cursor_] == g) {
      ++cursor_;
    } else {
      synced_ = false;
    }
  }
  if (!synced_) synced_ = Resync(generated);
  if (!synced_) return;
  for (size_t i = cursor_; i < prediction_.size() && static_cast<int32_t>(out->size()) < max; ++i) {
    out->push_back(prediction_[i]);
  }
}

bool PredictionDraft::Resync(const std::vector<TokenId>& generated) {
  const int32_t longest = std::min<int32_t>(kResyncMaxNgram, static_cast<int32_t>(generated.size()));
  for (int32_t n = longest; n >= kResyncMinNgram; --n) {
    const TokenId* suffix = generated.data() + generated.size() - n;
    // The occurrence nearest the old cursor, looking forward first (the
    // model skipped or replaced part of the prediction), then back (it
    // inserted text, and the cursor ran ahead on a chance match).
    int64_t best_after = -1, best_before = -1;
    for (size_t end = n; end <= prediction_.size(); ++end) {
      if (!std::equal(suffix, suffix + n, prediction_.begin() + (end - n))) continue;
      if (end >= cursor_) {
        best_after = static_cast<int64_t>(end);
        break;
      }
      best_before = static_cast<int64_t>(end);
    }
    const int64_t best = best_after >= 0 ? best_after : best_before;
    if (best >= 0) {
      cursor_ = static_cast<size_t>(best);
      return true;
    }
  }
  return false;
}

LookupDraft::LookupDraft(int32_t min_ngram, int32_t max_ngram)
    : min_ngram_(std::max(1, min_ngram)), max_ngram_(std::max(min_ngram, max_ngram)) {}

void LookupDraft::Propose(const std::vector<TokenId>& prompt,
                          const std::vector<TokenId>& generated, int32_t max,
                          std::vector<TokenId>* out) {
  // The context is prompt followed by generated, read through at().
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  const int64_t len = n_prompt + static_cast<int64_t>(generated.size());
  auto at = [&](int64_t i) { return i < n_prompt ? prompt[i] : generated[i - n_prompt]; };
  for (int32_t n = std::min<int64_t>(max_ngram_, len - 1); n >= min_ngram_; --n) {
    // The most recent earlier occurrence of the last n tokens.
    for (int64_t start = len - n - 1; start >= 0; --start) {
      bool match = true;
      for (int32_t k = 0; k < n && match; ++k) match = at(start + k) == at(len - n + k);
      if (!match) continue;
      // What followed; past the end of the context the draft continues
      // from its own start, so a repeating pattern yields a full draft.
      for (int64_t i = start + n; static_cast<int32_t>(out->size()) < max; ++i) {
        out->push_back(i < len ? at(i) : (*out)[i - len]);
      }
      return;
    }
  }
}

void DraftLength::Record(int32_t proposed, int32_t accepted) {
  if (proposed <= 0) return;
  if (accepted >= proposed) {
    length_ = std::min(max_, length_ * 2);
  } else {
    // Back off, but not below what this draft got right.
    length_ = std::max({1, accepted + 1, length_ / 2});
  }
}

Drafter::Drafter(std::vector<TokenId> prediction, bool lookup) : length_(8, 16) {
  if (!prediction.empty()) sources_.push_back(std::make_unique<PredictionDraft>(std::move(prediction)));
  if (lookup) sources_.push_back(std::make_unique<LookupDraft>());
}

void Drafter::Propose(const std::vector<TokenId>& prompt, const std::vector<TokenId>& generated,
                      int32_t max, std::vector<TokenId>* out) {
  out->clear();
  max = std::min(max, length_.get());
  if (max <= 0) return;
  if (pause_ > 0) {
    --pause_;
    return;
  }
  for (auto& source : sources_) {
    source->Propose(prompt, generated, max, out);
    if (!out->empty()) return;
  }
}

void Drafter::Record(int32_t proposed, int32_t accepted) {
  if (proposed <= 0) return;
  const int32_t before = length_.get();
  length_.Record(proposed, accepted);
  constexpr int32_t kMaxPause = 32;
  if (accepted > 0) {
    backoff_ = 1;
  } else if (before == 1) {
    pause_ = backoff_;
    backoff_ = std::min(kMaxPause, 2 * backoff_);
  }
}

}  // namespace glint::engine
