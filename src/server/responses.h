// The Responses API's objects and streaming events for one response, in
// the order OpenAI's server sends them:
//   response.created, response.in_progress,
//   response.output_item.added, response.content_part.added,
//   response.output_text.delta ..., response.output_text.done,
//   response.content_part.done, response.output_item.done,
//   (per function call: output_item.added, function_call_arguments.delta,
//    function_call_arguments.done, output_item.done),
//   response.completed | response.incomplete | response.failed.
// Every event carries sequence_number; item events carry output_index.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/generation.h"
#include "server/protocol.h"

namespace glint::server {

class ResponseEvents {
 public:
  // new_id makes item ids ("msg", "fc", "call" prefixes).
  ResponseEvents(std::string id, std::string model, const ResponseRequest& request,
                 std::function<std::string(const char*)> new_id);

  const std::string& id() const { return id_; }
  std::vector<json> Start();                       // created, in_progress
  std::vector<json> Text(const std::string& delta);  // the message item opens on the first
  // The end: closes the message, adds the function calls parsed from the
  // output, and completes (or marks incomplete) the response.
  std::vector<json> Finish(const GenerationResult& result);
  std::vector<json> Fail(const ApiError& error);   // response.failed
  // The response object as it stands ("in_progress", "completed", ...).
  json Response() const;
  // The output items so far (complete after Finish).
  const std::vector<Item>& output() const { return output_; }
  // How glint-auto chose the model: the response object's "routing".
  void SetRouting(json routing) { echo_["routing"] = std::move(routing); }

 private:
  json Event(const char* type, json fields);
  json Usage() const;

  std::string id_;
  std::string model_;
  json echo_;  // request fields the response object repeats
  std::function<std::string(const char*)> new_id_;
  int64_t created_at_;
  int64_t sequence_ = 0;
  std::string status_ = "in_progress";
  json error_;
  json incomplete_;
  std::vector<Item> output_;
  bool generate_ = true;  // false: a warm-up, whose output is empty
  bool message_open_ = false;
  std::string text_;
  std::optional<engine::GenerateStats> stats_;  // set by Finish
  double queue_s_ = 0;
};

}  // namespace glint::server
