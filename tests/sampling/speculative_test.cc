// Speculative sampling keeps the output distribution: on a tiny synthetic
// language model (a Markov chain over 6 tokens with fixed logits per
// previous token), sequences generated with drafts verified by
// Sampler::SampleDraft follow the same distribution as plain Sample, by a
// chi-square test over all 3-token continuations. The drafts are chosen to
// be often wrong, so both acceptance and the residual draw are exercised.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <vector>

#include "sampling/sampler.h"

namespace glint::sampling {
namespace {

constexpr int kVocab = 6;
constexpr int kLength = 3;

// logits of the next token after `prev`.
std::array<float, kVocab> Logits(int prev) {
  std::array<float, kVocab> l{};
  for (int i = 0; i < kVocab; ++i) l[i] = std::sin(1.3f * i + 0.7f * prev) * 2.0f;
  return l;
}

int Encode(const std::vector<int>& seq) {
  int code = 0;
  for (int t : seq) code = code * kVocab + t;
  return code;
}

std::map<int, int> Histogram(const SamplingParams& p, bool speculative, int runs) {
  std::map<int, int> h;
  Sampler s(p);
  for (int r = 0; r < runs; ++r) {
    std::vector<int> seq;
    int prev = 0;
    while (static_cast<int>(seq.size()) < kLength) {
      // A draft of up to 3 tokens: always "prev + 1", usually not the mode.
      std::vector<int> draft;
      if (speculative) {
        for (int k = 0; k < 3; ++k) draft.push_back((prev + 1 + k) % kVocab);
      }
      int cur = prev;
      size_t a = 0;
      for (;; ++a) {
        const auto l = Logits(cur);
        bool accepted = false;
        const int t = a < draft.size() ? s.SampleDraft(l.data(), kVocab, draft[a], &accepted)
                                       : s.Sample(l.data(), kVocab);
        s.Accept(t);
        seq.push_back(t);
        cur = t;
        if (!accepted || static_cast<int>(seq.size()) == kLength) break;
        // The verified draft assumed draft[a] came next: it did.
        EXPECT_EQ(t, draft[a]);
      }
      prev = cur;
    }
    ++h[Encode(seq)];
  }
  return h;
}

// Pearson chi-square of two samples of equal size over the union of bins.
double ChiSquare(const std::map<int, int>& a, const std::map<int, int>& b) {
  std::map<int, std::pair<int, int>> bins;
  for (auto [k, v] : a) bins[k].first = v;
  for (auto [k, v] : b) bins[k].second = v;
  double chi = 0;
  for (auto& [k, v] : bins) {
    const double n = v.first + v.second;
    if (n == 0) continue;
    const double d = v.first - v.second;
    chi += d * d / n;
  }
  return chi;
}

TEST(SpeculativeSampling, KeepsTheDistribution) {
  for (const SamplingParams& p : {SamplingParams{.temperature = 1.0f, .seed = 1},
                                  SamplingParams{.temperature = 0.7f, .top_k = 4, .seed = 2},
                                  SamplingParams{.temperature = 1.3f, .top_p = 0.9f, .seed = 3}}) {
    constexpr int kRuns = 60000;
    const auto plain = Histogram(p, false, kRuns);
    SamplingParams q = p;
    q.seed += 100;  // an independent stream
    const auto spec = Histogram(q, true, kRuns);
    // 216 sequences at most (fewer under top-k/top-p): the 0.999 quantile
    // of chi-square with 215 degrees of freedom is about 290.
    const double chi = ChiSquare(plain, spec);
    EXPECT_LT(chi, 290.0) << "temperature " << p.temperature;
  }
}

TEST(SpeculativeSampling, TheTestSeesABiasedVerifier) {
  // Always keeping the draft changes the distribution; the statistic shows it.
  SamplingParams p{.temperature = 1.0f, .seed = 5};
  constexpr int kRuns = 60000;
  const auto plain = Histogram(p, false, kRuns);
  std::map<int, int> biased;
  Sampler s(p);
  for (int r = 0; r < kRuns; ++r) {
    std::vector<int> seq;
    int prev = 0;
    const auto l = Logits(prev);
    seq.push_back(s.Sample(l.data(), kVocab));
    seq.push_back((seq[0] + 1) % kVocab);  // a "draft" kept without checking
    const auto l2 = Logits(seq[1]);
    seq.push_back(s.Sample(l2.data(), kVocab));
    ++biased[Encode(seq)];
  }
  EXPECT_GT(ChiSquare(plain, biased), 290.0);
}

TEST(SpeculativeSampling, GreedyAcceptsExactlyTheArgmax) {
  Sampler s(SamplingParams{});
  const float logits[4] = {0.1f, 2.0f, 1.0f, -3.0f};
  bool accepted = false;
  EXPECT_EQ(s.SampleDraft(logits, 4, 1, &accepted), 1);
  EXPECT_TRUE(accepted);
  EXPECT_EQ(s.SampleDraft(logits, 4, 2, &accepted), 1);
  EXPECT_FALSE(accepted);
}

TEST(SpeculativeSampling, ARejectedDraftIsNeverTheResidualDraw) {
  Sampler s(SamplingParams{.temperature = 1.0f, .seed = 9});
  const float logits[3] = {0.0f, 0.0f, 0.0f};
  for (int i = 0; i < 2000; ++i) {
    bool accepted = false;
    const int32_t t = s.SampleDraft(logits, 3, 2, &accepted);
    if (!accepted) EXPECT_NE(t, 2);
    if (accepted) EXPECT_EQ(t, 2);
  }
}

}  // namespace
}  // namespace glint::sampling
