// From API items to the model's prompt text, and from the model's output
// text back to API items (messages and function calls).
//
// Tools follow the convention of Qwen2.5's chat template, which the model
// was trained on: function signatures inside <tools></tools> in the system
// turn, calls as {"name", "arguments"} inside <tool_call></tool_call>, and
// results inside <tool_response></tool_response> in a user turn. Schemas
// are written compactly (no whitespace, no descriptions inside them beyond
// the function's own), which keeps a Codex request inside 8K tokens.
#pragma once

#include <string>
#include <vector>

#include "server/protocol.h"
#include "tokenizer/chat_template.h"

namespace glint::server {

// The whole conversation: instructions and tools in the first system turn,
// then every item.
std::string RenderConversation(const tokenizer::ChatTemplate& tpl, const std::string& instructions,
                               const std::vector<FunctionTool>& tools,
                               const std::vector<Item>& items, bool add_generation_prompt);

// Items that extend a conversation already in the session. close_turn:
// the conversation ends inside the assistant turn the model was writing.
std::string RenderContinuation(const tokenizer::ChatTemplate& tpl, const std::vector<Item>& items,
                               bool close_turn, bool add_generation_prompt);

// The system text that carries the tool signatures.
std::string RenderTools(const std::vector<FunctionTool>& tools);

// Splits model output into its text and its <tool_call> blocks. A block
// whose JSON does not parse stays in the text.
struct ParsedOutput {
  std::string text;
  std::vector<Item> calls;  // kind kFunctionCall, call_id and id still empty
};
ParsedOutput ParseModelOutput(const std::string& output);

// Streaming text filter: returns the part of the generated text that can be
// shown now. It holds back text that may be the start of a stop sequence
// (which ends the output, not shown) or of "<tool_call>" (after which the
// rest is a call, parsed at the end, not shown as text).
class TextStream {
 public:
  TextStream(std::vector<std::string> stop, bool tool_calls);
  // Adds generated text; returns what is safe to show.
  std::string Push(const std::string& text);
  // The end of generation: returns what was held back and may be shown.
  std::string Finish();
  bool stopped() const { return stopped_; }   // a stop sequence was seen
  const std::string& output() const { return output_; }  // all of it (up to a stop)

 private:
  std::vector<std::string> stop_;
  bool tool_calls_;
  std::string output_;     // everything generated, cut at a stop sequence
  size_t shown_ = 0;       // bytes of output_ already returned
  bool in_call_ = false;   // past "<tool_call>": nothing more is shown
  bool stopped_ = false;
};

}  // namespace glint::server
