#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace glint::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Orders candidates by logit, highest first, then by id, so partial sorts and
// ties give the same result on every standard library.
struct Higher {
  bool operator()(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
};

// exp(l - max) that stays finite when max is +inf (+inf tokens get weight 1)
// and gives 0 for -inf logits.
inline float Weight(float logit, float max) {
  return logit == max ? 1.0f : std::exp(logit - max);
}

}  // namespace

Status ValidateParams(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || std::isinf(p.temperature)) {
    return Error(StatusCode::kInvalidArgument, "temperature must be finite and >= 0, found {}",
                 p.temperature);
  }
  if (p.top_k < 0) return Error(StatusCode::kInvalidArgument, "top_k must be >= 0, found {}", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return Error(StatusCode::kInvalidArgument, "top_p must be in (0, 1], found {}", p.top_p);
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return Error(StatusCode::kInvalidArgument, "min_p must be in [0, 1], found {}", p.min_p);
  }
  if (!(p.repetition_penalty > 0.0f) || std::isinf(p.repetition_penalty)) {
    return Error(StatusCode::kInvalidArgument, "repetition_penalty must be finite and > 0, found {}",
                 p.repetition_penalty);
  }
  if (!std::isfinite(p.frequency_penalty)) {
    return Error(StatusCode::kInvalidArgument, "frequency_penalty must be finite, found {}",
                 p.frequency_penalty);
  }
  if (!std::isfinite(p.presence_penalty)) {
    return Error(StatusCode::kInvalidArgument, "presence_penalty must be finite, found {}",
                 p.presence_penalty);
  }
  return Status::Ok();
}

int32_t Argmax(const float* logits, int32_t n_vocab) {
  if (n_vocab <= 0) return 0;  // a caller bug; never read logits[0]
  // The largest value first, eight lanes at a time, then the first index
  // holding it: the lowest id among ties, as one strict scan gives. (A
  // branch per logit cost about 13 us per sequence and step for a
  // 49152-token vocabulary.)
  float best_v = kNegInf;
  int32_t i = 0;
#if defined(__SSE2__)
  // maxps(x, m) is x > m ? x : m per lane: a NaN x keeps m.
  __m128 m0 = _mm_set1_ps(kNegInf), m1 = m0;
  for (; i + 8 <= n_vocab; i += 8) {
    m0 = _mm_max_ps(_mm_loadu_ps(logits + i), m0);
    m1 = _mm_max_ps(_mm_loadu_ps(logits + i + 4), m1);
  }
  alignas(16) float lanes[8];
  _mm_store_ps(lanes, m0);
  _mm_store_ps(lanes + 4, m1);
  for (const float m : lanes) best_v = m > best_v ? m : best_v;
#endif
  for (; i < n_vocab; ++i) best_v = logits[i] > best_v ? logits[i] : best_v;
  // Nothing above -inf (all -inf or NaN): the strict scan stays at id 0.
  if (best_v == kNegInf) return 0;
  for (int32_t j = 0; j < n_vocab; ++j) {
    if (logits[j] == best_v) return j;
  }
  return 0;  // unreachable: best_v is one of the logits
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

void Sampler::Accept(int32_t token) {
  if (params_.penalty_last_n == 0) return;
  recent_.push_back(token);
  if (params_.penalty_last_n > 0) {
    while (recent_.size() > static_cast<size_t>(params_.penalty_last_n)) recent_.pop_front();
  }
}

void Sampler::Reset() {
  recent_.clear();
  rng_.seed(params_.seed);
}

bool Sampler::HasPenalties() const {
  return params_.penalty_last_n != 0 && !recent_.empty() &&
         (params_.repetition_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
          params_.presence_penalty != 0.0f);
}

void Sampler::ApplyPenalties(int32_t n_vocab) {
  // Count occurrences by sorting a copy of the window: no per-call allocation
  // once the scratch has grown to the window size.
  penalty_scratch_.assign(recent_.begin(), recent_.end());
  std::sort(penalty_scratch_.begin(), penalty_scratch_.end());
  for (size_t i = 0; i < penalty_scratch_.size();) {
    int32_t token = penalty_scratch_[i];
    size_t j = i;
    while (j < penalty_scratch_.size() && penalty_scratch_[j] == token) ++j;
    float count = static_cast<float>(j - i);
    i = j;
    if (token < 0 || token >= n_vocab) continue;
    float& logit = candidates_[token].first;
    // Repetition penalty as in CTRL (Keskar et al. 2019) and llama.cpp:
    // dividing a negative logit would raise it, so those are multiplied.
    if (logit <= 0.0f) {
      logit *= params_.repetition_penalty;
    } else {
      logit /= params_.repetition_penalty;
    }
    // OpenAI's definition (API reference, "frequency and presence penalties"):
    // mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence.
    logit -= count * params_.frequency_penalty + params_.presence_penalty;
  }
}

size_t Sampler::TopP(size_t n, bool sorted) {
  auto first = candidates_.begin();
  // Softmax over the n kept candidates (temperature 1).
  float max = kNegInf;
  for (size_t i = 0; i < n; ++i) max = std::max(max, candidates_[i].first);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += Weight(candidates_[i].first, max);
  double target = static_cast<double>(params_.top_p) * sum;
  // Without top-k the candidates are unsorted; sort a growing prefix instead
  // of the whole vocabulary (the nucleus is usually a few dozen tokens).
  size_t k = sorted ? n : std::min<size_t>(n, 64);
  for (;;) {
    if (!sorted) std::partial_sort(first, first + k, first + n, Higher());
    double cum = 0;
    for (size_t i = 0; i < k; ++i) {
      cum += Weight(candidates_[i].first, max);
      if (cum >= target) return i + 1;
    }
    if (k == n) return n;  // rounding: everything is the nucleus
    k = std::min(n, k * 4);
  }
}

size_t Sampler::MinP(size_t n) {
  float max = kNegInf;
  for (size_t i = 0; i < n; ++i) max = std::max(max, candidates_[i].first);
  if (max == kNegInf) return n;
  // p_i >= min_p * p_max  <=>  l_i >= l_max + log(min_p).
  // min_p > 1 would drop everything; ValidateParams rejects it, clamp here.
  float threshold = max + std::log(std::min(params_.min_p, 1.0f));
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (candidates_[i].first >= threshold) candidates_[kept++] = candidates_[i];
  }
  return kept;  // >= 1: the max always passes
}

int32_t Sampler::Draw(size_t n) {
  float max = kNegInf;
  for (size_t i = 0; i < n; ++i) max = std::max(max, candidates_[i].first);
  // Temperature scales (l - max), not l, so a tiny temperature cannot turn a
  // finite logit into inf - inf = NaN.
  const float t = params_.temperature;
  auto weight = [max, t](float l) { return l == max ? 1.0f : std::exp((l - max) / t); };
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += weight(candidates_[i].first);
  // 53 random bits -> [0, 1), independent of the standard library's
  // distributions (whose output differs between implementations).
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double target = u * sum;
  double cum = 0;
  int32_t last_nonzero = candidates_[0].second;
  for (size_t i = 0; i < n; ++i) {
    float w = weight(candidates_[i].first);
    if (w <= 0.0f) continue;
    cum += w;
    last_nonzero = candidates_[i].second;
    if (cum > target) return last_nonzero;
  }
  return last_nonzero;  // rounding at the top end
}

int32_t Sampler::Sample(const float* logits, int32_t n_vocab) {
  return SampleImpl(logits, n_vocab, -1, nullptr);
}

int32_t Sampler::SampleDraft(const float* logits, int32_t n_vocab, int32_t draft,
                             bool* accepted) {
  return SampleImpl(logits, n_vocab, draft, accepted);
}

int32_t Sampler::SampleImpl(const float* logits, int32_t n_vocab, int32_t draft,
                            bool* accepted) {
  // Every deterministic answer below accepts the draft when it is the token.
  auto decided = [&](int32_t token) {
    if (accepted != nullptr) *accepted = draft >= 0 && token == draft;
    return token;
  };
  if (n_vocab <= 0) return decided(0);
  const bool penalties = HasPenalties();
  const bool greedy = !(params_.temperature > 0.0f);  // also NaN / negative
  if (greedy && !penalties) return decided(Argmax(logits, n_vocab));

  const size_t nv = static_cast<size_t>(n_vocab);
  candidates_.resize(nv);  // allocates only when the vocabulary grows
  float max = kNegInf;
  for (int32_t i = 0; i < n_vocab; ++i) {
    float l = std::isnan(logits[i]) ? kNegInf : logits[i];
    candidates_[i] = {l, i};
    max = std::max(max, l);
  }
  if (penalties) {
    ApplyPenalties(n_vocab);
    for (auto& c : candidates_) {
      if (std::isnan(c.first)) c.first = kNegInf;  // inf * 0 style corner cases
    }
  }
  if (greedy || (!penalties && max == kNegInf)) {
    return decided(std::min_element(candidates_.begin(), candidates_.end(), Higher())->second);
  }

  size_t n = nv;
  bool sorted = false;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + n, candidates_.end(), Higher());
    sorted = true;
  }
  if (params_.top_p < 1.0f && n > 1) {
    n = TopP(n, sorted);
    sorted = true;
  }
  if (params_.min_p > 0.0f && n > 1) n = MinP(n);

  float best = kNegInf;
  for (size_t i = 0; i < n; ++i) best = std::max(best, candidates_[i].first);
  if (best == kNegInf) {
    // Nothing finite is left (e.g. every logit -inf): deterministic fallback.
    return decided(
        std::min_element(candidates_.begin(), candidates_.begin() + n, Higher())->second);
  }
  if (draft < 0) return Draw(n);
  // Accept the draft with its probability under the chain; otherwise draw
  // from the rest, renormalised (max(0, p - q) for a certain draft q).
  const float t = params_.temperature;
  auto weight = [best, t](float l) { return l == best ? 1.0f : std::exp((l - best) / t); };
  double sum = 0, p_draft = 0;
  size_t draft_at = n;
  for (size_t i = 0; i < n; ++i) {
    const double w = weight(candidates_[i].first);
    sum += w;
    if (candidates_[i].second == draft) {
      p_draft = w;
      draft_at = i;
    }
  }
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  if (draft_at < n && u * sum < p_draft) {
    *accepted = true;
    return draft;
  }
  *accepted = false;
  if (draft_at < n) {
    // Only the draft had any weight (rounding): it is the answer after all.
    if (sum - p_draft <= 0) {
      *accepted = true;
      return draft;
    }
    candidates_[draft_at].first = -std::numeric_limits<float>::infinity();
  }
  return Draw(n);
}

}  // namespace glint::sampling
