// What the wire fuzz target does with one input, shared with the unit test
// that replays the corpus (tests/server/wire_corpus_test.cc): bytes sent to
// a running glint server over a real TCP connection, through Beast's HTTP
// parser, the router, the WebSocket upgrade and frames, and the WebSocket
// message handler.
//
// One server per process (loopback, any free port) serves two tiny
// synthetic models written once to temporary files: glint-fast and
// glint-smart (the latter with fill-in-the-middle tokens, so glint-auto
// routes). Their vocabulary is byte-level BPE with ChatML specials and a
// Qwen2-style chat template; the weights are random, so what they say is
// noise, but every path a real model takes is taken.
//
// An input is a mode byte, then the rest:
//   mode bit 0 clear: the rest is raw bytes on a fresh connection.
//     bit 1: written in two parts, 5 ms apart (the parser resumes).
//     bit 3: a 70 KB header line is put after the first line (431).
//   mode bit 0 set: a valid WebSocket handshake (to /v1/responses, or to
//     /v1/echo with bit 3; offering permessage-deflate with bit 1), then
//     the rest as frame records (see FrameWriter).
//   bit 2 (both): linger: the client keeps its side open and reads until
//     the server has been quiet for a while, instead of half-closing at
//     once (which ends most generations early).
//
// Invariants, checked after every input (a failure traps): a valid
// handshake on an idle server is answered 101; once the client has gone,
// every connection and request slot is released within 5 s; and a fresh
// GET /health answers 200.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/beast/zlib/deflate_stream.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include "base/fair_lock.h"
#include "base/log.h"
#include "gguf/gguf_writer.h"
#include "server/server.h"
#include "tokenizer/utf8.h"

namespace glint::server::wire {

using WireClock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// Positions per session: room for a prompt with tools and a few hundred
// generated tokens, which the tiny model makes in milliseconds.
inline constexpr int kContext = 512;
// The largest HTTP body and WebSocket message the server takes.
inline constexpr size_t kMaxMessage = 8192;

// The mode byte.
inline constexpr uint8_t kModeWebSocket = 0x01;
inline constexpr uint8_t kModeSplit = 0x02;    // raw HTTP: two writes
inline constexpr uint8_t kModeDeflate = 0x02;  // WebSocket: permessage-deflate
inline constexpr uint8_t kModeLinger = 0x04;
inline constexpr uint8_t kModeBigHeader = 0x08;  // raw HTTP: a 70 KB header
inline constexpr uint8_t kModeEcho = 0x08;       // WebSocket: /v1/echo

// A frame record's flags (see FrameWriter).
inline constexpr uint8_t kFrameText = 0, kFrameContinuation = 1, kFrameBinary = 2, kFramePing = 3,
                         kFramePong = 4, kFrameClose = 5, kFrameReserved = 6,
                         kFrameReservedControl = 7;
inline constexpr uint8_t kFrameMore = 0x08, kFrameUnmasked = 0x10, kFrameRsv1 = 0x20,
                         kFrameLongLength = 0x40, kFrameRaw = 0x80;

[[noreturn]] inline void Fail(const std::string& what, std::string_view detail = {}) {
  std::fprintf(stderr, "wire invariant failed: %s\n", what.c_str());
  if (!detail.empty()) {
    std::fprintf(stderr, "---\n%.*s\n---\n", static_cast<int>(std::min<size_t>(detail.size(), 2000)),
                 detail.data());
  }
  __builtin_trap();
}

// A template the chat-template detector takes for Qwen2 (ChatML, a system
// turn unless the first message is one, tool results in <tool_response>).
inline constexpr const char* kChatTemplate =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
    "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are a "
    "tiny test model.<|im_end|>\\n' }}{%- endif %}{# <tool_response> #}"
    "{%- for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{%- endfor %}";

// A one-layer llama with a byte-level BPE vocabulary: specials, the 256
// byte tokens, and a few merges. `fim` adds the fill-in-the-middle tokens.
inline Status WriteTinyModel(const std::string& path, bool fim) {
  std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  if (fim) {
    for (const char* t : {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}) tokens.push_back(t);
  }
  std::vector<int32_t> types(tokens.size(), 3);  // control
  for (int b = 0; b < 256; ++b) {
    std::string s;
    tokenizer::AppendUtf8(tokenizer::ByteToCodepoint(static_cast<uint8_t>(b)), &s);
    tokens.push_back(s);
    types.push_back(1);
  }
  const std::vector<std::string> merges = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "e r",
                                           "o n", "{ \"", "\" :"};
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ', 1);
    tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
    types.push_back(1);
  }
  const int n_vocab = static_cast<int>(tokens.size());
  const int n_embd = 32, n_ff = 64, n_heads = 4, n_kv_heads = 2;
  const int n_kv = n_kv_heads * (n_embd / n_heads);

  gguf::GgufWriter g;
  g.AddString("general.architecture", "llama");
  g.AddString("general.name", fim ? "wire-smart" : "wire-fast");
  g.AddU32("llama.block_count", 1);
  g.AddU32("llama.embedding_length", n_embd);
  g.AddU32("llama.feed_forward_length", n_ff);
  g.AddU32("llama.attention.head_count", n_heads);
  g.AddU32("llama.attention.head_count_kv", n_kv_heads);
  g.AddU32("llama.context_length", kContext);
  g.AddU32("llama.vocab_size", n_vocab);
  g.AddF32("llama.rope.freq_base", 10000.0f);
  g.AddF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  g.AddString("tokenizer.ggml.model", "gpt2");
  g.AddString("tokenizer.ggml.pre", "qwen2");
  g.AddStringArray("tokenizer.ggml.tokens", tokens);
  g.AddI32Array("tokenizer.ggml.token_type", types);
  g.AddStringArray("tokenizer.ggml.merges", merges);
  g.AddU32("tokenizer.ggml.bos_token_id", 0);
  g.AddU32("tokenizer.ggml.eos_token_id", 2);  // <|im_end|>
  g.AddBool("tokenizer.ggml.add_bos_token", false);
  g.AddString("tokenizer.chat_template", kChatTemplate);

  std::mt19937 rng(fim ? 7 : 3);
  auto tensor = [&](const std::string& name, std::vector<int64_t> ne, float mean, float scale) {
    size_t n = 1;
    for (int64_t d : ne) n *= static_cast<size_t>(d);
    std::normal_distribution<float> dist(mean, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    g.AddTensor(name, DType::kF32, ne, v.data(), v.size() * sizeof(float));
  };
  tensor("token_embd.weight", {n_embd, n_vocab}, 0.0f, 1.0f);  // tied output
  tensor("output_norm.weight", {n_embd}, 1.0f, 0.1f);
  tensor("blk.0.attn_norm.weight", {n_embd}, 1.0f, 0.1f);
  tensor("blk.0.attn_q.weight", {n_embd, n_embd}, 0.0f, 0.15f);
  tensor("blk.0.attn_k.weight", {n_embd, n_kv}, 0.0f, 0.15f);
  tensor("blk.0.attn_v.weight", {n_embd, n_kv}, 0.0f, 0.15f);
  tensor("blk.0.attn_output.weight", {n_embd, n_embd}, 0.0f, 0.15f);
  tensor("blk.0.ffn_norm.weight", {n_embd}, 1.0f, 0.1f);
  tensor("blk.0.ffn_gate.weight", {n_embd, n_ff}, 0.0f, 0.15f);
  tensor("blk.0.ffn_up.weight", {n_embd, n_ff}, 0.0f, 0.15f);
  tensor("blk.0.ffn_down.weight", {n_ff, n_embd}, 0.0f, 0.15f);
  return g.WriteFile(path);
}

// The server, started on first use and stopped at exit.
class WireServer {
 public:
  static WireServer& Get() {
    static WireServer server;
    return server;
  }
  WireServer(const WireServer&) = delete;
  WireServer& operator=(const WireServer&) = delete;
  ~WireServer() {
    server_->Stop();
    thread_.join();
    server_.reset();
  }

  int port() const { return port_; }
  ServerState& state() { return server_->state(); }

 private:
  WireServer() {
    // OpenSSL (NewId's random ids) sets up here, so that its cleanup at exit
    // runs after this object's destructor has stopped the server's thread:
    // the other order leaves that thread's random state unfreed, which
    // LeakSanitizer reports.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    SetLogLevel(LogLevel::kError);
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.n_threads = 1;
    o.parallel = 2;
    o.n_ctx = kContext;
    o.http_sessions = 2;
    o.max_connections = 64;
    o.max_sessions = 8;
    o.max_requests = 8;
    o.max_body_bytes = kMaxMessage;
    o.max_frame_bytes = kMaxMessage;
    o.idle_timeout_s = 2;
    o.session_ttl_s = 2;  // parked sessions and stored responses go soon
    o.drain_timeout_s = 1;
    o.max_unacked_tokens = 16;
    o.ws_echo = true;
    auto lock = std::make_shared<FairLock>();
    std::vector<std::unique_ptr<ModelService>> models;
    for (const Tier tier : {Tier::kFast, Tier::kSmart}) {
      const std::string path = (std::filesystem::temp_directory_path() /
                                fmt::format("glint-wire-{}-{}.gguf", ::getpid(), TierName(tier)))
                                   .string();
      if (Status st = WriteTinyModel(path, tier == Tier::kSmart); !st.ok()) {
        Fail("cannot write the tiny model: " + st.ToString());
      }
      auto svc = LoadModelService(path, o, tier, lock);
      std::error_code ignored;
      std::filesystem::remove(path, ignored);  // mapped already
      if (!svc.ok()) Fail("cannot load the tiny model: " + svc.status().ToString());
      models.push_back(std::move(svc).value());
    }
    auto server = Server::Create(o, std::move(models));
    if (!server.ok()) Fail("cannot start the server: " + server.status().ToString());
    server_ = std::move(server).value();
    port_ = server_->port();
    thread_ = std::thread([s = server_.get()] { s->Run(1); });
  }

  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// A blocking client socket on loopback.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    // A server that stops reading must not block the client for long.
    timeval tv{0, 200 * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Best effort: stops at the first error (the server may close first).
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  void HalfClose() { ::shutdown(fd_, SHUT_WR); }

  // Appends what arrives to *out (up to `keep` bytes of it) until the peer
  // closes, nothing arrives for `first` (before any byte) or `idle` (after
  // one), `total` has passed, or *out holds `until`. Returns whether the
  // peer closed.
  bool Read(std::string* out, Ms first, Ms idle, Ms total, std::string_view until = {},
            size_t keep = 1 << 16) {
    const auto end = WireClock::now() + total;
    char buf[16384];
    bool got = false;
    for (;;) {
      const auto now = WireClock::now();
      if (now >= end) return false;
      const auto left = std::chrono::duration_cast<Ms>(end - now) + Ms(1);
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min(got ? idle : first, left).count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;  // closed or reset
      got = true;
      if (out->size() < keep) out->append(buf, std::min(static_cast<size_t>(n), keep - out->size()));
      if (!until.empty() && out->find(until) != std::string::npos) return false;
    }
  }

 private:
  int fd_ = -1;
};

// Turns the bytes after the handshake into WebSocket frames, as records:
//   flags (1 byte), length L (1 byte), payload: L bytes (L < 0xF0), or the
//   next byte repeated (L - 0xEF) KiB times (L >= 0xF0: a big message from
//   a small input).
// flags & 7 is the opcode: 0 text, 1 continuation, 2 binary, 3 ping, 4 pong,
// 5 close, 6 reserved (3), 7 reserved control (0xB).
//   0x08: FIN clear (more fragments follow)
//   0x10: unmasked (a client must mask)
//   0x20: RSV1; with permessage-deflate negotiated, the payloads of the
//         message it begins are compressed (its continuations too)
//   0x40: the length in the 64-bit form, however small (not minimal)
//   0x80: no frame: the payload goes out as raw bytes (any header at all)
class FrameWriter {
 public:
  explicit FrameWriter(bool deflate) : deflate_(deflate) {}

  std::string Encode(std::string_view in) {
    std::string wire;
    size_t pos = 0;
    while (pos < in.size()) {
      const uint8_t flags = static_cast<uint8_t>(in[pos++]);
      const size_t len = pos < in.size() ? static_cast<uint8_t>(in[pos++]) : 0;
      std::string payload;
      if (len < 0xF0) {
        const size_t n = std::min(len, in.size() - pos);
        payload.assign(in.substr(pos, n));
        pos += n;
      } else {
        const char fill = pos < in.size() ? in[pos++] : 'a';
        payload.assign((len - 0xEF) * 1024, fill);
      }
      if (flags & kFrameRaw) {
        wire += payload;
        continue;
      }
      static constexpr uint8_t kOpcodes[8] = {1, 0, 2, 9, 10, 8, 3, 0xB};
      const uint8_t opcode = kOpcodes[flags & 7];
      const bool fin = !(flags & kFrameMore), rsv1 = flags & kFrameRsv1;
      const bool data = opcode == 1 || opcode == 2;
      bool compress = false;
      if (data) {
        compress = deflate_ && rsv1;
        compressed_message_ = compress && !fin;
      } else if (opcode == 0) {
        compress = compressed_message_;
        if (fin) compressed_message_ = false;
      }
      if (compress) payload = Deflate(payload, fin);
      AppendFrame(&wire, opcode, fin, rsv1, !(flags & kFrameUnmasked), flags & kFrameLongLength,
                  std::move(payload));
    }
    return wire;
  }

 private:
  static void AppendFrame(std::string* wire, uint8_t opcode, bool fin, bool rsv1, bool mask,
                          bool long_length, std::string payload) {
    const uint64_t n = payload.size();
    *wire += static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
    const uint8_t m = mask ? 0x80 : 0;
    if (n < 126 && !long_length) {
      *wire += static_cast<char>(m | n);
    } else if (n < 65536 && !long_length) {
      *wire += static_cast<char>(m | 126);
      *wire += static_cast<char>(n >> 8);
      *wire += static_cast<char>(n);
    } else {
      *wire += static_cast<char>(m | 127);
      for (int i = 7; i >= 0; --i) *wire += static_cast<char>(n >> (8 * i));
    }
    if (mask) {
      static constexpr char kKey[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
      wire->append(kKey, 4);
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= kKey[i % 4];
    }
    *wire += payload;
  }

  // permessage-deflate (RFC 7692): one deflate stream for the connection,
  // each frame flushed; a message's last frame loses the 00 00 ff ff tail.
  std::string Deflate(const std::string& in, bool last) {
    namespace zlib = boost::beast::zlib;
    zlib::z_params zs;
    zs.next_in = in.data();
    zs.avail_in = in.size();
    std::string out;
    char buf[4096];
    for (int i = 0; i < 64; ++i) {
      zs.next_out = buf;
      zs.avail_out = sizeof buf;
      boost::beast::error_code ec;
      deflater_.write(zs, zlib::Flush::sync, ec);
      out.append(buf, sizeof buf - zs.avail_out);
      if (ec || zs.avail_out != 0) break;
    }
    if (last && out.size() >= 4 && out.compare(out.size() - 4, 4, std::string("\0\0\xff\xff", 4)) == 0) {
      out.resize(out.size() - 4);
    }
    return out;
  }

  bool deflate_;
  bool compressed_message_ = false;
  boost::beast::zlib::deflate_stream deflater_;
};

// How long the client waits for the server's answer. The fuzzer keeps it
// short (an input that gets no answer costs `first`); the unit test that
// checks what the seeds get back is patient.
struct WireTiming {
  Ms first{300};  // for the first byte
  Ms idle{150};   // between bytes
  Ms total{500};
};

// What one input got back (for the unit test's checks on the seeds).
struct WireOutcome {
  bool upgraded = false;  // the WebSocket handshake was answered 101
  std::string reply;      // what the server sent (its first 64 KiB)
};

// Waits until the server holds no connection and no request slot.
inline bool WaitIdle(ServerState& state, Ms limit) {
  const auto end = WireClock::now() + limit;
  while (state.connections.load() != 0 || state.requests_in_flight() != 0) {
    if (WireClock::now() >= end) return false;
    std::this_thread::sleep_for(Ms(1));
  }
  return true;
}

inline void SendRawHttp(Conn& c, uint8_t mode, std::string_view rest) {
  std::string bytes(rest);
  if (mode & kModeBigHeader) {
    // A header over the server's 64 KiB limit, after the request line.
    const size_t eol = bytes.find("\r\n");
    const size_t at = eol == std::string::npos ? bytes.size() : eol + 2;
    bytes.insert(at, "X-Fill: " + std::string(70 * 1024, 'f') + "\r\n");
  }
  if ((mode & kModeSplit) && bytes.size() > 1) {
    c.Send(std::string_view(bytes).substr(0, bytes.size() / 2));
    std::this_thread::sleep_for(Ms(5));
    c.Send(std::string_view(bytes).substr(bytes.size() / 2));
  } else {
    c.Send(bytes);
  }
}

inline void RunWebSocket(Conn& c, uint8_t mode, std::string_view rest, WireOutcome* out) {
  const bool deflate = mode & kModeDeflate;
  std::string handshake = fmt::format(
      "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
      (mode & kModeEcho) ? "/v1/echo" : "/v1/responses",
      deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
  c.Send(handshake);
  std::string head;
  c.Read(&head, Ms(5000), Ms(5000), Ms(5000), "\r\n\r\n");
  if (head.rfind("HTTP/1.1 101 ", 0) != 0) {
    Fail("a valid WebSocket handshake on an idle server was not answered 101", head);
  }
  out->upgraded = true;
  FrameWriter frames(deflate && head.find("permessage-deflate") != std::string::npos);
  c.Send(frames.Encode(rest));
}

// One input; traps when the server is left unwell.
inline WireOutcome ExerciseWire(std::string_view input, const WireTiming& timing = {}) {
  WireServer& server = WireServer::Get();
  ServerState& state = server.state();
  WireOutcome out;
  if (!WaitIdle(state, Ms(5000))) Fail("the server was busy before the input");
  if (!input.empty()) {
    const auto mode = static_cast<uint8_t>(input[0]);
    const std::string_view rest = input.substr(1);
    Conn c(server.port());
    if (!c.ok()) Fail("cannot connect to the server");
    if (mode & kModeWebSocket) {
      RunWebSocket(c, mode, rest, &out);
    } else {
      SendRawHttp(c, mode, rest);
    }
    if (!(mode & kModeLinger)) c.HalfClose();
    c.Read(&out.reply, timing.first, timing.idle, timing.total);
  }
  if (!WaitIdle(state, Ms(5000))) {
    Fail(fmt::format("5 s after the client left the server still holds {} connection(s) and {} "
                     "request slot(s)",
                     state.connections.load(), state.requests_in_flight()),
         out.reply);
  }
  std::string health;
  {
    Conn c(server.port());
    if (!c.ok()) Fail("cannot connect for GET /health");
    c.Send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    c.Read(&health, Ms(5000), Ms(5000), Ms(5000));
  }
  if (health.rfind("HTTP/1.1 200 ", 0) != 0 || health.find("\"status\":\"ok\"") == std::string::npos) {
    Fail("GET /health did not answer 200 after the input", health);
  }
  return out;
}

}  // namespace glint::server::wire
