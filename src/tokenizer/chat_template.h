// Chat templates for the supported model families.
//
// glint does not run Jinja. It recognises the families whose templates it
// implements (ChatML as used by SmolLM2 and Qwen2.5 / Qwen2.5-Coder, with
// each family's default system prompt) from tokenizer.chat_template, and
// fails with a clear error for any other template unless the caller names a
// known template explicitly.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace glint::tokenizer {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
};

class ChatTemplate {
 public:
  // name: "" to detect from the file's tokenizer.chat_template, or a known
  // template name ("chatml", "smollm2", "qwen2").
  static Result<ChatTemplate> FromGguf(const gguf::GgufFile& file, const std::string& name = "");
  static Result<ChatTemplate> ByName(const std::string& name);
  // Recognises a family from the template text itself; fails, quoting the
  // template's first characters, for a template glint does not implement.
  static Result<ChatTemplate> Detect(std::string_view template_text);

  const std::string& name() const { return name_; }
  // The prompt text for `messages`; with add_generation_prompt, ends with the
  // header of an assistant turn. Output is byte-identical to what the model's
  // Jinja template renders for the same messages.
  std::string Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  // The text of `messages` as turns that follow a conversation already
  // rendered (no default system turn), for a session that extends its
  // context without re-rendering it. With add_generation_prompt, ends with
  // an assistant turn's header.
  std::string RenderContinuation(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const;

  const std::string& default_system() const { return default_system_; }

 private:
  // chatml: plain turns. smollm2: a default system turn before a first
  // non-system message (also Qwen2's template). qwen2 (Qwen2.5): a system turn
  // always, tool results grouped into a user turn, other roles dropped.
  // Tool definitions and assistant tool calls are not rendered (yet).
  enum class Family { kChatMl, kSmolLm2, kQwen2 };

  std::string name_;
  Family family_ = Family::kChatMl;
  std::string default_system_;  // inserted when the first message is not a system message
};

}  // namespace glint::tokenizer
