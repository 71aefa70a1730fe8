// The wire formats glint speaks, parsed into plain structs: OpenAI's
// Responses API (over HTTP and in WebSocket mode), Chat Completions and
// Completions. Parsing is a pure function of the JSON (fuzzed in
// tests/fuzz/protocol_fuzz.cc); fields glint does not use are accepted and
// ignored, wrong types of the fields it uses are errors that name the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/sampler.h"

namespace glint::server {

using json = nlohmann::json;

// An error as OpenAI's API reports it: the HTTP status, and the body
// {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  ApiError() = default;
  ApiError(int status, std::string code, std::string message, std::string param = "")
      : status(status), code(std::move(code)), message(std::move(message)), param(std::move(param)) {}

  int status = 400;
  std::string code;     // machine-readable: "invalid_json", "context_length_exceeded", ...
  std::string message;
  std::string param;    // the request field at fault, if any
  std::string type() const;  // "invalid_request_error", "server_error", ...
  json ToJson() const;       // {"error": {...}}
};

ApiError BadRequest(std::string code, std::string message, std::string param = "");

// A parsed request or the error that rejects it.
template <typename T>
struct Parsed {
  std::optional<T> value;
  ApiError error;
  Parsed(T v) : value(std::move(v)) {}          // NOLINT: implicit by design
  Parsed(ApiError e) : error(std::move(e)) {}   // NOLINT
  bool ok() const { return value.has_value(); }
};

// One conversation item, whatever API it came from.
struct Item {
  enum class Kind { kMessage, kFunctionCall, kFunctionCallOutput };
  Kind kind = Kind::kMessage;
  std::string id;
  std::string role;       // message: "system", "developer", "user", "assistant", "tool"
  std::string text;       // message: its text parts joined; output: the tool's output
  std::string call_id;    // function_call / function_call_output
  std::string name;       // function_call
  std::string arguments;  // function_call: a JSON string

  json ToJson() const;  // as a Responses output / input item
};

struct FunctionTool {
  std::string name;
  std::string description;
  json parameters;  // JSON schema (may be null)
};

// What glint uses of any generation request.
struct GenerationParams {
  sampling::SamplingParams sampling;  // temperature defaults to 0: greedy
  std::optional<int32_t> max_tokens;  // absent: until the context is full
  std::vector<std::string> stop;
  bool stream = false;
  // OpenAI's predicted output ({"type": "content", "content": ...}): text
  // the answer is expected to repeat (for an edit, the file before it),
  // used as the draft of speculative decoding.
  std::string prediction;
};

struct ResponseRequest {
  std::string model;
  std::string instructions;
  std::vector<Item> input;
  std::vector<FunctionTool> tools;  // function tools only; the others are skipped
  std::string tool_choice = "auto";  // "auto", "none", "required"
  std::string previous_response_id;
  std::string prompt_cache_key;
  bool store = true;
  bool generate = true;  // false: a warm-up that only prefills
  GenerationParams params;
};

// body: a POST /v1/responses body, or a WebSocket response.create event
// (its "type" is ignored here).
Parsed<ResponseRequest> ParseResponseRequest(const json& body);

struct ChatRequest {
  std::string model;
  std::vector<Item> messages;
  std::vector<FunctionTool> tools;
  std::string tool_choice = "auto";
  GenerationParams params;
  bool include_usage = false;  // stream_options.include_usage
};
Parsed<ChatRequest> ParseChatRequest(const json& body);

struct CompletionRequest {
  std::string model;
  std::string prompt;
  std::optional<std::string> suffix;  // fill-in-the-middle
  bool echo = false;
  GenerationParams params;
};
Parsed<CompletionRequest> ParseCompletionRequest(const json& body);

// Parses a text as JSON, or an ApiError "invalid_json" that says where.
Parsed<json> ParseJson(std::string_view text);

}  // namespace glint::server
