#include "server/server.h"

#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "base/log.h"
#include "engine/catalog.h"
#include "server/connection.h"

namespace glint::server {

struct Server::Impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer expiry{ioc};
  std::vector<std::thread> threads;
  ServerState* state = nullptr;
  std::mutex install_mu;  // orders Install against Stop
  bool stopped = false;
  int port = 0;  // bound at Create (the acceptor belongs to the event loop after)

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        if (state->connections.load() >= state->options().max_connections) {
          Refuse(std::move(socket));
        } else {
          // Events are small and latency is the product: no Nagle delay
          // (which, with delayed ACKs, stalls a stream of small writes by
          // tens of milliseconds).
          socket.set_option(tcp::no_delay(true), ec);
          std::make_shared<HttpConnection>(std::move(socket), *state)->Start();
        }
      }
      Accept();
    });
  }

  // Over --max-connections: a 503 the client can read, without reading its
  // request, and the connection closes.
  static void Refuse(tcp::socket socket) {
    static const std::string kResponse = [] {
      const std::string body =
          R"({"error":{"message":"the server has too many open connections; retry shortly",)"
          R"("type":"server_error","param":null,"code":"too_many_connections"}})";
      return fmt::format("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
                         body.size(), body);
    }();
    // Closing with the request unread would reset the connection and could
    // destroy the answer in flight: half-close, then discard what the
    // client sends, for a second at most.
    struct Refusal {
      explicit Refusal(tcp::socket s) : stream(std::move(s)) {}
      beast::tcp_stream stream;
      char sink[1024];
    };
    auto r = std::make_shared<Refusal>(std::move(socket));
    r->stream.expires_after(std::chrono::seconds(1));
    net::async_write(r->stream, net::buffer(kResponse), [r](beast::error_code ec, size_t) {
      beast::error_code ignored;
      r->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      if (!ec) Discard(r);
    });
  }
  template <typename R>
  static void Discard(const std::shared_ptr<R>& r) {
    r->stream.async_read_some(net::buffer(r->sink), [r](beast::error_code ec, size_t) {
      if (!ec) Discard(r);  // the timeout ends it otherwise
    });
  }

  void ScheduleExpiry() {
    expiry.expires_after(std::chrono::seconds(5));
    expiry.async_wait([this](beast::error_code ec) {
      if (ec) return;
      state->Expire();
      ScheduleExpiry();
    });
  }
};

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options,
                                               std::vector<std::unique_ptr<ModelService>> models) {
  std::unique_ptr<Server> s(new Server);
  s->impl_ = std::make_unique<Impl>();
  s->state_ = std::make_unique<ServerState>(options, std::move(models));
  s->impl_->state = s->state_.get();
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) return Error(StatusCode::kInvalidArgument, "'{}' is not an IP address", options.host);
  if (!options.keys_file.empty()) {
    ASSIGN_OR_RETURN(KeyStore keys, KeyStore::Load(options.keys_file));
    s->state_->SetKeys(std::move(keys));
  } else if (!address.is_loopback() && !options.insecure) {
    // Without keys anyone who reaches the port may use the models.
    return Error(StatusCode::kInvalidArgument,
                 "refusing to serve on {} without API keys: give --keys FILE (create keys with "
                 "`glint keys new --name NAME --file FILE`), or --insecure to serve anyone who "
                 "can reach the port",
                 options.host);
  }
  tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  auto& acc = s->impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(StatusCode::kUnavailable, "cannot listen on {}:{}: {}", options.host,
                 options.port, ec.message());
  }
  s->impl_->port = acc.local_endpoint(ec).port();
  return s;
}

Server::~Server() {
  Stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  // Teardown order: the inference threads end first (they post into the
  // event loop), then the event loop and the connections its pending
  // handlers own (they refer to the state), then the state and models.
  for (const auto& m : state_->models()) {
    m->scheduler->Shutdown();
    m->scheduler->Join();
  }
  // The jobs' last callbacks (posted by the schedulers as they stopped) run
  // now: they release what a connection and its generation hold of each
  // other. Bounded, in case a handler keeps posting.
  impl_->ioc.restart();
  for (int i = 0; i < 100000 && impl_->ioc.poll_one() > 0; ++i) {
  }
  impl_.reset();
  state_.reset();
}

int Server::port() const { return impl_->port; }

void Server::Run(int n_network_threads) {
  impl_->Accept();
  impl_->ScheduleExpiry();
  for (int i = 1; i < n_network_threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
}

void Server::Drain(const std::function<bool()>& abort) {
  ServerState& state = *state_;
  state.draining.store(true);
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  // Waits until pred() or the time is up (or abort() says stop waiting).
  auto wait = [&](std::chrono::milliseconds limit, auto pred) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end && !abort()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  wait(std::chrono::seconds(state.options().drain_timeout_s),
       [&] { return state.requests_in_flight() == 0; });
  if (state.requests_in_flight() > 0) {
    LOG_WARNING("drain: {} request(s) still running after {} s; cancelling them",
                state.requests_in_flight(), state.options().drain_timeout_s);
    // Their jobs end with "the server is shutting down", which the
    // connections send as an error before they close.
    for (const auto& m : state.models()) m->scheduler->Shutdown();
    wait(std::chrono::seconds(2), [&] { return state.requests_in_flight() == 0; });
  }
  if (state.NotifyGoingAway() > 0) {
    wait(std::chrono::seconds(2), [&] { return state.connections.load() == 0; });
  }
  Stop();
}

void Server::Stop() {
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->expiry.cancel();
  });
  impl_->ioc.stop();
  std::lock_guard<std::mutex> lock(impl_->install_mu);
  impl_->stopped = true;
  for (const auto& m : state_->models()) m->scheduler->Shutdown();
}

bool Server::Install(std::vector<std::unique_ptr<ModelService>>& models) {
  std::lock_guard<std::mutex> lock(impl_->install_mu);
  if (impl_->stopped) return false;
  state_->InstallModels(std::move(models));
  return true;
}

Result<std::unique_ptr<ModelService>> LoadModelService(const std::string& spec,
                                                       const ServerOptions& options,
                                                       std::optional<Tier> tier,
                                                       std::shared_ptr<FairLock> compute_lock,
                                                       std::shared_ptr<engine::KvBudget> kv_budget) {
  ASSIGN_OR_RETURN(std::string path, engine::ResolveModel(spec));
  auto svc = std::make_unique<ModelService>();
  ASSIGN_OR_RETURN(svc->model, model::Model::Load(path));
  ASSIGN_OR_RETURN(svc->tokenizer, tokenizer::Tokenizer::FromGguf(svc->model->file()));
  ASSIGN_OR_RETURN(auto tpl, tokenizer::ChatTemplate::FromGguf(svc->model->file()));
  svc->chat_template = std::make_unique<tokenizer::ChatTemplate>(std::move(tpl));
  const int32_t train_ctx = svc->model->hparams().n_ctx_train;
  svc->n_ctx = train_ctx > 0 ? std::min(options.n_ctx, train_ctx) : options.n_ctx;
  const std::string file = std::filesystem::path(path).filename().string();
  if (!tier) tier = ParseTier(spec);
  svc->tier = tier;
  if (tier) {
    svc->id = fmt::format("glint-{}", TierName(*tier));
    svc->aliases = {TierName(*tier), file, path};
  } else {
    svc->id = std::filesystem::path(path).stem().string();
    svc->aliases = {file, path};
  }
  engine::Scheduler::Options so;
  svc->speculate = options.speculation;
  so.n_threads = options.n_threads;
  so.max_active = options.parallel;
  so.prefill_chunk = options.prefill_chunk;
  so.max_unacked = options.max_unacked_tokens;
  so.compute_lock = std::move(compute_lock);
  so.kv_budget = kv_budget;
  svc->kv_budget = kv_budget;
  svc->scheduler = std::make_unique<engine::Scheduler>(*svc->model, *svc->tokenizer, so);
  svc->pool = std::make_unique<engine::SessionPool>(*svc->model, svc->n_ctx, options.http_sessions,
                                                    std::move(kv_budget));
  return svc;
}

}  // namespace glint::server
