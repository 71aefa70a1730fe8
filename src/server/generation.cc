#include "server/generation.h"

#include <boost/asio/post.hpp>

#include "base/clock.h"

namespace glint::server {

std::shared_ptr<Generation> Generation::Start(ServerState& state, ModelService& service,
                                              boost::asio::any_io_executor executor,
                                              std::shared_ptr<engine::Session> session,
                                              std::vector<TokenId> prompt,
                                              const GenerationParams& params, bool generate,
                                              bool tool_calls, Handlers handlers) {
  std::shared_ptr<Generation> g(new Generation(params.stop, tool_calls));
  g->executor_ = executor;
  auto job_done = std::move(handlers.on_job_done);
  g->handlers_ = std::move(handlers);
  auto job = std::make_shared<engine::Job>();
  job->session = std::move(session);
  job->prompt = std::move(prompt);
  job->generate = generate;
  job->options.sampling = params.sampling;
  job->options.speculate = service.speculate;
  if (!params.prediction.empty()) {
    job->options.prediction = service.tokenizer->Encode(params.prediction, false, false);
  }
  const int32_t room = std::max(1, job->session->n_ctx() - static_cast<int32_t>(job->prompt.size()));
  job->options.max_tokens = params.max_tokens ? std::min(*params.max_tokens, room) : room;
  Metrics* metrics = &state.metrics();
  // Inference thread: time the token, hand it over.
  auto last = std::make_shared<Clock::time_point>();
  job->on_token = [g, metrics, last](TokenId id, std::string text) {
    const auto now = Clock::now();
    if (id >= 0 && *last != Clock::time_point{}) {
      metrics->ObserveInterToken(std::chrono::duration<double>(now - *last).count());
    }
    if (id >= 0) *last = now;
    const int32_t tokens = id >= 0 ? 1 : 0;
    boost::asio::post(g->executor_, [g, text = std::move(text), tokens] {
      if (!g->handlers_.on_text) return;  // finished already
      std::string shown = g->stream_.Push(text);
      if (g->stream_.stopped()) g->job_->Cancel();
      if (shown.empty()) {
        g->job_->Ack(tokens);  // nothing to write, nothing to wait for
        return;
      }
      g->handlers_.on_text(shown, tokens);
    });
  };
  job->on_done = [g, metrics, job_done = std::move(job_done)](engine::JobResult r) {
    if (job_done) job_done(r);
    if (r.status.ok() && r.stats.generated_tokens > 0) metrics->ObserveTtft(r.stats.ttft_s);
    if (r.status.ok()) {
      metrics->AddTokens(r.stats.prompt_tokens, r.stats.cached_tokens, r.stats.generated_tokens);
      metrics->AddDraft(r.stats.draft_accepted, r.stats.draft_rejected);
    }
    boost::asio::post(g->executor_, [g, r = std::move(r)]() mutable {
      GenerationResult out;
      std::string rest = g->stream_.Finish();
      if (!rest.empty() && g->handlers_.on_text) g->handlers_.on_text(rest, 0);
      out.finish_reason = g->stream_.stopped() ? "stop" : r.stats.finish_reason;
      out.output = g->stream_.output();
      out.job = std::move(r);
      auto done = std::move(g->handlers_.on_done);
      g->handlers_ = {};
      if (done) done(std::move(out));
    });
  };
  g->job_ = job;
  service.scheduler->Submit(job);
  return g;
}

}  // namespace glint::server
