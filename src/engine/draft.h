// Draft sources for speculative decoding: cheap guesses at the next tokens
// of a generation, which the scheduler verifies in one batched forward pass
// (Model::ForwardDecode) and keeps as far as the model agrees with them.
//
// Two sources stand behind one interface:
//   - PredictionDraft: a prediction of the output supplied by the client
//     (OpenAI's `prediction` field; for an edit, the file before it). A
//     cursor follows the prediction while the output matches it; when the
//     model deviates (an insertion, a deletion, a changed line), the cursor
//     re-synchronises on the next place where the output's last few tokens
//     occur in the prediction, so one change does not end speculation for
//     the rest of the file.
//   - LookupDraft: prompt lookup. The longest recent n-gram that ends the
//     output is looked up in the prompt and the output so far, and the
//     tokens that followed it are proposed (a pattern that repeats up to
//     the end is continued).
// DraftLength adapts how many tokens to propose from the recent acceptance.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace glint::engine {

using TokenId = tokenizer::TokenId;

class DraftSource {
 public:
  virtual ~DraftSource() = default;
  // Appends to *out at most `max` tokens that may follow `generated` (every
  // token generated so far, the last one included); `prompt` is the
  // context before them. Proposing nothing is fine.
  virtual void Propose(const std::vector<TokenId>& prompt, const std::vector<TokenId>& generated,
                       int32_t max, std::vector<TokenId>* out) = 0;
};

class PredictionDraft final : public DraftSource {
 public:
  explicit PredictionDraft(std::vector<TokenId> prediction);
  void Propose(const std::vector<TokenId>& prompt, const std::vector<TokenId>& generated,
               int32_t max, std::vector<TokenId>* out) override;

  // The prediction position the output is aligned to; -1 while lost.
  int64_t cursor() const { return synced_ ? cursor_ : -1; }

 private:
  // Looks for the output's last tokens in the prediction; true when found.
  bool Resync(const std::vector<TokenId>& generated);

  std::vector<TokenId> prediction_;
  size_t seen_ = 0;     // generated tokens already followed
  size_t cursor_ = 0;   // prediction index after the last followed token
  bool synced_ = true;  // an empty output is aligned to the start
};

class LookupDraft final : public DraftSource {
 public:
  // n-grams of min_ngram .. max_ngram tokens are looked up, longest first.
  explicit LookupDraft(int32_t min_ngram = 2, int32_t max_ngram = 4);
  void Propose(const std::vector<TokenId>& prompt, const std::vector<TokenId>& generated,
               int32_t max, std::vector<TokenId>* out) override;

 private:
  int32_t min_ngram_, max_ngram_;
};

// How many tokens to propose next: grows while drafts are accepted whole,
// falls back to what was accepted plus one after a rejection.
class DraftLength {
 public:
  DraftLength(int32_t initial, int32_t max) : length_(initial), max_(max) {}
  int32_t get() const { return length_; }
  void Record(int32_t proposed, int32_t accepted);

 private:
  int32_t length_;
  int32_t max_;
};

// The draft sources of one request, in priority order: the prediction (if
// any), then prompt lookup (if enabled).
class Drafter {
 public:
  Drafter(std::vector<TokenId> prediction, bool lookup);
  bool empty() const { return sources_.empty(); }
  // Proposes at most min(max, the adaptive length) tokens into *out
  // (cleared first): the first source that proposes anything wins.
  void Propose(const std::vector<TokenId>& prompt, const std::vector<TokenId>& generated,
               int32_t max, std::vector<TokenId>* out);
  // The outcome of verifying the last proposal. A one-token draft that
  // fails starts a pause: that many steps without drafts (1, 2, 4, .. 32
  // while failures continue), since a failed draft costs part of a step
  // and gains nothing; any accepted token ends the backing off.
  void Record(int32_t proposed, int32_t accepted);
  int32_t paused() const { return pause_; }

 private:
  std::vector<std::unique_ptr<DraftSource>> sources_;
  DraftLength length_;
  int32_t pause_ = 0;    // steps left without drafting
  int32_t backoff_ = 1;  // the next pause
};

}  // namespace glint::engine
