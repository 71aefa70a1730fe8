// A glint server inside this process, on a free loopback port: what
// glint edit and glint chat talk to when no --server is given.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "client/http_client.h"
#include "server/server.h"

namespace glint::cli {

class LocalServer {
 public:
  // A model to load: a spec (fast, smart or a path) and the tier it serves.
  using Spec = std::pair<std::string, std::optional<server::Tier>>;

  // Loads the models (saying so on stderr when `verbose`) and serves them.
  static Result<std::unique_ptr<LocalServer>> Start(const std::vector<Spec>& models, int threads,
                                                    bool verbose);
  ~LocalServer();

  client::Url url() const;
  // The id of the first model ("glint-fast").
  const std::string& model_id() const { return model_id_; }

 private:
  LocalServer() = default;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  std::string model_id_;
};

}  // namespace glint::cli
