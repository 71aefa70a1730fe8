// The scheduler: one inference thread that owns the model's compute and
// serves every request (a Job) from a queue.
//
// Each iteration of its loop:
//   1. admits queued jobs while fewer than max_active run, and drops the
//      cancelled ones (their callbacks see "cancelled"; their session stays
//      consistent and usable);
//   2. runs one decode step of every decoding job as ONE batched forward
//      pass (continuous batching: jobs join and leave between steps), each
//      sequence getting exactly the numbers of a single-sequence decode. A
//      job with a draft (speculative decoding, engine/draft.h) verifies it
//      in the same pass and keeps the tokens the model agrees with, so one
//      step may emit several tokens; the cache rolls back the rest;
//   3. runs one chunk (at most prefill_chunk tokens) of the oldest job still
//      prefilling, so that a long prompt delays other streams by one chunk
//      at most.
// Network threads never touch model state: they build a Job, Submit it, and
// receive tokens through the job's callbacks, which run on the inference
// thread and must only hand the data over (post to an event loop).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fair_lock.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/draft.h"
#include "engine/generator.h"
#include "model/forward_scratch.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace glint::engine {

struct JobResult {
  Status status;                  // not ok: nothing more was generated
  GenerateStats stats;            // finish_reason "stop", "length", "cancelled"
  std::vector<TokenId> generated; // every token sampled (the last may be unevaluated)
  double queue_s = 0;             // submitted to admitted
};

// One request. The submitter fills the inputs, then only reads the atomics
// and calls Cancel / Ack; the scheduler owns everything else until on_done.
class Job {
 public:
  // Inputs.
  std::shared_ptr<Session> session;  // used by this job alone until on_done
  std::vector<TokenId> prompt;       // the whole context to bring the session to
  GenerateOptions options;
  bool generate = true;              // false: prefill the prompt only (warm-up)
  // Called on the inference thread, in order: each token and the text it
  // completes; then once, at the end, with the result.
  std::function<void(TokenId id, std::string text)> on_token;
  std::function<void(JobResult result)> on_done;

  // Control, from any thread.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // The consumer took n tokens off its queue (see Scheduler::Options::max_unacked).
  void Ack(int32_t n = 1) { unacked_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  friend class Scheduler;
  enum class State { kQueued, kPrefill, kDecode };

  std::atomic<bool> cancelled_{false};
  std::atomic<int32_t> unacked_{0};
  // Inference-thread state.
  State state_ = State::kQueued;
  bool holds_session_ = false;  // admitted: the session is this job's
  // KV budget: positions reserved (0: none), or wanted but more than the
  // whole budget (the job is refused).
  int32_t reserved_ = 0;
  int32_t over_budget_ = 0;
  Clock::time_point submitted_, started_, first_token_;
  int32_t common_ = 0;   // prompt tokens reused from the session's cache
  int32_t done_ = 0;     // prompt tokens past common_ evaluated so far
  TokenId next_ = -1;    // sampled, not yet evaluated
  std::unique_ptr<sampling::Sampler> sampler_;
  std::unique_ptr<tokenizer::StreamDecoder> decoder_;
  std::unique_ptr<Drafter> drafter_;  // speculative decoding; nullptr: off
  std::vector<TokenId> draft_;        // the draft being verified
  // A decode step's samples, in order (the sampler has accepted them):
  // draft tokens kept, then the first one not (a rejected draft token's
  // replacement, or the token after the whole draft).
  struct Pick {
    TokenId token;
    bool accepted;  // a draft token the sampler kept
  };
  std::vector<Pick> picks_;
  JobResult result_;
};

class Scheduler {
 public:
  struct Options {
    int32_t n_threads = 2;
    int32_t max_active = 8;       // jobs prefilling or decoding at once
    int32_t prefill_chunk = 64;   // prompt tokens per scheduler step
    // A job whose consumer has not acknowledged this many tokens waits
    // (a slow reader slows only itself); 0: no limit.
    int32_t max_unacked = 0;
    // Shared by the schedulers of models served side by side: each forward
    // pass holds it, so the models take turns on the cores (null: no lock).
    std::shared_ptr<FairLock> compute_lock;
    // Shared by the schedulers of one server: a job is admitted once its
    // session's cache may grow to prompt + max_tokens within it (null: no
    // budget; see engine/kv_budget.h). Its sessions must use the same one.
    std::shared_ptr<KvBudget> kv_budget;
  };

  Scheduler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
            const Options& options);
  ~Scheduler();  // cancels what is left and joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job. Its on_done always runs exactly once (also on shutdown).
  void Submit(std::shared_ptr<Job> job);

  // Stops accepting work, finishes nothing more, fails the queued jobs.
  void Shutdown();
  // Waits for the inference thread to end (after Shutdown): no callback
  // runs after it returns.
  void Join();

  const model::Model& model() const { return model_; }
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  const Options& options() const { return options_; }

  // Gauges, readable from any thread.
  int32_t queued() const { return n_queued_.load(std::memory_order_relaxed); }
  int32_t active() const { return n_active_.load(std::memory_order_relaxed); }
  uint64_t decode_steps() const { return n_decode_steps_.load(std::memory_order_relaxed); }
  // Speculative decoding, over the scheduler's life.
  uint64_t draft_accepted() const { return n_draft_accepted_.load(std::memory_order_relaxed); }
  uint64_t draft_rejected() const { return n_draft_rejected_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  void Admit(const std::shared_ptr<Job>& job);
  // Under mu_: whether a queued job may start now as far as memory goes;
  // false: it waits, and so do the jobs behind it.
  bool ReserveMemory(Job& job);
  void PrefillStep(Job& job);
  void DecodeStep(std::vector<Job*>& batch);
  enum class Outcome { kContinue, kStop, kLength };
  // Streams a sampled token (the sampler has accepted it already) and says
  // whether the job goes on; the caller finishes it otherwise.
  Outcome Emit(Job& job, TokenId token);
  // Samples from `logits`, emits, and finishes the job when it is done.
  void EmitNext(Job& job, const float* logits);
  // How many draft tokens job j may verify this step, given its limits.
  int32_t DraftRoom(const Job& j, int32_t budget) const;
  void Finish(Job& job, Status status, const std::string& reason);

  const model::Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  Options options_;
  ThreadPool pool_;
  std::unique_ptr<model::ForwardScratch> scratch_;
  std::vector<float> batch_logits_;  // [max_active][n_vocab]
  // A decode step's tokens, their caches, and where each job's tokens start.
  std::vector<TokenId> step_tokens_;
  std::vector<model::KvCache*> step_kvs_;
  std::vector<int32_t> step_first_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> incoming_;  // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  bool memory_wait_ = false;  // the next queued job waits for KV memory (mu_)
  std::vector<std::shared_ptr<Job>> active_;   // inference thread only
  std::atomic<int32_t> n_queued_{0}, n_active_{0};
  std::atomic<uint64_t> n_decode_steps_{0};
  std::atomic<uint64_t> n_draft_accepted_{0}, n_draft_rejected_{0};
  std::thread thread_;
};

}  // namespace glint::engine
