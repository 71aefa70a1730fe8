// A WebSocket client for glint's own commands (glint chat): one connection
// to a server's Responses endpoint, JSON text frames out, messages in.
// Reads wait a bounded time, so the caller can look at an interrupt between
// them (Ctrl-C sends response.cancel while an answer streams).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "client/http_client.h"

namespace glint::client {

class WsClient {
 public:
  // Connects to url + target ("/v1/responses") and upgrades. A non-empty
  // api_key goes on the upgrade as "Authorization: Bearer <key>". The
  // error names the URL and, for a refused upgrade, the server's reason.
  static Result<std::unique_ptr<WsClient>> Connect(const Url& url, const std::string& target,
                                                   const std::string& api_key,
                                                   std::chrono::seconds timeout);
  ~WsClient();

  Status Send(const std::string& text);
  // The next message, or nullopt when `wait` passes first (the read stays
  // pending and the next call continues it). An error once the connection
  // is closed or broken.
  Result<std::optional<std::string>> Read(std::chrono::milliseconds wait);

 private:
  struct Impl;
  explicit WsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace glint::client
