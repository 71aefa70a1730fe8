// The wire fuzz corpus (tests/fuzz/corpus/wire/): seeds generated here, and
// any input the fuzzer found, replayed through ExerciseWire against a
// server in this process (tests/fuzz/wire_exercise.h). Each replay checks
// the fuzzer's invariants: the server releases the connection and answers
// GET /health afterwards.
//
// Seeds are made here, in code, so they stay reviewable. To regenerate them
// after changing a seed:
//   GLINT_UPDATE_CORPUS=1 build/<dir>/glint_server_test --gtest_filter='WireCorpus.*'
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/wire_exercise.h"

namespace glint::server::wire {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpusDir = fs::path(GLINT_SOURCE_DIR) / "tests/fuzz/corpus/wire";
constexpr size_t kMaxSeedBytes = 4096;

std::string Mode(uint8_t mode) { return std::string(1, static_cast<char>(mode)); }

std::string Post(const std::string& path, const std::string& body) {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      path, body.size(), body);
}

// One frame record (FrameWriter): flags, length, payload.
std::string Frame(uint8_t flags, std::string_view payload) {
  EXPECT_LT(payload.size(), 0xF0u);
  return std::string(1, static_cast<char>(flags)) +
         std::string(1, static_cast<char>(payload.size())) + std::string(payload);
}

struct Seed {
  std::string bytes;
  // What the reply must hold (any one of them; none: only the invariants).
  std::vector<std::string> expect;
};

std::map<std::string, Seed> Seeds() {
  std::map<std::string, Seed> s;
  const std::string get_health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string get_models = "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string create =
      R"({"type":"response.create","model":"glint-fast","input":"hi","max_output_tokens":4})";
  const std::vector<std::string> finished = {"response.completed", "response.incomplete"};

  // Raw HTTP.
  s["http-health"] = {Mode(0) + get_health, {"HTTP/1.1 200 OK"}};
  s["http-pipelined"] = {Mode(0) + get_health + get_models, {"\"glint-auto\""}};
  s["http-split"] = {Mode(kModeSplit) + get_models, {"\"object\":\"list\""}};
  s["http-chat"] = {
      Mode(kModeLinger) +
          Post("/v1/chat/completions",
               R"({"model":"glint-fast","messages":[{"role":"user","content":"hi"}],"max_tokens":4})"),
      {"\"object\":\"chat.completion\""}};
  {
    const std::string a = R"({"model":"glint-fast","stream":true,)";
    const std::string b = R"("messages":[{"role":"user","content":"hi"}],"max_tokens":3})";
    s["http-chat-chunked-stream"] = {
        Mode(kModeLinger) +
            fmt::format("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                        a.size(), a, b.size(), b),
        {"data: [DONE]"}};
  }
  s["http-responses-stream"] = {
      Mode(kModeLinger) +
          Post("/v1/responses",
               R"({"model":"glint-auto","input":"hello","stream":true,"max_output_tokens":3})"),
      {"event: response.created"}};
  s["http-completion-fim"] = {
      Mode(kModeLinger) +
          Post("/v1/completions",
               R"({"model":"glint-auto","prompt":"def f(","suffix":")\n","max_tokens":3})"),
      {"glint-smart"}};
  s["http-huge-header"] = {Mode(kModeBigHeader) + get_health, {"HTTP/1.1 431 "}};
  s["http-body-too-large"] = {
      Mode(0) + "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Length: 100000\r\n\r\n{",
      {"HTTP/1.1 413 "}};
  s["http-malformed"] = {
      Mode(0) + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1x\r\n\r\n",
      {"HTTP/1.1 400 "}};
  // A client that does not wait for the 101 before its first frame.
  {
    std::string frame = "\x81\x85";
    const char key[4] = {1, 2, 3, 4};
    frame.append(key, 4);
    for (int i = 0; i < 5; ++i) frame += static_cast<char>("hello"[i] ^ key[i % 4]);
    s["http-ws-upgrade-pipelined"] = {
        Mode(kModeLinger) +
            "GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" + frame,
        {"HTTP/1.1 101 "}};
  }

  // WebSocket frames after a valid handshake.
  const std::string ws = Mode(kModeWebSocket | kModeLinger);
  s["ws-response-create"] = {ws + Frame(kFrameText, create), finished};
  s["ws-create-cancel"] = {
      ws + Frame(kFrameText, R"({"type":"response.create","model":"glint-fast","input":"hi"})") +
          Frame(kFrameText, R"({"type":"response.cancel"})"),
      {"response.created"}};
  s["ws-fragmented"] = {ws + Frame(kFrameText | kFrameMore, R"({"type":"response.cre)") +
                            Frame(kFramePing, "p") +
                            Frame(kFrameContinuation | kFrameMore, R"(ate","input":"hi",)") +
                            Frame(kFrameContinuation, R"("max_output_tokens":2})"),
                        finished};
  s["ws-warmup-park"] = {
      ws + Frame(kFrameText, R"({"type":"response.create","model":"glint-fast","input":"hi",)"
                             R"("generate":false,"prompt_cache_key":"k1"})"),
      {"response.completed"}};
  s["ws-bad-events"] = {ws + Frame(kFrameBinary, "x") + Frame(kFrameText, "not json") +
                            Frame(kFrameText, R"({"type":"nope"})") + Frame(kFrameText, "{}"),
                        {"unknown_event"}};
  s["ws-invalid-utf8"] = {Mode(kModeWebSocket) + Frame(kFrameText, "\xff\xfe"), {}};
  s["ws-unmasked"] = {Mode(kModeWebSocket) + Frame(kFrameText | kFrameUnmasked, create), {}};
  s["ws-close"] = {Mode(kModeWebSocket) + Frame(kFrameClose, std::string("\x03\xe8", 2) + "bye"),
                   {}};
  // A header that declares a 2^63-byte binary frame.
  s["ws-oversized-header"] = {
      Mode(kModeWebSocket) +
          Frame(kFrameRaw, std::string("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04",
                                       14)),
      {}};
  // A 9 KiB message (over the server's 8 KiB limit), from a 4-byte record.
  s["ws-too-big-message"] = {ws + std::string("\x00\xf8{", 3), {}};
  s["ws-deflate-create"] = {
      Mode(kModeWebSocket | kModeDeflate | kModeLinger) + Frame(kFrameText | kFrameRsv1, create),
      {}};
  s["ws-echo"] = {Mode(kModeWebSocket | kModeEcho | kModeLinger) + Frame(kFrameText, "hello") +
                      Frame(kFrameBinary, "\x01\x02") +
                      Frame(kFrameClose, std::string("\x03\xe8", 2)),
                  {"hello"}};
  return s;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Patient: a loaded machine (or TSan) may take a while to answer.
constexpr WireTiming kPatient{Ms(10000), Ms(500), Ms(20000)};

TEST(WireCorpus, SeedsMatchTheGenerator) {
  const bool update = std::getenv("GLINT_UPDATE_CORPUS") != nullptr;
  if (update) fs::create_directories(kCorpusDir);
  for (const auto& [name, seed] : Seeds()) {
    SCOPED_TRACE(name);
    EXPECT_LE(seed.bytes.size(), kMaxSeedBytes);
    const fs::path path = kCorpusDir / name;
    if (update) std::ofstream(path, std::ios::binary) << seed.bytes;
    ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with GLINT_UPDATE_CORPUS=1";
    EXPECT_EQ(ReadFile(path), seed.bytes) << path << " is stale; run with GLINT_UPDATE_CORPUS=1";
  }
}

// Each seed reaches what it was written for.
TEST(WireCorpus, SeedsGetTheirAnswers) {
  for (const auto& [name, seed] : Seeds()) {
    SCOPED_TRACE(name);
    const WireOutcome out = ExerciseWire(seed.bytes, kPatient);
    if (std::getenv("GLINT_WIRE_VERBOSE") != nullptr) {
      std::string shown;
      for (char c : out.reply.substr(0, 1500)) {
        shown += (c >= 0x20 && c < 0x7f) || c == '\n' ? std::string(1, c)
                                                      : fmt::format("\\x{:02x}", static_cast<uint8_t>(c));
      }
      std::printf("== %s (%zu bytes)\n%s\n", name.c_str(), out.reply.size(), shown.c_str());
    }
    if ((seed.bytes[0] & kModeWebSocket) != 0) {
      EXPECT_TRUE(out.upgraded);
    }
    if (seed.expect.empty()) continue;
    bool found = false;
    for (const std::string& e : seed.expect) found |= out.reply.find(e) != std::string::npos;
    EXPECT_TRUE(found) << "expected " << seed.expect.front() << " in:\n"
                       << out.reply.substr(0, 2000);
  }
}

// Every file, the fuzzer's finds included, with the fuzzer's timing.
// GLINT_WIRE_CORPUS=DIR replays another directory (a fuzzer's working
// corpus, say, under TSan).
TEST(WireCorpus, ReplayEveryFile) {
  const char* other = std::getenv("GLINT_WIRE_CORPUS");
  const fs::path dir = other != nullptr ? fs::path(other) : kCorpusDir;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    ExerciseWire(ReadFile(entry.path()));
    ++n;
  }
  EXPECT_GE(n, 12);
}

}  // namespace
}  // namespace glint::server::wire
