// One generation request from a connection's point of view: a scheduler
// Job whose tokens come back on the connection's executor, filtered for
// stop sequences and tool calls, with the metrics recorded on the way.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "engine/scheduler.h"
#include "server/prompt.h"
#include "server/service.h"

namespace glint::server {

struct GenerationResult {
  engine::JobResult job;      // status, stats, generated tokens
  std::string output;         // the whole text (cut at a stop sequence)
  std::string finish_reason;  // "stop", "length", "cancelled"
};

class Generation : public std::enable_shared_from_this<Generation> {
 public:
  struct Handlers {
    // Text that may be shown, and how many tokens it acknowledges once the
    // connection has written it (call Ack then).
    std::function<void(const std::string& text, int32_t tokens)> on_text;
    std::function<void(GenerationResult result)> on_done;
    // Runs on the inference thread as the job ends, however it ends (also
    // when the connection is gone): what must be accounted for regardless.
    std::function<void(const engine::JobResult& result)> on_job_done;
  };

  // Queues the job; handlers run on `executor`, never after on_done. The
  // session must not be used by anything else until on_done.
  static std::shared_ptr<Generation> Start(ServerState& state, ModelService& service,
                                           boost::asio::any_io_executor executor,
                                           std::shared_ptr<engine::Session> session,
                                           std::vector<TokenId> prompt,
                                           const GenerationParams& params, bool generate,
                                           bool tool_calls, Handlers handlers);

  void Cancel() { job_->Cancel(); }
  void Ack(int32_t tokens) { job_->Ack(tokens); }

 private:
  Generation(std::vector<std::string> stop, bool tool_calls) : stream_(std::move(stop), tool_calls) {}

  std::shared_ptr<engine::Job> job_;
  boost::asio::any_io_executor executor_;
  Handlers handlers_;
  TextStream stream_;
};

}  // namespace glint::server
