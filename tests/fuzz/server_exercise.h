// What the server fuzz target does with one input, shared with the unit test
// that replays the corpus (tests/server/protocol_test.cc): the bytes as a
// request body for every endpoint, rendered into a prompt when they parse,
// and as model output through the output parser and the streaming filter;
// also as a keys file and an Authorization header.
#pragma once

#include <string>
#include <string_view>

#include "server/keys.h"
#include "server/prompt.h"
#include "server/protocol.h"
#include "tokenizer/chat_template.h"

namespace glint::server {

inline void ExerciseProtocol(std::string_view bytes) {
  static const tokenizer::ChatTemplate tpl = tokenizer::ChatTemplate::ByName("qwen2").value();
  auto body = ParseJson(bytes);
  if (body.ok()) {
    if (auto r = ParseResponseRequest(*body.value); r.ok()) {
      (void)RenderConversation(tpl, r.value->instructions, r.value->tools, r.value->input, true);
      (void)RenderContinuation(tpl, r.value->input, true, true);
      for (const Item& it : r.value->input) (void)it.ToJson().dump();
    } else {
      (void)r.error.ToJson().dump();
    }
    if (auto c = ParseChatRequest(*body.value); c.ok()) {
      (void)RenderConversation(tpl, "", c.value->tools, c.value->messages, true);
    }
    (void)ParseCompletionRequest(*body.value);
  }
  if (auto keys = KeyStore::Parse(bytes, "fuzz"); keys.ok()) (void)keys->Authenticate(bytes);
  const std::string_view token = BearerToken(bytes);
  if (token.size() > bytes.size()) __builtin_trap();
  const std::string text(bytes);
  ParsedOutput out = ParseModelOutput(text);
  for (const Item& call : out.calls) (void)call.ToJson().dump(-1, ' ', false, json::error_handler_t::replace);
  // The filter must show a prefix of the output, whatever the split.
  TextStream stream({"\n\n", "</s>"}, true);
  std::string shown;
  for (size_t i = 0; i < text.size(); i += 3) shown += stream.Push(text.substr(i, 3));
  shown += stream.Finish();
  if (stream.output().compare(0, shown.size(), shown) != 0) __builtin_trap();
}

}  // namespace glint::server
