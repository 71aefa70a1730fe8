#include "server/service.h"

#include <random>

#include <openssl/rand.h>

#include <fmt/format.h>

#include "base/check.h"

namespace glint::server {

bool ModelService::Matches(const std::string& name) const {
  if (name == id) return true;
  for (const auto& a : aliases) {
    if (name == a) return true;
  }
  return false;
}

ServerState::ServerState(ServerOptions options, std::vector<std::unique_ptr<ModelService>> models)
    : options_(std::move(options)), models_(std::move(models)) {
  ready.store(!models_.empty(), std::memory_order_release);
}

void ServerState::InstallModels(std::vector<std::unique_ptr<ModelService>> models) {
  CHECK(models_.empty() && !ready.load());
  models_ = std::move(models);
  ready.store(!models_.empty(), std::memory_order_release);
}

ModelService* ServerState::FindModel(const std::string& name) const {
  const auto& all = models();
  if (all.empty()) return nullptr;
  if (IsAuto(name)) return all.front().get();
  for (const auto& m : all) {
    if (m->Matches(name)) return m.get();
  }
  return nullptr;
}

ModelService* ServerState::FindTier(Tier tier) const {
  for (const auto& m : models()) {
    if (m->tier == tier) return m.get();
  }
  return nullptr;
}

void ServerState::Store(StoredResponse r) {
  std::lock_guard<std::mutex> lock(mu_);
  r.expires = std::chrono::steady_clock::now() + std::chrono::seconds(options_.session_ttl_s);
  stored_[r.id] = std::move(r);
}

std::optional<StoredResponse> ServerState::Lookup(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stored_.find(id);
  if (it == stored_.end() || it->second.expires < std::chrono::steady_clock::now()) {
    return std::nullopt;
  }
  return it->second;
}

bool ServerState::Park(const std::string& key, ParkedSession parked) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<int32_t>(parked_.size()) >= options_.max_sessions) return false;
  parked.expires = std::chrono::steady_clock::now() + std::chrono::seconds(options_.session_ttl_s);
  parked_[key] = std::move(parked);
  return true;
}

std::optional<ParkedSession> ServerState::Adopt(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parked_.find(key);
  if (it == parked_.end()) return std::nullopt;
  ParkedSession p = std::move(it->second);
  parked_.erase(it);
  if (p.expires < std::chrono::steady_clock::now()) return std::nullopt;
  return p;
}

bool ServerState::TryBeginRequest() {
  if (requests_.fetch_add(1) >= options_.max_requests) {
    requests_.fetch_sub(1);
    return false;
  }
  return true;
}

void ServerState::EndRequest() { requests_.fetch_sub(1); }

bool ServerState::TryOpenSession() {
  if (sessions_.fetch_add(1) >= options_.max_sessions) {
    sessions_.fetch_sub(1);
    return false;
  }
  return true;
}

void ServerState::CloseSession() { sessions_.fetch_sub(1); }

void ServerState::Listen(std::weak_ptr<ShutdownListener> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(listeners_, [](const auto& w) { return w.expired(); });
  listeners_.push_back(std::move(listener));
}

size_t ServerState::NotifyGoingAway() {
  std::vector<std::shared_ptr<ShutdownListener>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& w : listeners_) {
      if (auto l = w.lock()) live.push_back(std::move(l));
    }
    listeners_.clear();
  }
  for (const auto& l : live) l->GoingAway();
  return live.size();
}

void ServerState::TrackSession(const std::shared_ptr<engine::Session>& session) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(tracked_, [](const auto& w) { return w.expired(); });
  tracked_.push_back(session);
}

Metrics::Gauges ServerState::Gauges() const {
  Metrics::Gauges g;
  g.connections = connections.load();
  g.ready = ready.load();
  {
    std::lock_guard<std::mutex> lock(mu_);
    g.active_sessions = sessions_.load() + static_cast<int64_t>(parked_.size());
    std::erase_if(tracked_, [](const auto& w) { return w.expired(); });
    for (const auto& w : tracked_) {
      if (auto s = w.lock()) g.kv_cache_bytes += s->kv().used_bytes();
    }
  }
  const auto& all = models();
  for (const auto& m : all) {
    g.queue_depth += m->scheduler->queued();
    g.running += m->scheduler->active();
    g.kv_cache_bytes += m->pool->KvBytes();
  }
  if (!all.empty() && all.front()->kv_budget) {
    const engine::KvBudget& b = *all.front()->kv_budget;
    g.kv_budget_bytes = static_cast<int64_t>(b.limit());
    g.kv_charged_bytes = static_cast<int64_t>(b.charged());
    g.kv_evictions = b.evictions();
  }
  return g;
}

void ServerState::Expire() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(stored_, [&](const auto& kv) { return kv.second.expires < now; });
  std::erase_if(parked_, [&](const auto& kv) { return kv.second.expires < now; });
}

std::string ServerState::NewId(const char* prefix) {
  uint64_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = ++id_counter_;
  }
  // A stored response can be continued by whoever knows its id, so ids
  // are not guessable, even from other ids: 96 random bits (OpenSSL's
  // CSPRNG), then a counter that keeps them unique.
  unsigned char r[12];
  if (RAND_bytes(r, sizeof r) != 1) {
    // No entropy: a random_device draw rather than a predictable id.
    std::random_device rd;
    for (unsigned char& b : r) b = static_cast<unsigned char>(rd());
  }
  std::string id = fmt::format("{}_", prefix);
  for (unsigned char b : r) id += fmt::format("{:02x}", b);
  return id + fmt::format("{:08x}", static_cast<uint32_t>(n));
}

}  // namespace glint::server
