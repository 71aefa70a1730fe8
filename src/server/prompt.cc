#include "server/prompt.h"

#include <algorithm>

namespace glint::server {
namespace {

constexpr std::string_view kCallOpen = "<tool_call>";
constexpr std::string_view kCallClose = "</tool_call>";

using ordered_json = nlohmann::ordered_json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// JSON with ", " and ": " between items, keys in their original order: how
// the chat template writes tool calls, so how the model learned to write
// them (and a call rendered back matches the tokens the model produced).
std::string SpacedJson(const ordered_json& j) {
  std::string out;
  if (j.is_object()) {
    out = "{";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ", ";
      out += ordered_json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace);
      out += ": " + SpacedJson(it.value());
    }
    return out + "}";
  }
  if (j.is_array()) {
    out = "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + SpacedJson(j[i]);
    return out + "]";
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A schema without the keys that only help people ("title", "examples",
// "$schema"), to save context.
json CompactSchema(const json& schema) {
  if (schema.is_object()) {
    json out = json::object();
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() == "title" || it.key() == "examples" || it.key() == "$schema") continue;
      out[it.key()] = CompactSchema(it.value());
    }
    return out;
  }
  if (schema.is_array()) {
    json out = json::array();
    for (const json& v : schema) out.push_back(CompactSchema(v));
    return out;
  }
  return schema;
}

std::string CallText(const Item& call) {
  ordered_json args = ordered_json::parse(call.arguments, nullptr, false);
  if (args.is_discarded()) args = call.arguments;  // not JSON: pass it as a string
  ordered_json c = ordered_json::object();
  c["name"] = call.name;
  c["arguments"] = std::move(args);
  return std::string(kCallOpen) + "\n" + SpacedJson(c) + "\n" + std::string(kCallClose);
}

// Items as chat messages: developer turns are system turns; a function call
// joins the assistant turn before it (or starts one); outputs are tool turns.
std::vector<tokenizer::ChatMessage> ToMessages(const std::vector<Item>& items) {
  std::vector<tokenizer::ChatMessage> out;
  for (const Item& it : items) {
    switch (it.kind) {
      case Item::Kind::kMessage:
        out.push_back({it.role == "developer" ? "system" : it.role, it.text});
        break;
      case Item::Kind::kFunctionCall:
        if (!out.empty() && out.back().role == "assistant") {
          if (!out.back().content.empty()) out.back().content += "\n";
          out.back().content += CallText(it);
        } else {
          out.push_back({"assistant", CallText(it)});
        }
        break;
      case Item::Kind::kFunctionCallOutput:
        out.push_back({"tool", it.text});
        break;
    }
  }
  return out;
}

}  // namespace

std::string RenderTools(const std::vector<FunctionTool>& tools) {
  std::string s =
      "\n\n# Tools\n\nYou can call these functions (one JSON signature per line):\n<tools>";
  for (const FunctionTool& t : tools) {
    json sig = {{"name", t.name}};
    if (!t.description.empty()) sig["description"] = t.description;
    if (!t.parameters.is_null()) sig["parameters"] = CompactSchema(t.parameters);
    s += "\n" + Dump(json{{"type", "function"}, {"function", sig}});
  }
  s += "\n</tools>\n\nTo call a function, answer with its name and arguments as JSON inside "
       "<tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
       "<args-json-object>}\n</tool_call>";
  return s;
}

std::string RenderConversation(const tokenizer::ChatTemplate& tpl, const std::string& instructions,
                               const std::vector<FunctionTool>& tools,
                               const std::vector<Item>& items, bool add_generation_prompt) {
  std::vector<tokenizer::ChatMessage> messages = ToMessages(items);
  // Instructions and tools go into the first system turn.
  std::string system = instructions;
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (has_system) {
    if (!system.empty() && !messages[0].content.empty()) system += "\n\n";
    system += messages[0].content;
    messages.erase(messages.begin());
  }
  if (!tools.empty()) {
    if (system.empty()) system = tpl.default_system();
    system += RenderTools(tools);
  }
  if (has_system || !system.empty()) messages.insert(messages.begin(), {"system", system});
  return tpl.Render(messages, add_generation_prompt);
}

std::string RenderContinuation(const tokenizer::ChatTemplate& tpl, const std::vector<Item>& items,
                               bool close_turn, bool add_generation_prompt) {
  std::string out = close_turn ? "<|im_end|>\n" : "";
  out += tpl.RenderContinuation(ToMessages(items), add_generation_prompt);
  return out;
}

ParsedOutput ParseModelOutput(const std::string& output) {
  ParsedOutput p;
  size_t pos = 0;
  while (pos < output.size()) {
    const size_t open = output.find(kCallOpen, pos);
    if (open == std::string::npos) {
      p.text += output.substr(pos);
      break;
    }
    size_t close = output.find(kCallClose, open);
    const size_t body_start = open + kCallOpen.size();
    const std::string body = output.substr(
        body_start, (close == std::string::npos ? output.size() : close) - body_start);
    ordered_json j = ordered_json::parse(body, nullptr, false);
    const bool valid = j.is_object() && j.contains("name") && j["name"].is_string();
    if (!valid) {
      p.text += output.substr(pos, (close == std::string::npos ? output.size()
                                                               : close + kCallClose.size()) - pos);
      pos = close == std::string::npos ? output.size() : close + kCallClose.size();
      continue;
    }
    p.text += output.substr(pos, open - pos);
    Item call;
    call.kind = Item::Kind::kFunctionCall;
    call.name = j["name"].get<std::string>();
    const ordered_json args = j.contains("arguments") ? j["arguments"] : ordered_json::object();
    call.arguments = args.is_string() ? args.get<std::string>() : SpacedJson(args);
    p.calls.push_back(std::move(call));
    pos = close == std::string::npos ? output.size() : close + kCallClose.size();
  }
  // Whitespace the model put around its calls is not part of the answer.
  while (!p.calls.empty() && !p.text.empty() && std::isspace(static_cast<unsigned char>(p.text.back()))) {
    p.text.pop_back();
  }
  return p;
}

TextStream::TextStream(std::vector<std::string> stop, bool tool_calls)
    : stop_(std::move(stop)), tool_calls_(tool_calls) {}

std::string TextStream::Push(const std::string& text) {
  if (stopped_) return "";
  output_ += text;
  // A stop sequence ends the output where it starts.
  size_t cut = std::string::npos;
  for (const std::string& s : stop_) {
    // Search only where a new match can be: the tail that includes new text.
    const size_t from = output_.size() >= text.size() + s.size() ? output_.size() - text.size() - s.size() + 1 : 0;
    const size_t at = output_.find(s, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos && cut >= shown_) {
    output_.resize(cut);
    stopped_ = true;
  }
  if (tool_calls_ && !in_call_) {
    const size_t open = output_.find(kCallOpen, shown_);
    if (open != std::string::npos) {
      std::string shown = output_.substr(shown_, open - shown_);
      in_call_ = true;
      shown_ = output_.size();
      return shown;
    }
  }
  if (in_call_) return "";
  if (stopped_) {
    std::string shown = output_.substr(shown_);
    shown_ = output_.size();
    return shown;
  }
  // Hold back the longest tail that could still become a marker.
  size_t hold = 0;
  auto consider = [&](std::string_view marker) {
    for (size_t n = std::min(marker.size() - 1, output_.size() - shown_); n > hold; --n) {
      if (std::string_view(output_).substr(output_.size() - n) == marker.substr(0, n)) {
        hold = n;
        break;
      }
    }
  };
  for (const std::string& s : stop_) consider(s);
  if (tool_calls_) consider(kCallOpen);
  const size_t end = output_.size() - hold;
  std::string shown = output_.substr(shown_, end - shown_);
  shown_ = end;
  return shown;
}

std::string TextStream::Finish() {
  if (in_call_) return "";
  std::string rest = output_.substr(shown_);
  shown_ = output_.size();
  return rest;
}

}  // namespace glint::server
