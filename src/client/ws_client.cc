#include "client/ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace glint::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  Url url;
  bool reading = false;                   // an async read is pending
  std::optional<beast::error_code> done;  // the pending read finished

  // Runs the event loop until `finished` (an async operation's flag).
  // Every operation is asynchronous, so a write and the pending read never
  // step on each other, and the stream's timeout applies to all of them.
  void RunUntil(const bool& finished) {
    ioc.restart();
    while (!finished && ioc.run_one() > 0) {
    }
  }
};

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().shutdown(tcp::socket::shutdown_both, ec);
}

Result<std::unique_ptr<WsClient>> WsClient::Connect(const Url& url, const std::string& target,
                                                    const std::string& api_key,
                                                    std::chrono::seconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto results = resolver.resolve(url.host, url.port, ec);
  if (ec) {
    return Error(StatusCode::kUnavailable, "cannot resolve {}: {}", url.ToString(), ec.message());
  }
  auto& tcp_stream = beast::get_lowest_layer(impl->ws);
  tcp_stream.expires_after(timeout);
  bool finished = false;
  tcp_stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    ec = e;
    finished = true;
  });
  impl->RunUntil(finished);
  if (ec) {
    return Error(StatusCode::kUnavailable,
                 "cannot reach the glint server at {}: {} (is `glint serve` running there?)",
                 url.ToString(), ec.message());
  }
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);
  impl->ws.set_option(websocket::stream_base::decorator([api_key](websocket::request_type& req) {
    req.set(http::field::user_agent, "glint");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
  }));
  websocket::response_type res;
  finished = false;
  impl->ws.async_handshake(res, url.HostPort(), url.path + target, [&](beast::error_code e) {
    ec = e;
    finished = true;
  });
  impl->RunUntil(finished);
  if (ec == websocket::error::upgrade_declined) {
    // Boost 1.74 does not hand back the refusal; the same request without
    // the upgrade tells why (a missing key, a server that is shutting down).
    auto http = HttpClient::Connect(url, timeout, api_key);
    auto why = http.ok() ? http.value()->Get("/v1/models") : Result<std::string>(http.status());
    return Error(StatusCode::kUnavailable, "{} refused the WebSocket session{}", url.ToString(),
                 why.ok() ? "" : ": " + why.status().message());
  }
  if (ec) {
    return Error(StatusCode::kUnavailable, "WebSocket handshake with {} failed: {}",
                 url.ToString(), ec.message());
  }
  // From here on reads wait as long as an answer takes; the server closes
  // idle sessions itself.
  tcp_stream.expires_never();
  impl->ws.read_message_max(64u << 20);
  return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
}

Status WsClient::Send(const std::string& text) {
  beast::error_code ec;
  bool finished = false;
  impl_->ws.text(true);
  impl_->ws.async_write(net::buffer(text), [&](beast::error_code e, size_t) {
    ec = e;
    finished = true;
  });
  impl_->RunUntil(finished);
  if (ec) {
    return Error(StatusCode::kUnavailable, "sending to {} failed: {}", impl_->url.ToString(),
                 ec.message());
  }
  return Status::Ok();
}

Result<std::optional<std::string>> WsClient::Read(std::chrono::milliseconds wait) {
  Impl& m = *impl_;
  if (!m.reading) {
    m.reading = true;
    m.done.reset();
    m.ws.async_read(m.buffer, [&m](beast::error_code ec, size_t) { m.done = ec; });
  }
  m.ioc.restart();
  m.ioc.run_for(wait);
  if (!m.done) return std::optional<std::string>();
  m.reading = false;
  if (*m.done) {
    const beast::error_code ec = *m.done;
    if (ec == websocket::error::closed) {
      return Error(StatusCode::kUnavailable, "the server at {} closed the session ({})",
                   m.url.ToString(), m.ws.reason().reason.c_str());
    }
    return Error(StatusCode::kUnavailable, "the connection to {} broke: {}", m.url.ToString(),
                 ec.message());
  }
  std::string text = beast::buffers_to_string(m.buffer.data());
  m.buffer.consume(m.buffer.size());
  return std::optional<std::string>(std::move(text));
}

}  // namespace glint::client
