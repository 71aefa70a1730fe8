// Connections: one object per accepted socket, living on its own strand.
// HttpConnection answers requests one at a time (keep-alive, SSE streams)
// and hands a WebSocket upgrade of /v1/responses to WsConnection.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "server/api.h"
#include "server/generation.h"
#include "server/responses.h"
#include "server/service.h"

namespace glint::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string DumpJson(const json& j);  // never throws (invalid UTF-8 is replaced)

class HttpConnection : public std::enable_shared_from_this<HttpConnection>,
                       public ShutdownListener {
 public:
  HttpConnection(tcp::socket socket, ServerState& state);
  ~HttpConnection();
  void Start();
  // The server stops: an idle connection closes now, a busy one after its
  // response (Connection: close).
  void GoingAway() override;

 private:
  using Request = http::request<http::string_body>;

  void Read();
  void ReadRequest();
  void OnRead(beast::error_code ec);
  void Handle();
  void HandleResponses(const json& body);
  void HandleChat(const json& body);
  void HandleCompletion(const json& body);
  // Takes a request slot, the key's quota and a pooled session for the
  // turn, or answers 503, 403 or 429.
  bool Admit(const PreparedTurn& turn, const GenerationParams& params, bool generate);
  // Gives the quota's unused part back when the job ends.
  std::function<void(const engine::JobResult&)> Settler();
  // A chat or text completion that failed (inside the stream once begun).
  void FailCompletion(const ApiError& e, bool streaming);

  // Whole responses.
  void SendJson(int status, const json& body);
  void SendError(const ApiError& e);
  // head_only: a HEAD request's answer (the headers of the GET, no body).
  void SendText(int status, std::string content_type, std::string body, bool head_only = false);
  // Server-sent events: the header, then one chunk per Write, then the end.
  void BeginStream();
  void StreamEvent(const json& event, int32_t ack_tokens = 0);
  void StreamData(std::string data, int32_t ack_tokens);
  void EndStream();
  void Flush();
  void OnWritten(beast::error_code ec);
  void WatchForDisconnect();
  void Finish(int status);  // request done: count it, read the next one or close

  beast::tcp_stream stream_;
  net::any_io_executor executor_;  // the strand (stream_ moves away on an upgrade)
  ServerState& state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool going_away_ = false;  // the server stops: no request after this one
  bool handed_off_ = false;  // the socket went to a WebSocket connection
  Request req_;
  std::string endpoint_;   // for the metrics
  std::string headers_;    // extra response header lines ("name: value\r\n"...)
  const ApiKey* key_ = nullptr;  // the caller's key (null: no keys file)
  Quota quota_;                  // what the current request took of key_'s limits
  bool keep_alive_ = false;
  bool request_slot_ = false;
  // Output queue: raw bytes, each with the tokens it acknowledges.
  struct Out {
    std::string bytes;
    int32_t tokens = 0;
    bool last = false;  // the response ends with it
  };
  std::deque<Out> out_;
  bool writing_ = false;
  bool broken_ = false;
  int status_ = 200;
  std::shared_ptr<Generation> generation_;
  std::shared_ptr<engine::Session> pooled_;  // returned to the pool when done
  ModelService* service_ = nullptr;
};

class WsConnection : public std::enable_shared_from_this<WsConnection>,
                     public ShutdownListener {
 public:
  WsConnection(beast::tcp_stream stream, ServerState& state, const ApiKey* key);
  ~WsConnection();
  void Start(http::request<http::string_body> upgrade);
  // The server stops: a close frame (1001, going away) once what is queued
  // has been written.
  void GoingAway() override;

 private:
  void Read();
  void OnRead(beast::error_code ec, size_t bytes);
  void HandleCreate(const json& body);
  void StartWarmUp(std::shared_ptr<std::vector<TokenId>> prompt,
                   std::shared_ptr<const Conversation> conversation, bool store,
                   const Quota& quota);
  // Keeps a response for previous_response_id (and server-wide with store).
  void Remember(StoredResponse stored, bool store);
  void Send(const json& event, int32_t ack_tokens = 0);
  // An error event; `extra` adds fields (retry_after_seconds).
  void SendError(const ApiError& e, json extra = nullptr);
  void Flush();
  void OnWritten(beast::error_code ec);
  void Close();  // cancels the active turn and parks the session

  websocket::stream<beast::tcp_stream> ws_;
  ServerState& state_;
  const ApiKey* key_;  // the key the upgrade presented (null: no keys file)
  beast::flat_buffer buffer_;
  struct Out {
    std::string text;
    int32_t tokens = 0;
  };
  std::deque<Out> out_;
  bool writing_ = false;
  bool closed_ = false;
  bool going_away_ = false;  // a close frame follows the queued messages
  bool close_sent_ = false;
  void SendClose();  // the close frame (1001), once
  bool session_slot_ = false;
  bool request_slot_ = false;
  // The conversation this connection holds: a KV cache per model it used
  // (a turn on another tier keeps the first model's cache for coming back)
  // and its responses.
  std::shared_ptr<engine::Session> SessionFor(ModelService* service);
  ModelService* service_ = nullptr;  // the model of the latest turn
  std::map<ModelService*, std::shared_ptr<engine::Session>> sessions_;
  std::map<std::string, StoredResponse> responses_;
  std::deque<std::string> response_order_;  // oldest first, to bound responses_
  std::string cache_key_;
  std::shared_ptr<Generation> generation_;  // the response being streamed
  std::shared_ptr<Generation> warmup_;      // a warm-up's prefill, answered already
  int warmup_slots_ = 0;     // request slots held by warm-up prefills
  uint64_t warmup_seq_ = 0;
  std::unique_ptr<ResponseEvents> events_;
};

// A WebSocket that echoes every message back (GET /v1/echo, only with
// `glint serve --ws-echo`): the same Beast stream and options as the
// Responses endpoint, for the Autobahn conformance suite.
class EchoConnection : public std::enable_shared_from_this<EchoConnection> {
 public:
  EchoConnection(beast::tcp_stream stream, ServerState& state);
  ~EchoConnection();
  void Start(http::request<http::string_body> upgrade);

 private:
  void Read();

  websocket::stream<beast::tcp_stream> ws_;
  ServerState& state_;
  beast::flat_buffer buffer_;
};

// Options shared by every WebSocket the server accepts; a non-empty
// subprotocol is the one the handshake answers with.
void ConfigureWebSocket(websocket::stream<beast::tcp_stream>& ws, const ServerOptions& options,
                        std::string subprotocol = "");

// The entries of a Sec-WebSocket-Protocol header ("glint, glint-key.abc").
std::vector<std::string_view> Subprotocols(std::string_view header);

// The subprotocol glint answers when a client offers it: the playground
// offers "glint" beside its key (a browser fails a handshake that offered
// subprotocols and got none back). Never the key itself.
inline constexpr std::string_view kSubprotocol = "glint";

}  // namespace glint::server
