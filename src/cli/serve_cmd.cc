// glint serve: loads the models and serves the OpenAI-compatible HTTP and
// WebSocket API until SIGINT or SIGTERM.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/clock.h"
#include "base/machine.h"
#include "base/thread_pool.h"
#include "cli/commands.h"
#include "server/server.h"

namespace glint::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> models;  // -m: exactly these, instead of the two tiers
  std::string fast_model = "fast";
  std::string smart_model = "smart";
  server::ServerOptions options;
  int network_threads = 1;
  bool no_speculation = false;
};

std::vector<std::string> ModelIds(const std::vector<std::unique_ptr<server::ModelService>>& models) {
  std::vector<std::string> ids;
  for (const auto& m : models) ids.push_back(m->id);
  return ids;
}

int Serve(ServeArgs& a) {
  a.options.speculation = !a.no_speculation;
  // SIGINT and SIGTERM are taken by a thread of their own (below); block
  // them first, so that every thread started from here on inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // The two tiers by default; -m serves exactly the models it names.
  std::vector<std::pair<std::string, std::optional<server::Tier>>> specs;
  if (a.models.empty()) {
    specs = {{a.fast_model, server::Tier::kFast}, {a.smart_model, server::Tier::kSmart}};
  } else {
    for (const std::string& m : a.models) specs.emplace_back(m, std::nullopt);
  }
  auto compute_lock = specs.size() > 1 ? std::make_shared<FairLock>() : nullptr;
  // One budget for every session of every model: memory is what runs out.
  size_t budget_mb = a.options.kv_budget_mb;
  if (budget_mb == 0) {
    budget_mb = std::max<size_t>(UsableMemoryBytes() / 2 >> 20, 64);
  }
  auto kv_budget = std::make_shared<engine::KvBudget>(budget_mb << 20);
  // Listen first: a port that is taken fails at once rather than after the
  // models load, and while they load /health answers 503 "loading" (what a
  // load balancer's readiness check waits on) and API requests 503.
  auto srv = server::Server::Create(a.options, {});
  if (!srv.ok()) {
    fmt::print(stderr, "glint: {}\n", srv.status().message());
    return 1;
  }
  server::Server& s = *srv.value();
  const int port = s.port();
  fmt::print(stderr, "glint: listening on http://{}:{}; loading {} model(s)\n", a.options.host,
             port, specs.size());
  std::fflush(stderr);
  // The signal thread stops the server; it is joined before the server is
  // destroyed, so it never touches a server being torn down.
  std::atomic<bool> done{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> loading{true};  // the main thread is loading models
  std::thread signals([&s, &done, &stopping, &loading, &a, set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (done.load()) return;  // woken by the main thread below
    stopping.store(true);
    if (loading.load()) {
      // Nothing is served yet. The model being loaded finishes loading
      // (seconds for a large one) unless a second signal ends the process
      // at once: loading only reads, so there is nothing to lose.
      fmt::print(stderr,
                 "glint: signal {}: stopping once the model being loaded is in (signal again "
                 "to exit now)\n",
                 sig);
      std::fflush(stderr);
      s.Stop();
      int again = 0;
      sigwait(&set, &again);
      if (done.load()) return;
      fmt::print(stderr, "glint: signal {}: exiting\n", again);
      std::fflush(stderr);
      std::_Exit(128 + again);
    }
    fmt::print(stderr,
               "glint: signal {}: draining (running responses have {} s to finish; signal "
               "again to stop now)\n",
               sig, a.options.drain_timeout_s);
    std::fflush(stderr);
    // A second signal ends the wait.
    const timespec zero{};
    s.Drain([&] { return done.load() || sigtimedwait(&set, nullptr, &zero) > 0; });
    fmt::print(stderr, "glint: stopped\n");
  });
  std::thread network([&s, &a] { s.Run(a.network_threads); });
  // Ends the network and signal threads, in that order, whatever happened.
  auto finish = [&] {
    s.Stop();
    network.join();
    done.store(true);
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
  };
  std::vector<std::unique_ptr<server::ModelService>> models;
  for (const auto& [spec, tier] : specs) {
    if (stopping.load()) break;
    const auto t0 = Clock::now();
    auto svc = server::LoadModelService(spec, a.options, tier, compute_lock, kv_budget);
    if (!svc.ok()) {
      fmt::print(stderr, "glint: {}\n", svc.status().message());
      finish();
      return 1;
    }
    const auto& m = *svc.value()->model;
    const size_t kv_row = 2u * m.hparams().n_layers * m.hparams().n_embd_kv() * sizeof(uint16_t);
    fmt::print(stderr,
               "glint: model {} ({} {}, {:.0f} MiB weights) loaded in {:.2f} s; context {} "
               "tokens, KV cache {:.1f} MiB per full session\n",
               svc.value()->id, m.hparams().arch, m.QuantName(), m.WeightBytes() / 1048576.0,
               SecondsSince(t0), svc.value()->n_ctx,
               static_cast<double>(kv_row) * svc.value()->n_ctx / 1048576.0);
    for (const auto& loaded : models) {
      if (loaded->id == svc.value()->id) {
        fmt::print(stderr, "glint: two models would be named {}; serve each model once\n",
                   loaded->id);
        finish();
        return 1;
      }
    }
    models.push_back(std::move(svc).value());
  }
  if (models.size() > 1) {
    fmt::print(stderr, "glint: models {}; glint-auto routes each request{}\n",
               fmt::join(ModelIds(models), ", "),
               models.front()->tier && models.back()->tier ? " between the tiers (docs/routing.md)"
                                                            : " to the first model");
  }
  loading.store(false);
  if (stopping.load() || !s.Install(models)) {
    // Stopped while loading: nothing was served.
    network.join();
    done.store(true);
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    return 0;
  }
  if (const server::KeyStore* keys = s.state().keys()) {
    fmt::print(stderr, "glint: {} API key(s) from {}; requests need 'Authorization: Bearer <key>'\n",
               keys->keys().size(), a.options.keys_file);
  }
  fmt::print(stderr,
             "glint: KV budget {} MiB for all sessions{}; idle sessions are evicted least "
             "recently used first\n",
             budget_mb, a.options.kv_budget_mb == 0 ? " (half of the memory this process may use; --kv-budget)" : "");
  fmt::print(stderr,
             "glint: serving on http://{}:{} ({} inference threads, {} parallel sequences); "
             "WebSocket ws://{}:{}/v1/responses\n",
             a.options.host, port, a.options.n_threads, a.options.parallel, a.options.host, port);
  std::fflush(stderr);
  // Run returns once Stop was called. Wake the signal thread if it is
  // still waiting (a thread-directed signal, blocked everywhere, ends its
  // sigwait) and wait until it has finished with the server.
  network.join();
  done.store(true);
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}

}  // namespace

Runner AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  args->options.n_threads = ThreadPool::HardwareThreads();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible API (HTTP, SSE, WebSocket)");
  auto* fast = cmd->add_option("--fast-model", args->fast_model,
                               "The fast tier (glint-fast): fast, smart or a GGUF path")
                   ->capture_default_str();
  auto* smart = cmd->add_option("--smart-model", args->smart_model,
                                "The smart tier (glint-smart): fast, smart or a GGUF path")
                    ->capture_default_str();
  cmd->add_option("-m,--model", args->models,
                  "Serve exactly these models instead of the two tiers: fast, smart or a GGUF "
                  "path (repeat to serve several)")
      ->excludes(fast)
      ->excludes(smart);
  cmd->add_option("--host", args->options.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", args->options.port, "Port (0: any free port)")->capture_default_str();
  cmd->add_option("-t,--threads", args->options.n_threads, "Inference threads per model")
      ->capture_default_str();
  cmd->add_option("--parallel", args->options.parallel, "Sequences decoded together")
      ->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("-c,--ctx", args->options.n_ctx, "Context positions per session")
      ->check(CLI::Range(16, 1 << 20))->capture_default_str();
  cmd->add_option("--prefill-chunk", args->options.prefill_chunk,
                  "Prompt tokens evaluated between two decode steps")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--kv-budget", args->options.kv_budget_mb,
                  "MiB of KV cache for all sessions together; when it is full, the least recently "
                  "used idle sessions give theirs up (0: half of the memory this process may use, "
                  "a container's limit included)")
      ->check(CLI::Range(0, 1 << 24))->capture_default_str();
  cmd->add_option("--http-sessions", args->options.http_sessions,
                  "KV caches kept for stateless HTTP requests (prefix cache)")
      ->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_option("--max-sessions", args->options.max_sessions, "WebSocket sessions, open or parked")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--max-requests", args->options.max_requests, "Requests queued or running")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--max-connections", args->options.max_connections, "Open connections")
      ->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--max-body", args->options.max_body_bytes, "HTTP request body limit (bytes)")
      ->capture_default_str();
  cmd->add_option("--max-frame", args->options.max_frame_bytes, "WebSocket message limit (bytes)")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->options.idle_timeout_s, "Seconds a silent connection stays open")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  cmd->add_option("--request-timeout", args->options.request_timeout_s,
                  "Seconds an HTTP request may take to arrive once it has begun (headers and body)")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  cmd->add_option("--drain-timeout", args->options.drain_timeout_s,
                  "Seconds running responses may take to finish after SIGTERM or SIGINT")
      ->check(CLI::Range(0, 3600))->capture_default_str();
  cmd->add_option("--session-ttl", args->options.session_ttl_s,
                  "Seconds a disconnected session and stored responses are kept")
      ->check(CLI::Range(0, 86400))->capture_default_str();
  cmd->add_option("--keys", args->options.keys_file,
                  "API keys file (JSON, created by `glint keys new`): every API request needs "
                  "'Authorization: Bearer <key>', with per-key tiers and rate limits")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--insecure", args->options.insecure,
                "Serve on a non-loopback address without API keys (anyone who reaches the port "
                "may use the models)");
  cmd->add_flag("--no-speculation", args->no_speculation,
                "Decode one token per step: no drafts from predictions or prompt lookup");
  cmd->add_flag("--ws-echo", args->options.ws_echo,
               "Serve a WebSocket echo at /v1/echo (for the Autobahn conformance suite)");
  cmd->add_option("--network-threads", args->network_threads, "Threads for the event loop")
      ->check(CLI::Range(1, 64))->capture_default_str();
  return [args] { return Serve(*args); };
}

}  // namespace glint::cli
