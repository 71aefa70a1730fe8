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

namespace {

size_t ItemChars(const Item& it) { return it.text.size() + it.name.size() + it.arguments.size(); }

// A Responses turn's conversation: the previous one's, then the new input.
// Instructions and tools given again replace the previous ones.
std::shared_ptr<Conversation> Extend(const Conversation* base, const ResponseRequest& request) {
  auto c = std::make_shared<Conversation>();
  if (base != nullptr) *c = *base;
  if (base == nullptr || !request.instructions.empty()) c->instructions = request.instructions;
  if (base == nullptr || !request.tools.empty()) c->tools = request.tools;
  c->items.insert(c->items.end(), request.input.begin(), request.input.end());
  return c;
}

json RoutingJson(const ModelService& service, const std::string& rule, const std::string& reason) {
  return {{"model", service.id},
          {"tier", service.tier ? json(TierName(*service.tier)) : json(nullptr)},
          {"rule", rule},
          {"reason", reason}};
}

// Renders the prompt for a model and checks that it fits. For glint-auto,
// an input too long for the fast model goes to the smart model when its
// context holds more. Counts the routing decision.
template <typename Render>  // Render(const ModelService&) -> std::vector<TokenId>
Parsed<PreparedTurn> Prepare(ServerState& state, ModelChoice choice, bool generate,
                             const ApiKey* key, const Render& render) {
  PreparedTurn t;
  for (;;) {
    t.prompt = render(*choice.service);
    auto e = CheckContext(*choice.service, t.prompt.size(), generate);
    if (!e) break;
    ModelService* smart = state.FindTier(Tier::kSmart);
    const bool retry = !choice.routing.is_null() && choice.service->tier == Tier::kFast &&
                       smart != nullptr && smart->n_ctx > choice.service->n_ctx &&
                       (key == nullptr || key->allows(Tier::kSmart));
    if (!retry) return *e;
    choice.routing = RoutingJson(*smart, "large_input",
                                 fmt::format("the input ({} tokens) does not fit {}'s context",
                                             t.prompt.size(), choice.service->id));
    choice.service = smart;
  }
  t.service = choice.service;
  t.routing = std::move(choice.routing);
  if (!t.routing.is_null()) {
    state.metrics().CountRoute(t.routing["tier"].is_string() ? t.routing["tier"].get<std::string>()
                                                              : "",
                               t.routing["rule"].get<std::string>());
  }
  return t;
}

}  // namespace

RouteInput RouteInputFor(const std::string& instructions, const std::vector<FunctionTool>& tools,
                         const std::vector<Item>& items) {
  RouteInput in;
  in.context_chars = instructions.size() + (tools.empty() ? 0 : RenderTools(tools).size());
  in.tools = static_cast<int32_t>(tools.size());
  for (const Item& it : items) {
    in.context_chars += ItemChars(it);
    if (it.kind == Item::Kind::kMessage && it.role == "user") {
      ++in.user_turns;
      in.request_text = it.text;  // the newest one wins
    }
  }
  return in;
}

Parsed<ModelChoice> ChooseModel(ServerState& state, const std::string& name,
                                const RouteInput& input, const ApiKey* key) {
  if (!ServerState::IsAuto(name)) {
    auto m = ResolveModel(state, name);
    if (!m.ok()) return m.error;
    return ModelChoice{*m.value, nullptr};
  }
  ModelService* fast = state.FindTier(Tier::kFast);
  ModelService* smart = state.FindTier(Tier::kSmart);
  if (fast == nullptr || smart == nullptr) {
    ModelService* only = state.FindModel(name);
    if (only == nullptr) return ResolveModel(state, name).error;
    return ModelChoice{only, RoutingJson(*only, "single_tier",
                                         fmt::format("only {} is served", only->id))};
  }
  const RouteDecision d = Route(input);
  ModelService* chosen = d.tier == Tier::kSmart ? smart : fast;
  if (key != nullptr && !key->allows(d.tier)) {
    ModelService* other = chosen == smart ? fast : smart;
    if (key->allows(QuotaTier(*other))) {
      return ModelChoice{other, RoutingJson(*other, "key", fmt::format("the API key may use only {}",
                                                                      other->id))};
    }
  }
  return ModelChoice{chosen, RoutingJson(*chosen, d.rule, d.reason)};
}

Parsed<PreparedTurn> PrepareResponseTurn(ServerState& state, const ResponseRequest& request,
                                         const StoredResponse* previous, const ApiKey* key) {
  auto conversation =
      Extend(previous != nullptr ? previous->conversation.get() : nullptr, request);
  ModelChoice choice;
  if (previous != nullptr && request.model.empty()) {
    // No model named: the conversation stays where it is.
    choice.service = state.FindModel(previous->model_id);
    if (choice.service == nullptr) return ApiError{500, "internal_error", "the model is gone"};
  } else {
    auto c = ChooseModel(state, request.model,
                         RouteInputFor(conversation->instructions, conversation->tools,
                                       conversation->items),
                         key);
    if (!c.ok()) return c.error;
    choice = std::move(*c.value);
  }
  auto render = [&](const ModelService& service) {
    if (previous != nullptr && previous->model_id == service.id) {
      // The same model: its tokens so far, then only the new items.
      std::vector<TokenId> prompt = previous->tokens;
      const std::string text = RenderContinuation(*service.chat_template, request.input,
                                                  previous->open_turn, request.generate);
      auto more = service.Encode(text, false);
      prompt.insert(prompt.end(), more.begin(), more.end());
      return prompt;
    }
    // A new conversation, or one that moves to another model: the whole of
    // it in this model's template (its session's cache keeps what matches).
    return service.Encode(RenderConversation(*service.chat_template, conversation->instructions,
                                             conversation->tools, conversation->items,
                                             request.generate),
                          true);
  };
  auto t = Prepare(state, std::move(choice), request.generate, key, render);
  if (t.ok()) t.value->conversation = std::move(conversation);
  return t;
}

Parsed<PreparedTurn> PrepareChatTurn(ServerState& state, const ChatRequest& request,
                                     const ApiKey* key) {
  // A final assistant message is the start of the answer (a prefill): the
  // model continues it, and the response holds only what follows.
  std::vector<Item> messages = request.messages;
  std::string prefill;
  if (messages.size() > 1 && messages.back().kind == Item::Kind::kMessage &&
      messages.back().role == "assistant") {
    prefill = std::move(messages.back().text);
    messages.pop_back();
  }
  auto choice = ChooseModel(state, request.model, RouteInputFor("", request.tools, messages), key);
  if (!choice.ok()) return choice.error;
  return Prepare(state, std::move(*choice.value), true, key, [&](const ModelService& service) {
    return service.Encode(
        RenderConversation(*service.chat_template, "", request.tools, messages, true) + prefill,
        true);
  });
}

Parsed<PreparedTurn> PrepareCompletion(ServerState& state, const CompletionRequest& request,
                                       const ApiKey* key) {
  RouteInput in;
  in.request_text = request.prompt;
  in.context_chars = request.prompt.size() + (request.suffix ? request.suffix->size() : 0);
  in.fim = true;
  auto choice = ChooseModel(state, request.model, in, key);
  if (!choice.ok()) return choice.error;
  if (request.suffix) {
    const tokenizer::Tokenizer& tok = *choice.value->service->tokenizer;
    if (tok.Find("<|fim_prefix|>") < 0 || tok.Find("<|fim_suffix|>") < 0 ||
        tok.Find("<|fim_middle|>") < 0) {
      // glint-auto: fill-in-the-middle needs the model that has the tokens.
      ModelService* smart = state.FindTier(Tier::kSmart);
      if (!choice.value->routing.is_null() && smart != nullptr &&
          smart->tokenizer->Find("<|fim_middle|>") >= 0 &&
          (key == nullptr || key->allows(Tier::kSmart))) {
        choice.value->service = smart;
        choice.value->routing = RoutingJson(*smart, "fim", "fill-in-the-middle needs glint-smart's "
                                                          "FIM tokens");
      } else {
        return BadRequest("fim_unsupported",
                          fmt::format("{} has no fill-in-the-middle tokens; 'suffix' needs a "
                                      "model that has them (glint-smart)",
                                      choice.value->service->id),
                          "suffix");
      }
    }
  }
  return Prepare(state, std::move(*choice.value), true, key, [&](const ModelService& service) {
    const tokenizer::Tokenizer& tok = *service.tokenizer;
    std::vector<TokenId> prompt;
    if (request.suffix) {
      // Fill-in-the-middle, prefix-suffix-middle order (Qwen2.5-Coder). The
      // user's text is never parsed for special tokens.
      auto prefix = tok.Encode(request.prompt, false, false);
      auto suffix = tok.Encode(*request.suffix, false, false);
      prompt.push_back(tok.Find("<|fim_prefix|>"));
      prompt.insert(prompt.end(), prefix.begin(), prefix.end());
      prompt.push_back(tok.Find("<|fim_suffix|>"));
      prompt.insert(prompt.end(), suffix.begin(), suffix.end());
      prompt.push_back(tok.Find("<|fim_middle|>"));
    } else {
      prompt = tok.Encode(request.prompt, tok.add_bos(), false);
    }
    return prompt;
  });
}

Parsed<const ApiKey*> Authenticate(ServerState& state, std::string_view authorization) {
  const KeyStore* keys = state.keys();
  if (keys == nullptr) return static_cast<const ApiKey*>(nullptr);
  const std::string_view token = BearerToken(authorization);
  const ApiKey* key = token.empty() ? nullptr : keys->Authenticate(token);
  if (key != nullptr) return key;
  state.metrics().CountAuthFailure();
  return ApiError{401, "invalid_api_key",
                  token.empty() ? "this server needs an API key: send it as 'Authorization: Bearer "
                                  "<key>' (keys are created with `glint keys new`)"
                                : "the API key is not valid"};
}

Tier QuotaTier(const ModelService& service) { return service.tier.value_or(Tier::kFast); }

Quota TakeQuota(ServerState& state, const ApiKey* key, const PreparedTurn& turn,
                const GenerationParams& params, bool generate) {
  Quota q;
  if (key == nullptr) return q;
  q.key = key;
  q.tier = QuotaTier(*turn.service);
  if (!key->allows(q.tier)) {
    q.error = ApiError{403, "model_not_allowed",
                       fmt::format("the API key '{}' may not use {} (the {} tier)", key->name,
                                   turn.service->id, TierName(q.tier)),
                       "model"};
    return q;
  }
  // The estimate: the prompt and the most the response may generate (as
  // the scheduler will cap it), or without max_tokens a typical answer
  // (most clients leave it out; the whole context would refuse them under
  // a modest limit). Settled against the real count at the end, which may
  // overdraw the bucket.
  constexpr int64_t kUnboundedOutputEstimate = 1024;
  const int64_t room = std::max<int64_t>(1, turn.service->n_ctx - static_cast<int64_t>(turn.prompt.size()));
  const int64_t output = !generate          ? 0
                         : params.max_tokens ? std::min<int64_t>(*params.max_tokens, room)
                                             : std::min(room, kUnboundedOutputEstimate);
  q.estimate = static_cast<int64_t>(turn.prompt.size()) + output;
  q.admission = state.limiter().Admit(*key, q.tier, q.estimate);
  if (!q.admission.admitted) {
    state.metrics().CountRateLimited(TierName(q.tier), q.admission.limited_by);
    q.error = ApiError{429, "rate_limit_exceeded", q.admission.message};
    q.key = nullptr;  // nothing was taken: nothing to settle
  }
  return q;
}

void SettleQuota(ServerState& state, const Quota& quota, const engine::GenerateStats& stats) {
  if (quota.key == nullptr) return;
  state.limiter().Settle(*quota.key, quota.tier, quota.estimate,
                         static_cast<int64_t>(stats.prompt_tokens) + stats.generated_tokens);
}

json RateLimitsEvent(const Admission& admission) {
  json limits = json::array();
  auto add = [&](const char* name, const LimitState& s) {
    if (s.limit == 0) return;
    limits.push_back({{"name", name}, {"limit", s.limit}, {"remaining", s.remaining},
                      {"reset_seconds", s.reset_s}});
  };
  add("requests", admission.requests);
  add("tokens", admission.tokens);
  if (limits.empty()) return nullptr;
  return {{"type", "rate_limits.updated"}, {"rate_limits", std::move(limits)}};
}

ApiError EngineError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kResourceExhausted:
      return BadRequest("context_length_exceeded", status.message());
    case StatusCode::kOutOfRange:  // the scheduler: more than the whole KV budget
      return BadRequest("kv_budget_exceeded", status.message());
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
                          bool generated, const std::shared_ptr<const Conversation>& conversation,
                          const std::vector<Item>& output) {
  StoredResponse s;
  if (conversation != nullptr) {
    auto c = std::make_shared<Conversation>(*conversation);
    c->items.insert(c->items.end(), output.begin(), output.end());
    s.conversation = std::move(c);
  }
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
