#include "base/log.h"
#include "server/api.h"
#include "server/connection.h"
#include "server/web_assets.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace glint::server {

std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

const char* Reason(int status) {
  return http::obsolete_reason(static_cast<http::status>(status)).data();
}

std::string SseData(const json& j) { return "data: " + DumpJson(j) + "\n\n"; }

// The host name of an "Origin: scheme://host[:port]" and of a "Host:
// host[:port]" header, compared without ports (a proxy may rewrite them).
// No Origin (any non-browser client): same origin.
std::string_view HostName(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t end = authority.find(']');
    return end == std::string_view::npos ? authority : authority.substr(0, end + 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool SameOrigin(std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return false;  // "null" (a sandboxed page) or garbage
  const std::string_view a = HostName(origin.substr(scheme + 3)), b = HostName(host);
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

json ModelJson(const ModelService& m) {
  json j = {{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", "glint"},
            {"context_length", m.n_ctx}};
  if (m.tier) j["tier"] = TierName(*m.tier);
  return j;
}

// glint-auto is a model of its own when both tiers are served.
std::optional<json> AutoModelJson(const ServerState& state) {
  const ModelService* fast = state.FindTier(Tier::kFast);
  const ModelService* smart = state.FindTier(Tier::kSmart);
  if (fast == nullptr || smart == nullptr) return std::nullopt;
  return json{{"id", "glint-auto"}, {"object", "model"}, {"created", 0}, {"owned_by", "glint"},
              {"context_length", std::max(fast->n_ctx, smart->n_ctx)},
              {"routes_to", {fast->id, smart->id}}};
}

// The playground's pages may load only themselves and talk only to this
// server (its WebSocket included): no inline script, nothing from elsewhere.
constexpr const char* kPlaygroundHeaders =
    "Cache-Control: no-cache\r\n"
    "Content-Security-Policy: default-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n";

// A browser cannot set Authorization on a WebSocket; it offers the key as a
// subprotocol instead: "Sec-WebSocket-Protocol: glint, glint-key.<key>".
std::string SubprotocolKey(std::string_view offered) {
  constexpr std::string_view kPrefix = "glint-key.";
  for (std::string_view p : Subprotocols(offered)) {
    if (p.size() > kPrefix.size() && p.substr(0, kPrefix.size()) == kPrefix) {
      return "Bearer " + std::string(p.substr(kPrefix.size()));
    }
  }
  return "";
}

}  // namespace

HttpConnection::HttpConnection(tcp::socket socket, ServerState& state)
    : stream_(std::move(socket)), executor_(stream_.get_executor()), state_(state) {
  state_.connections.fetch_add(1);
}

HttpConnection::~HttpConnection() {
  state_.connections.fetch_sub(1);
  if (generation_) generation_->Cancel();
  if (request_slot_) state_.EndRequest();
}

void HttpConnection::Start() {
  state_.Listen(weak_from_this());
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpConnection::Read, shared_from_this()));
}

void HttpConnection::GoingAway() {
  net::post(executor_, [self = shared_from_this()] {
    if (self->handed_off_) return;
    self->going_away_ = true;
    self->keep_alive_ = false;
    if (!self->generation_ && !self->writing_ && self->out_.empty()) {
      // Waiting for a request that will not be served: close.
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
  });
}

void HttpConnection::Read() {
  parser_.emplace();
  parser_->body_limit(state_.options().max_body_bytes);
  parser_->header_limit(64 * 1024);
  req_ = {};
  headers_.clear();
  key_ = nullptr;
  quota_ = {};
  if (buffer_.size() > 0) return ReadRequest();  // pipelined: it has begun
  // Between requests a connection may stay silent for --idle-timeout; once
  // a request begins, it must arrive whole within --request-timeout, so a
  // client trickling bytes (slowloris) cannot hold a connection for long.
  stream_.expires_after(std::chrono::seconds(state_.options().idle_timeout_s));
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            if (ec) return self->OnRead(ec);
                            self->ReadRequest();
                          });
}

void HttpConnection::ReadRequest() {
  stream_.expires_after(std::chrono::seconds(
      std::min(state_.options().request_timeout_s, state_.options().idle_timeout_s)));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void HttpConnection::OnRead(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  keep_alive_ = false;  // after a malformed request the stream cannot be trusted
  endpoint_ = "other";
  if (ec == http::error::body_limit) {
    return SendError(ApiError{413, "request_too_large",
                              fmt::format("the request body exceeds {} bytes",
                                          state_.options().max_body_bytes)});
  }
  if (ec == http::error::header_limit) {
    return SendError(ApiError{431, "headers_too_large", "the request headers exceed 64 KiB"});
  }
  if (ec) {
    return SendError(BadRequest("bad_http", fmt::format("malformed HTTP request: {}", ec.message())));
  }
  req_ = parser_->release();
  keep_alive_ = req_.keep_alive() && !going_away_;
  Handle();
}

void HttpConnection::Handle() {
  const std::string target(req_.target());
  const std::string path = target.substr(0, target.find('?'));
  const http::verb method = req_.method();
  // Metric labels come from a fixed set: a client must not mint labels.
  static const char* const kEndpoints[] = {"/v1/responses", "/v1/chat/completions",
                                           "/v1/completions", "/health", "/metrics"};
  endpoint_ = path.rfind("/v1/models", 0) == 0 ? "/v1/models" : "other";
  for (const char* e : kEndpoints) {
    if (path == e) endpoint_ = e;
  }

  // The playground (web/, compiled in) is open: the page asks for a key.
  if (method == http::verb::get || method == http::verb::head) {
    if (const EmbeddedFile* f = FindEmbeddedFile(path == "/" ? "/index.html" : path)) {
      endpoint_ = "/ (playground)";
      headers_ += kPlaygroundHeaders;
      return SendText(200, std::string(f->content_type), std::string(f->body),
                      method == http::verb::head);
    }
  }
  // The API needs a key when the server has keys (health, metrics and the
  // echo endpoint do not).
  if (path == "/v1/responses" || path == "/v1/chat/completions" || path == "/v1/completions" ||
      path == "/v1/models" || path.rfind("/v1/models/", 0) == 0) {
    // A browser page from another site must not drive the models through
    // the user's browser (WebSockets and simple POSTs are not held back by
    // CORS): a request that says where it comes from must come from here.
    const auto origin = req_[http::field::origin];
    const auto host = req_[http::field::host];
    if (!SameOrigin(std::string_view(origin.data(), origin.size()),
                    std::string_view(host.data(), host.size()))) {
      return SendError(ApiError{403, "cross_origin",
                                "requests from another site's pages are refused; use the "
                                "playground this server serves, or a client that is not a "
                                "browser page"});
    }
    const auto header = req_[http::field::authorization];
    std::string authorization(header.data(), header.size());
    if (authorization.empty() && websocket::is_upgrade(req_)) {
      const auto offered = req_[http::field::sec_websocket_protocol];
      authorization = SubprotocolKey(std::string_view(offered.data(), offered.size()));
    }
    auto who = Authenticate(state_, authorization);
    if (!who.ok()) {
      headers_ += "WWW-Authenticate: Bearer\r\n";
      return SendError(who.error);
    }
    key_ = *who.value;
  }
  if (path == "/v1/responses" && websocket::is_upgrade(req_)) {
    endpoint_ = "/v1/responses (websocket)";
    if (const bool ready = state_.ready.load(); !ready || state_.draining.load()) {
      if (!ready) headers_ += "Retry-After: 1\r\n";
      return SendError(ApiError{503, "not_ready",
                                ready ? "the server is not accepting sessions"
                                      : "the models are still loading"});
    }
    state_.metrics().CountRequest(endpoint_, 101);
    handed_off_ = true;
    auto ws = std::make_shared<WsConnection>(std::move(stream_), state_, key_);
    ws->Start(std::move(req_));
    return;
  }
  if (path == "/v1/echo" && state_.options().ws_echo && websocket::is_upgrade(req_)) {
    endpoint_ = "/v1/echo";
    handed_off_ = true;
    std::make_shared<EchoConnection>(std::move(stream_), state_)->Start(std::move(req_));
    return;
  }
  if (path == "/health" && method == http::verb::get) {
    const bool ready = state_.ready.load() && !state_.draining.load();
    json models = json::array();
    for (const auto& m : state_.models()) models.push_back(m->id);
    return SendJson(ready ? 200 : 503, {{"status", ready ? "ok" : (state_.draining.load()
                                                                  ? "draining" : "loading")},
                                        {"models", models}});
  }
  if (path == "/metrics" && method == http::verb::get) {
    return SendText(200, "text/plain; version=0.0.4; charset=utf-8",
                    state_.metrics().Render(state_.Gauges()));
  }
  if ((path == "/v1/models" || path.rfind("/v1/models/", 0) == 0) && method == http::verb::get &&
      !state_.ready.load()) {
    headers_ += "Retry-After: 1\r\n";
    return SendError(ApiError{503, "not_ready", "the models are still loading"});
  }
  if (path == "/v1/models" && method == http::verb::get) {
    json data = json::array();
    for (const auto& m : state_.models()) data.push_back(ModelJson(*m));
    if (const auto autos = AutoModelJson(state_)) data.push_back(*autos);
    return SendJson(200, {{"object", "list"}, {"data", data}});
  }
  if (path.rfind("/v1/models/", 0) == 0 && method == http::verb::get) {
    const std::string name = path.substr(11);
    if (ServerState::IsAuto(name) && !name.empty()) {
      if (const auto autos = AutoModelJson(state_)) return SendJson(200, *autos);
    }
    ModelService* m = state_.FindModel(name);
    if (m == nullptr || name.empty() || ServerState::IsAuto(name)) {
      return SendError(ApiError{404, "model_not_found",
                                fmt::format("the model '{}' does not exist", name), "model"});
    }
    return SendJson(200, ModelJson(*m));
  }
  const bool api = path == "/v1/responses" || path == "/v1/chat/completions" ||
                   path == "/v1/completions";
  if (!api) {
    return SendError(ApiError{404, "not_found", fmt::format("no route for {} {}",
                                                            std::string(req_.method_string()), path)});
  }
  if (method != http::verb::post) {
    if (path == "/v1/responses" && method == http::verb::get) {
      return SendError(ApiError{426, "upgrade_required",
                                "GET /v1/responses is the WebSocket endpoint; POST creates a "
                                "response over HTTP"});
    }
    return SendError(ApiError{405, "method_not_allowed", fmt::format("{} takes POST", path)});
  }
  if (const bool ready = state_.ready.load(); !ready || state_.draining.load()) {
    if (!ready) headers_ += "Retry-After: 1\r\n";
    return SendError(ApiError{503, "not_ready",
                              ready ? "the server is not accepting requests"
                                    : "the models are still loading"});
  }
  auto body = ParseJson(req_.body());
  if (!body.ok()) return SendError(body.error);
  if (path == "/v1/responses") return HandleResponses(*body.value);
  if (path == "/v1/chat/completions") return HandleChat(*body.value);
  return HandleCompletion(*body.value);
}

void HttpConnection::HandleResponses(const json& body) {
  auto parsed = ParseResponseRequest(body);
  if (!parsed.ok()) return SendError(parsed.error);
  const ResponseRequest& request = *parsed.value;
  std::optional<StoredResponse> previous;
  if (!request.previous_response_id.empty()) {
    previous = state_.Lookup(request.previous_response_id);
    if (!previous) {
      return SendError(BadRequest("previous_response_not_found",
                                  fmt::format("no stored response '{}' (responses are kept for "
                                              "{} s when created with store: true)",
                                              request.previous_response_id,
                                              state_.options().session_ttl_s),
                                  "previous_response_id"));
    }
  }
  auto turn = PrepareResponseTurn(state_, request, previous ? &*previous : nullptr, key_);
  if (!turn.ok()) return SendError(turn.error);
  if (!Admit(*turn.value, request.params, request.generate)) return;
  auto events = std::make_shared<ResponseEvents>(
      state_.NewId("resp"), service_->id, request,
      [this](const char* prefix) { return state_.NewId(prefix); });
  if (!turn.value->routing.is_null()) events->SetRouting(turn.value->routing);
  const bool stream = request.params.stream;
  if (stream) {
    BeginStream();
    for (const json& ev : events->Start()) StreamEvent(ev);
  }
  auto prompt = std::make_shared<std::vector<TokenId>>(turn.value->prompt);
  auto conversation = turn.value->conversation;
  const bool store = request.store;
  const bool generate = request.generate;
  Generation::Handlers h;
  auto self = shared_from_this();
  h.on_text = [self, events, stream](const std::string& text, int32_t tokens) {
    if (!stream) return self->generation_->Ack(tokens);
    auto evs = events->Text(text);
    for (size_t i = 0; i < evs.size(); ++i) {
      self->StreamEvent(evs[i], i + 1 == evs.size() ? tokens : 0);
    }
  };
  h.on_done = [self, events, stream, prompt, conversation, store, generate](GenerationResult r) {
    if (!r.job.status.ok()) {
      const ApiError e = EngineError(r.job.status);
      if (!stream) return self->SendError(e);
      for (const json& ev : events->Fail(e)) self->StreamEvent(ev);
      self->status_ = e.status;
      return self->EndStream();
    }
    auto evs = events->Finish(r);
    if (store) {
      self->state_.Store(MakeStored(events->id(), *self->service_, *prompt, r, generate,
                                    conversation, events->output()));
    }
    if (!stream) return self->SendJson(200, events->Response());
    for (const json& ev : evs) self->StreamEvent(ev);
    self->EndStream();
  };
  h.on_job_done = Settler();
  generation_ = Generation::Start(state_, *service_, stream_.get_executor(), pooled_,
                                  turn.value->prompt, request.params, request.generate,
                                  !request.tools.empty() && request.tool_choice != "none",
                                  std::move(h));
  WatchForDisconnect();
}

void HttpConnection::HandleChat(const json& body) {
  auto parsed = ParseChatRequest(body);
  if (!parsed.ok()) return SendError(parsed.error);
  const ChatRequest& request = *parsed.value;
  auto turn = PrepareChatTurn(state_, request, key_);
  if (!turn.ok()) return SendError(turn.error);
  if (!Admit(*turn.value, request.params, true)) return;
  const std::string id = state_.NewId("chatcmpl");
  const std::string model = service_->id;
  const int64_t created = UnixSeconds();
  const bool stream = request.params.stream;
  const bool tools = !request.tools.empty() && request.tool_choice != "none";
  const bool include_usage = request.include_usage;
  const json routing = turn.value->routing;
  if (stream) {
    BeginStream();
    json first = ChatChunk(id, model, created, {{"role", "assistant"}, {"content", ""}}, nullptr);
    if (!routing.is_null()) first["routing"] = routing;
    StreamData(SseData(first), 0);
  }
  Generation::Handlers h;
  auto self = shared_from_this();
  h.on_text = [self, stream, id, model, created](const std::string& text, int32_t tokens) {
    if (!stream) return self->generation_->Ack(tokens);
    self->StreamData(SseData(ChatChunk(id, model, created, {{"content", text}}, nullptr)), tokens);
  };
  h.on_done = [self, stream, id, model, created, tools, include_usage,
                routing](GenerationResult r) {
    if (!r.job.status.ok()) return self->FailCompletion(EngineError(r.job.status), stream);
    json body = ChatCompletionBody(id, model, created, r, tools);
    if (!routing.is_null()) body["routing"] = routing;
    if (!stream) return self->SendJson(200, body);
    const json& choice = body["choices"][0];
    json delta = json::object();
    if (choice["message"].contains("tool_calls")) {
      json calls = choice["message"]["tool_calls"];
      for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
      delta["tool_calls"] = calls;
    }
    self->StreamData(SseData(ChatChunk(id, model, created, delta, choice["finish_reason"])), 0);
    if (include_usage) {
      json usage = ChatChunk(id, model, created, json::object(), nullptr);
      usage["choices"] = json::array();
      usage["usage"] = body["usage"];
      self->StreamData(SseData(usage), 0);
    }
    self->StreamData("data: [DONE]\n\n", 0);
    self->EndStream();
  };
  h.on_job_done = Settler();
  generation_ = Generation::Start(state_, *service_, stream_.get_executor(), pooled_,
                                  turn.value->prompt, request.params, true, tools, std::move(h));
  WatchForDisconnect();
}

void HttpConnection::HandleCompletion(const json& body) {
  auto parsed = ParseCompletionRequest(body);
  if (!parsed.ok()) return SendError(parsed.error);
  const CompletionRequest& request = *parsed.value;
  auto turn = PrepareCompletion(state_, request, key_);
  if (!turn.ok()) return SendError(turn.error);
  if (!Admit(*turn.value, request.params, true)) return;
  const std::string id = state_.NewId("cmpl");
  const std::string model = service_->id;
  const int64_t created = UnixSeconds();
  const bool stream = request.params.stream;
  const std::string echo = request.echo ? request.prompt : "";
  const json routing = turn.value->routing;
  if (stream) {
    BeginStream();
    if (!echo.empty() || !routing.is_null()) {
      json first = CompletionBody(id, model, created, echo, nullptr, nullptr);
      if (!routing.is_null()) first["routing"] = routing;
      StreamData(SseData(first), 0);
    }
  }
  Generation::Handlers h;
  auto self = shared_from_this();
  h.on_text = [self, stream, id, model, created](const std::string& text, int32_t tokens) {
    if (!stream) return self->generation_->Ack(tokens);
    self->StreamData(SseData(CompletionBody(id, model, created, text, nullptr, nullptr)), tokens);
  };
  h.on_done = [self, stream, id, model, created, echo, routing](GenerationResult r) {
    if (!r.job.status.ok()) return self->FailCompletion(EngineError(r.job.status), stream);
    const std::string finish = r.finish_reason == "length" ? "length" : "stop";
    if (!stream) {
      json body = CompletionBody(id, model, created, echo + r.output, finish, &r.job.stats);
      if (!routing.is_null()) body["routing"] = routing;
      return self->SendJson(200, body);
    }
    self->StreamData(SseData(CompletionBody(id, model, created, "", finish, &r.job.stats)), 0);
    self->StreamData("data: [DONE]\n\n", 0);
    self->EndStream();
  };
  h.on_job_done = Settler();
  generation_ = Generation::Start(state_, *service_, stream_.get_executor(), pooled_,
                                  turn.value->prompt, request.params, true, false, std::move(h));
  WatchForDisconnect();
}

bool HttpConnection::Admit(const PreparedTurn& turn, const GenerationParams& params,
                           bool generate) {
  if (!state_.TryBeginRequest()) {
    SendError(ApiError{503, "server_overloaded", "too many requests in flight; retry"});
    return false;
  }
  if (state_.draining.load()) {
    // Draining began while this request was being read and tokenized.
    state_.EndRequest();
    SendError(ApiError{503, "server_shutting_down", "the server is shutting down"});
    return false;
  }
  quota_ = TakeQuota(state_, key_, turn, params, generate);
  for (const auto& [name, value] : RateLimitHeaders(quota_.admission)) {
    headers_ += fmt::format("{}: {}\r\n", name, value);
  }
  if (quota_.error) {
    state_.EndRequest();
    SendError(*quota_.error);
    return false;
  }
  request_slot_ = true;
  service_ = turn.service;
  if (!turn.routing.is_null()) {
    // The decision in a header too, for clients that read no body fields.
    std::string reason = turn.routing["reason"].get<std::string>();
    std::erase_if(reason, [](char c) { return c == '"' || c == '\\' || c < 0x20 || c > 0x7e; });
    headers_ += fmt::format("x-glint-route: {}; rule={}; reason=\"{}\"\r\n", service_->id,
                            turn.routing["rule"].get<std::string>(), reason);
  }
  pooled_ = service_->pool->Acquire(turn.prompt);
  return true;
}

std::function<void(const engine::JobResult&)> HttpConnection::Settler() {
  return [state = &state_, quota = quota_](const engine::JobResult& r) {
    SettleQuota(*state, quota, r.stats);
  };
}

void HttpConnection::FailCompletion(const ApiError& e, bool streaming) {
  if (!streaming) return SendError(e);
  // The stream has begun with 200: the error goes in the stream.
  status_ = e.status;
  StreamData(SseData(e.ToJson()), 0);
  EndStream();
}

void HttpConnection::SendJson(int status, const json& body) {
  SendText(status, "application/json", DumpJson(body));
}

void HttpConnection::SendError(const ApiError& e) {
  if (e.status >= 500) {
    LOG_WARNING("{} -> {} {}", endpoint_, e.status, e.message);
  }
  SendJson(e.status, e.ToJson());
}

void HttpConnection::SendText(int status, std::string content_type, std::string body,
                              bool head_only) {
  status_ = status;
  std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nServer: glint\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
      status, Reason(status), content_type, body.size(), headers_,
      keep_alive_ ? "" : "Connection: close\r\n");
  out_.push_back({head_only ? head : head + body, 0, true});
  Flush();
}

void HttpConnection::BeginStream() {
  status_ = 200;
  out_.push_back({fmt::format("HTTP/1.1 200 OK\r\nServer: glint\r\nContent-Type: "
                              "text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: "
                              "chunked\r\n{}{}\r\n",
                              headers_, keep_alive_ ? "" : "Connection: close\r\n"),
                  0, false});
  Flush();
}

void HttpConnection::StreamEvent(const json& event, int32_t ack_tokens) {
  StreamData(fmt::format("event: {}\ndata: {}\n\n", event.value("type", ""), DumpJson(event)),
             ack_tokens);
}

void HttpConnection::StreamData(std::string data, int32_t ack_tokens) {
  out_.push_back({fmt::format("{:x}\r\n{}\r\n", data.size(), data), ack_tokens, false});
  Flush();
}

void HttpConnection::EndStream() {
  out_.push_back({"0\r\n\r\n", 0, true});
  Flush();
}

void HttpConnection::Flush() {
  if (writing_ || out_.empty()) return;
  if (broken_) {
    // The client is gone: nothing more goes out; acknowledge so the job
    // is not held back, and let the generation's cancellation finish it.
    for (const Out& o : out_) {
      if (o.tokens && generation_) generation_->Ack(o.tokens);
    }
    const bool last = out_.back().last;
    out_.clear();
    if (last) Finish(499);
    return;
  }
  writing_ = true;
  stream_.expires_after(std::chrono::seconds(state_.options().idle_timeout_s));
  net::async_write(stream_, net::buffer(out_.front().bytes),
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
}

void HttpConnection::OnWritten(beast::error_code ec) {
  writing_ = false;
  Out done = std::move(out_.front());
  out_.pop_front();
  if (done.tokens && generation_) generation_->Ack(done.tokens);
  if (ec) {
    broken_ = true;
    if (generation_) generation_->Cancel();
    out_.push_front({});  // Flush drops the queue and finishes if it held the end
    out_.front().last = done.last;
    return Flush();
  }
  if (done.last) return Finish(status_);
  Flush();
}

void HttpConnection::WatchForDisconnect() {
  // A client that goes away while its request is being prefilled has
  // nothing to read yet; its socket turns readable with end-of-file.
  // (The wait can outlive its request: on a kept-alive connection it may
  // fire for the next request's bytes, so it acts only for its own.)
  stream_.socket().async_wait(tcp::socket::wait_read,
                              [self = shared_from_this(), g = generation_](beast::error_code ec) {
    if (ec || !g || self->generation_ != g) return;
    beast::error_code avail_ec;
    if (self->stream_.socket().available(avail_ec) == 0 || avail_ec) {
      self->broken_ = true;
      self->generation_->Cancel();
    }
  });
}

void HttpConnection::Finish(int status) {
  state_.metrics().CountRequest(endpoint_, status);
  if (request_slot_) {
    state_.EndRequest();
    request_slot_ = false;
  }
  if (pooled_) {
    service_->pool->Release(std::move(pooled_));
    pooled_.reset();
  }
  generation_.reset();
  if (keep_alive_ && !broken_ && !going_away_) return Read();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace glint::server
