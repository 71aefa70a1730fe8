// glint's HTTP client: URL parsing, error bodies, and Get/PostEvents against
// a tiny scripted server in this process (one thread, plain sockets, one
// canned answer per connection).
#include "client/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace glint::client {
namespace {

// --- ParseUrl ---

TEST(ParseUrl, HostAndPort) {
  auto u = ParseUrl("localhost:8080");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->ToString(), "http://localhost:8080");
}

TEST(ParseUrl, SchemeAndBasePath) {
  auto u = ParseUrl("http://127.0.0.1:9000/base/");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->path, "/base");  // no trailing slash
  EXPECT_EQ(u->ToString(), "http://127.0.0.1:9000/base");

  auto deep = ParseUrl("http://h:1/a/b//");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->path, "/a/b");

  auto root = ParseUrl("http://h:1/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->path, "");
}

TEST(ParseUrl, DefaultPortIs80) {
  auto u = ParseUrl("http://example.com");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->path, "");

  auto bare = ParseUrl("example.com/v");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "example.com");
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->path, "/v");
}

TEST(ParseUrl, BracketedIpv6) {
  auto u = ParseUrl("[::1]:8080");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->ToString(), "http://[::1]:8080");
  EXPECT_EQ(u->port, "8080");

  auto s = ParseUrl("http://[fe80::1]/x");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->host, "fe80::1");
  EXPECT_EQ(s->port, "80");
  EXPECT_EQ(s->path, "/x");

  EXPECT_FALSE(ParseUrl("[::1").ok());       // unclosed
  EXPECT_FALSE(ParseUrl("[::1]8080").ok());  // no colon before the port
  EXPECT_FALSE(ParseUrl("[::1]:").ok());     // empty port
  EXPECT_FALSE(ParseUrl("[]:80").ok());      // empty host
}

TEST(ParseUrl, HttpsIsRefusedWithAReason) {
  auto u = ParseUrl("https://example.com");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(u.status().message().find("https://example.com"), std::string::npos);
  EXPECT_NE(u.status().message().find("http"), std::string::npos);
  EXPECT_FALSE(ParseUrl("ftp://example.com").ok());
  EXPECT_FALSE(ParseUrl("ws://example.com:80").ok());
}

TEST(ParseUrl, BadPorts) {
  for (const char* bad : {"h:", "h:0", "h:65536", "h:99999", "h:123456", "h:-1", "h:80a",
                          "h:+80", "h: 80", "http://h:/x", "http://h:abc"}) {
    auto u = ParseUrl(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_NE(u.status().message().find(bad), std::string::npos) << bad;
    }
  }
  auto top = ParseUrl("h:65535");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->port, "65535");
  EXPECT_TRUE(ParseUrl("h:1").ok());
}

TEST(ParseUrl, EmptyHost) {
  for (const char* bad : {"", ":8080", "http://", "http://:8080", "http:///x", "/v1"}) {
    auto u = ParseUrl(bad);
    EXPECT_FALSE(u.ok()) << bad;
  }
}

// --- ErrorMessageOf ---

TEST(ErrorMessageOf, OpenAiErrorBody) {
  EXPECT_EQ(ErrorMessageOf(R"({"error": {"message": "model 'x' not found", "type":
            "invalid_request_error", "param": "model", "code": "model_not_found"}})"),
            "model 'x' not found");
}

TEST(ErrorMessageOf, OtherBodiesAsTheyAre) {
  EXPECT_EQ(ErrorMessageOf("Bad Gateway"), "Bad Gateway");
  EXPECT_EQ(ErrorMessageOf(""), "");
  // JSON, but not the error shape: the body itself.
  EXPECT_EQ(ErrorMessageOf(R"({"error": "plain"})"), R"({"error": "plain"})");
  EXPECT_EQ(ErrorMessageOf(R"({"error": {"message": 3}})"), R"({"error": {"message": 3}})");
  EXPECT_EQ(ErrorMessageOf("[1,2]"), "[1,2]");
}

TEST(ErrorMessageOf, LongBodyIsShortened) {
  const std::string body(1000, 'x');
  const std::string m = ErrorMessageOf(body);
  EXPECT_EQ(m, std::string(300, 'x') + "...");
  EXPECT_EQ(ErrorMessageOf(std::string(300, 'y')), std::string(300, 'y'));
  // A long message inside an error body is kept whole.
  const std::string long_message(1000, 'm');
  EXPECT_EQ(ErrorMessageOf(R"({"error": {"message": ")" + long_message + "\"}}"), long_message);
}

// --- HttpClient against a scripted server ---

// Listens on 127.0.0.1 (a free port); each accepted connection reads one
// request (headers and a Content-Length body) and gets the next answer,
// written in the given pieces with a pause between them, then is closed.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::vector<std::string>> answers)
      : answers_(std::move(answers)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  Url url(const std::string& path = "") const { return {"127.0.0.1", std::to_string(port_), path}; }
  // The requests received so far, as raw text (each is recorded before its
  // answer is sent).
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (const auto& pieces : answers_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      size_t body_at = std::string::npos, want = 0;
      while (true) {
        if (body_at == std::string::npos) {
          body_at = req.find("\r\n\r\n");
          if (body_at != std::string::npos) {
            body_at += 4;
            std::string lower = req.substr(0, body_at);
            for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
            const size_t cl = lower.find("content-length:");
            want = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
          }
        }
        if (body_at != std::string::npos && req.size() >= body_at + want) break;
        const ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const std::string& p = pieces[i];
        if (::send(c, p.data(), p.size(), MSG_NOSIGNAL) < 0) break;
      }
      ::shutdown(c, SHUT_WR);
      // Drain until the client closes, so that it reads the whole answer.
      while (::read(c, buf, sizeof(buf)) > 0) {
      }
      ::close(c);
    }
  }

  std::vector<std::vector<std::string>> answers_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

using Answers = std::vector<std::vector<std::string>>;

// One connection's answer, in pieces.
Answers One(std::vector<std::string> pieces) { return Answers{std::move(pieces)}; }

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

const char kSseHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    "Connection: close\r\n\r\n";

TEST(HttpClient, ConnectToAClosedPortNamesTheUrl) {
  // A port that was just free: bind, read the port, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  ::close(fd);
  auto c = HttpClient::Connect({"127.0.0.1", port, ""}, std::chrono::seconds(5));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("http://127.0.0.1:" + port), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("glint serve"), std::string::npos) << c.status().message();
}

TEST(HttpClient, GetReturnsTheBodyAndSendsTheBasePath) {
  ScriptedServer server(One({"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n",
                          "hello world"}));
  auto c = HttpClient::Connect(server.url("/base"), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto body = c.value()->Get("/v1/models");
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(body.value(), "hello world");
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].rfind("GET /base/v1/models HTTP/1.1\r\n", 0), 0u) << reqs[0];
}

TEST(HttpClient, GetErrorCarriesTheStatusAndTheServerMessage) {
  const std::string body = R"({"error":{"message":"no such thing","type":"x","code":"y"}})";
  ScriptedServer server(One({"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) +
                          "\r\nConnection: close\r\n\r\n" + body}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  auto r = c.value()->Get("/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("404"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("no such thing"), std::string::npos)
      << r.status().message();
}

TEST(HttpClient, PostEventsDeliversEachEventInOrder) {
  // Events split across chunks and TCP writes, CRLF line ends, a comment,
  // a multi-line data field, and a final event without its blank line.
  const std::vector<std::string> pieces = {
      kSseHead,
      Chunk("data: {\"a\":1}\n\ndata: {\"b\""),
      Chunk(":2}\n"),
      Chunk("\n: a comment\n\ndata: one\r\ndata: two\r\n\r\nevent: x\ndata:nospace\n\n"),
      Chunk("data: [DONE]"),
      "0\r\n\r\n",
  };
  ScriptedServer server(One(pieces));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  std::vector<std::string> events;
  Status st = c.value()->PostEvents("/v1/chat/completions", R"({"stream":true})",
                                    [&](const std::string& data) {
                                      events.push_back(data);
                                      return true;
                                    });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(events, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "one\ntwo", "nospace",
                                              "[DONE]"}));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const std::string& req = reqs[0];
  EXPECT_EQ(req.rfind("POST /v1/chat/completions HTTP/1.1\r\n", 0), 0u) << req;
  std::string lower = req;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
  EXPECT_NE(lower.find("content-type: application/json\r\n"), std::string::npos) << req;
  EXPECT_NE(lower.find("accept: text/event-stream\r\n"), std::string::npos) << req;
  EXPECT_NE(lower.find("content-length: 15\r\n"), std::string::npos) << req;
  EXPECT_EQ(req.substr(req.size() - 15), R"({"stream":true})");
}

TEST(HttpClient, PostEventsStopsWhenTheCallbackSaysSo) {
  ScriptedServer server(One({kSseHead, Chunk("data: 1\n\ndata: 2\n\ndata: 3\n\n"), "0\r\n\r\n"}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  std::vector<std::string> events;
  Status st = c.value()->PostEvents("/x", "{}", [&](const std::string& data) {
    events.push_back(data);
    return data != "2";
  });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(events, (std::vector<std::string>{"1", "2"}));
}

TEST(HttpClient, PostEventsNon2xxChunkedIsAnErrorWithTheServerMessage) {
  const std::string body =
      R"({"error":{"message":"'prediction.type' must be \"content\"","type":"invalid_request_error"}})";
  ScriptedServer server(One({"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                             Chunk(body.substr(0, 10)), Chunk(body.substr(10)), "0\r\n\r\n"}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  int calls = 0;
  Status st = c.value()->PostEvents("/x", "{}", [&](const std::string&) {
    ++calls;
    return true;
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "'prediction.type' must be \"content\"");
  EXPECT_EQ(calls, 0);
}

// glint serve sends its errors with a Content-Length. (Boost 1.74 refuses
// every Content-Length body when the parser's body limit is boost::none.)
TEST(HttpClient, PostEventsNon2xxWithContentLengthIsAnErrorWithTheServerMessage) {
  const std::string body =
      R"({"error":{"message":"the model 'x' does not exist","type":"not_found_error"}})";
  ScriptedServer server(One({"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n",
                             body.substr(0, 10), body.substr(10)}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  Status st = c.value()->PostEvents("/x", "{}", [&](const std::string&) { return true; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "the model 'x' does not exist");
}

// A plain (Content-Length) event stream, which some proxies produce.
TEST(HttpClient, PostEventsWithAContentLengthBody) {
  const std::string body = "data: 1\n\ndata: 2\n\n";
  ScriptedServer server(One({"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             "Content-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  std::vector<std::string> events;
  Status st = c.value()->PostEvents("/x", "{}", [&](const std::string& data) {
    events.push_back(data);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(events, (std::vector<std::string>{"1", "2"}));
}

TEST(HttpClient, PostEventsAnswerThatBreaksOffIsAnError) {
  // The chunked body ends without its last chunk: the connection closed
  // in the middle of the answer.
  ScriptedServer server(One({kSseHead, Chunk("data: 1\n\n")}));
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  std::vector<std::string> events;
  Status st = c.value()->PostEvents("/x", "{}", [&](const std::string& data) {
    events.push_back(data);
    return true;
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("broke off"), std::string::npos) << st.message();
  EXPECT_EQ(events, std::vector<std::string>{"1"});
}

TEST(HttpClient, ReconnectsWhenTheServerClosedAKeptAliveConnection) {
  // The first answer closes the connection (Connection: close); the second
  // request must go out on a new one.
  ScriptedServer server(Answers{
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\none"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo"}});
  auto c = HttpClient::Connect(server.url(), std::chrono::seconds(10));
  ASSERT_TRUE(c.ok());
  auto a = c.value()->Get("/a");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a.value(), "one");
  auto b = c.value()->Get("/b");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b.value(), "two");
}

}  // namespace
}  // namespace glint::client
