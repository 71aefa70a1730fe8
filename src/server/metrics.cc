#include "server/metrics.h"

#include <fmt/format.h>

namespace glint::server {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Write(const std::string& name, std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  *out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_);
  *out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28}) {}

void Metrics::CountRequest(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::ObserveTtft(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.Observe(seconds);
}

void Metrics::ObserveInterToken(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  itl_.Observe(seconds);
}

void Metrics::AddTokens(int64_t prompt, int64_t cached, int64_t generated) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_ += prompt;
  cached_ += cached;
  generated_ += generated;
}

void Metrics::AddDraft(int64_t accepted, int64_t rejected) {
  std::lock_guard<std::mutex> lock(mu_);
  draft_accepted_ += accepted;
  draft_rejected_ += rejected;
}

void Metrics::CountRoute(const std::string& tier, const std::string& rule) {
  std::lock_guard<std::mutex> lock(mu_);
  ++routes_[{tier, rule}];
}

void Metrics::CountRateLimited(const std::string& tier, const std::string& limit) {
  std::lock_guard<std::mutex> lock(mu_);
  ++rate_limited_[{tier, limit}];
}

void Metrics::CountAuthFailure() {
  std::lock_guard<std::mutex> lock(mu_);
  ++auth_failures_;
}

std::string Metrics::Render(const Gauges& g) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  auto header = [&](const char* name, const char* type, const char* help) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  header("glint_requests_total", "counter", "Requests answered, by endpoint and HTTP status.");
  for (const auto& [key, n] : requests_) {
    o += fmt::format("glint_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                     key.second, n);
  }
  header("glint_time_to_first_token_seconds", "histogram",
         "From a request's arrival to its first generated token.");
  ttft_.Write("glint_time_to_first_token_seconds", &o);
  header("glint_inter_token_latency_seconds", "histogram",
         "Time between consecutive generated tokens of a stream.");
  itl_.Write("glint_inter_token_latency_seconds", &o);
  header("glint_prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
  o += fmt::format("glint_prompt_tokens_total {}\n", prompt_);
  header("glint_cached_prompt_tokens_total", "counter",
         "Prompt tokens found in a session's KV cache (not evaluated again).");
  o += fmt::format("glint_cached_prompt_tokens_total {}\n", cached_);
  header("glint_generated_tokens_total", "counter", "Tokens generated.");
  o += fmt::format("glint_generated_tokens_total {}\n", generated_);
  header("glint_speculative_tokens_total", "counter",
         "Draft tokens of speculative decoding verified by the model: kept (accepted) or "
         "thrown away (rejected).");
  o += fmt::format("glint_speculative_tokens_total{{result=\"accepted\"}} {}\n", draft_accepted_);
  o += fmt::format("glint_speculative_tokens_total{{result=\"rejected\"}} {}\n", draft_rejected_);
  header("glint_route_decisions_total", "counter",
         "Requests for glint-auto, by the tier chosen and the rule that chose it.");
  for (const auto& [key, n] : routes_) {
    o += fmt::format("glint_route_decisions_total{{tier=\"{}\",rule=\"{}\"}} {}\n", key.first,
                     key.second, n);
  }
  header("glint_rate_limited_total", "counter",
         "Requests refused by a rate limit, by tier and limit (requests or tokens).");
  for (const auto& [key, n] : rate_limited_) {
    o += fmt::format("glint_rate_limited_total{{tier=\"{}\",limit=\"{}\"}} {}\n", key.first,
                     key.second, n);
  }
  header("glint_auth_failures_total", "counter", "Requests refused for a missing or unknown API key.");
  o += fmt::format("glint_auth_failures_total {}\n", auth_failures_);
  header("glint_active_sessions", "gauge", "Sessions holding a KV cache.");
  o += fmt::format("glint_active_sessions {}\n", g.active_sessions);
  header("glint_open_connections", "gauge", "Open HTTP and WebSocket connections.");
  o += fmt::format("glint_open_connections {}\n", g.connections);
  header("glint_queue_depth", "gauge", "Requests waiting for the scheduler.");
  o += fmt::format("glint_queue_depth {}\n", g.queue_depth);
  header("glint_running_requests", "gauge", "Requests prefilling or decoding.");
  o += fmt::format("glint_running_requests {}\n", g.running);
  header("glint_kv_cache_bytes", "gauge", "Bytes of KV cache holding positions.");
  o += fmt::format("glint_kv_cache_bytes {}\n", g.kv_cache_bytes);
  if (g.kv_budget_bytes > 0) {
    header("glint_kv_budget_bytes", "gauge", "The KV budget (--kv-budget) shared by every session.");
    o += fmt::format("glint_kv_budget_bytes {}\n", g.kv_budget_bytes);
    header("glint_kv_charged_bytes", "gauge",
           "KV memory charged to the budget: reservations of running requests, pages of idle sessions.");
    o += fmt::format("glint_kv_charged_bytes {}\n", g.kv_charged_bytes);
    header("glint_kv_evictions_total", "counter",
           "Idle sessions whose KV cache was released to make room (their next turn re-prefills).");
    o += fmt::format("glint_kv_evictions_total {}\n", g.kv_evictions);
  }
  header("glint_ready", "gauge", "1 when the models are loaded.");
  o += fmt::format("glint_ready {}\n", g.ready ? 1 : 0);
  return o;
}

}  // namespace glint::server
