// glint tokenize: the token ids of a text, the way people debug prompts.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_loading.h"
#include "tokenizer/chat_template.h"

namespace glint::cli {
namespace {

struct TokenizeOptions {
  std::string model = "fast";
  std::string text;
  bool json = false;
  bool jsonl = false;
  bool no_special = false;
  bool bos = false;
  bool chat = false;
};

int Tokenize(const TokenizeOptions& o) {
  auto t = LoadTokenizerOrExplain(o.model);
  if (!t) return 1;
  const tokenizer::Tokenizer& tok = *t->tokenizer;
  if (o.jsonl) {
    // Each input line is a JSON string; each output line the JSON array of its ids.
    std::string line;
    int line_no = 0;
    while (std::getline(std::cin, line)) {
      ++line_no;
      auto v = nlohmann::json::parse(line, nullptr, false);
      if (v.is_discarded() || !v.is_string()) {
        std::fprintf(stderr, "glint: line %d of the input is not a JSON string\n", line_no);
        return 1;
      }
      auto ids = tok.Encode(v.get<std::string>(), o.bos, !o.no_special);
      std::cout << nlohmann::json(ids).dump() << '\n';
    }
    std::cout.flush();
    return 0;
  }
  std::string text = o.text;
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (o.chat) {
    auto tmpl = tokenizer::ChatTemplate::FromGguf(*t->file);
    if (!tmpl.ok()) {
      std::fprintf(stderr, "glint: %s\n", tmpl.status().message().c_str());
      return 1;
    }
    text = tmpl->Render({{"user", text}}, /*add_generation_prompt=*/true);
  }
  auto ids = tok.Encode(text, o.bos, !o.no_special);
  if (o.json) {
    std::cout << nlohmann::json(ids).dump() << '\n';
    return 0;
  }
  for (auto id : ids) {
    std::string piece = tok.TokenBytes(id);
    std::cout << id << '\t' << nlohmann::json(piece).dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace)
              << '\n';
  }
  std::cout << ids.size() << " tokens\n";
  return 0;
}

}  // namespace

Runner AddTokenizeCommand(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", o->model, "fast, smart, or a path to a GGUF file")
      ->capture_default_str();
  cmd->add_option("text", o->text, "The text; - reads standard input")->required(false);
  cmd->add_flag("--json", o->json, "Print one JSON array of ids");
  cmd->add_flag("--jsonl", o->jsonl,
                "Read JSON strings, one per line, from stdin; print one JSON array per line");
  cmd->add_flag("--no-special", o->no_special, "Treat special-token text as plain text");
  cmd->add_flag("--bos", o->bos, "Prepend the BOS token");
  cmd->add_flag("--chat", o->chat, "Render the text as a user turn of the model's chat template");
  return [o] { return Tokenize(*o); };
}

}  // namespace glint::cli
