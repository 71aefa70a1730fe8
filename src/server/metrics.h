// Server metrics in the Prometheus text exposition format (version 0.0.4):
// counters end in _total, durations are histograms in seconds.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace glint::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends the _bucket, _sum and _count lines of `name`.
  void Write(const std::string& name, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last: +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  void CountRequest(const std::string& endpoint, int status);
  void ObserveTtft(double seconds);
  void ObserveInterToken(double seconds);
  void AddTokens(int64_t prompt, int64_t cached, int64_t generated);
  // Speculative decoding: draft tokens verified and kept, or thrown away.
  void AddDraft(int64_t accepted, int64_t rejected);
  // glint-auto's decisions, by the tier chosen and the rule that chose it.
  void CountRoute(const std::string& tier, const std::string& rule);
  // Requests refused by a rate limit ("requests" or "tokens") of a tier,
  // and requests refused for a missing or unknown API key.
  void CountRateLimited(const std::string& tier, const std::string& limit);
  void CountAuthFailure();

  // Gauges read when the page is rendered.
  struct Gauges {
    int64_t active_sessions = 0;
    int64_t connections = 0;
    int64_t queue_depth = 0;
    int64_t running = 0;
    int64_t kv_cache_bytes = 0;
    int64_t kv_budget_bytes = 0;    // 0: no budget
    int64_t kv_charged_bytes = 0;   // held or reserved against the budget
    uint64_t kv_evictions = 0;
    bool ready = false;
  };
  std::string Render(const Gauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, uint64_t> routes_, rate_limited_;
  uint64_t auth_failures_ = 0;
  Histogram ttft_, itl_;
  uint64_t prompt_ = 0, cached_ = 0, generated_ = 0, draft_accepted_ = 0, draft_rejected_ = 0;
};

}  // namespace glint::server
