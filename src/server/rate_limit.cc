#include "server/rate_limit.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace glint::server {
namespace {

// A bucket of capacity C refills C/60 units a second. Counting levels in
// 1/kScale units with kScale = 60e6 makes that exactly C scaled units a
// microsecond: integer arithmetic, no drift, and a bucket that should hold
// one request after 60/rpm seconds holds exactly one. With capacities up to
// kMaxLimitPerMinute (1e9), levels stay below 1e18.
constexpr int64_t kScale = 60'000'000;
// From the deepest overdraft (-capacity) to full takes two minutes.
constexpr int64_t kFullRefillMicros = 120'000'000;
// Token counts beyond this are clamped (they can only be refused anyway).
constexpr int64_t kMaxTokens = 10'000'000'000;

// Seconds up to the next millisecond. The epsilon keeps a value like 0.02
// (20.000000000000004 ms in binary) at 20.
int64_t CeilMillis(double seconds) {
  return static_cast<int64_t>(std::ceil(seconds * 1000.0 - 1e-6));
}

int64_t ClampTokens(int64_t n) { return std::clamp<int64_t>(n, 0, kMaxTokens); }

// Microseconds until a bucket refilling `capacity` scaled units a
// microsecond reaches `target` (scaled), rounded up.
int64_t MicrosUntil(int64_t level, int64_t target, int64_t capacity) {
  if (level >= target) return 0;
  return (target - level + capacity - 1) / capacity;
}

}  // namespace

void RateLimiter::Refill(Bucket& b, int64_t capacity, Clock::time_point now) {
  const int64_t full = capacity * kScale;
  if (b.capacity != capacity) {
    if (b.capacity == 0) {
      b.level = full;
      b.last = now;
    } else {
      // A reloaded keys file changed the limit: keep what was used.
      b.level = std::clamp(b.level, -full, full);
    }
    b.capacity = capacity;
  }
  // Threads read the clock before taking the lock, so `now` may be a little
  // behind `last`: then nothing has refilled.
  if (now <= b.last) return;
  const int64_t dt = std::chrono::duration_cast<std::chrono::microseconds>(now - b.last).count();
  if (dt >= kFullRefillMicros) {
    b.level = full;
    b.last = now;
    return;
  }
  b.level = std::min(full, b.level + capacity * dt);
  b.last += std::chrono::microseconds(dt);  // the sub-microsecond rest counts next time
}

LimitState RateLimiter::State(const Bucket& b) {
  LimitState s;
  s.limit = b.capacity;
  s.remaining = std::max<int64_t>(0, b.level / kScale);
  s.reset_s = MicrosUntil(b.level, b.capacity * kScale, b.capacity) / 1e6;
  return s;
}

RateLimiter::Buckets& RateLimiter::BucketsFor(const ApiKey& key, Tier tier) {
  return buckets_[key.name][static_cast<size_t>(tier)];
}

Admission RateLimiter::Admit(const ApiKey& key, Tier tier, int64_t estimated_tokens,
                             Clock::time_point now) {
  Admission a;
  const Limits& limits = key.limits(tier);
  const int64_t rpm = limits.requests_per_minute, tpm = limits.tokens_per_minute;
  if (rpm == 0 && tpm == 0) return a;
  const int64_t tokens = ClampTokens(estimated_tokens);
  const char* tier_name = TierName(tier);

  std::lock_guard<std::mutex> lock(mu_);
  Buckets& b = BucketsFor(key, tier);
  if (rpm > 0) Refill(b.requests, rpm, now);
  if (tpm > 0) Refill(b.tokens, tpm, now);
  auto report = [&] {
    if (rpm > 0) a.requests = State(b.requests);
    if (tpm > 0) a.tokens = State(b.tokens);
    return a;
  };

  if (tpm > 0 && tokens > tpm) {
    a.admitted = false;
    a.retryable = false;
    a.limited_by = "tokens";
    a.message = fmt::format(
        "Request too large for key '{}' on the {} tier: it needs an estimated {} tokens, more "
        "than its limit of {} tokens per minute, so it can never be admitted. Shorten the input "
        "or lower max_output_tokens.",
        key.name, tier_name, tokens, tpm);
    return report();
  }
  const int64_t wait_requests = rpm > 0 ? MicrosUntil(b.requests.level, kScale, rpm) : 0;
  const int64_t wait_tokens = tpm > 0 ? MicrosUntil(b.tokens.level, tokens * kScale, tpm) : 0;
  if (wait_requests == 0 && wait_tokens == 0) {
    if (rpm > 0) b.requests.level -= kScale;
    if (tpm > 0) b.tokens.level -= tokens * kScale;
    return report();
  }

  a.admitted = false;
  const bool by_requests = wait_requests >= wait_tokens;
  a.limited_by = by_requests ? "requests" : "tokens";
  a.retry_after_s = std::max(wait_requests, wait_tokens) / 1e6;
  report();
  if (by_requests) {
    a.message = fmt::format(
        "Rate limit reached for key '{}' on the {} tier on requests per minute: limit {}, "
        "remaining {}. Please try again in {}.",
        key.name, tier_name, rpm, a.requests.remaining, FormatReset(a.retry_after_s));
  } else {
    a.message = fmt::format(
        "Rate limit reached for key '{}' on the {} tier on tokens per minute: limit {}, "
        "remaining {}, requested {}. Please try again in {}.",
        key.name, tier_name, tpm, a.tokens.remaining, tokens, FormatReset(a.retry_after_s));
  }
  return a;
}

void RateLimiter::Settle(const ApiKey& key, Tier tier, int64_t estimated_tokens,
                         int64_t actual_tokens, Clock::time_point now) {
  const int64_t tpm = key.limits(tier).tokens_per_minute;
  if (tpm == 0) return;
  const int64_t refund = ClampTokens(estimated_tokens) - ClampTokens(actual_tokens);
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = BucketsFor(key, tier).tokens;
  Refill(b, tpm, now);
  const int64_t full = tpm * kScale;
  b.level = std::clamp(b.level + refund * kScale, -full, full);
}

std::string FormatReset(double seconds) {
  if (!(seconds > 0)) return "0s";
  // Up to the millisecond: a client that waits this long finds room.
  const int64_t ms = CeilMillis(seconds);
  if (ms <= 0) return "0s";
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string out;
  const int64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  if (h > 0) out += fmt::format("{}h", h);
  if (h > 0 || m > 0) out += fmt::format("{}m", m);
  out += fmt::format("{}", s);
  if (frac > 0) {
    std::string f = fmt::format("{:03d}", frac);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  out += "s";
  return out;
}

std::vector<std::pair<std::string, std::string>> RateLimitHeaders(const Admission& a) {
  std::vector<std::pair<std::string, std::string>> h;
  auto add = [&](const char* kind, const LimitState& s) {
    if (s.limit == 0) return;
    h.emplace_back(fmt::format("x-ratelimit-limit-{}", kind), std::to_string(s.limit));
    h.emplace_back(fmt::format("x-ratelimit-remaining-{}", kind), std::to_string(s.remaining));
    h.emplace_back(fmt::format("x-ratelimit-reset-{}", kind), FormatReset(s.reset_s));
  };
  add("requests", a.requests);
  add("tokens", a.tokens);
  if (!a.admitted && a.retryable) {
    const int64_t ms = std::max<int64_t>(1, CeilMillis(a.retry_after_s));
    h.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
    h.emplace_back("retry-after-ms", std::to_string(ms));
  }
  return h;
}

}  // namespace glint::server
