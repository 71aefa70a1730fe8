// Per-key, per-tier rate limits as token buckets, the way OpenAI's API
// reports them: one bucket of requests and one of tokens for each (key name,
// tier). A bucket holds up to its per-minute limit and refills continuously
// at limit/60 per second. A request is admitted when one request and its
// estimated tokens are both available; once it finishes, Settle trues the
// estimate up against the tokens it really used.
//
// Time is an argument (steady clock), so tests run on a fake clock.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "server/keys.h"

namespace glint::server {

// One kind of limit as the x-ratelimit-* headers report it.
struct LimitState {
  int64_t limit = 0;      // per minute; 0: unlimited, no headers
  int64_t remaining = 0;  // whole units left after this admission, floored at 0
  double reset_s = 0;     // seconds until the bucket is full again
};

struct Admission {
  bool admitted = true;
  // Refused only: "requests" or "tokens", the limit that binds.
  std::string limited_by;
  // Refused only: false when the request can never fit (its estimated
  // tokens exceed the per-minute limit); waiting will not help.
  bool retryable = true;
  double retry_after_s = 0;  // refused and retryable: until both limits have room
  std::string message;       // refused: for the error body; names no key material
  LimitState requests;
  LimitState tokens;
};

class RateLimiter {
 public:
  // Checks and takes, atomically, one request and estimated_tokens from
  // the (key, tier) buckets. Does not check key.allows(tier): that is
  // authorization, the caller's job. Limits come from `key` on every call,
  // so a reloaded keys file takes effect at once (keeping what was used).
  Admission Admit(const ApiKey& key, Tier tier, int64_t estimated_tokens,
                  Clock::time_point now = Clock::now());

  // After the request: gives back estimated - actual tokens, or takes the
  // excess when actual > estimated. The bucket may go negative (down to
  // minus one minute's limit), so later requests wait for the overdraft.
  void Settle(const ApiKey& key, Tier tier, int64_t estimated_tokens, int64_t actual_tokens,
              Clock::time_point now = Clock::now());

 private:
  // Fixed point (see rate_limit.cc): level counts 1/60,000,000ths of a unit.
  struct Bucket {
    int64_t capacity = 0;  // the per-minute limit in whole units; 0 before first use
    int64_t level = 0;     // scaled units, in [-capacity, capacity] * kScale
    Clock::time_point last{};
  };
  struct Buckets {
    Bucket requests;
    Bucket tokens;
  };
  Buckets& BucketsFor(const ApiKey& key, Tier tier);
  // Sets the capacity (a fresh bucket starts full) and adds what has
  // refilled since the bucket was last seen.
  static void Refill(Bucket& b, int64_t capacity, Clock::time_point now);
  static LimitState State(const Bucket& b);

  std::mutex mu_;
  std::unordered_map<std::string, std::array<Buckets, kNumTiers>> buckets_;  // by key name
};

// A duration as OpenAI writes x-ratelimit-reset-*: "20ms", "1s", "8.64s",
// "6m0s", "1h2m3s"; rounded up to the millisecond; "0s" for none.
std::string FormatReset(double seconds);

// The response headers of an admission: x-ratelimit-{limit,remaining,reset}-
// {requests,tokens} for each limited kind, and when refused and retryable,
// retry-after (whole seconds, rounded up) and retry-after-ms.
std::vector<std::pair<std::string, std::string>> RateLimitHeaders(const Admission& a);

}  // namespace glint::server
