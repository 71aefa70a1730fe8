// glint run: one prompt in, the model's answer streamed to stdout; timings
// to stderr.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "cli/model_loading.h"
#include "engine/generator.h"
#include "tokenizer/chat_template.h"

namespace glint::cli {
namespace {

struct RunOptions {
  std::string model = "fast";
  std::string prompt;
  bool chat = false;
  std::string chat_template;
  std::string system;
  int32_t max_tokens = 256;
  float temperature = 0.0f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repetition_penalty = 1.0f;
  uint64_t seed = 0;
  int threads = 0;
  int32_t ctx = 4096;
  bool quiet = false;
  std::string batch_file;   // JSON lines: {"prompt": ..., "chat": bool}
  std::string dump_logits;  // write the last prompt position's logits (f32) here
};

Result<std::vector<tokenizer::TokenId>> BuildPrompt(const LoadedModel& m, const RunOptions& o,
                                                    const std::string& text, bool chat) {
  if (!chat) return m.tokenizer->Encode(text, m.tokenizer->add_bos(), /*parse_special=*/true);
  ASSIGN_OR_RETURN(auto tmpl, tokenizer::ChatTemplate::FromGguf(m.model->file(), o.chat_template));
  std::vector<tokenizer::ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system});
  messages.push_back({"user", text});
  std::string rendered = tmpl.Render(messages, /*add_generation_prompt=*/true);
  return m.tokenizer->Encode(rendered, m.tokenizer->add_bos(), /*parse_special=*/true);
}

engine::GenerateOptions ToGenerateOptions(const RunOptions& o) {
  engine::GenerateOptions g;
  g.max_tokens = o.max_tokens;
  g.sampling.temperature = o.temperature;
  g.sampling.top_k = o.top_k;
  g.sampling.top_p = o.top_p;
  g.sampling.min_p = o.min_p;
  g.sampling.repetition_penalty = o.repetition_penalty;
  g.sampling.seed = o.seed;
  return g;
}

// Each input line {"prompt": "...", "chat": false} gives one output line
// {"ids": [...], "text": "...", "prompt_tokens": N}. Used by the reference
// comparison tests: one process, one model load, many prompts.
int RunBatch(const LoadedModel& m, engine::Generator& gen, const RunOptions& o) {
  std::ifstream in(o.batch_file);
  if (!in) {
    std::fprintf(stderr, "glint: cannot read %s\n", o.batch_file.c_str());
    return 1;
  }
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object() || !req.contains("prompt") ||
        !req["prompt"].is_string()) {
      std::fprintf(stderr, "glint: %s:%d: expected {\"prompt\": string, ...}\n",
                   o.batch_file.c_str(), line_no);
      return 1;
    }
    bool chat = req.value("chat", o.chat);
    auto prompt = BuildPrompt(m, o, req["prompt"].get<std::string>(), chat);
    if (!prompt.ok()) {
      std::fprintf(stderr, "glint: %s\n", prompt.status().message().c_str());
      return 1;
    }
    engine::Session session(*m.model, o.ctx);
    std::vector<int32_t> ids;
    std::string text;
    auto stats = gen.Generate(session, *prompt, ToGenerateOptions(o),
                              [&](tokenizer::TokenId id, const std::string& piece) {
                                if (id >= 0) ids.push_back(id);
                                text += piece;
                                return true;
                              });
    if (!stats.ok()) {
      std::fprintf(stderr, "glint: %s\n", stats.status().message().c_str());
      return 1;
    }
    nlohmann::json out = {{"ids", ids},
                          {"text", text},
                          {"prompt_tokens", stats->prompt_tokens},
                          {"finish_reason", stats->finish_reason}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return 0;
}

int Run(const RunOptions& o) {
  auto m = LoadModelOrExplain(o.model);
  if (!m) return 1;
  int threads = o.threads > 0 ? o.threads : ThreadPool::HardwareThreads();
  int32_t ctx = o.ctx > 0 ? o.ctx : m->model->hparams().n_ctx_train;
  RunOptions opts = o;
  opts.ctx = std::min(ctx, m->model->hparams().n_ctx_train);
  engine::Generator gen(*m->model, *m->tokenizer, threads);
  if (!o.batch_file.empty()) return RunBatch(*m, gen, opts);

  std::string text = o.prompt;
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (text.empty()) {
    std::fprintf(stderr, "glint: no prompt; pass -p TEXT (or -p - to read standard input)\n");
    return 2;
  }
  auto prompt = BuildPrompt(*m, opts, text, o.chat);
  if (!prompt.ok()) {
    std::fprintf(stderr, "glint: %s\n", prompt.status().message().c_str());
    return 1;
  }
  engine::Session session(*m->model, opts.ctx);
  if (!o.dump_logits.empty()) {
    auto logits = gen.PromptLogits(session, *prompt);
    if (!logits.ok()) {
      std::fprintf(stderr, "glint: %s\n", logits.status().message().c_str());
      return 1;
    }
    std::ofstream out(o.dump_logits, std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits->data()),
              static_cast<std::streamsize>(logits->size() * sizeof(float)));
    if (!out) {
      std::fprintf(stderr, "glint: cannot write %s\n", o.dump_logits.c_str());
      return 1;
    }
    return 0;
  }
  auto stats = gen.Generate(session, *prompt, ToGenerateOptions(opts),
                            [](tokenizer::TokenId, const std::string& piece) {
                              std::fwrite(piece.data(), 1, piece.size(), stdout);
                              std::fflush(stdout);
                              return true;
                            });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!stats.ok()) {
    std::fprintf(stderr, "glint: %s\n", stats.status().message().c_str());
    return 1;
  }
  if (!o.quiet) {
    const auto& hp = m->model->hparams();
    std::fprintf(stderr,
                 "\nmodel: %s (%s, %s, %d threads), loaded in %.2f s\n"
                 "prompt tokens: %d, time to first token: %.1f ms, prefill: %.1f tok/s\n"
                 "generated tokens: %d, decode: %.1f tok/s, finish: %s\n",
                 hp.name.c_str(), hp.arch.c_str(), m->model->QuantName().c_str(), threads,
                 m->load_s, stats->prompt_tokens, stats->ttft_s * 1e3, stats->prefill_tok_s(),
                 stats->generated_tokens, stats->decode_tok_s(), stats->finish_reason.c_str());
  }
  return 0;
}

}  // namespace

Runner AddRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text for one prompt, streamed to stdout");
  cmd->add_option("-m,--model", o->model, "fast, smart, or a path to a GGUF file")
      ->capture_default_str();
  cmd->add_option("-p,--prompt", o->prompt, "The prompt; - reads standard input");
  cmd->add_flag("--chat", o->chat, "Wrap the prompt in the model's chat template as a user turn");
  cmd->add_option("--chat-template", o->chat_template,
                  "Chat template name (chatml, smollm2, qwen2) instead of detecting it");
  cmd->add_option("--system", o->system, "System message (with --chat)");
  cmd->add_option("-n,--max-tokens", o->max_tokens, "Maximum tokens to generate")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temp", o->temperature, "Sampling temperature; 0 is greedy")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--top-k", o->top_k, "Top-k (0 = off; with --temp > 0)")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "Top-p (with --temp > 0)")->capture_default_str();
  cmd->add_option("--min-p", o->min_p, "Min-p (with --temp > 0)")->capture_default_str();
  cmd->add_option("--repeat-penalty", o->repetition_penalty, "Repetition penalty (1 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed for sampling")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx", o->ctx, "Context size in tokens")->capture_default_str();
  cmd->add_flag("-q,--quiet", o->quiet, "Do not print timings to stderr");
  cmd->add_option("--batch", o->batch_file,
                  "Run each JSON line {\"prompt\": ..., \"chat\": bool} of FILE; print JSON lines");
  cmd->add_option("--dump-logits", o->dump_logits,
                  "Write the logits after the prompt (f32) to FILE instead of generating");
  return [o] { return Run(*o); };
}

}  // namespace glint::cli
