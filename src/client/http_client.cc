#include "client/http_client.h"

#include <cstdint>
#include <limits>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace glint::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string Url::HostPort() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

std::string Url::ToString() const { return "http://" + HostPort() + path; }

Result<Url> ParseUrl(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("https://", 0) == 0) {
    return Error(StatusCode::kInvalidArgument,
                 "'{}': glint speaks plain http; reach a TLS endpoint through its proxy", text);
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (rest.find("://") != std::string::npos) {
    return Error(StatusCode::kInvalidArgument, "'{}' is not an http:// URL", text);
  }
  Url url;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    url.path = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  }
  // [v6]:port, host:port, host
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return Error(StatusCode::kInvalidArgument, "'{}': unclosed '['", text);
    url.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return Error(StatusCode::kInvalidArgument, "'{}': bad port", text);
    url.port = rest.empty() ? "80" : rest.substr(1);
  } else {
    const size_t colon = rest.rfind(':');
    url.host = rest.substr(0, colon);
    url.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  }
  if (url.host.empty()) return Error(StatusCode::kInvalidArgument, "'{}' has no host", text);
  if (url.port.empty() || url.port.size() > 5 ||
      url.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(url.port) == 0 ||
      std::stoi(url.port) > 65535) {
    return Error(StatusCode::kInvalidArgument, "'{}' has no valid port", text);
  }
  return url;
}

std::string ErrorMessageOf(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object()) {
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) return m->get<std::string>();
    }
  }
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

struct HttpClient::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  Url url;
  std::chrono::seconds timeout{60};
  std::string api_key;
  bool open = false;

  Status Reconnect() {
    beast::error_code ec;
    stream.socket().close(ec);
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(url.host, url.port, ec);
    if (ec) {
      return Error(StatusCode::kUnavailable, "cannot resolve {}: {}", url.ToString(), ec.message());
    }
    stream.expires_after(timeout);
    stream.connect(results, ec);
    if (ec) {
      return Error(StatusCode::kUnavailable,
                   "cannot reach the glint server at {}: {} (is `glint serve` running there?)",
                   url.ToString(), ec.message());
    }
    stream.socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    open = true;
    return Status::Ok();
  }

  http::request<http::string_body> Request(http::verb verb, const std::string& path) {
    http::request<http::string_body> req{verb, url.path + path, 11};
    req.set(http::field::host, url.HostPort());
    req.set(http::field::user_agent, "glint");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
    req.keep_alive(true);
    return req;
  }

  // Writes req, reconnecting once if a kept-alive connection was closed.
  Status Send(http::request<http::string_body>& req) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!open) RETURN_IF_ERROR(Reconnect());
      beast::error_code ec;
      stream.expires_after(timeout);
      http::write(stream, req, ec);
      if (!ec) return Status::Ok();
      open = false;
      if (attempt == 1) {
        return Error(StatusCode::kUnavailable, "sending to {} failed: {}", url.ToString(),
                     ec.message());
      }
    }
    return Status::Ok();
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(const Url& url,
                                                        std::chrono::seconds timeout,
                                                        std::string api_key) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  impl->timeout = timeout;
  impl->api_key = std::move(api_key);
  RETURN_IF_ERROR(impl->Reconnect());
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<std::string> HttpClient::Get(const std::string& path) {
  auto req = impl_->Request(http::verb::get, path);
  RETURN_IF_ERROR(impl_->Send(req));
  http::response<http::string_body> res;
  beast::error_code ec;
  impl_->stream.expires_after(impl_->timeout);
  http::read(impl_->stream, impl_->buffer, res, ec);
  if (ec) {
    impl_->open = false;
    return Error(StatusCode::kUnavailable, "reading from {} failed: {}", impl_->url.ToString(),
                 ec.message());
  }
  if (!res.keep_alive()) impl_->open = false;
  if (res.result_int() / 100 != 2) {
    return Error(StatusCode::kUnavailable, "{} {}: {}", res.result_int(), path,
                 ErrorMessageOf(res.body()));
  }
  return std::move(res.body());
}

Status HttpClient::PostEvents(const std::string& path, const std::string& json_body,
                              const std::function<bool(const std::string&)>& on_event) {
  auto req = impl_->Request(http::verb::post, path);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "text/event-stream");
  req.body() = json_body;
  req.prepare_payload();
  RETURN_IF_ERROR(impl_->Send(req));

  http::response_parser<http::buffer_body> parser;
  // A stream has no length limit. (Not boost::none: Boost 1.74 compares
  // each chunk's length against the empty optional and always fails.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code ec;
  auto& stream = impl_->stream;
  auto& buffer = impl_->buffer;
  stream.expires_after(impl_->timeout);
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    impl_->open = false;
    return Error(StatusCode::kUnavailable, "reading from {} failed: {}", impl_->url.ToString(),
                 ec.message());
  }
  const int status = parser.get().result_int();
  // The body as it arrives; events end at a blank line.
  std::string pending, whole;
  char chunk[16384];
  auto emit_events = [&]() -> bool {
    size_t end;
    while ((end = pending.find("\n\n")) != std::string::npos) {
      std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      std::string data;
      size_t pos = 0;
      while (pos <= event.size()) {
        size_t nl = event.find('\n', pos);
        if (nl == std::string::npos) nl = event.size();
        std::string line = event.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("data:", 0) == 0) {
          if (!data.empty()) data += '\n';
          data += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
        }
        pos = nl + 1;
      }
      if (!data.empty() && !on_event(data)) return false;
    }
    return true;
  };
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    stream.expires_after(impl_->timeout);
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      impl_->open = false;
      return Error(StatusCode::kUnavailable, "the answer from {} broke off: {}",
                   impl_->url.ToString(), ec.message());
    }
    const size_t got = sizeof(chunk) - parser.get().body().size;
    if (status / 100 != 2) {
      whole.append(chunk, got);
      continue;
    }
    pending.append(chunk, got);
    // Normalise CRLF line ends so that events split on "\n\n".
    for (size_t p; (p = pending.find("\r\n")) != std::string::npos;) pending.erase(p, 1);
    if (!emit_events()) {
      impl_->open = false;
      beast::error_code ignored;
      stream.socket().close(ignored);
      return Status::Ok();
    }
  }
  if (!parser.get().keep_alive()) impl_->open = false;
  if (status / 100 != 2) {
    return Error(StatusCode::kUnavailable, "{}", ErrorMessageOf(whole));
  }
  pending += "\n\n";
  emit_events();
  return Status::Ok();
}

}  // namespace glint::client
