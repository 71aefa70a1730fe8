// Rate limits on a fake clock: token buckets of requests and tokens per
// (key, tier), their refill, Settle's correction, the x-ratelimit-* headers.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/rate_limit.h"

namespace glint::server {
namespace {

// The fake clock: seconds since an arbitrary start.
Clock::time_point T(double seconds) {
  return Clock::time_point{} + std::chrono::hours(1) +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

ApiKey Key(const std::string& name, Limits fast, Limits smart = {}) {
  ApiKey k;
  k.name = name;
  k.tiers[0] = {true, fast};
  k.tiers[1] = {true, smart};
  return k;
}

std::string Header(const Admission& a, const std::string& name) {
  for (const auto& [k, v] : RateLimitHeaders(a)) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(RateLimit, AdmitsUpToRpmThenRefuses) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {10, 0});
  for (int i = 0; i < 10; ++i) {
    Admission a = rl.Admit(k, Tier::kFast, 0, T(0));
    ASSERT_TRUE(a.admitted) << i;
    EXPECT_EQ(a.requests.limit, 10);
    EXPECT_EQ(a.requests.remaining, 9 - i);
  }
  Admission a = rl.Admit(k, Tier::kFast, 0, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_TRUE(a.retryable);
  EXPECT_EQ(a.limited_by, "requests");
  EXPECT_DOUBLE_EQ(a.retry_after_s, 6.0);  // 60 s / 10 requests
  EXPECT_EQ(a.requests.remaining, 0);
  EXPECT_DOUBLE_EQ(a.requests.reset_s, 60.0);
  EXPECT_NE(a.message.find("requests per minute: limit 10"), std::string::npos) << a.message;
  EXPECT_NE(a.message.find("try again in 6s"), std::string::npos) << a.message;
  EXPECT_EQ(Header(a, "retry-after"), "6");
  EXPECT_EQ(Header(a, "retry-after-ms"), "6000");
}

TEST(RateLimit, RefillsOverTime) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {60, 0});
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(rl.Admit(k, Tier::kFast, 0, T(0)).admitted);
  Admission a = rl.Admit(k, Tier::kFast, 0, T(0.25));
  EXPECT_FALSE(a.admitted);
  EXPECT_DOUBLE_EQ(a.retry_after_s, 0.75);
  EXPECT_EQ(Header(a, "retry-after"), "1");
  EXPECT_EQ(Header(a, "retry-after-ms"), "750");
  EXPECT_FALSE(rl.Admit(k, Tier::kFast, 0, T(0.999999)).admitted);
  EXPECT_TRUE(rl.Admit(k, Tier::kFast, 0, T(1.0)).admitted);  // exactly one refilled
  EXPECT_FALSE(rl.Admit(k, Tier::kFast, 0, T(1.0)).admitted);
  // Ten seconds refill ten requests.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rl.Admit(k, Tier::kFast, 0, T(11)).admitted) << i;
  EXPECT_FALSE(rl.Admit(k, Tier::kFast, 0, T(11)).admitted);
  // A long idle time fills the bucket, no more.
  a = rl.Admit(k, Tier::kFast, 0, T(1000));
  EXPECT_TRUE(a.admitted);
  EXPECT_EQ(a.requests.remaining, 59);
  EXPECT_DOUBLE_EQ(a.requests.reset_s, 1.0);
}

TEST(RateLimit, ClockGoingBackwardsRefillsNothing) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {1, 0});
  EXPECT_TRUE(rl.Admit(k, Tier::kFast, 0, T(5)).admitted);
  // A thread that read the clock before another took the lock.
  EXPECT_FALSE(rl.Admit(k, Tier::kFast, 0, T(4)).admitted);
  EXPECT_FALSE(rl.Admit(k, Tier::kFast, 0, T(64.9)).admitted);
  EXPECT_TRUE(rl.Admit(k, Tier::kFast, 0, T(65)).admitted);
}

TEST(RateLimit, TokensWithEstimateAndSettleRefund) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {0, 1000});
  Admission a = rl.Admit(k, Tier::kFast, 600, T(0));
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(a.requests.limit, 0);  // requests are unlimited
  EXPECT_EQ(a.tokens.limit, 1000);
  EXPECT_EQ(a.tokens.remaining, 400);
  EXPECT_DOUBLE_EQ(a.tokens.reset_s, 36.0);  // 600 tokens at 1000/60 a second

  a = rl.Admit(k, Tier::kFast, 500, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_DOUBLE_EQ(a.retry_after_s, 6.0);  // 100 missing tokens
  EXPECT_EQ(a.tokens.remaining, 400);      // a refusal takes nothing
  EXPECT_NE(a.message.find("tokens per minute: limit 1000, remaining 400, requested 500"),
            std::string::npos)
      << a.message;

  // The first request used 100 of its 600: 500 come back.
  rl.Settle(k, Tier::kFast, 600, 100, T(0));
  a = rl.Admit(k, Tier::kFast, 500, T(0));
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(a.tokens.remaining, 400);
  // A refund never overfills the bucket.
  rl.Settle(k, Tier::kFast, 100000, 0, T(0));
  EXPECT_EQ(rl.Admit(k, Tier::kFast, 0, T(0)).tokens.remaining, 1000);
}

TEST(RateLimit, SettleOverdraftMakesLaterRequestsWait) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {0, 1000});
  ASSERT_TRUE(rl.Admit(k, Tier::kFast, 100, T(0)).admitted);  // 900 left
  rl.Settle(k, Tier::kFast, 100, 1500, T(0));                 // 1400 more: -500
  Admission a = rl.Admit(k, Tier::kFast, 0, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_DOUBLE_EQ(a.retry_after_s, 30.0);  // 500 tokens at 1000/60 a second
  EXPECT_EQ(a.tokens.remaining, 0);
  EXPECT_DOUBLE_EQ(a.tokens.reset_s, 90.0);
  EXPECT_TRUE(rl.Admit(k, Tier::kFast, 0, T(30)).admitted);

  // The overdraft stops at one minute's limit.
  rl.Settle(k, Tier::kFast, 0, 1'000'000, T(30));
  a = rl.Admit(k, Tier::kFast, 10, T(30));
  EXPECT_FALSE(a.admitted);
  EXPECT_DOUBLE_EQ(a.retry_after_s, 60.6);  // from -1000 to +10
}

TEST(RateLimit, RequestLargerThanTheLimitCanNeverFit) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {10, 1000});
  Admission a = rl.Admit(k, Tier::kFast, 1001, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_FALSE(a.retryable);
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_EQ(a.retry_after_s, 0);
  EXPECT_NE(a.message.find("can never be admitted"), std::string::npos) << a.message;
  EXPECT_EQ(a.message.find("try again"), std::string::npos) << a.message;
  EXPECT_EQ(Header(a, "retry-after"), "<absent>");
  EXPECT_EQ(Header(a, "x-ratelimit-remaining-tokens"), "1000");  // nothing was taken
  EXPECT_EQ(Header(a, "x-ratelimit-remaining-requests"), "10");
  EXPECT_TRUE(rl.Admit(k, Tier::kFast, 1000, T(0)).admitted);  // exactly the limit fits
}

TEST(RateLimit, UnlimitedAdmitsEverythingWithoutHeaders) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {});
  for (int i = 0; i < 1000; ++i) {
    Admission a = rl.Admit(k, Tier::kFast, 1'000'000'000, T(0));
    ASSERT_TRUE(a.admitted);
    EXPECT_TRUE(RateLimitHeaders(a).empty());
  }
  rl.Settle(k, Tier::kFast, 0, 1'000'000, T(0));  // a no-op
  // Only the limited kind has headers.
  const ApiKey r = Key("bob", {5, 0});
  Admission a = rl.Admit(r, Tier::kFast, 1'000'000, T(0));
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(RateLimitHeaders(a).size(), 3u);
  EXPECT_EQ(Header(a, "x-ratelimit-limit-tokens"), "<absent>");
}

TEST(RateLimit, TiersAndKeysAreCountedSeparately) {
  RateLimiter rl;
  const ApiKey a = Key("alice", {1, 0}, {1, 0});
  const ApiKey b = Key("bob", {1, 0}, {1, 0});
  EXPECT_TRUE(rl.Admit(a, Tier::kFast, 0, T(0)).admitted);
  EXPECT_FALSE(rl.Admit(a, Tier::kFast, 0, T(0)).admitted);
  EXPECT_TRUE(rl.Admit(a, Tier::kSmart, 0, T(0)).admitted);
  EXPECT_FALSE(rl.Admit(a, Tier::kSmart, 0, T(0)).admitted);
  EXPECT_TRUE(rl.Admit(b, Tier::kFast, 0, T(0)).admitted);
  // Buckets follow the name: the same key from a reloaded file shares them.
  const ApiKey reloaded = Key("alice", {1, 0}, {1, 0});
  EXPECT_FALSE(rl.Admit(reloaded, Tier::kFast, 0, T(0)).admitted);
}

TEST(RateLimit, ReloadedLimitsKeepWhatWasUsed) {
  RateLimiter rl;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rl.Admit(Key("a", {10, 0}), Tier::kFast, 0, T(0)).admitted);
  // 5 of 10 left; the new limit of 3 caps them at 3.
  Admission a = rl.Admit(Key("a", {3, 0}), Tier::kFast, 0, T(0));
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(a.requests.limit, 3);
  EXPECT_EQ(a.requests.remaining, 2);
  // A raised limit keeps the 2 and refills towards 100.
  a = rl.Admit(Key("a", {100, 0}), Tier::kFast, 0, T(0));
  EXPECT_EQ(a.requests.remaining, 1);
}

TEST(RateLimit, BothLimitsTheLongerWaitBinds) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {60, 600});
  ASSERT_TRUE(rl.Admit(k, Tier::kFast, 600, T(0)).admitted);
  Admission a = rl.Admit(k, Tier::kFast, 100, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.limited_by, "tokens");
  EXPECT_DOUBLE_EQ(a.retry_after_s, 10.0);
  for (int i = 0; i < 59; ++i) ASSERT_TRUE(rl.Admit(k, Tier::kFast, 0, T(0)).admitted);
  a = rl.Admit(k, Tier::kFast, 1, T(0));
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.limited_by, "requests");  // 1 s for a request, 0.1 s for a token
  EXPECT_DOUBLE_EQ(a.retry_after_s, 1.0);
}

TEST(RateLimit, HeaderValues) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {}, {60, 6000});
  Admission a = rl.Admit(k, Tier::kSmart, 1000, T(0));
  ASSERT_TRUE(a.admitted);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"x-ratelimit-limit-requests", "60"},  {"x-ratelimit-remaining-requests", "59"},
      {"x-ratelimit-reset-requests", "1s"},  {"x-ratelimit-limit-tokens", "6000"},
      {"x-ratelimit-remaining-tokens", "5000"}, {"x-ratelimit-reset-tokens", "10s"}};
  EXPECT_EQ(RateLimitHeaders(a), want);
  // Half a second later, half a request and 50 tokens have come back.
  a = rl.Admit(k, Tier::kSmart, 0, T(0.5));
  EXPECT_EQ(a.requests.remaining, 58);  // 59.5 - 1, floored
  EXPECT_EQ(Header(a, "x-ratelimit-reset-requests"), "1.5s");
  EXPECT_EQ(a.tokens.remaining, 5050);
  EXPECT_EQ(Header(a, "x-ratelimit-reset-tokens"), "9.5s");
}

TEST(RateLimit, FormatReset) {
  EXPECT_EQ(FormatReset(0), "0s");
  EXPECT_EQ(FormatReset(-3), "0s");
  EXPECT_EQ(FormatReset(1), "1s");
  EXPECT_EQ(FormatReset(0.02), "20ms");
  EXPECT_EQ(FormatReset(0.0001), "1ms");  // rounded up
  EXPECT_EQ(FormatReset(0.999), "999ms");
  EXPECT_EQ(FormatReset(0.9991), "1s");
  EXPECT_EQ(FormatReset(8.64), "8.64s");
  EXPECT_EQ(FormatReset(360), "6m0s");
  EXPECT_EQ(FormatReset(61.5), "1m1.5s");
  EXPECT_EQ(FormatReset(3723), "1h2m3s");
  EXPECT_EQ(FormatReset(3600), "1h0m0s");
}

TEST(RateLimit, ConcurrentAdmissionsTakeExactlyTheLimit) {
  RateLimiter rl;
  const ApiKey k = Key("alice", {10, 0});
  std::atomic<int> admitted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      if (rl.Admit(k, Tier::kFast, 0, T(0)).admitted) admitted.fetch_add(1);
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 10);
}

}  // namespace
}  // namespace glint::server
