#include "tokenizer/chat_template.h"

#include <string_view>

namespace glint::tokenizer {
namespace {

constexpr std::string_view kSmolLm2System =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
constexpr std::string_view kQwen2System =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// The plain ChatML template (no default system prompt), whitespace removed.
constexpr std::string_view kPlainChatMl =
    "{%formessageinmessages%}{{'<|im_start|>'+message['role']+'\\n'+message['content']+'<|im_end|>"
    "'+'\\n'}}{%endfor%}{%ifadd_generation_prompt%}{{'<|im_start|>assistant\\n'}}{%endif%}";

std::string WithoutWhitespace(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out += c;
  }
  return out;
}

// The default system prompt written in a ChatML template as one string
// literal: "<|im_start|>system" + newline (real or "\n") + text + "<|im_end|>".
// Empty if there is none.
std::string ExtractDefaultSystem(std::string_view tpl) {
  constexpr std::string_view kHead = "<|im_start|>system";
  constexpr std::string_view kEnd = "<|im_end|>";
  for (size_t at = tpl.find(kHead); at != std::string_view::npos; at = tpl.find(kHead, at + 1)) {
    size_t begin = at + kHead.size();
    if (tpl.substr(begin, 2) == "\\n") {
      begin += 2;
    } else if (tpl.substr(begin, 1) == "\n") {
      begin += 1;
    } else {
      continue;
    }
    const size_t end = tpl.find(kEnd, begin);
    if (end == std::string_view::npos) break;
    const std::string_view body = tpl.substr(begin, end - begin);
    if (body.empty() || body.find_first_of("'\"{}+") != std::string_view::npos) continue;
    std::string text;
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\' && i + 1 < body.size()) {
        const char e = body[++i];
        text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        text += body[i];
      }
    }
    return text;
  }
  return {};
}

void AppendTurn(std::string_view role, std::string_view content, std::string* out) {
  *out += "<|im_start|>";
  *out += role;
  *out += '\n';
  *out += content;
  *out += "<|im_end|>\n";
}

}  // namespace

Result<ChatTemplate> ChatTemplate::ByName(const std::string& name) {
  ChatTemplate t;
  t.name_ = name;
  if (name == "chatml") {
    t.family_ = Family::kChatMl;
  } else if (name == "smollm2") {
    t.family_ = Family::kSmolLm2;
    t.default_system_ = kSmolLm2System;
  } else if (name == "qwen2" || name == "qwen2.5") {
    t.name_ = "qwen2";
    t.family_ = Family::kQwen2;
    t.default_system_ = kQwen2System;
  } else {
    return Error(StatusCode::kInvalidArgument,
                 "unknown chat template name \"{}\" (known: chatml, smollm2, qwen2)", name);
  }
  return t;
}

Result<ChatTemplate> ChatTemplate::FromGguf(const gguf::GgufFile& file, const std::string& name) {
  if (!name.empty()) return ByName(name);
  if (!file.Find("tokenizer.chat_template")) {
    return Error(StatusCode::kNotFound,
                 "the model has no tokenizer.chat_template; pass a chat template name "
                 "(chatml, smollm2, qwen2)");
  }
  ASSIGN_OR_RETURN(std::string_view tpl, file.GetString("tokenizer.chat_template"));
  return Detect(tpl);
}

Result<ChatTemplate> ChatTemplate::Detect(std::string_view tpl) {
  const bool chatml = tpl.find("<|im_start|>") != std::string_view::npos;
  // Qwen2.5: a system turn always (default or the first message), tool
  // results wrapped in <tool_response> inside a user turn.
  if (chatml && tpl.find("<tool_response>") != std::string_view::npos &&
      tpl.find("messages[0]['role'] == 'system'") != std::string_view::npos) {
    ChatTemplate t = *ByName("qwen2");
    std::string system = ExtractDefaultSystem(tpl);
    if (!system.empty()) t.default_system_ = std::move(system);
    return t;
  }
  // SmolLM2 (and Qwen2): ChatML with a default system turn when the first
  // message is not a system message.
  if (chatml && WithoutWhitespace(tpl).find("loop.firstandmessages[0]['role']!='system'") !=
                    std::string::npos) {
    ChatTemplate t = *ByName("smollm2");
    std::string system = ExtractDefaultSystem(tpl);
    if (!system.empty()) t.default_system_ = std::move(system);
    return t;
  }
  if (WithoutWhitespace(tpl) == kPlainChatMl) return *ByName("chatml");
  std::string head(tpl.substr(0, 60));
  for (char& c : head) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return Error(StatusCode::kUnimplemented,
               "unrecognised chat template (tokenizer.chat_template begins \"{}{}\"); pass a chat "
               "template name (chatml, smollm2, qwen2)",
               head, tpl.size() > head.size() ? "..." : "");
}

// Turns after the first system turn: Qwen2.5 groups consecutive tool
// results into one user turn and drops roles it does not know; the other
// families write every message as a turn.
static void AppendTurns(bool qwen, const std::vector<ChatMessage>& messages, size_t first,
                        std::string* out) {
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (!qwen) {
      AppendTurn(m.role, m.content, out);
    } else if (m.role == "user" || m.role == "system" || m.role == "assistant") {
      AppendTurn(m.role, m.content, out);
    } else if (m.role == "tool") {
      // Consecutive tool results share one user turn.
      if (i == first || messages[i - 1].role != "tool") *out += "<|im_start|>user";
      *out += "\n<tool_response>\n";
      *out += m.content;
      *out += "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") *out += "<|im_end|>\n";
    }
  }
}

std::string ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  std::string out;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  switch (family_) {
    case Family::kChatMl:
      break;
    case Family::kSmolLm2:
      if (!messages.empty() && !has_system) AppendTurn("system", default_system_, &out);
      break;
    case Family::kQwen2:
      AppendTurn("system", has_system ? messages[0].content : default_system_, &out);
      break;
  }
  const bool qwen = family_ == Family::kQwen2;
  AppendTurns(qwen, messages, qwen && has_system ? 1 : 0, &out);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string ChatTemplate::RenderContinuation(const std::vector<ChatMessage>& messages,
                                             bool add_generation_prompt) const {
  std::string out;
  AppendTurns(family_ == Family::kQwen2, messages, 0, &out);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace glint::tokenizer
