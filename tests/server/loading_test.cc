// `glint serve` listens before it loads its models: a server created
// without models answers GET /health 503 "loading", the API 503 not_ready
// (with Retry-After), until Install gives it the models. Raw HTTP over real
// sockets, as a load balancer's readiness check or a client would send it.
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/wire_exercise.h"

namespace glint::server {
namespace {

using wire::Ms;

ServerOptions Options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.n_threads = 1;
  o.parallel = 1;
  o.n_ctx = wire::kContext;
  o.http_sessions = 1;
  o.drain_timeout_s = 1;
  return o;
}

// The whole answer to one request on a fresh connection: until the server
// closes (the request asks it to), or until `until` arrives.
std::string Ask(int port, const std::string& request, std::string_view until = {}) {
  wire::Conn c(port);
  EXPECT_TRUE(c.ok());
  c.Send(request);
  std::string out;
  const bool closed = c.Read(&out, Ms(5000), Ms(5000), Ms(20000), until);
  EXPECT_TRUE(closed || (!until.empty() && out.find(until) != std::string::npos))
      << "no whole answer: " << out;
  return out;
}

std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::vector<std::unique_ptr<ModelService>> TinyModel(const ServerOptions& o) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("glint-loading-" + std::to_string(::getpid()) + ".gguf"))
          .string();
  std::vector<std::unique_ptr<ModelService>> models;
  const Status st = wire::WriteTinyModel(path, false);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto svc = LoadModelService(path, o, Tier::kFast);
  std::error_code ignored;
  std::filesystem::remove(path, ignored);  // mapped already
  EXPECT_TRUE(svc.ok()) << svc.status().ToString();
  if (svc.ok()) models.push_back(std::move(svc).value());
  return models;
}

TEST(ServerLoading, AnswersNotReadyUntilTheModelsAreInstalled) {
  const ServerOptions o = Options();
  auto created = Server::Create(o, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Server& s = *created.value();
  std::thread run([&s] { s.Run(1); });
  const int port = s.port();
  const std::string chat =
      R"({"model":"glint-fast","messages":[{"role":"user","content":"hi"}],"max_tokens":2})";

  std::string r = Ask(port, Get("/health"));
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find(R"("status":"loading")"), std::string::npos) << r;
  r = Ask(port, Post("/v1/chat/completions", chat));
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("not_ready"), std::string::npos) << r;
  EXPECT_NE(r.find("Retry-After: 1"), std::string::npos) << r;
  r = Ask(port, Get("/v1/models"));
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("still loading"), std::string::npos) << r;
  r = Ask(port,
          "GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
          "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
          "13\r\n\r\n",
          "}}");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("still loading"), std::string::npos) << r;
  r = Ask(port, Get("/metrics"));
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("\nglint_ready 0\n"), std::string::npos) << r;

  auto models = TinyModel(o);
  ASSERT_EQ(models.size(), 1u);
  ASSERT_TRUE(s.Install(models));
  EXPECT_TRUE(models.empty());

  r = Ask(port, Get("/health"));
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find(R"("models":["glint-fast"])"), std::string::npos) << r;
  r = Ask(port, Post("/v1/chat/completions", chat));
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("chat.completion"), std::string::npos) << r;
  r = Ask(port, Get("/metrics"));
  EXPECT_NE(r.find("\nglint_ready 1\n"), std::string::npos) << r;

  s.Stop();
  run.join();
}

// A stop (SIGTERM while loading) wins over a later Install, which then
// leaves the models to the caller instead of serving them.
TEST(ServerLoading, InstallAfterStopIsRefused) {
  const ServerOptions o = Options();
  auto created = Server::Create(o, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Server& s = *created.value();
  s.Stop();
  auto models = TinyModel(o);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_FALSE(s.Install(models));
  EXPECT_EQ(models.size(), 1u);
  EXPECT_FALSE(s.state().ready.load());
  EXPECT_TRUE(s.state().models().empty());
}

}  // namespace
}  // namespace glint::server
