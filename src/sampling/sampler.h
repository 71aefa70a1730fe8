// Token sampling: a chain of small steps over the logits of one position.
//
// temperature == 0 means greedy (argmax, lowest id on ties). Otherwise the
// chain is: penalties (repetition, frequency, presence over the last
// penalty_last_n accepted tokens) -> top-k -> top-p -> min-p -> temperature ->
// draw from the distribution with the sampler's own seeded generator, so the
// same seed and inputs give the same tokens.
//
// The steps follow llama.cpp's default chain (llama-sampling.cpp): top-p and
// min-p see the distribution at temperature 1, temperature only shapes the
// final draw. Penalties also apply when greedy. The draw uses
// std::mt19937_64 seeded with params.seed; the same seed and the same
// sequence of logits give the same tokens on every run and platform, but the
// tokens are NOT bit-identical to llama.cpp's sampler (a different RNG and a
// different mapping of random bits to a token).
//
// NaN logits are treated as -inf. If no token has a finite logit, Sample
// returns the lowest id among the largest (token 0 when all are -inf/NaN).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "base/status.h"

namespace glint::sampling {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  float repetition_penalty = 1.0f;  // 1: off (divides positive logits, multiplies negative)
  float frequency_penalty = 0.0f;   // subtracts count * penalty
  float presence_penalty = 0.0f;    // subtracts penalty once if present
  int penalty_last_n = 64;  // 0: penalties off; < 0: every token since Reset()
  uint64_t seed = 0;
};

// InvalidArgument naming the first bad field (NaN or negative temperature,
// top_p outside (0, 1], min_p outside [0, 1], repetition_penalty <= 0, ...).
// Sampler itself does not validate; callers check requests with this.
Status ValidateParams(const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from logits[0 .. n_vocab). Does not modify logits.
  int32_t Sample(const float* logits, int32_t n_vocab);
  // Verifies a speculative draft token against logits, keeping the output
  // distribution exactly that of Sample (speculative sampling, Leviathan et
  // al. 2023, arXiv:2211.17192, with a draft that proposes one token with
  // certainty): the draft is accepted with probability p(draft) under the
  // sampling chain; otherwise the token is drawn from p with the draft
  // removed. Greedy: accepted when the draft is the argmax. Returns the
  // token (the draft when *accepted).
  int32_t SampleDraft(const float* logits, int32_t n_vocab, int32_t draft, bool* accepted);
  // Records a token that was emitted (for the penalties).
  void Accept(int32_t token);
  // Forgets accepted tokens and reseeds.
  void Reset();

  const SamplingParams& params() const { return params_; }
  // The accepted tokens the penalties currently look at, oldest first.
  const std::deque<int32_t>& recent() const { return recent_; }

 private:
  bool HasPenalties() const;
  // Applies the penalties to candidates_, which is in token-id order.
  void ApplyPenalties(int32_t n_vocab);
  // Keeps the smallest prefix of candidates_[0, n) (sorted on return) whose
  // probability mass reaches top_p; returns its length.
  size_t TopP(size_t n, bool sorted);
  // Keeps candidates whose probability is at least min_p * the largest
  // probability; returns how many remain (order is kept).
  size_t MinP(size_t n);
  int32_t Draw(size_t n);
  // Sample and SampleDraft (draft < 0: none).
  int32_t SampleImpl(const float* logits, int32_t n_vocab, int32_t draft, bool* accepted);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> candidates_;  // scratch, reused: (logit, id)
  std::vector<int32_t> penalty_scratch_;               // scratch, reused: sorted recent_
};

// Index of the largest logit (lowest index on ties; NaN never wins; 0 when
// n_vocab <= 0 or every logit is NaN).
int32_t Argmax(const float* logits, int32_t n_vocab);

}  // namespace glint::sampling
