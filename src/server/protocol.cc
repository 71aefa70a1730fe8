#include "server/protocol.h"

#include <cmath>

#include <fmt/format.h>

namespace glint::server {

std::string ApiError::type() const {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 404) return "not_found_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

json ApiError::ToJson() const {
  json e = {{"message", message}, {"type", type()}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return json{{"error", std::move(e)}};
}

ApiError BadRequest(std::string code, std::string message, std::string param) {
  return ApiError{400, std::move(code), std::move(message), std::move(param)};
}

Parsed<json> ParseJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again for the position; only the failing path pays for it.
    try {
      json again = json::parse(text.begin(), text.end());
      (void)again;
    } catch (const json::parse_error& e) {
      return BadRequest("invalid_json", fmt::format("the body is not valid JSON: {}", e.what()));
    }
    return BadRequest("invalid_json", "the body is not valid JSON");
  }
  return j;
}

namespace {

std::string TypeName(const json& v) { return v.type_name(); }

ApiError WrongType(const std::string& field, const char* expected, const json& v) {
  return BadRequest("invalid_type",
                    fmt::format("'{}' must be {}, not {}", field, expected, TypeName(v)), field);
}

// Field readers: absent or null keeps the default; a wrong type is an error.
std::optional<ApiError> ReadString(const json& o, const char* key, std::string* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return WrongType(key, "a string", *it);
  *out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> ReadBool(const json& o, const char* key, bool* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return WrongType(key, "a boolean", *it);
  *out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> ReadFloat(const json& o, const char* key, float lo, float hi,
                                  float* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return WrongType(key, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return BadRequest("invalid_value", fmt::format("'{}' must be between {} and {}, not {}", key,
                                                   lo, hi, v), key);
  }
  *out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> ReadInt(const json& o, const char* key, int64_t lo, int64_t hi,
                                std::optional<int32_t>* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return WrongType(key, "an integer", *it);
  const int64_t v = it->is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                                   it->get<uint64_t>(), INT64_MAX))
                                             : it->get<int64_t>();
  if (v < lo || v > hi) {
    return BadRequest("invalid_value",
                      fmt::format("'{}' must be between {} and {}, not {}", key, lo, hi, v), key);
  }
  *out = static_cast<int32_t>(v);
  return std::nullopt;
}

#define READ_OR_RETURN(expr)          \
  do {                                \
    if (auto err = (expr)) return *err; \
  } while (0)

// {"type": "content", "content": "text" | [{"type": "text", "text": ...}]}
std::optional<ApiError> ReadPrediction(const json& v, std::string* out) {
  if (!v.is_object()) return WrongType("prediction", "an object", v);
  auto type = v.find("type");
  if (type == v.end() || !type->is_string() || *type != "content") {
    return BadRequest("invalid_value", "'prediction.type' must be \"content\"", "prediction.type");
  }
  auto content = v.find("content");
  if (content == v.end()) {
    return BadRequest("missing_field", "'prediction.content' is required",
                      "prediction.content");
  }
  if (content->is_string()) {
    *out = content->get<std::string>();
    return std::nullopt;
  }
  if (!content->is_array()) {
    return WrongType("prediction.content", "a string or an array of text parts", *content);
  }
  out->clear();
  for (const json& part : *content) {
    if (!part.is_object()) {
      return WrongType("prediction.content", "a string or an array of text parts", part);
    }
    auto text = part.find("text");
    if (text == part.end()) {
      return BadRequest("missing_field", "a part of 'prediction.content' has no 'text'",
                        "prediction.content");
    }
    if (!text->is_string()) return WrongType("prediction.content[].text", "a string", *text);
    *out += text->get<std::string>();
  }
  return std::nullopt;
}

// temperature, top_p, seed, penalties, stop, stream, prediction: the parameters shared
// by every generation endpoint.
std::optional<ApiError> ReadSampling(const json& o, GenerationParams* p) {
  sampling::SamplingParams& s = p->sampling;
  s.temperature = 0.0f;
  s.penalty_last_n = 64;
  if (auto e = ReadFloat(o, "temperature", 0.0f, 2.0f, &s.temperature)) return e;
  if (auto e = ReadFloat(o, "top_p", 0.0f, 1.0f, &s.top_p)) return e;
  if (s.top_p <= 0.0f) return BadRequest("invalid_value", "'top_p' must be above 0", "top_p");
  if (auto e = ReadFloat(o, "frequency_penalty", -2.0f, 2.0f, &s.frequency_penalty)) return e;
  if (auto e = ReadFloat(o, "presence_penalty", -2.0f, 2.0f, &s.presence_penalty)) return e;
  if (auto it = o.find("seed"); it != o.end() && !it->is_null()) {
    if (!it->is_number_integer()) return WrongType("seed", "an integer", *it);
    s.seed = it->is_number_unsigned() ? it->get<uint64_t>()
                                      : static_cast<uint64_t>(it->get<int64_t>());
  }
  if (auto e = ReadBool(o, "stream", &p->stream)) return e;
  if (auto it = o.find("stop"); it != o.end() && !it->is_null()) {
    if (it->is_string()) {
      p->stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const json& v : *it) {
        if (!v.is_string()) return WrongType("stop", "a string or an array of strings", v);
        p->stop.push_back(v.get<std::string>());
      }
      if (p->stop.size() > 4) return BadRequest("invalid_value", "at most 4 stop sequences", "stop");
    } else {
      return WrongType("stop", "a string or an array of strings", *it);
    }
    for (const auto& stop : p->stop) {
      if (stop.empty()) return BadRequest("invalid_value", "a stop sequence is empty", "stop");
    }
  }
  if (auto it = o.find("prediction"); it != o.end() && !it->is_null()) {
    if (auto e = ReadPrediction(*it, &p->prediction)) return e;
  }
  return std::nullopt;
}

// Message content: a string, or an array of parts whose text parts
// (input_text, output_text, text, refusal) are joined; other parts (images,
// files) are skipped.
std::optional<ApiError> ReadContent(const json& v, const std::string& field, std::string* out) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    *out = v.get<std::string>();
    return std::nullopt;
  }
  if (!v.is_array()) return WrongType(field, "a string or an array of content parts", v);
  for (const json& part : v) {
    if (part.is_string()) {
      *out += part.get<std::string>();
      continue;
    }
    if (!part.is_object()) return WrongType(field + "[]", "an object", part);
    auto text = part.find("text");
    if (text == part.end()) text = part.find("refusal");
    if (text == part.end()) continue;
    if (!text->is_string()) return WrongType(field + "[].text", "a string", *text);
    *out += text->get<std::string>();
  }
  return std::nullopt;
}

bool KnownRole(const std::string& r) {
  return r == "system" || r == "developer" || r == "user" || r == "assistant" || r == "tool";
}

std::optional<ApiError> ReadTools(const json& o, std::vector<FunctionTool>* tools) {
  auto it = o.find("tools");
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return WrongType("tools", "an array", *it);
  for (const json& t : *it) {
    if (!t.is_object()) return WrongType("tools[]", "an object", t);
    auto type = t.find("type");
    if (type == t.end() || !type->is_string() || *type != "function") continue;  // skipped
    // Chat Completions nests the function; Responses does not.
    const json& f = t.contains("function") && t["function"].is_object() ? t["function"] : t;
    FunctionTool tool;
    READ_OR_RETURN(ReadString(f, "name", &tool.name));
    if (tool.name.empty()) return BadRequest("missing_field", "a function tool has no name", "tools");
    READ_OR_RETURN(ReadString(f, "description", &tool.description));
    if (auto p = f.find("parameters"); p != f.end()) tool.parameters = *p;
    tools->push_back(std::move(tool));
  }
  return std::nullopt;
}

std::optional<ApiError> ReadToolChoice(const json& o, std::string* out) {
  auto it = o.find("tool_choice");
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    *out = it->get<std::string>();
    if (*out != "auto" && *out != "none" && *out != "required") {
      return BadRequest("invalid_value", "'tool_choice' must be auto, none or required",
                        "tool_choice");
    }
  }
  // An object (a forced function) is treated as "required".
  else if (it->is_object()) {
    *out = "required";
  } else {
    return WrongType("tool_choice", "a string or an object", *it);
  }
  return std::nullopt;
}

std::string ArgumentsString(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::optional<ApiError> ReadResponseItem(const json& v, std::vector<Item>* items) {
  if (!v.is_object()) return WrongType("input[]", "an object", v);
  std::string type = "message";
  READ_OR_RETURN(ReadString(v, "type", &type));
  Item item;
  READ_OR_RETURN(ReadString(v, "id", &item.id));
  if (type == "message") {
    READ_OR_RETURN(ReadString(v, "role", &item.role));
    if (!KnownRole(item.role)) {
      return BadRequest("invalid_value", fmt::format("unknown message role '{}'", item.role),
                        "input[].role");
    }
    if (auto c = v.find("content"); c != v.end()) {
      READ_OR_RETURN(ReadContent(*c, "input[].content", &item.text));
    }
  } else if (type == "function_call") {
    item.kind = Item::Kind::kFunctionCall;
    READ_OR_RETURN(ReadString(v, "call_id", &item.call_id));
    READ_OR_RETURN(ReadString(v, "name", &item.name));
    if (auto a = v.find("arguments"); a != v.end() && !a->is_null()) item.arguments = ArgumentsString(*a);
  } else if (type == "function_call_output") {
    item.kind = Item::Kind::kFunctionCallOutput;
    READ_OR_RETURN(ReadString(v, "call_id", &item.call_id));
    if (auto out = v.find("output"); out != v.end()) {
      READ_OR_RETURN(ReadContent(*out, "input[].output", &item.text));
    }
  } else {
    // reasoning, web_search_call, item_reference, ...: not rendered.
    return std::nullopt;
  }
  items->push_back(std::move(item));
  return std::nullopt;
}

}  // namespace

json Item::ToJson() const {
  switch (kind) {
    case Kind::kMessage: {
      json parts = json::array();
      const bool out = role == "assistant";
      parts.push_back({{"type", out ? "output_text" : "input_text"}, {"text", text}});
      if (out) parts.back()["annotations"] = json::array();
      return {{"type", "message"}, {"id", id}, {"status", "completed"}, {"role", role},
              {"content", std::move(parts)}};
    }
    case Kind::kFunctionCall:
      return {{"type", "function_call"}, {"id", id}, {"status", "completed"},
              {"call_id", call_id}, {"name", name}, {"arguments", arguments}};
    case Kind::kFunctionCallOutput:
      return {{"type", "function_call_output"}, {"id", id}, {"call_id", call_id},
              {"output", text}};
  }
  return {};
}

Parsed<ResponseRequest> ParseResponseRequest(const json& body) {
  if (!body.is_object()) return BadRequest("invalid_type", "the request must be a JSON object");
  ResponseRequest r;
  READ_OR_RETURN(ReadString(body, "model", &r.model));
  READ_OR_RETURN(ReadString(body, "instructions", &r.instructions));
  READ_OR_RETURN(ReadString(body, "previous_response_id", &r.previous_response_id));
  READ_OR_RETURN(ReadString(body, "prompt_cache_key", &r.prompt_cache_key));
  READ_OR_RETURN(ReadBool(body, "store", &r.store));
  READ_OR_RETURN(ReadBool(body, "generate", &r.generate));
  READ_OR_RETURN(ReadSampling(body, &r.params));
  READ_OR_RETURN(ReadInt(body, "max_output_tokens", 1, INT32_MAX, &r.params.max_tokens));
  READ_OR_RETURN(ReadTools(body, &r.tools));
  READ_OR_RETURN(ReadToolChoice(body, &r.tool_choice));
  if (auto it = body.find("input"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      Item user;
      user.role = "user";
      user.text = it->get<std::string>();
      r.input.push_back(std::move(user));
    } else if (it->is_array()) {
      for (const json& v : *it) READ_OR_RETURN(ReadResponseItem(v, &r.input));
    } else {
      return WrongType("input", "a string or an array of items", *it);
    }
  }
  return r;
}

Parsed<ChatRequest> ParseChatRequest(const json& body) {
  if (!body.is_object()) return BadRequest("invalid_type", "the request must be a JSON object");
  ChatRequest r;
  READ_OR_RETURN(ReadString(body, "model", &r.model));
  READ_OR_RETURN(ReadSampling(body, &r.params));
  READ_OR_RETURN(ReadInt(body, "max_tokens", 1, INT32_MAX, &r.params.max_tokens));
  READ_OR_RETURN(ReadInt(body, "max_completion_tokens", 1, INT32_MAX, &r.params.max_tokens));
  std::optional<int32_t> n;
  READ_OR_RETURN(ReadInt(body, "n", 1, 1, &n));
  READ_OR_RETURN(ReadTools(body, &r.tools));
  READ_OR_RETURN(ReadToolChoice(body, &r.tool_choice));
  if (auto so = body.find("stream_options"); so != body.end() && so->is_object()) {
    READ_OR_RETURN(ReadBool(*so, "include_usage", &r.include_usage));
  }
  auto msgs = body.find("messages");
  if (msgs == body.end()) return BadRequest("missing_field", "'messages' is required", "messages");
  if (!msgs->is_array()) return WrongType("messages", "an array", *msgs);
  if (msgs->empty()) return BadRequest("invalid_value", "'messages' is empty", "messages");
  for (const json& m : *msgs) {
    if (!m.is_object()) return WrongType("messages[]", "an object", m);
    Item item;
    READ_OR_RETURN(ReadString(m, "role", &item.role));
    if (!KnownRole(item.role) && item.role != "function") {
      return BadRequest("invalid_value", fmt::format("unknown message role '{}'", item.role),
                        "messages[].role");
    }
    if (auto c = m.find("content"); c != m.end()) {
      READ_OR_RETURN(ReadContent(*c, "messages[].content", &item.text));
    }
    if (item.role == "tool" || item.role == "function") {
      item.kind = Item::Kind::kFunctionCallOutput;
      READ_OR_RETURN(ReadString(m, "tool_call_id", &item.call_id));
      r.messages.push_back(std::move(item));
      continue;
    }
    const bool has_text = !item.text.empty();
    auto calls = m.find("tool_calls");
    if (item.role == "assistant" && calls != m.end() && calls->is_array()) {
      if (has_text) r.messages.push_back(item);
      for (const json& c : *calls) {
        if (!c.is_object()) return WrongType("messages[].tool_calls[]", "an object", c);
        Item call;
        call.kind = Item::Kind::kFunctionCall;
        READ_OR_RETURN(ReadString(c, "id", &call.call_id));
        if (auto f = c.find("function"); f != c.end() && f->is_object()) {
          READ_OR_RETURN(ReadString(*f, "name", &call.name));
          if (auto a = f->find("arguments"); a != f->end() && !a->is_null()) {
            call.arguments = ArgumentsString(*a);
          }
        }
        r.messages.push_back(std::move(call));
      }
      continue;
    }
    r.messages.push_back(std::move(item));
  }
  return r;
}

Parsed<CompletionRequest> ParseCompletionRequest(const json& body) {
  if (!body.is_object()) return BadRequest("invalid_type", "the request must be a JSON object");
  CompletionRequest r;
  READ_OR_RETURN(ReadString(body, "model", &r.model));
  READ_OR_RETURN(ReadSampling(body, &r.params));
  r.params.max_tokens = 16;  // OpenAI's default for this endpoint
  READ_OR_RETURN(ReadInt(body, "max_tokens", 1, INT32_MAX, &r.params.max_tokens));
  READ_OR_RETURN(ReadBool(body, "echo", &r.echo));
  std::optional<int32_t> n;
  READ_OR_RETURN(ReadInt(body, "n", 1, 1, &n));
  auto p = body.find("prompt");
  if (p == body.end() || p->is_null()) {
    return BadRequest("missing_field", "'prompt' is required", "prompt");
  }
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r.prompt = (*p)[0].get<std::string>();
  } else if (p->is_array()) {
    return BadRequest("invalid_value", "'prompt' must be one string (batches are not supported)",
                      "prompt");
  } else {
    return WrongType("prompt", "a string", *p);
  }
  if (auto s = body.find("suffix"); s != body.end() && !s->is_null()) {
    if (!s->is_string()) return WrongType("suffix", "a string", *s);
    r.suffix = s->get<std::string>();
  }
  return r;
}

}  // namespace glint::server
