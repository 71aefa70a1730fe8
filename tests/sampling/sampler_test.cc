#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace glint::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> LogitsFromProbs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(x > 0 ? static_cast<float>(std::log(x)) : -kInf);
  return l;
}

// Token frequencies over n draws with a fixed seed.
std::vector<int> Histogram(const SamplingParams& params, const std::vector<float>& logits, int n) {
  Sampler s(params);
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < n; ++i) {
    int32_t t = s.Sample(logits.data(), static_cast<int32_t>(logits.size()));
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<int32_t>(logits.size()));
    ++h[t];
  }
  return h;
}

// Pearson's chi-square statistic of counts against expected probabilities
// (tokens with expected probability 0 must have count 0).
double ChiSquare(const std::vector<int>& counts, const std::vector<double>& p, int n) {
  double chi = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    double e = p[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

SamplingParams Temp(float t, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = t;
  p.seed = seed;
  return p;
}

TEST(ArgmaxTest, PicksLargestLowestIdOnTies) {
  std::vector<float> l = {1, 3, 2, 3, -1};
  EXPECT_EQ(Argmax(l.data(), 5), 1);
  std::vector<float> all_same(7, 0.5f);
  EXPECT_EQ(Argmax(all_same.data(), 7), 0);
  std::vector<float> one = {-100};
  EXPECT_EQ(Argmax(one.data(), 1), 0);
}

TEST(ArgmaxTest, IgnoresNaN) {
  std::vector<float> l = {kNaN, 1, kNaN, 2, kNaN};
  EXPECT_EQ(Argmax(l.data(), 5), 3);
  std::vector<float> all_nan(3, kNaN);
  EXPECT_EQ(Argmax(all_nan.data(), 3), 0);
}

// Against the one-pass strict scan it replaces, on vocabularies of every
// length near the lane count and with ties, NaN, infinities and signed zeros.
TEST(ArgmaxTest, EqualsAStrictScan) {
  auto scan = [](const std::vector<float>& l) {
    int32_t best = 0;
    float best_v = std::isnan(l[0]) ? -INFINITY : l[0];
    for (size_t i = 1; i < l.size(); ++i) {
      if (l[i] > best_v) {
        best_v = l[i];
        best = static_cast<int32_t>(i);
      }
    }
    return best;
  };
  std::mt19937 rng(5);
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f, -1.0f};
  for (int trial = 0; trial < 20000; ++trial) {
    const int32_t n = 1 + static_cast<int32_t>(rng() % 40);
    std::vector<float> l(static_cast<size_t>(n));
    for (float& x : l) {
      const uint32_t kind = rng() % 4;
      x = kind == 0 ? specials[rng() % 7] : static_cast<float>(static_cast<int>(rng() % 7) - 3);
    }
    ASSERT_EQ(Argmax(l.data(), n), scan(l)) << "trial " << trial;
  }
}

TEST(ArgmaxTest, EmptyVocabularyReadsNothing) {
  EXPECT_EQ(Argmax(nullptr, 0), 0);
  Sampler s(Temp(1.0f));
  EXPECT_EQ(s.Sample(nullptr, 0), 0);
}

TEST(SamplerTest, GreedyIsArgmax) {
  Sampler s(SamplingParams{});
  std::vector<float> l = {0.1f, 5.f, -2.f, 4.9f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.Sample(l.data(), 4), 1);
  std::vector<float> ties = {2, 7, 7, 1};
  EXPECT_EQ(s.Sample(ties.data(), 4), 1);
}

TEST(SamplerTest, NegativeTemperatureIsGreedy) {
  Sampler s(Temp(-1.0f));
  std::vector<float> l = {0.1f, 5.f, -2.f, 5.f};
  EXPECT_EQ(s.Sample(l.data(), 4), 1);
}

TEST(SamplerTest, DoesNotModifyLogits) {
  SamplingParams p = Temp(0.7f);
  p.top_k = 2;
  p.top_p = 0.9f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.3f;
  p.frequency_penalty = 0.5f;
  Sampler s(p);
  s.Accept(0);
  std::vector<float> l = {3, 1, 2, -1, 0.5f};
  std::vector<float> copy = l;
  s.Sample(l.data(), 5);
  EXPECT_EQ(l, copy);
}

TEST(SamplerTest, VocabOfOne) {
  std::vector<float> l = {-3.0f};
  for (float t : {0.0f, 0.5f, 1.0f, 2.0f}) {
    SamplingParams p = Temp(t);
    p.top_k = 1;
    p.top_p = 0.1f;
    p.min_p = 0.5f;
    p.repetition_penalty = 2.0f;
    Sampler s(p);
    s.Accept(0);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(s.Sample(l.data(), 1), 0);
  }
}

TEST(SamplerTest, OnlyOneFiniteLogit) {
  std::vector<float> l(100, -kInf);
  l[42] = -7.0f;
  for (float t : {0.0f, 1.0f, 5.0f}) {
    Sampler s(Temp(t, 9));
    for (int i = 0; i < 200; ++i) EXPECT_EQ(s.Sample(l.data(), 100), 42);
  }
  SamplingParams p = Temp(1.0f);
  p.top_p = 0.5f;
  p.min_p = 0.2f;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.Sample(l.data(), 100), 42);
}

TEST(SamplerTest, AllMinusInfIsDeterministic) {
  std::vector<float> l(10, -kInf);
  for (float t : {0.0f, 1.0f}) {
    SamplingParams p = Temp(t);
    p.top_k = 3;
    p.top_p = 0.5f;
    p.min_p = 0.1f;
    Sampler s(p);
    EXPECT_EQ(s.Sample(l.data(), 10), 0);
  }
}

TEST(SamplerTest, NaNLogitsAreNeverSampled) {
  std::vector<float> l = {kNaN, 0.0f, kNaN, 0.0f, kNaN};
  for (int top_k : {0, 3}) {
    SamplingParams p = Temp(1.0f, 3);
    p.top_k = top_k;
    p.top_p = 0.99f;
    p.min_p = 0.01f;
    auto h = Histogram(p, l, 2000);
    EXPECT_EQ(h[0] + h[2] + h[4], 0);
    EXPECT_GT(h[1], 800);
    EXPECT_GT(h[3], 800);
  }
  std::vector<float> all_nan(4, kNaN);
  Sampler s(Temp(1.0f));
  EXPECT_EQ(s.Sample(all_nan.data(), 4), 0);
}

TEST(SamplerTest, PlusInfinityWins) {
  std::vector<float> l = {1.0f, kInf, 2.0f, kInf};
  auto h = Histogram(Temp(1.0f), l, 1000);
  EXPECT_EQ(h[0] + h[2], 0);
  EXPECT_GT(h[1], 400);
  EXPECT_GT(h[3], 400);
}

TEST(SamplerTest, TinyAndHugeTemperatures) {
  std::vector<float> l = {1.0f, 0.0f, 3.0f, -2.0f};
  auto h = Histogram(Temp(1e-30f), l, 500);
  EXPECT_EQ(h[2], 500);  // effectively greedy, no NaN from overflow
  auto flat = Histogram(Temp(1e6f), l, 8000);
  for (int c : flat) EXPECT_NEAR(c, 2000, 200);  // effectively uniform
}

TEST(SamplerTest, DistributionMatchesSoftmax) {
  std::vector<double> p = {0.05, 0.1, 0.15, 0.2, 0.5};
  auto l = LogitsFromProbs(p);
  const int n = 50000;
  auto h = Histogram(Temp(1.0f, 12345), l, n);
  // 4 degrees of freedom: P(chi2 > 18.47) = 0.001. The seed is fixed, so the
  // test is deterministic; the bound shows the draw is a fair one.
  EXPECT_LT(ChiSquare(h, p, n), 18.47);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  std::vector<double> p = {0.1, 0.2, 0.3, 0.4};
  auto l = LogitsFromProbs(p);
  for (float t : {0.5f, 2.0f}) {
    std::vector<double> q(4);
    double z = 0;
    for (int i = 0; i < 4; ++i) z += q[i] = std::pow(p[i], 1.0 / t);
    for (double& x : q) x /= z;
    const int n = 40000;
    auto h = Histogram(Temp(t, 77), l, n);
    EXPECT_LT(ChiSquare(h, q, n), 16.27) << "temperature " << t;  // 3 dof, p = 0.001
  }
}

TEST(SamplerTest, TopKKeepsOnlyKBest) {
  std::vector<double> p = {0.1, 0.3, 0.05, 0.25, 0.2, 0.1};
  auto l = LogitsFromProbs(p);
  SamplingParams params = Temp(1.0f, 5);
  params.top_k = 3;
  const int n = 30000;
  auto h = Histogram(params, l, n);
  // Kept: 1 (0.3), 3 (0.25), 4 (0.2), renormalized.
  std::vector<double> q = {0, 0.3 / 0.75, 0, 0.25 / 0.75, 0.2 / 0.75, 0};
  EXPECT_LT(ChiSquare(h, q, n), 13.82);  // 2 dof, p = 0.001
}

TEST(SamplerTest, TopKOneIsGreedy) {
  std::vector<float> l = {0.5f, 2.0f, 2.0f, 1.0f};
  SamplingParams params = Temp(1.5f);
  params.top_k = 1;
  auto h = Histogram(params, l, 200);
  EXPECT_EQ(h[1], 200);  // tie at the top: lowest id
}

TEST(SamplerTest, TopKLargerThanVocabIsOff) {
  std::vector<double> p = {0.25, 0.25, 0.5};
  SamplingParams params = Temp(1.0f, 8);
  params.top_k = 1000;
  const int n = 20000;
  auto h = Histogram(params, LogitsFromProbs(p), n);
  EXPECT_LT(ChiSquare(h, p, n), 13.82);
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  std::vector<double> p = {0.1, 0.4, 0.05, 0.3, 0.15};
  auto l = LogitsFromProbs(p);
  SamplingParams params = Temp(1.0f, 6);
  params.top_p = 0.75f;  // 0.4 + 0.3 = 0.7 < 0.75, + 0.15 = 0.85 >= 0.75
  const int n = 30000;
  auto h = Histogram(params, l, n);
  std::vector<double> q = {0, 0.4 / 0.85, 0, 0.3 / 0.85, 0.15 / 0.85};
  EXPECT_LT(ChiSquare(h, q, n), 13.82);
}

TEST(SamplerTest, TopPTinyKeepsAtLeastOne) {
  std::vector<float> l = {1.0f, 1.5f, 0.2f};
  SamplingParams params = Temp(1.0f);
  params.top_p = 1e-6f;
  auto h = Histogram(params, l, 300);
  EXPECT_EQ(h[1], 300);
}

TEST(SamplerTest, TopPOnLargeVocabularyWithoutTopK) {
  // 5000 tokens; the nucleus (90%) is the first 200, which carry 95% of the
  // mass together. Exercises the growing partial sort.
  const int nv = 5000;
  std::vector<float> l(nv);
  for (int i = 0; i < nv; ++i) l[i] = i < 200 ? 5.0f : -1.0f;
  // mass of the top 200: 200 e^5 / (200 e^5 + 4800 e^-1) ~ 0.9933
  SamplingParams params = Temp(1.0f, 10);
  params.top_p = 0.9f;
  auto h = Histogram(params, l, 5000);
  int outside = 0;
  for (int i = 200; i < nv; ++i) outside += h[i];
  EXPECT_EQ(outside, 0);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) if (h[i]) seen.insert(i);
  EXPECT_GT(seen.size(), 150u);  // 0.9 / (1/200) = 181 tokens kept
}

TEST(SamplerTest, TopPIsComputedAfterTopK) {
  std::vector<double> p = {0.4, 0.3, 0.2, 0.1};
  SamplingParams params = Temp(1.0f, 2);
  params.top_k = 2;  // renormalized: 4/7, 3/7
  params.top_p = 0.5f;  // 4/7 >= 0.5: only token 0
  auto h = Histogram(params, LogitsFromProbs(p), 500);
  EXPECT_EQ(h[0], 500);
}

TEST(SamplerTest, MinPRelativeToMax) {
  std::vector<double> p = {0.5, 0.2, 0.05, 0.15, 0.1};
  SamplingParams params = Temp(1.0f, 4);
  params.min_p = 0.3f;  // threshold 0.15: keeps 0, 1, 3
  const int n = 30000;
  auto h = Histogram(params, LogitsFromProbs(p), n);
  std::vector<double> q = {0.5 / 0.85, 0.2 / 0.85, 0, 0.15 / 0.85, 0};
  EXPECT_LT(ChiSquare(h, q, n), 13.82);
}

TEST(SamplerTest, MinPOneKeepsOnlyTheMax) {
  std::vector<float> l = {1.0f, 2.0f, 1.99f};
  SamplingParams params = Temp(1.0f);
  params.min_p = 1.0f;
  EXPECT_EQ(Histogram(params, l, 100)[1], 100);
  params.min_p = 5.0f;  // invalid, but must not empty the set
  EXPECT_EQ(Histogram(params, l, 100)[1], 100);
}

TEST(SamplerTest, FiltersUseTemperatureOneThenTemperatureShapesTheDraw) {
  // min_p at temperature 1 keeps tokens 0 and 1 (0.3 >= 0.5 * 0.6); a high
  // temperature then flattens them but cannot bring token 2 back.
  std::vector<double> p = {0.6, 0.3, 0.1};
  SamplingParams params = Temp(100.0f, 21);
  params.min_p = 0.5f;
  auto h = Histogram(params, LogitsFromProbs(p), 4000);
  EXPECT_EQ(h[2], 0);
  EXPECT_NEAR(h[0], 2000, 200);
  EXPECT_NEAR(h[1], 2000, 200);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  // Greedy shows the penalized logits: token 0 (2.0 -> 1.0) loses to token 1
  // (1.5); token 2 (-0.5 -> -1.0) loses to token 3 (-0.9).
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  Sampler s(params);
  std::vector<float> a = {2.0f, 1.5f};
  EXPECT_EQ(s.Sample(a.data(), 2), 0);
  s.Accept(0);
  EXPECT_EQ(s.Sample(a.data(), 2), 1);
  std::vector<float> b = {-5.0f, -5.0f, -0.5f, -0.9f};
  s.Reset();
  EXPECT_EQ(s.Sample(b.data(), 4), 2);
  s.Accept(2);
  EXPECT_EQ(s.Sample(b.data(), 4), 3);
  // Applied once per distinct token, however often it occurs.
  Sampler s2(params);
  for (int i = 0; i < 5; ++i) s2.Accept(0);
  std::vector<float> c = {2.0f, 0.99f};  // 2.0 / 2 = 1.0 > 0.99
  EXPECT_EQ(s2.Sample(c.data(), 2), 0);
}

TEST(SamplerTest, FrequencyAndPresencePenalties) {
  SamplingParams params;
  params.frequency_penalty = 0.5f;
  Sampler s(params);
  std::vector<float> l = {3.0f, 2.1f};
  s.Accept(0);  // 3.0 - 0.5 = 2.5
  EXPECT_EQ(s.Sample(l.data(), 2), 0);
  s.Accept(0);  // 3.0 - 1.0 = 2.0 < 2.1
  EXPECT_EQ(s.Sample(l.data(), 2), 1);

  SamplingParams pres;
  pres.presence_penalty = 0.95f;
  Sampler s2(pres);
  for (int i = 0; i < 10; ++i) s2.Accept(0);  // once, not per occurrence: 3.0 - 0.95 = 2.05
  EXPECT_EQ(s2.Sample(l.data(), 2), 1);
  std::vector<float> l2 = {3.0f, 2.0f};
  EXPECT_EQ(s2.Sample(l2.data(), 2), 0);
}

TEST(SamplerTest, PenaltyWindowIsLastN) {
  SamplingParams params;
  params.repetition_penalty = 4.0f;
  params.penalty_last_n = 3;
  Sampler s(params);
  std::vector<float> l = {2.0f, 1.0f, 0.0f, 0.0f, 0.0f};
  s.Accept(0);
  EXPECT_EQ(s.Sample(l.data(), 5), 1);
  s.Accept(2);
  s.Accept(3);
  EXPECT_EQ(s.Sample(l.data(), 5), 1);  // 0 is still in the window
  s.Accept(4);                           // pushes 0 out
  EXPECT_EQ(s.recent().size(), 3u);
  EXPECT_EQ(s.Sample(l.data(), 5), 0);

  params.penalty_last_n = 0;  // off
  Sampler off(params);
  off.Accept(0);
  EXPECT_EQ(off.Sample(l.data(), 5), 0);
  EXPECT_TRUE(off.recent().empty());
}

TEST(SamplerTest, PenaltiesIgnoreOutOfRangeTokens) {
  SamplingParams params;
  params.repetition_penalty = 2.0f;
  params.frequency_penalty = 1.0f;
  Sampler s(params);
  s.Accept(-1);
  s.Accept(1000);
  std::vector<float> l = {1.0f, 2.0f};
  EXPECT_EQ(s.Sample(l.data(), 2), 1);
}

TEST(SamplerTest, PenaltiesApplyBeforeSampling) {
  std::vector<float> l = {5.0f, 5.0f, -10.0f};
  SamplingParams params = Temp(1.0f, 31);
  params.presence_penalty = 100.0f;
  Sampler s(params);
  s.Accept(0);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(s.Sample(l.data(), 3), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> l(1000);
  for (int i = 0; i < 1000; ++i) l[i] = std::sin(i * 0.37f) * 3.0f;
  SamplingParams params = Temp(0.8f, 42);
  params.top_k = 50;
  params.top_p = 0.95f;
  params.min_p = 0.02f;
  params.repetition_penalty = 1.1f;
  params.frequency_penalty = 0.1f;
  auto run = [&](const SamplingParams& p) {
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 300; ++i) {
      int32_t t = s.Sample(l.data(), 1000);
      s.Accept(t);
      out.push_back(t);
    }
    return out;
  };
  auto a = run(params);
  EXPECT_EQ(a, run(params));
  std::set<int32_t> distinct(a.begin(), a.end());
  EXPECT_GT(distinct.size(), 10u);
  params.seed = 43;
  EXPECT_NE(a, run(params));
}

TEST(SamplerTest, ResetRestartsTheSequence) {
  std::vector<float> l = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  SamplingParams params = Temp(1.0f, 7);
  params.repetition_penalty = 1.5f;
  Sampler s(params);
  std::vector<int32_t> first, second;
  for (int i = 0; i < 50; ++i) {
    first.push_back(s.Sample(l.data(), 6));
    s.Accept(first.back());
  }
  s.Reset();
  EXPECT_TRUE(s.recent().empty());
  for (int i = 0; i < 50; ++i) {
    second.push_back(s.Sample(l.data(), 6));
    s.Accept(second.back());
  }
  EXPECT_EQ(first, second);
}

TEST(SamplerTest, VocabularySizeCanChange) {
  Sampler s(Temp(1.0f));
  std::vector<float> big(1000, 0.0f), small = {0.0f, -kInf, -kInf};
  s.Sample(big.data(), 1000);
  EXPECT_EQ(s.Sample(small.data(), 3), 0);
  s.Sample(big.data(), 1000);
}

TEST(ValidateParamsTest, NamesTheBadField) {
  EXPECT_TRUE(ValidateParams(SamplingParams{}).ok());
  auto bad = [](auto mutate, const char* field) {
    SamplingParams p;
    mutate(p);
    Status st = ValidateParams(p);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
  };
  bad([](SamplingParams& p) { p.temperature = -1; }, "temperature");
  bad([](SamplingParams& p) { p.temperature = kNaN; }, "temperature");
  bad([](SamplingParams& p) { p.top_k = -1; }, "top_k");
  bad([](SamplingParams& p) { p.top_p = 0; }, "top_p");
  bad([](SamplingParams& p) { p.top_p = 1.5f; }, "top_p");
  bad([](SamplingParams& p) { p.min_p = -0.1f; }, "min_p");
  bad([](SamplingParams& p) { p.min_p = 2; }, "min_p");
  bad([](SamplingParams& p) { p.repetition_penalty = 0; }, "repetition_penalty");
  bad([](SamplingParams& p) { p.frequency_penalty = kInf; }, "frequency_penalty");
  bad([](SamplingParams& p) { p.presence_penalty = kNaN; }, "presence_penalty");
}

}  // namespace
}  // namespace glint::sampling
