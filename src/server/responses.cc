#include "server/responses.h"

#include <chrono>

namespace glint::server {

ResponseEvents::ResponseEvents(std::string id, std::string model, const ResponseRequest& request,
                               std::function<std::string(const char*)> new_id)
    : id_(std::move(id)),
      model_(std::move(model)),
      new_id_(std::move(new_id)),
      generate_(request.generate) {
  created_at_ = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  json tools = json::array();
  for (const FunctionTool& t : request.tools) {
    tools.push_back({{"type", "function"}, {"name", t.name}, {"description", t.description},
                     {"parameters", t.parameters}, {"strict", false}});
  }
  echo_ = {
      {"instructions", request.instructions.empty() ? json(nullptr) : json(request.instructions)},
      {"previous_response_id", request.previous_response_id.empty()
                                   ? json(nullptr) : json(request.previous_response_id)},
      {"store", request.store},
      {"temperature", request.params.sampling.temperature},
      {"top_p", request.params.sampling.top_p},
      {"max_output_tokens",
       request.params.max_tokens ? json(*request.params.max_tokens) : json(nullptr)},
      {"tool_choice", request.tool_choice},
      {"tools", std::move(tools)},
      {"parallel_tool_calls", true},
      {"prompt_cache_key", request.prompt_cache_key.empty() ? json(nullptr)
                                                            : json(request.prompt_cache_key)},
  };
}

json ResponseEvents::Event(const char* type, json fields) {
  fields["type"] = type;
  fields["sequence_number"] = sequence_++;
  return fields;
}

json ResponseEvents::Usage() const {
  if (!stats_) return nullptr;
  const engine::GenerateStats& s = *stats_;
  return {
      {"input_tokens", s.prompt_tokens},
      {"input_tokens_details", {{"cached_tokens", s.cached_tokens}}},
      {"output_tokens", s.generated_tokens},
      {"output_tokens_details",
       {{"reasoning_tokens", 0},
        {"accepted_prediction_tokens", s.draft_accepted},
        {"rejected_prediction_tokens", s.draft_rejected}}},
      {"total_tokens", s.prompt_tokens + s.generated_tokens},
      // glint's own: where the time went, measured by the engine.
      {"timings",
       {{"queue_ms", queue_s_ * 1e3},
        {"prefill_ms", s.prefill_s * 1e3},
        {"ttft_ms", s.ttft_s * 1e3},
        {"decode_ms", s.decode_s * 1e3},
        {"prefill_tokens_per_s", s.prefill_tok_s()},
        {"decode_tokens_per_s", s.decode_tok_s()}}},
  };
}

json ResponseEvents::Response() const {
  json output = json::array();
  for (const Item& it : output_) output.push_back(it.ToJson());
  json r = {{"id", id_},
            {"object", "response"},
            {"created_at", created_at_},
            {"status", status_},
            {"model", model_},
            {"output", std::move(output)},
            {"usage", Usage()},
            {"error", error_},
            {"incomplete_details", incomplete_},
            {"text", {{"format", {{"type", "text"}}}}},
            {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
            {"metadata", json::object()}};
  r.update(echo_);
  return r;
}

std::vector<json> ResponseEvents::Start() {
  std::vector<json> ev;
  ev.push_back(Event("response.created", {{"response", Response()}}));
  ev.push_back(Event("response.in_progress", {{"response", Response()}}));
  return ev;
}

std::vector<json> ResponseEvents::Text(const std::string& delta) {
  std::vector<json> ev;
  if (!message_open_) {
    message_open_ = true;
    Item msg;
    msg.id = new_id_("msg");
    msg.role = "assistant";
    output_.push_back(msg);
    json item = {{"type", "message"}, {"id", msg.id}, {"status", "in_progress"},
                 {"role", "assistant"}, {"content", json::array()}};
    const int64_t index = static_cast<int64_t>(output_.size()) - 1;
    ev.push_back(Event("response.output_item.added", {{"output_index", index}, {"item", item}}));
    ev.push_back(Event("response.content_part.added",
                       {{"output_index", index}, {"item_id", msg.id}, {"content_index", 0},
                        {"part", {{"type", "output_text"}, {"text", ""},
                                  {"annotations", json::array()}}}}));
  }
  if (delta.empty()) return ev;
  text_ += delta;
  const int64_t index = static_cast<int64_t>(output_.size()) - 1;
  ev.push_back(Event("response.output_text.delta", {{"output_index", index},
                                                    {"item_id", output_.back().id},
                                                    {"content_index", 0},
                                                    {"delta", delta},
                                                    {"logprobs", json::array()}}));
  return ev;
}

std::vector<json> ResponseEvents::Finish(const GenerationResult& result) {
  stats_ = result.job.stats;
  queue_s_ = result.job.queue_s;
  std::vector<json> ev;
  ParsedOutput parsed = ParseModelOutput(result.output);
  // The message: text shown while streaming is what the client has; the
  // parsed text agrees with it except for whitespace before a call.
  if (generate_ && !message_open_ && (!parsed.text.empty() || parsed.calls.empty())) {
    auto opened = Text("");
    ev.insert(ev.end(), opened.begin(), opened.end());
  }
  if (message_open_) {
    const int64_t index = 0;
    Item& msg = output_[index];
    msg.text = parsed.calls.empty() ? result.output : parsed.text;
    if (msg.text.size() > text_.size() && msg.text.compare(0, text_.size(), text_) == 0) {
      // Text held back until the end (a partial marker that never completed).
      auto more = Text(msg.text.substr(text_.size()));
      ev.insert(ev.end(), more.begin(), more.end());
    }
    ev.push_back(Event("response.output_text.done", {{"output_index", index},
                                                     {"item_id", msg.id},
                                                     {"content_index", 0},
                                                     {"text", msg.text},
                                                     {"logprobs", json::array()}}));
    ev.push_back(Event("response.content_part.done",
                       {{"output_index", index}, {"item_id", msg.id}, {"content_index", 0},
                        {"part", {{"type", "output_text"}, {"text", msg.text},
                                  {"annotations", json::array()}}}}));
    ev.push_back(Event("response.output_item.done", {{"output_index", index}, {"item", msg.ToJson()}}));
  }
  for (Item call : parsed.calls) {
    call.id = new_id_("fc");
    call.call_id = new_id_("call");
    output_.push_back(call);
    const int64_t index = static_cast<int64_t>(output_.size()) - 1;
    json added = call.ToJson();
    added["status"] = "in_progress";
    added["arguments"] = "";
    ev.push_back(Event("response.output_item.added", {{"output_index", index}, {"item", added}}));
    ev.push_back(Event("response.function_call_arguments.delta",
                       {{"output_index", index}, {"item_id", call.id}, {"delta", call.arguments}}));
    ev.push_back(Event("response.function_call_arguments.done",
                       {{"output_index", index}, {"item_id", call.id},
                        {"arguments", call.arguments}}));
    ev.push_back(Event("response.output_item.done", {{"output_index", index}, {"item", call.ToJson()}}));
  }
  if (result.finish_reason == "length") {
    status_ = "incomplete";
    incomplete_ = {{"reason", "max_output_tokens"}};
    ev.push_back(Event("response.incomplete", {{"response", Response()}}));
  } else {
    status_ = result.finish_reason == "cancelled" ? "cancelled" : "completed";
    ev.push_back(Event("response.completed", {{"response", Response()}}));
  }
  return ev;
}

std::vector<json> ResponseEvents::Fail(const ApiError& error) {
  status_ = "failed";
  error_ = {{"code", error.code}, {"message", error.message}};
  std::vector<json> ev;
  ev.push_back(Event("response.failed", {{"response", Response()}}));
  return ev;
}

}  // namespace glint::server
