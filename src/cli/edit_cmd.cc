// glint edit FILE "instruction": asks the model for the edited file, with
// the old file as the prediction (speculative decoding makes the unchanged
// parts cheap), streams it, shows the diff and writes it atomically once
// confirmed. Talks to a running server (--server) or starts one in-process.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/edit_flow.h"
#include "cli/local_server.h"
#include "client/edit.h"
#include "client/http_client.h"

namespace glint::cli {
namespace {

using nlohmann::json;

struct EditArgs {
  EditOptions edit;
  std::string model;  // "": smart in-process, the server's default with --server
  std::string server;
  int threads = 0;
};

// The streamed file on a terminal, with a status line kept below it: text
// is written up to its last complete line, the status line after it, and
// the status line is erased before the next text.
class LiveView {
 public:
  explicit LiveView(bool tty) : tty_(tty) {}
  void Text(const std::string& piece, int tokens, double tok_s) {
    pending_ += piece;
    if (!tty_) return;
    const size_t nl = pending_.rfind('\n');
    std::string out = "\r\033[K";
    if (nl != std::string::npos) {
      out += "\033[2m" + pending_.substr(0, nl + 1) + "\033[0m";
      pending_.erase(0, nl + 1);
    }
    out += fmt::format("\033[36m[{} tokens, {:.1f} tok/s]\033[0m {}", tokens, tok_s, pending_);
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
  }
  void End() {
    if (tty_) {
      std::fputs(("\r\033[K\033[2m" + pending_ + "\033[0m").c_str(), stderr);
      if (!pending_.empty()) std::fputc('\n', stderr);
    }
  }

 private:
  bool tty_;
  std::string pending_;
};

bool AskYesNo(const std::string& question) {
  std::fputs(question.c_str(), stderr);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int Edit(const EditArgs& a) {
  // A file that cannot be edited is an error before any model is loaded.
  if (auto file = client::ReadEditableFile(a.edit.file, kMaxEditFileBytes); !file.ok()) {
    fmt::print(stderr, "glint edit: {}\n", file.status().message());
    return 1;
  }
  std::unique_ptr<LocalServer> local;
  client::Url url;
  std::string model = a.model == "fast" || a.model == "smart" ? "glint-" + a.model : a.model;
  if (a.server.empty()) {
    const std::string spec = a.model.empty() ? "smart" : a.model;
    auto started = LocalServer::Start({{spec, std::nullopt}}, a.threads, isatty(STDERR_FILENO));
    if (!started.ok()) {
      fmt::print(stderr, "glint edit: {}\n", started.status().message());
      return 1;
    }
    local = std::move(started).value();
    url = local->url();
    model = local->model_id();
  } else {
    auto parsed = client::ParseUrl(a.server);
    if (!parsed.ok()) {
      fmt::print(stderr, "glint edit: {}\n", parsed.status().message());
      return 1;
    }
    url = parsed.value();
  }
  return RunEdit(a.edit, url, model);
}

}  // namespace

int RunEdit(const EditOptions& a, const client::Url& url, const std::string& model) {
  auto file = client::ReadEditableFile(a.file, kMaxEditFileBytes);
  if (!file.ok()) {
    fmt::print(stderr, "glint edit: {}\n", file.status().message());
    return 1;
  }
  const bool tty_out = isatty(STDOUT_FILENO), tty_err = isatty(STDERR_FILENO);
  auto conn = client::HttpClient::Connect(url, std::chrono::seconds(600), a.api_key);
  if (!conn.ok()) {
    fmt::print(stderr, "glint edit: {}\n", conn.status().message());
    return 1;
  }

  // Room for the file twice over, and for a few lines more.
  const int max_tokens = static_cast<int>(file.value().text.size() / 2 + 512);
  const json request = client::EditRequest(model, file.value(), a.instruction, max_tokens);
  std::string answer, finish_reason;
  json usage;
  int chunks = 0;
  Clock::time_point first{};
  LiveView view(tty_err);
  Status st = conn.value()->PostEvents(
      "/v1/chat/completions", request.dump(), [&](const std::string& data) {
        if (data == "[DONE]") return false;
        json ev = json::parse(data, nullptr, false);
        if (!ev.is_object()) return true;
        if (ev.contains("usage") && ev["usage"].is_object()) usage = ev["usage"];
        auto choices = ev.find("choices");
        if (choices == ev.end() || !choices->is_array() || choices->empty()) return true;
        const json& c = (*choices)[0];
        if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
          finish_reason = c["finish_reason"].get<std::string>();
        }
        const json* content = c.contains("delta") ? &c["delta"] : nullptr;
        if (content == nullptr || !content->contains("content") ||
            !(*content)["content"].is_string()) {
          return true;
        }
        const std::string piece = (*content)["content"].get<std::string>();
        answer += piece;
        ++chunks;
        const auto now = Clock::now();
        if (first == Clock::time_point{}) first = now;
        const double secs = std::chrono::duration<double>(now - first).count();
        view.Text(piece, chunks, secs > 0 ? (chunks - 1) / secs : 0.0);
        return true;
      });
  view.End();
  if (!st.ok()) {
    fmt::print(stderr, "glint edit: {}; '{}' is unchanged\n", st.message(), a.file);
    return 1;
  }
  const double secs = first == Clock::time_point{} ? 0.0 : SecondsSince(first);
  const int tokens = usage.value("completion_tokens", chunks);
  const json details = usage.value("completion_tokens_details", json::object());
  const int accepted = details.value("accepted_prediction_tokens", 0);
  fmt::print(stderr, "glint edit: {} tokens in {:.1f} s ({:.1f} tok/s), {} from the prediction\n",
             tokens, secs, secs > 0 ? tokens / secs : 0.0, accepted);
  const std::string edited = client::EditedText(file.value(), answer);
  const bool complete = finish_reason != "length";
  const bool changed = complete && edited != file.value().text;
  // --json: one object on stdout for scripts and editors, instead of the diff.
  json summary = {{"file", a.file},
                  {"complete", complete},
                  {"changed", changed},
                  {"written", false},
                  {"finish_reason", finish_reason},
                  {"completion_tokens", tokens},
                  {"decode_seconds", secs},
                  {"accepted_prediction_tokens", accepted},
                  {"rejected_prediction_tokens", details.value("rejected_prediction_tokens", 0)},
                  {"diff", changed ? client::UnifiedDiff(file.value().text, edited, a.file, false) : ""},
                  {"new_text", edited}};
  auto print_summary = [&] {
    if (a.json) fmt::print("{}\n", summary.dump());
  };
  if (!complete) {
    fmt::print(stderr,
               "glint edit: the answer was cut off at {} tokens (the model did not finish the "
               "file); '{}' is unchanged\n", tokens, a.file);
    print_summary();
    return 1;
  }
  if (!changed) {
    fmt::print(stderr, "glint edit: no changes to '{}'\n", a.file);
    print_summary();
    return 0;
  }
  if (!a.json) {
    const std::string diff = client::UnifiedDiff(file.value().text, edited, a.file, tty_out);
    std::fputs(diff.c_str(), stdout);
    std::fflush(stdout);
  }
  if (a.dry_run) {
    fmt::print(stderr, "glint edit: dry run, '{}' not written\n", a.file);
    print_summary();
    return 0;
  }
  if (!a.yes) {
    if (!isatty(STDIN_FILENO)) {
      fmt::print(stderr, "glint edit: '{}' not written: pass --yes to write without asking\n",
                 a.file);
      print_summary();
      return 1;
    }
    const std::string question = fmt::format("Write these changes to '{}'? [y/N] ", a.file);
    if (!(a.confirm ? a.confirm(question) : AskYesNo(question))) {
      fmt::print(stderr, "glint edit: '{}' not written\n", a.file);
      print_summary();
      return 1;
    }
  }
  if (Status w = client::WriteFileAtomically(a.file, edited, file.value().mode); !w.ok()) {
    fmt::print(stderr, "glint edit: {}\n", w.message());
    print_summary();
    return 1;
  }
  fmt::print(stderr, "glint edit: wrote '{}'\n", a.file);
  summary["written"] = true;
  print_summary();
  return 0;
}

Runner AddEditCommand(CLI::App& app) {
  auto args = std::make_shared<EditArgs>();
  CLI::App* cmd = app.add_subcommand(
      "edit", "Edit a file by instruction: streams the new file, shows the diff, asks, writes");
  cmd->add_option("file", args->edit.file, "The file to edit")->required();
  cmd->add_option("instruction", args->edit.instruction, "What to change, in words")->required();
  cmd->add_option("-m,--model", args->model,
                  "fast, smart or a GGUF path (default: smart); with --server, a model the "
                  "server serves (default: glint-auto, the server's choice)");
  cmd->add_option("--server", args->server,
                  "URL of a running glint server (default: start one in this process)");
  cmd->add_option("--api-key", args->edit.api_key,
                  "API key for a server started with --keys (default: $GLINT_API_KEY)")
      ->envname("GLINT_API_KEY");
  cmd->add_flag("-y,--yes", args->edit.yes, "Write the file without asking");
  cmd->add_flag("--dry-run", args->edit.dry_run, "Show the diff, never write");
  cmd->add_flag("--json", args->edit.json,
                "Print one JSON object (diff, new text, token counts) instead of the diff");
  cmd->add_option("-t,--threads", args->threads, "Threads of the in-process engine")
      ->check(CLI::Range(1, 256));
  return [args] { return Edit(*args); };
}

}  // namespace glint::cli
