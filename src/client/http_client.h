// A small HTTP/1.1 client for glint's own commands (glint edit): one
// keep-alive connection to a glint server, JSON requests, and server-sent
// event streams read as they arrive. Boost.Beast underneath.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace glint::client {

struct Url {
  std::string host;
  std::string port;
  std::string path;  // the base path, without a trailing slash ("" for "/")

  std::string ToString() const;
  std::string HostPort() const;  // "host:port", "[v6]:port"
};

// "http://host[:port][/path]"; the scheme may be left out. https is not
// spoken (put glint behind a proxy that terminates TLS, and talk to it
// from the inside).
Result<Url> ParseUrl(const std::string& text);

class HttpClient {
 public:
  // Connects (timeout for the connection and every later read or write).
  // The error names the URL and says what to do. A non-empty api_key goes
  // with every request as "Authorization: Bearer <key>".
  static Result<std::unique_ptr<HttpClient>> Connect(const Url& url,
                                                     std::chrono::seconds timeout,
                                                     std::string api_key = "");
  ~HttpClient();

  // GET path: the body of a 200 answer, or an error carrying the status and
  // the server's error message.
  Result<std::string> Get(const std::string& path);

  // POSTs a JSON body and reads the answer as server-sent events: on_event
  // gets each event's data (its "data:" lines joined), in order, as it
  // arrives; returning false stops reading (and closes the connection). A
  // non-2xx answer is an error with the server's message.
  Status PostEvents(const std::string& path, const std::string& json_body,
                    const std::function<bool(const std::string& data)>& on_event);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The message of an OpenAI-shaped error body ({"error": {"message": ...}}),
// or the body itself (shortened) when it is not one.
std::string ErrorMessageOf(const std::string& body);

}  // namespace glint::client
