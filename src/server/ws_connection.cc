// The Responses API in WebSocket mode: one connection is one conversation
// whose context and KV cache stay on the server between turns.
#include "base/log.h"
#include "server/api.h"
#include "server/connection.h"

#include <fmt/format.h>

namespace glint::server {
namespace {

// Responses a connection keeps for previous_response_id (the newest ones).
constexpr size_t kMaxConnectionResponses = 64;

}  // namespace

WsConnection::WsConnection(beast::tcp_stream stream, ServerState& state, const ApiKey* key)
    : ws_(std::move(stream)), state_(state), key_(key) {
  state_.connections.fetch_add(1);
}

WsConnection::~WsConnection() {
  state_.connections.fetch_sub(1);
  if (generation_) generation_->Cancel();
  if (warmup_) warmup_->Cancel();
  if (request_slot_) state_.EndRequest();
  for (int i = 0; i < warmup_slots_; ++i) state_.EndRequest();
  if (session_slot_) state_.CloseSession();
}

void WsConnection::Start(http::request<http::string_body> upgrade) {
  if (!state_.TryOpenSession()) {
    // Over the limit: refuse the upgrade with a JSON error.
    auto res = std::make_shared<http::response<http::string_body>>(http::status::service_unavailable,
                                                                   upgrade.version());
    res->set(http::field::content_type, "application/json");
    res->body() = DumpJson(ApiError{503, "too_many_sessions",
                                    fmt::format("the server holds its maximum of {} sessions",
                                                state_.options().max_sessions)}.ToJson());
    res->prepare_payload();
    res->keep_alive(false);
    http::async_write(beast::get_lowest_layer(ws_), *res,
                      [self = shared_from_this(), res](beast::error_code, size_t) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
    return;
  }
  session_slot_ = true;
  std::string subprotocol;
  const auto offered = upgrade[http::field::sec_websocket_protocol];
  for (std::string_view p : Subprotocols(std::string_view(offered.data(), offered.size()))) {
    if (p == kSubprotocol) subprotocol = p;
  }
  ConfigureWebSocket(ws_, state_.options(), std::move(subprotocol));
  ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return self->Close();
    // Told of a shutdown only once open, when a close frame can be sent.
    self->state_.Listen(self->weak_from_this());
    if (self->state_.draining.load()) return self->SendClose();
    self->Read();
  });
}

std::vector<std::string_view> Subprotocols(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view p = header.substr(0, comma);
    while (!p.empty() && (p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
    while (!p.empty() && (p.back() == ' ' || p.back() == '\t')) p.remove_suffix(1);
    if (!p.empty()) out.push_back(p);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

void ConfigureWebSocket(websocket::stream<beast::tcp_stream>& ws, const ServerOptions& options,
                        std::string subprotocol) {
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = std::chrono::seconds(30);
  timeout.idle_timeout = std::chrono::seconds(options.idle_timeout_s);
  timeout.keep_alive_pings = false;  // silence for idle_timeout ends the session
  ws.set_option(timeout);
  websocket::permessage_deflate pmd;
  pmd.server_enable = true;
  ws.set_option(pmd);
  ws.read_message_max(options.max_frame_bytes);
  ws.set_option(websocket::stream_base::decorator(
      [subprotocol = std::move(subprotocol)](websocket::response_type& res) {
    res.set(http::field::server, "glint");
    if (!subprotocol.empty()) res.set(http::field::sec_websocket_protocol, subprotocol);
  }));
}

EchoConnection::EchoConnection(beast::tcp_stream stream, ServerState& state)
    : ws_(std::move(stream)), state_(state) {
  state_.connections.fetch_add(1);
}

EchoConnection::~EchoConnection() { state_.connections.fetch_sub(1); }

void EchoConnection::Start(http::request<http::string_body> upgrade) {
  ConfigureWebSocket(ws_, state_.options());
  ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Read();
  });
}

void EchoConnection::Read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return;
    self->ws_.text(self->ws_.got_text());
    self->ws_.async_write(self->buffer_.data(), [self](beast::error_code ec, size_t) {
      if (ec) return;
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  });
}

void WsConnection::Read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WsConnection::OnRead, shared_from_this()));
}

void WsConnection::OnRead(beast::error_code ec, size_t) {
  if (ec) {
    // A client that drops the socket without a close frame (the Codex CLI
    // at exit) ends its session normally.
    if (ec != websocket::error::closed && ec != net::error::eof &&
        ec != net::error::connection_reset && ec != beast::error::timeout &&
        ec != net::error::operation_aborted) {
      LOG_DEBUG("websocket read: {}", ec.message());
    }
    return Close();
  }
  const std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  if (!ws_.got_text()) {
    SendError(BadRequest("binary_not_supported", "send events as JSON text frames"));
    return Read();
  }
  auto parsed = ParseJson(text);
  if (!parsed.ok()) {
    SendError(parsed.error);
    return Read();
  }
  const json& event = *parsed.value;
  const std::string type =
      event.is_object() && event.contains("type") && event["type"].is_string()
          ? event["type"].get<std::string>() : "";
  if (type == "response.create") {
    HandleCreate(event);
  } else if (type == "response.cancel") {
    if (generation_) generation_->Cancel();
  } else if (type == "response.processed") {
    // Accepted silently.
  } else if (type.empty()) {
    SendError(BadRequest("missing_type", "every event needs a string 'type'", "type"));
  } else {
    SendError(BadRequest("unknown_event",
                         fmt::format("unknown event type '{}'; send response.create or "
                                     "response.cancel", type), "type"));
  }
  Read();
}

void WsConnection::HandleCreate(const json& body) {
  if (generation_) {
    return SendError(ApiError{409, "response_in_progress",
                              "a response is already being generated on this connection; wait "
                              "for it or send response.cancel"});
  }
  auto parsed = ParseResponseRequest(body);
  if (!parsed.ok()) return SendError(parsed.error);
  const ResponseRequest& request = *parsed.value;
  if (state_.draining.load()) {
    return SendError(ApiError{503, "server_shutting_down", "the server is draining"});
  }
  // A reconnecting client gets its parked session back (only with the
  // key that parked it: the cache key is not a credential).
  if (!request.prompt_cache_key.empty() && cache_key_.empty()) {
    cache_key_ = (key_ != nullptr ? key_->name : std::string()) + '\n' + request.prompt_cache_key;
    if (sessions_.empty()) {
      if (auto parked = state_.Adopt(cache_key_)) {
        for (auto& [model_id, session] : parked->sessions) {
          if (ModelService* m = state_.FindModel(model_id)) sessions_[m] = session;
        }
        service_ = state_.FindModel(parked->model_id);
        for (auto& [id, r] : parked->responses) {
          response_order_.push_back(id);
          responses_[id] = std::move(r);
        }
      }
    }
  }
  std::optional<StoredResponse> previous;
  if (!request.previous_response_id.empty()) {
    if (auto it = responses_.find(request.previous_response_id); it != responses_.end()) {
      previous = it->second;
    } else {
      previous = state_.Lookup(request.previous_response_id);
    }
    if (!previous) {
      return SendError(BadRequest("previous_response_not_found",
                                  fmt::format("response '{}' is not in this session; send the "
                                              "full input", request.previous_response_id),
                                  "previous_response_id"));
    }
  }
  auto turn = PrepareResponseTurn(state_, request, previous ? &*previous : nullptr, key_);
  if (!turn.ok()) return SendError(turn.error);
  if (!state_.TryBeginRequest()) {
    return SendError(ApiError{503, "server_overloaded", "too many requests in flight; retry"});
  }
  if (state_.draining.load()) {  // draining began while this turn was being prepared
    state_.EndRequest();
    return SendError(ApiError{503, "server_shutting_down", "the server is shutting down"});
  }
  const Quota quota = TakeQuota(state_, key_, *turn.value, request.params, request.generate);
  if (quota.error) {
    state_.EndRequest();
    json extra;
    if (!quota.admission.admitted && quota.admission.retryable) {
      extra["retry_after_seconds"] = quota.admission.retry_after_s;
    }
    return SendError(*quota.error, std::move(extra));
  }
  const json limits = RateLimitsEvent(quota.admission);
  if (!limits.is_null()) Send(limits);
  service_ = turn.value->service;
  auto session = SessionFor(service_);
  events_ = std::make_unique<ResponseEvents>(
      state_.NewId("resp"), service_->id, request,
      [this](const char* prefix) { return state_.NewId(prefix); });
  if (!turn.value->routing.is_null()) events_->SetRouting(turn.value->routing);
  for (const json& ev : events_->Start()) Send(ev);
  auto prompt = std::make_shared<std::vector<TokenId>>(turn.value->prompt);
  auto conversation = turn.value->conversation;
  const bool store = request.store;
  auto self = shared_from_this();
  if (!request.generate) return StartWarmUp(std::move(prompt), conversation, store, quota);

  request_slot_ = true;
  Generation::Handlers h;
  h.on_text = [self](const std::string& text, int32_t tokens) {
    auto evs = self->events_->Text(text);
    for (size_t i = 0; i < evs.size(); ++i) self->Send(evs[i], i + 1 == evs.size() ? tokens : 0);
  };
  h.on_done = [self, prompt, conversation, store](GenerationResult r) {
    self->generation_.reset();
    self->state_.EndRequest();
    self->request_slot_ = false;
    if (!r.job.status.ok()) {
      const ApiError e = EngineError(r.job.status);
      for (const json& ev : self->events_->Fail(e)) self->Send(ev);
      self->state_.metrics().CountRequest("/v1/responses (websocket)", e.status);
      return;
    }
    for (const json& ev : self->events_->Finish(r)) self->Send(ev);
    self->Remember(MakeStored(self->events_->id(), *self->service_, *prompt, r, true,
                              conversation, self->events_->output()),
                   store);
    self->state_.metrics().CountRequest("/v1/responses (websocket)", 200);
  };
  h.on_job_done = [state = &state_, quota](const engine::JobResult& r) {
    SettleQuota(*state, quota, r.stats);
  };
  generation_ = Generation::Start(state_, *service_, ws_.get_executor(), session,
                                  turn.value->prompt, request.params, true,
                                  !request.tools.empty() && request.tool_choice != "none",
                                  std::move(h));
}

// A warm-up is answered at once: a client waits only briefly for it (the
// Codex CLI 15 s, less than prefilling its 5,600-token base prompt takes on
// two cores), and its input is known. The prefill then runs on the session;
// the next turn queues behind it in the scheduler (one job per session)
// and finds the prompt in the cache.
void WsConnection::StartWarmUp(std::shared_ptr<std::vector<TokenId>> prompt,
                               std::shared_ptr<const Conversation> conversation, bool store,
                               const Quota& quota) {
  GenerationResult now;
  now.finish_reason = "stop";
  now.job.stats.prompt_tokens = static_cast<int32_t>(prompt->size());
  for (const json& ev : events_->Finish(now)) Send(ev);
  Remember(MakeStored(events_->id(), *service_, *prompt, now, false, conversation, {}), store);
  state_.metrics().CountRequest("/v1/responses (websocket)", 200);
  if (warmup_) warmup_->Cancel();  // superseded: the new warm-up covers it
  ++warmup_slots_;
  const uint64_t seq = ++warmup_seq_;
  Generation::Handlers h;
  auto self = shared_from_this();
  h.on_done = [self, seq](GenerationResult r) {
    if (self->warmup_seq_ == seq) self->warmup_.reset();
    --self->warmup_slots_;
    self->state_.EndRequest();
    if (!r.job.status.ok()) LOG_DEBUG("warm-up prefill failed: {}", r.job.status.message());
  };
  h.on_job_done = [state = &state_, quota](const engine::JobResult& r) {
    SettleQuota(*state, quota, r.stats);
  };
  GenerationParams params;
  warmup_ = Generation::Start(state_, *service_, ws_.get_executor(), SessionFor(service_), *prompt,
                              params, /*generate=*/false, false, std::move(h));
}

std::shared_ptr<engine::Session> WsConnection::SessionFor(ModelService* service) {
  auto& s = sessions_[service];
  if (!s) {
    s = std::make_shared<engine::Session>(*service->model, service->n_ctx, service->kv_budget);
    state_.TrackSession(s);
  }
  return s;
}

void WsConnection::Remember(StoredResponse stored, bool store) {
  if (store) state_.Store(stored);
  response_order_.push_back(stored.id);
  responses_[stored.id] = std::move(stored);
  while (response_order_.size() > kMaxConnectionResponses) {
    responses_.erase(response_order_.front());
    response_order_.pop_front();
  }
}

void WsConnection::Send(const json& event, int32_t ack_tokens) {
  if (closed_) {
    if (ack_tokens && generation_) generation_->Ack(ack_tokens);
    return;
  }
  out_.push_back({DumpJson(event), ack_tokens});
  Flush();
}

void WsConnection::SendError(const ApiError& e, json extra) {
  json ev = e.ToJson();
  if (extra.is_object()) ev.update(extra);
  ev["type"] = "error";
  ev["status"] = e.status;
  state_.metrics().CountRequest("/v1/responses (websocket)", e.status);
  Send(ev);
}

void WsConnection::Flush() {
  if (writing_ || out_.empty() || closed_ || close_sent_) return;
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(out_.front().text),
                  [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
}

void WsConnection::OnWritten(beast::error_code ec) {
  writing_ = false;
  Out done = std::move(out_.front());
  out_.pop_front();
  if (done.tokens && generation_) generation_->Ack(done.tokens);
  if (ec) return Close();
  Flush();
  if (going_away_ && !writing_) SendClose();
}

void WsConnection::GoingAway() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->going_away_) return;
    self->going_away_ = true;
    if (self->generation_) self->generation_->Cancel();
    if (!self->writing_) self->SendClose();
  });
}

void WsConnection::SendClose() {
  if (closed_ || close_sent_) return;
  close_sent_ = true;
  ws_.async_close(websocket::close_reason(websocket::close_code::going_away,
                                          "the server is shutting down"),
                  [self = shared_from_this()](beast::error_code) { self->Close(); });
}

void WsConnection::Close() {
  if (closed_) return;
  closed_ = true;
  if (generation_) generation_->Cancel();
  // A warm-up still prefilling keeps going when the session will be parked
  // (the client reconnects to a warmer cache); otherwise it is cancelled.
  if (warmup_ && cache_key_.empty()) warmup_->Cancel();
  for (const Out& o : out_) {
    if (o.tokens && generation_) generation_->Ack(o.tokens);
  }
  if (!writing_) out_.clear();
  // The session outlives the connection for a while under its key. (If a
  // turn is still running, the scheduler finishes with the session before
  // anyone can adopt it: Adopt only hands it to a new turn, which queues
  // behind the cancelled one on the same inference thread.)
  if (!cache_key_.empty() && !sessions_.empty() && service_) {
    ParkedSession parked;
    for (const auto& [service, session] : sessions_) parked.sessions[service->id] = session;
    parked.model_id = service_->id;
    parked.responses = std::move(responses_);
    state_.Park(cache_key_, std::move(parked));
  }
}

}  // namespace glint::server
