// What the connections share: the served models (each with its scheduler
// and session pool), stored responses and parked sessions, limits and
// metrics. Network threads use it; only schedulers touch model state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "engine/session_pool.h"
#include "model/model.h"
#include "server/keys.h"
#include "server/metrics.h"
#include "server/protocol.h"
#include "server/rate_limit.h"
#include "server/router.h"
#include "server/tier.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace glint::server {

using tokenizer::TokenId;
using SteadyTime = std::chrono::steady_clock::time_point;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port
  int32_t n_threads = 2;              // inference threads per model
  int32_t parallel = 8;               // sequences decoded together
  int32_t n_ctx = 8192;               // positions per session (capped by the model)
  int32_t prefill_chunk = 64;         // prompt tokens between two decode steps
  int32_t http_sessions = 4;          // KV caches kept for stateless HTTP requests
  int32_t max_connections = 512;
  int32_t max_sessions = 64;          // WebSocket sessions, open or parked
  int32_t max_requests = 64;          // requests queued or running, server-wide
  size_t max_body_bytes = 8u << 20;   // HTTP request body
  size_t max_frame_bytes = 8u << 20;  // WebSocket message
  int idle_timeout_s = 600;           // a connection with no traffic is closed
  int request_timeout_s = 30;         // a begun HTTP request must arrive whole within it
  int session_ttl_s = 600;            // a parked session or stored response lives this long
  int drain_timeout_s = 10;           // on SIGTERM: how long running responses may finish
  int32_t max_unacked_tokens = 256;   // backpressure: tokens a reader may lag behind
  size_t kv_budget_mb = 0;            // KV caches of all sessions (0: no budget)
  bool speculation = true;            // drafts from predictions and prompt lookup
  std::string keys_file;              // API keys (JSON); "": no keys, loopback only
  bool insecure = false;              // allow a non-loopback address without keys
  bool ws_echo = false;               // GET /v1/echo: a WebSocket echo for conformance tests
};

// One loaded model and what serves it.
struct ModelService {
  std::string id;                    // "glint-fast"
  std::vector<std::string> aliases;  // "fast", the file name, ...
  std::optional<Tier> tier;          // the tier it serves, if any
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<tokenizer::ChatTemplate> chat_template;
  std::unique_ptr<engine::Scheduler> scheduler;
  std::unique_ptr<engine::SessionPool> pool;
  std::shared_ptr<engine::KvBudget> kv_budget;  // shared by the models; null: none
  int32_t n_ctx = 0;
  bool speculate = true;             // speculative decoding (ServerOptions)

  bool Matches(const std::string& name) const;
  std::vector<TokenId> Encode(const std::string& text, bool add_bos) const {
    return tokenizer->Encode(text, add_bos && tokenizer->add_bos(), /*parse_special=*/true);
  }
};

// A conversation as API items, so that any model can render it: a turn
// that continues on another tier re-renders it with that model's template.
struct Conversation {
  std::string instructions;
  std::vector<FunctionTool> tools;
  std::vector<Item> items;  // input and output, oldest first
};

// A response kept so that a later request can continue from it.
struct StoredResponse {
  std::string id;
  std::string model_id;
  std::vector<TokenId> tokens;  // the context after it, in model_id's tokens
  bool open_turn = false;       // the context ends inside the assistant's turn
  std::shared_ptr<const Conversation> conversation;  // the same context as items
  SteadyTime expires;
};

// A WebSocket session's state when its connection is gone: kept under its
// prompt_cache_key until it expires or a new connection adopts it.
struct ParkedSession {
  // A KV cache per model the conversation used, by model id.
  std::map<std::string, std::shared_ptr<engine::Session>> sessions;
  std::string model_id;  // the model of the last turn
  std::map<std::string, StoredResponse> responses;
  SteadyTime expires;
};

// A connection that must say goodbye when the server stops (a WebSocket
// sends a close frame). Called on any thread; the listener posts to its own.
class ShutdownListener {
 public:
  virtual ~ShutdownListener() = default;
  virtual void GoingAway() = 0;
};

class ServerState {
 public:
  ServerState(ServerOptions options, std::vector<std::unique_ptr<ModelService>> models);

  const ServerOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }
  // The API keys, or null when every caller is anonymous (and unlimited).
  const KeyStore* keys() const { return keys_.get(); }
  void SetKeys(KeyStore keys) { keys_ = std::make_unique<KeyStore>(std::move(keys)); }
  RateLimiter& limiter() { return limiter_; }
  // The models: none until they are loaded (InstallModels, or given to the
  // constructor). Network threads run while `glint serve` loads them, so
  // every reader goes through here and sees them only once `ready` says so.
  const std::vector<std::unique_ptr<ModelService>>& models() const {
    static const std::vector<std::unique_ptr<ModelService>> kNone;
    return ready.load(std::memory_order_acquire) ? models_ : kNone;
  }
  // Once, from the loading thread, when the state has no models: installs
  // them and sets `ready`.
  void InstallModels(std::vector<std::unique_ptr<ModelService>> models);
  // The model a request names ("" and "glint-auto": the first; use
  // ChooseModel in api.h to route glint-auto).
  ModelService* FindModel(const std::string& name) const;
  // The model serving a tier, or null.
  ModelService* FindTier(Tier tier) const;
  // Whether a name asks for automatic routing.
  static bool IsAuto(const std::string& name) {
    return name.empty() || name == "glint-auto" || name == "auto";
  }

  // Stored responses (store: true), visible to every connection.
  void Store(StoredResponse r);
  std::optional<StoredResponse> Lookup(const std::string& id);

  bool Park(const std::string& key, ParkedSession parked);
  std::optional<ParkedSession> Adopt(const std::string& key);

  // Admission: a request slot, or false when max_requests are in flight.
  bool TryBeginRequest();
  void EndRequest();
  int32_t requests_in_flight() const { return requests_.load(); }

  // Connections to tell when the server stops (weakly held).
  void Listen(std::weak_ptr<ShutdownListener> listener);
  // Tells every live listener; returns how many there were.
  size_t NotifyGoingAway();

  // Open WebSocket sessions.
  bool TryOpenSession();
  void CloseSession();

  std::atomic<int32_t> connections{0};
  std::atomic<bool> ready{false};  // the models are loaded
  std::atomic<bool> draining{false};

  // WebSocket sessions, for the KV cache gauge (open or parked; expired
  // entries are dropped as they are found).
  void TrackSession(const std::shared_ptr<engine::Session>& session);

  Metrics::Gauges Gauges() const;
  // Drops what has expired.
  void Expire();
  std::string NewId(const char* prefix);

 private:
  ServerOptions options_;
  std::vector<std::unique_ptr<ModelService>> models_;
  Metrics metrics_;
  std::unique_ptr<const KeyStore> keys_;
  RateLimiter limiter_;
  mutable std::mutex mu_;
  std::map<std::string, StoredResponse> stored_;
  std::map<std::string, ParkedSession> parked_;
  mutable std::vector<std::weak_ptr<engine::Session>> tracked_;
  std::vector<std::weak_ptr<ShutdownListener>> listeners_;
  std::atomic<int32_t> requests_{0};
  std::atomic<int32_t> sessions_{0};
  uint64_t id_counter_ = 0;
};

}  // namespace glint::server
