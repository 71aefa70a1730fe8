#include "server/api.h"

#include <chrono>

#include <fmt/format.h>

#include "server/prompt.h"

namespace glint::server {

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

Parsed<ModelService*> ResolveModel(ServerState& state, const std::string& name) {
  ModelService* m = state.FindModel(name);
  if (m == nullptr) {
    return ApiError{404, "model_not_found",
                    fmt::format("the model '{}' does not exist; GET /v1/models lists the served "
                                "models", name), "model"};
  }
  return m;
}

std::optional<ApiError> CheckContext(const ModelService& service, size_t prompt_tokens,
                                     bool generate) {
  const size_t need = prompt_tokens + (generate ? 1 : 0);
  if (prompt_tokens == 0) return BadRequest("empty_prompt", "the request has no input to evaluate");
  if (need <= static_cast<size_t>(service.n_ctx)) return std::nullopt;
  return BadRequest("context_length_exceeded",
                    fmt::format("the input is {} tokens; {}'s context holds {} tokens{}",
                                prompt_tokens, service.id, service.n_ctx,
                                generate ? " (input plus at least one output token)" : ""),
                    "input");
}

Parsed<PreparedTurn> PrepareResponseTurn(ServerState& state, const ResponseRequest& request,
                                         const StoredResponse* previous) {
  PreparedTurn t;
  if (previous != nullptr) {
    t.service = state.FindModel(previous->model_id);
    if (t.service == nullptr) return ApiError{500, "internal_error", "the model is gone"};
    t.prompt = previous->tokens;
    const std::string text =
        RenderContinuation(*t.service->chat_template, request.input, previous->open_turn,
                           request.generate);
    auto more = t.service->Encode(text, false);
    t.prompt.insert(t.prompt.end(), more.begin(), more.end());
  } else {
    auto m = ResolveModel(state, request.model);
    if (!m.ok()) return m.error;
    t.service = *m.value;
    const std::string text = RenderConversation(*t.service->chat_template, request.instructions,
                                                request.tools, request.input, request.generate);
    t.prompt = t.service->Encode(text, true);
  }
  if (auto e = CheckContext(*t.service, t.prompt.size(), request.generate)) return *e;
  return t;
}

Parsed<PreparedTurn> PrepareChatTurn(ServerState& state, const ChatRequest& request) {
  auto m = ResolveModel(state, request.model);
  if (!m.ok()) return m.error;
  PreparedTurn t;
  t.service = *m.value;
  // A final assistant message is the start of the answer (a prefill): the
  // model continues it, and the response holds only what follows.
  std::vector<Item> messages = request.messages;
  std::string prefill;
  if (messages.size() > 1 && messages.back().kind == Item::Kind::kMessage &&
      messages.back().role == "assistant") {
    prefill = std::move(messages.back().text);
    messages.pop_back();
  }
  const std::string text =
      RenderConversation(*t.service->chat_template, "", request.tools, messages, true) + prefill;
  t.prompt = t.service->Encode(text, true);
  if (auto e = CheckContext(*t.service, t.prompt.size(), true)) return *e;
  return t;
}

Parsed<PreparedTurn> PrepareCompletion(ServerState& state, const CompletionRequest& request) {
  auto m = ResolveModel(state, request.model);
  if (!m.ok()) return m.error;
  PreparedTurn t;
  t.service = *m.value;
  const tokenizer::Tokenizer& tok = *t.service->tokenizer;
  if (request.suffix) {
    // Fill-in-the-middle, prefix-suffix-middle order (Qwen2.5-Coder).
    const TokenId pre = tok.Find("<|fim_prefix|>"), suf = tok.Find("<|fim_suffix|>"),
                  mid = tok.Find("<|fim_middle|>");
    if (pre < 0 || suf < 0 || mid < 0) {
      return BadRequest("fim_unsupported",
                        fmt::format("{} has no fill-in-the-middle tokens; 'suffix' needs a model "
                                    "that has them (glint-smart)", t.service->id), "suffix");
    }
    // The user's text is never parsed for special tokens.
    auto prefix = tok.Encode(request.prompt, false, false);
    auto suffix = tok.Encode(*request.suffix, false, false);
    t.prompt.push_back(pre);
    t.prompt.insert(t.prompt.end(), prefix.begin(), prefix.end());
    t.prompt.push_back(suf);
    t.prompt.insert(t.prompt.end(), suffix.begin(), suffix.end());
    t.prompt.push_back(mid);
  } else {
    t.prompt = tok.Encode(request.prompt, tok.add_bos(), false);
  }
  if (auto e = CheckContext(*t.service, t.prompt.size(), true)) return *e;
  return t;
}

ApiError EngineError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kResourceExhausted:
      return BadRequest("context_length_exceeded", status.message());
    case StatusCode::kInvalidArgument:
      return BadRequest("invalid_value", status.message());
    case StatusCode::kUnavailable:
      return ApiError{503, "server_shutting_down", status.message()};
    default:
      return ApiError{500, "internal_error", status.message()};
  }
}

StoredResponse MakeStored(const std::string& id, const ModelService& service,
                          const std::vector<TokenId>& prompt, const GenerationResult& result,
                          bool generated) {
  StoredResponse s;
  s.id = id;
  s.model_id = service.id;
  s.tokens = prompt;
  for (TokenId t : result.job.generated) {
    // The end-of-turn token is written by the next turn's rendering.
    if (service.tokenizer->IsEndOfGeneration(t)) break;
    s.tokens.push_back(t);
  }
  s.open_turn = generated;
  return s;
}

json ChatUsage(const engine::GenerateStats& s) {
  return {{"prompt_tokens", s.prompt_tokens},
          {"completion_tokens", s.generated_tokens},
          {"total_tokens", s.prompt_tokens + s.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", s.cached_tokens}}},
          {"completion_tokens_details",
           {{"reasoning_tokens", 0},
            {"accepted_prediction_tokens", s.draft_accepted},
            {"rejected_prediction_tokens", s.draft_rejected}}}};
}

json ChatCompletionBody(const std::string& id, const std::string& model, int64_t created,
                        const GenerationResult& result, bool tools) {
  json message = {{"role", "assistant"}, {"content", result.output}};
  std::string finish = result.finish_reason == "length" ? "length" : "stop";
  if (tools) {
    ParsedOutput parsed = ParseModelOutput(result.output);
    if (!parsed.calls.empty()) {
      message["content"] = parsed.text.empty() ? json(nullptr) : json(parsed.text);
      json calls = json::array();
      int i = 0;
      for (const Item& c : parsed.calls) {
        calls.push_back({{"id", fmt::format("call_{}_{}", id.substr(id.size() - 8), i++)},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      }
      message["tool_calls"] = std::move(calls);
      finish = "tool_calls";
    }
  }
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"message", std::move(message)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish}}})},
          {"usage", ChatUsage(result.job.stats)}};
}

json ChatChunk(const std::string& id, const std::string& model, int64_t created, json delta,
               json finish_reason) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"delta", std::move(delta)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", std::move(finish_reason)}}})}};
}

json CompletionBody(const std::string& id, const std::string& model, int64_t created,
                    const std::string& text, json finish_reason,
                    const engine::GenerateStats* stats) {
  json body = {{"id", id},
               {"object", "text_completion"},
               {"created", created},
               {"model", model},
               {"choices", json::array({{{"index", 0},
                                         {"text", text},
                                         {"logprobs", nullptr},
                                         {"finish_reason", std::move(finish_reason)}}})}};
  if (stats != nullptr) body["usage"] = ChatUsage(*stats);
  return body;
}

}  // namespace glint::server
