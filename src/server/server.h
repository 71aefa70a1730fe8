// The glint server: HTTP/1.1 and WebSocket on Boost.Beast, one event loop
// (network threads never touch model state; each model's scheduler runs on
// its own inference thread).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fair_lock.h"
#include "base/status.h"
#include "server/service.h"

namespace glint::server {

class Server {
 public:
  // Binds the listening socket (port 0: any free port).
  static Result<std::unique_ptr<Server>> Create(ServerOptions options,
                                                std::vector<std::unique_ptr<ModelService>> models);
  ~Server();

  int port() const;
  ServerState& state() { return *state_; }
  // Serves until Stop (from a signal handler thread or another thread).
  void Run(int n_network_threads = 1);
  // A graceful stop, from another thread: stops accepting, lets running
  // responses finish for up to options().drain_timeout_s (abort() == true
  // cuts the wait short), cancels what is left (its clients get a
  // server_shutting_down error), closes WebSockets with 1001 (going away),
  // then stops. Returns once Run may return.
  void Drain(const std::function<bool()>& abort);
  void Stop();
  // A server created without models listens (GET /health answers 503
  // "loading", API requests 503 not_ready) until these arrive; from the
  // thread that loaded them, while Run serves. False, and the models are
  // left to the caller, when the server was stopped meanwhile.
  bool Install(std::vector<std::unique_ptr<ModelService>>& models);

 private:
  Server() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<ServerState> state_;
};

// Loads a model ("fast", "smart" or a path) and starts its scheduler. A
// model that serves a tier is named glint-<tier> ("fast" and "smart" serve
// theirs unless told otherwise). Models served side by side share one
// compute lock, so that they take turns on the cores, and one KV budget
// (engine/kv_budget.h; null: none).
Result<std::unique_ptr<ModelService>> LoadModelService(
    const std::string& spec, const ServerOptions& options, std::optional<Tier> tier = std::nullopt,
    std::shared_ptr<FairLock> compute_lock = nullptr,
    std::shared_ptr<engine::KvBudget> kv_budget = nullptr);

}  // namespace glint::server
