#include "cli/local_server.h"

#include <cstdio>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/thread_pool.h"

namespace glint::cli {

Result<std::unique_ptr<LocalServer>> LocalServer::Start(const std::vector<Spec>& models,
                                                        int threads, bool verbose) {
  server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.n_threads = threads > 0 ? threads : ThreadPool::HardwareThreads();
  o.parallel = 1;
  o.http_sessions = 1;
  auto lock = models.size() > 1 ? std::make_shared<FairLock>() : nullptr;
  std::vector<std::unique_ptr<server::ModelService>> services;
  for (const auto& [spec, tier] : models) {
    const auto t0 = Clock::now();
    if (verbose) {
      fmt::print(stderr, "glint: loading the {} model...", spec);
      std::fflush(stderr);
    }
    auto svc = server::LoadModelService(spec, o, tier, lock);
    if (verbose) {
      if (svc.ok()) {
        fmt::print(stderr, " {:.1f} s\n", SecondsSince(t0));
      } else {
        fmt::print(stderr, "\n");
      }
    }
    if (!svc.ok()) return svc.status();
    services.push_back(std::move(svc).value());
  }
  std::string id = services.front()->id;
  ASSIGN_OR_RETURN(auto srv, server::Server::Create(o, std::move(services)));
  auto local = std::unique_ptr<LocalServer>(new LocalServer);
  local->server_ = std::move(srv);
  local->model_id_ = std::move(id);
  local->thread_ = std::thread([s = local->server_.get()] { s->Run(1); });
  return local;
}

LocalServer::~LocalServer() {
  server_->Stop();
  thread_.join();
}

client::Url LocalServer::url() const {
  return {"127.0.0.1", std::to_string(server_->port()), ""};
}

}  // namespace glint::cli
