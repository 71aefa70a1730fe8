// glint chat: a terminal conversation over one WebSocket session (the
// Responses API's WebSocket mode), so every turn after the first costs only
// its new tokens. Line editing and history come from libedit; Ctrl-C stops
// an answer (response.cancel) and the conversation goes on; Ctrl-D ends it.
// With piped input it answers once and prints only the answer.
#include <editline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "cli/commands.h"
#include "cli/edit_flow.h"
#include "cli/local_server.h"
#include "client/code_blocks.h"
#include "client/http_client.h"
#include "client/ws_client.h"
#include "engine/catalog.h"

namespace glint::cli {
namespace {

using nlohmann::json;

volatile sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

struct ChatArgs {
  std::string server;
  std::string model = "auto";  // fast, smart, auto, or a model the server serves
  std::string api_key;
  std::string system;
  int max_tokens = 2048;
  int threads = 0;
};

// What the status line and /stats report.
struct TurnStats {
  std::string model;      // the model that answered
  std::string routing;    // glint-auto's reason, if it chose
  double ttft_s = 0;      // client-measured, send to first text
  double decode_s = 0;    // first text to the end
  int output_tokens = 0;
  int input_tokens = 0;
  int cached_tokens = 0;
  bool interrupted = false;
};

std::string ModelName(const std::string& tier) {
  if (tier == "fast" || tier == "smart" || tier == "auto") return "glint-" + tier;
  return tier;
}

class Chat {
 public:
  Chat(const ChatArgs& args, client::Url url, std::unique_ptr<client::WsClient> ws)
      : args_(args), url_(std::move(url)), ws_(std::move(ws)), model_(ModelName(args.model)) {
    tty_out_ = isatty(STDOUT_FILENO);
    tty_err_ = isatty(STDERR_FILENO);
  }

  // Interactive: a prompt per line until Ctrl-D.
  int Repl();
  // Piped: the whole of stdin is one question; only the answer is printed.
  int Once(const std::string& question);

 private:
  // Sends one user message and streams the answer; false when the session
  // is gone.
  bool Ask(const std::string& text);
  // The response.create of a question: after the previous response, or
  // with the whole conversation (whole).
  json Request(const std::string& text, bool whole) const;
  enum class Outcome { kAnswered, kRefused, kForgotten, kGone };
  // Sends a request and streams its answer to stdout.
  Outcome Stream(const json& request, TurnStats& t, std::string& answer,
                 client::CodeBlockStyler& styler);
  bool Command(const std::string& line);  // a /command; false: quit
  void StatusLine(const TurnStats& t) const;
  void Note(const std::string& text) const;
  void Help() const;
  void Stats() const;
  void Save(const std::string& path) const;
  void Load(const std::string& path);
  void Edit(const std::string& rest);

  const ChatArgs& args_;
  client::Url url_;
  std::unique_ptr<client::WsClient> ws_;
  std::string model_;
  bool tty_out_ = false, tty_err_ = false;
  std::string previous_id_;   // the session's last response
  json history_ = json::array();  // the conversation, for /save and a resend
  bool resend_ = false;       // the next turn sends the whole history (after /load)
  std::vector<TurnStats> turns_;
};

void Chat::Note(const std::string& text) const {
  if (tty_err_) {
    fmt::print(stderr, "\033[2m{}\033[0m\n", text);
  } else {
    fmt::print(stderr, "{}\n", text);
  }
}

void Chat::StatusLine(const TurnStats& t) const {
  const double tok_s = t.decode_s > 0 && t.output_tokens > 1 ? (t.output_tokens - 1) / t.decode_s
                                                             : 0.0;
  std::string line = fmt::format("{}{} · TTFT {:.0f} ms · {:.1f} tok/s · {} tokens · {} of {} "
                                 "input tokens cached{}",
                                 t.model, t.routing.empty() ? "" : " (auto: " + t.routing + ")",
                                 t.ttft_s * 1e3, tok_s, t.output_tokens, t.cached_tokens,
                                 t.input_tokens, t.interrupted ? " · interrupted" : "");
  Note("[" + line + "]");
}

json Chat::Request(const std::string& text, bool whole) const {
  json input = json::array();
  if (whole) {
    for (const json& m : history_) input.push_back(m);
  }
  input.push_back({{"role", "user"}, {"content", text}});
  json request = {{"type", "response.create"},
                  {"model", model_},
                  {"input", std::move(input)},
                  {"max_output_tokens", args_.max_tokens},
                  {"store", false}};
  if (!args_.system.empty()) request["instructions"] = args_.system;
  if (!whole && !previous_id_.empty()) request["previous_response_id"] = previous_id_;
  return request;
}

Chat::Outcome Chat::Stream(const json& request, TurnStats& t, std::string& answer,
                           client::CodeBlockStyler& styler) {
  if (glint::Status st = ws_->Send(request.dump()); !st.ok()) {
    fmt::print(stderr, "glint chat: {}\n", st.message());
    return Outcome::kGone;
  }
  g_interrupted = 0;
  bool cancel_sent = false, waiting_shown = false;
  const auto sent = Clock::now();
  Clock::time_point first{};
  auto clear_wait = [&] {
    if (waiting_shown) fmt::print(stderr, "\r\033[K");
    waiting_shown = false;
  };
  for (;;) {
    auto msg = ws_->Read(std::chrono::milliseconds(100));
    if (!msg.ok()) {
      clear_wait();
      fmt::print(stderr, "\nglint chat: {}\n", msg.status().message());
      return Outcome::kGone;
    }
    if (g_interrupted && !cancel_sent) {
      cancel_sent = true;
      t.interrupted = true;
      g_interrupted = 0;
      (void)ws_->Send(json{{"type", "response.cancel"}}.dump());
    } else if (g_interrupted && cancel_sent) {
      // A second Ctrl-C: the server did not stop; leave.
      clear_wait();
      fmt::print(stderr, "\nglint chat: interrupted\n");
      return Outcome::kGone;
    }
    if (!msg.value()) {
      // Long waits show progress: a long prompt's prefill on two cores.
      const double waited = SecondsSince(sent);
      if (tty_err_ && first == Clock::time_point{} && waited > 0.5) {
        fmt::print(stderr, "\r\033[2mwaiting for the first token... {:.1f} s\033[0m\033[K", waited);
        std::fflush(stderr);
        waiting_shown = true;
      }
      continue;
    }
    json ev = json::parse(*msg.value(), nullptr, false);
    if (!ev.is_object() || !ev.contains("type") || !ev["type"].is_string()) continue;
    const std::string type = ev["type"].get<std::string>();
    // Fields of the wrong type read as absent: a bad event is not a crash.
    auto string_of = [](const json& j, const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const json none = json::object();
    auto object_of = [&](const json& j, const char* key) -> const json& {
      auto it = j.find(key);
      return it != j.end() && it->is_object() ? *it : none;
    };
    auto int_of = [](const json& j, const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
    };
    if (type == "response.created") {
      const json& r = object_of(ev, "response");
      t.model = string_of(r, "model");
      if (t.model.empty()) t.model = model_;
      t.routing = string_of(object_of(r, "routing"), "reason");
    } else if (type == "response.output_text.delta") {
      const std::string delta = string_of(ev, "delta");
      if (first == Clock::time_point{}) {
        first = Clock::now();
        t.ttft_s = std::chrono::duration<double>(first - sent).count();
        clear_wait();
      }
      answer += delta;
      std::fputs(styler.Push(delta).c_str(), stdout);
      std::fflush(stdout);
    } else if (type == "response.completed" || type == "response.incomplete" ||
               type == "response.failed") {
      clear_wait();
      const json& r = object_of(ev, "response");
      if (first != Clock::time_point{}) t.decode_s = SecondsSince(first);
      const json& u = object_of(r, "usage");
      t.output_tokens = int_of(u, "output_tokens");
      t.input_tokens = int_of(u, "input_tokens");
      t.cached_tokens = int_of(object_of(u, "input_tokens_details"), "cached_tokens");
      if (type == "response.failed") {
        fmt::print(stderr, "glint chat: the answer failed: {}\n",
                   string_of(object_of(r, "error"), "message"));
      }
      if (const std::string id = string_of(r, "id"); !id.empty()) previous_id_ = id;
      return Outcome::kAnswered;
    } else if (type == "error") {
      clear_wait();
      const json& e = object_of(ev, "error");
      const std::string code = string_of(e, "code");
      if (code == "previous_response_not_found") return Outcome::kForgotten;
      fmt::print(stderr, "glint chat: {} ({})\n", string_of(e, "message"), code);
      return Outcome::kRefused;
    }
  }
}

bool Chat::Ask(const std::string& text) {
  TurnStats t;
  client::CodeBlockStyler styler(tty_out_);
  std::string answer;
  Outcome o = Stream(Request(text, resend_), t, answer, styler);
  if (o == Outcome::kForgotten) {
    // The server no longer holds the conversation (restarted, or it
    // expired): send all of it again.
    o = Stream(Request(text, true), t, answer, styler);
  }
  if (o == Outcome::kGone) return false;
  if (o != Outcome::kAnswered) return true;  // the session stays; nothing was answered
  resend_ = false;
  std::fputs(styler.Finish().c_str(), stdout);
  if (!answer.empty() && answer.back() != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
  if (t.interrupted) Note("[interrupted]");
  history_.push_back({{"role", "user"}, {"content", text}});
  history_.push_back({{"role", "assistant"}, {"content", answer}});
  turns_.push_back(t);
  if (tty_err_ && tty_out_) StatusLine(t);
  return true;
}

void Chat::Help() const {
  Note("Type a question; Ctrl-C stops an answer, Ctrl-D quits.\n"
       "  /fast /smart /auto     answer with glint-fast, glint-smart, or let glint choose\n"
       "  /edit FILE INSTRUCTION edit a file (the diff is shown before anything is written)\n"
       "  /clear                 start a new conversation\n"
       "  /save FILE, /load FILE keep the conversation in a JSON file, or continue one\n"
       "  /stats                 this session's numbers\n"
       "  /help                  this text");
}

void Chat::Stats() const {
  int out = 0, in = 0, cached = 0;
  double decode = 0, ttft = 0;
  for (const TurnStats& t : turns_) {
    out += t.output_tokens;
    in += t.input_tokens;
    cached += t.cached_tokens;
    decode += t.decode_s;
    ttft += t.ttft_s;
  }
  const size_t n = turns_.size();
  Note(fmt::format("{} turns on {} · model {} · {} input tokens, {} of them cached ({:.0f}%) · "
                   "{} output tokens · mean TTFT {:.0f} ms · mean decode {:.1f} tok/s",
                   n, url_.ToString(), model_, in, cached, in > 0 ? 100.0 * cached / in : 0.0,
                   out, n > 0 ? ttft / n * 1e3 : 0.0, decode > 0 ? out / decode : 0.0));
}

void Chat::Save(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << json{{"model", model_}, {"messages", history_}}.dump(2) << "\n";
  if (!f) {
    fmt::print(stderr, "glint chat: cannot write '{}'\n", path);
    return;
  }
  Note(fmt::format("saved {} messages to {}", history_.size(), path));
}

void Chat::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    fmt::print(stderr, "glint chat: cannot read '{}'\n", path);
    return;
  }
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  json doc = json::parse(text, nullptr, false);
  const bool ok = doc.is_object() && doc.contains("messages") && doc["messages"].is_array();
  json messages = json::array();
  if (ok) {
    for (const json& m : doc["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
          !m.contains("content") || !m["content"].is_string()) {
        messages = nullptr;
        break;
      }
      messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
    }
  }
  if (!ok || messages.is_null()) {
    fmt::print(stderr, "glint chat: '{}' is not a saved conversation ({{\"messages\": [{{\"role\", "
                       "\"content\"}}...]}})\n", path);
    return;
  }
  history_ = std::move(messages);
  previous_id_.clear();
  resend_ = true;
  Note(fmt::format("loaded {} messages from {}; the next question continues them",
                   history_.size(), path));
}

void Chat::Edit(const std::string& rest) {
  const size_t space = rest.find(' ');
  if (rest.empty() || space == std::string::npos) {
    fmt::print(stderr, "glint chat: /edit FILE INSTRUCTION\n");
    return;
  }
  EditOptions o;
  o.file = rest.substr(0, space);
  o.instruction = rest.substr(rest.find_first_not_of(' ', space));
  o.api_key = args_.api_key;
  o.confirm = [](const std::string& question) {
    char* answer = readline(question.c_str());
    const bool yes = answer != nullptr && (std::string(answer) == "y" ||
                                           std::string(answer) == "yes");
    std::free(answer);
    return yes;
  };
  RunEdit(o, url_, model_);
}

bool Chat::Command(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  std::string rest;
  std::getline(in, rest);
  rest.erase(0, rest.find_first_not_of(' '));
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  if (cmd == "/fast" || cmd == "/smart" || cmd == "/auto") {
    model_ = ModelName(cmd.substr(1));
    Note(fmt::format("next answers: {} (the conversation goes on)", model_));
  } else if (cmd == "/edit") {
    Edit(rest);
  } else if (cmd == "/clear") {
    previous_id_.clear();
    history_ = json::array();
    resend_ = false;
    Note("new conversation");
  } else if (cmd == "/save" && !rest.empty()) {
    Save(rest);
  } else if (cmd == "/load" && !rest.empty()) {
    Load(rest);
  } else if (cmd == "/stats") {
    Stats();
  } else if (cmd == "/help") {
    Help();
  } else if (cmd == "/quit" || cmd == "/exit") {
    return false;
  } else {
    fmt::print(stderr, "glint chat: unknown command '{}' (/help lists them)\n", line);
  }
  return true;
}

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home != nullptr ? std::string(home) + "/.glint_history" : "";
}

int Chat::Repl() {
  const std::string history = HistoryPath();
  using_history();
  if (!history.empty()) read_history(history.c_str());
  Note(fmt::format("glint chat on {} with {} · /help for commands, Ctrl-D to quit",
                   url_.ToString(), model_));
  for (;;) {
    g_interrupted = 0;
    char* raw = readline(tty_out_ ? "\001\033[1m\002> \001\033[0m\002" : "> ");
    if (raw == nullptr) {
      if (g_interrupted) {  // Ctrl-C at the prompt: drop the line, a fresh prompt
        std::fputc('\n', stdout);
        continue;
      }
      std::fputc('\n', stdout);
      break;
    }
    std::string line(raw);
    std::free(raw);
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    add_history(line.c_str());
    if (!history.empty()) write_history(history.c_str());
    if (line[0] == '/') {
      if (!Command(line)) break;
      continue;
    }
    if (!Ask(line)) return 1;
  }
  return 0;
}

int Chat::Once(const std::string& question) {
  return Ask(question) ? 0 : 1;
}

// The models an in-process server loads: both tiers, or only the fast one
// when the smart model is not installed (said, with the command to get it).
std::vector<LocalServer::Spec> LocalModels(const std::string& model) {
  if (model != "auto" && model != "fast" && model != "smart") return {{model, std::nullopt}};
  std::vector<LocalServer::Spec> specs = {{"fast", server::Tier::kFast}};
  // Asked for by name, a missing smart model is an error that says how to
  // fetch it (from the loader); for auto, the fast tier answers alone.
  if (engine::ResolveModel("smart").ok() || model == "smart") {
    specs.push_back({"smart", server::Tier::kSmart});
  } else if (model == "auto") {
    fmt::print(stderr, "glint chat: the smart model is not installed (scripts/fetch-models "
                       "smart); answering with glint-fast\n");
  }
  return specs;
}

int RunChat(ChatArgs& a) {
  std::string question;
  const bool interactive = isatty(STDIN_FILENO);
  if (!interactive) {
    question.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    while (!question.empty() && (question.back() == '\n' || question.back() == ' ')) {
      question.pop_back();
    }
    if (question.empty()) {
      fmt::print(stderr, "glint chat: no question on standard input\n");
      return 1;
    }
  }
  std::unique_ptr<LocalServer> local;
  client::Url url;
  if (a.server.empty()) {
    const auto specs = LocalModels(a.model);
    if (specs.size() == 1 && a.model == "auto") a.model = "fast";
    auto started = LocalServer::Start(specs, a.threads, isatty(STDERR_FILENO) && interactive);
    if (!started.ok()) {
      fmt::print(stderr, "glint chat: {}\n", started.status().message());
      return 1;
    }
    local = std::move(started).value();
    url = local->url();
  } else {
    auto parsed = client::ParseUrl(a.server);
    if (!parsed.ok()) {
      fmt::print(stderr, "glint chat: {}\n", parsed.status().message());
      return 1;
    }
    url = parsed.value();
  }
  auto ws = client::WsClient::Connect(url, "/v1/responses", a.api_key, std::chrono::seconds(30));
  if (!ws.ok()) {
    fmt::print(stderr, "glint chat: {}\n", ws.status().message());
    return 1;
  }
  // Ctrl-C interrupts an answer, not the program.
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns
  sigaction(SIGINT, &sa, nullptr);
  Chat chat(a, url, std::move(ws).value());
  return interactive ? chat.Repl() : chat.Once(question);
}

}  // namespace

Runner AddChatCommand(CLI::App& app) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Talk to a code model in the terminal (one WebSocket session; piped input: one "
              "answer)");
  cmd->add_option("--server", args->server,
                  "URL of a running glint server (default: start one in this process)");
  cmd->add_option("-m,--model", args->model,
                  "auto, fast, smart, or a model the server serves; /fast, /smart, /auto switch")
      ->capture_default_str();
  cmd->add_option("--api-key", args->api_key,
                  "API key for a server started with --keys (default: $GLINT_API_KEY)")
      ->envname("GLINT_API_KEY");
  cmd->add_option("--system", args->system, "Instructions for the model (a system message)");
  cmd->add_option("-n,--max-tokens", args->max_tokens, "Longest answer, in tokens")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads of the in-process engine")
      ->check(CLI::Range(1, 256));
  return [args] { return RunChat(*args); };
}

}  // namespace glint::cli
