// Requests to prompts and results to API bodies, independent of transport:
// what the HTTP and WebSocket connections share.
#pragma once

#include <string>
#include <vector>

#include "server/generation.h"
#include "server/keys.h"
#include "server/protocol.h"
#include "server/rate_limit.h"
#include "server/service.h"

namespace glint::server {

struct PreparedTurn {
  ModelService* service = nullptr;
  std::vector<TokenId> prompt;
  json routing;  // how glint-auto chose the model (null for a named model)
  // Responses: the conversation up to and including this turn's input.
  std::shared_ptr<const Conversation> conversation;
};

// The model a request names, or 404 model_not_found.
Parsed<ModelService*> ResolveModel(ServerState& state, const std::string& name);

// The model for a request: the one it names, or for glint-auto the tier
// the router picks (docs/routing.md), with the decision in `routing`.
struct ModelChoice {
  ModelService* service = nullptr;
  json routing;
};
// A key that may use only one tier keeps glint-auto on it.
Parsed<ModelChoice> ChooseModel(ServerState& state, const std::string& name,
                                const RouteInput& input, const ApiKey* key);

// What the router reads of a conversation: the newest user message(s),
// and the size of everything.
RouteInput RouteInputFor(const std::string& instructions, const std::vector<FunctionTool>& tools,
                         const std::vector<Item>& items);

// A Responses turn: the whole conversation, or (previous != nullptr) the
// previous response's context followed by only the new items.
// `key`: the caller's API key (null without a keys file).
Parsed<PreparedTurn> PrepareResponseTurn(ServerState& state, const ResponseRequest& request,
                                         const StoredResponse* previous, const ApiKey* key);
Parsed<PreparedTurn> PrepareChatTurn(ServerState& state, const ChatRequest& request,
                                     const ApiKey* key);
Parsed<PreparedTurn> PrepareCompletion(ServerState& state, const CompletionRequest& request,
                                       const ApiKey* key);

// The caller's API key, from an Authorization header: null when the server
// has no keys file (everyone is anonymous and unlimited), else the key or
// 401 invalid_api_key.
Parsed<const ApiKey*> Authenticate(ServerState& state, std::string_view authorization);

// The tier whose access and limits apply to a model (a model that serves
// no tier counts as the fast tier).
Tier QuotaTier(const ModelService& service);

// What a request takes of its key's rate limits, settled when it ends.
struct Quota {
  const ApiKey* key = nullptr;  // null: no key, no limits
  Tier tier = Tier::kFast;
  int64_t estimate = 0;           // tokens taken at admission
  Admission admission;            // for the x-ratelimit-* headers
  std::optional<ApiError> error;  // 403 model_not_allowed or 429 rate_limit_exceeded
};
// Checks that the key may use the turn's model, then takes one request and
// the estimated tokens (prompt plus the most it may generate) from the
// key's limits for that tier.
Quota TakeQuota(ServerState& state, const ApiKey* key, const PreparedTurn& turn,
                const GenerationParams& params, bool generate);
// Gives back what the request did not use (or takes what it used beyond
// the estimate).
void SettleQuota(ServerState& state, const Quota& quota, const engine::GenerateStats& stats);
// A WebSocket session's view of its limits after an admission:
// {"type": "rate_limits.updated", "rate_limits": [{name, limit, remaining,
// reset_seconds}...]}, or null when no limit applies.
json RateLimitsEvent(const Admission& admission);

// 400 context_length_exceeded unless the prompt (and one generated token,
// when generating) fits the model's context.
std::optional<ApiError> CheckContext(const ModelService& service, size_t prompt_tokens,
                                     bool generate);

// An engine failure as an API error.
ApiError EngineError(const Status& status);

// What a later request continues from, after a response: the context in
// the model's tokens, and as items (the turn's conversation and its output).
StoredResponse MakeStored(const std::string& id, const ModelService& service,
                          const std::vector<TokenId>& prompt, const GenerationResult& result,
                          bool generated, const std::shared_ptr<const Conversation>& conversation,
                          const std::vector<Item>& output);

// Chat Completions and Completions bodies.
json ChatCompletionBody(const std::string& id, const std::string& model, int64_t created,
                        const GenerationResult& result, bool tools);
json ChatChunk(const std::string& id, const std::string& model, int64_t created, json delta,
               json finish_reason);
json CompletionBody(const std::string& id, const std::string& model, int64_t created,
                    const std::string& text, json finish_reason, const engine::GenerateStats* stats);
json ChatUsage(const engine::GenerateStats& stats);
int64_t UnixSeconds();

}  // namespace glint::server
