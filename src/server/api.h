// Requests to prompts and results to API bodies, independent of transport:
// what the HTTP and WebSocket connections share.
#pragma once

#include <string>
#include <vector>

#include "server/generation.h"
#include "server/protocol.h"
#include "server/service.h"

namespace glint::server {

struct PreparedTurn {
  ModelService* service = nullptr;
  std::vector<TokenId> prompt;
};

// The model a request names, or 404 model_not_found.
Parsed<ModelService*> ResolveModel(ServerState& state, const std::string& name);

// A Responses turn: the whole conversation, or (previous != nullptr) the
// previous response's context followed by only the new items.
Parsed<PreparedTurn> PrepareResponseTurn(ServerState& state, const ResponseRequest& request,
                                         const StoredResponse* previous);
Parsed<PreparedTurn> PrepareChatTurn(ServerState& state, const ChatRequest& request);
Parsed<PreparedTurn> PrepareCompletion(ServerState& state, const CompletionRequest& request);

// 400 context_length_exceeded unless the prompt (and one generated token,
// when generating) fits the model's context.
std::optional<ApiError> CheckContext(const ModelService& service, size_t prompt_tokens,
                                     bool generate);

// An engine failure as an API error.
ApiError EngineError(const Status& status);

// What a later request continues from, after a response.
StoredResponse MakeStored(const std::string& id, const ModelService& service,
                          const std::vector<TokenId>& prompt, const GenerationResult& result,
                          bool generated);

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
