#include "engine/scheduler.h"

#include <algorithm>

#include "base/check.h"
#include "base/log.h"

namespace glint::engine {
namespace {

// Holds the compute lock, when there is one, for a forward pass.
class ComputeGuard {
 public:
  explicit ComputeGuard(FairLock* lock) : lock_(lock) {
    if (lock_ != nullptr) lock_->lock();
  }
  ~ComputeGuard() {
    if (lock_ != nullptr) lock_->unlock();
  }
  ComputeGuard(const ComputeGuard&) = delete;
  ComputeGuard& operator=(const ComputeGuard&) = delete;

 private:
  FairLock* lock_;
};

}  // namespace

Scheduler::Scheduler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                     const Options& options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      pool_(std::max(1, options.n_threads)) {
  options_.max_active = std::max(1, options_.max_active);
  options_.prefill_chunk = std::max(1, options_.prefill_chunk);
  // One scratch serves both kinds of step: decode batches of up to
  // max_active sequences, prefill in sub-chunks of at least 64 tokens.
  scratch_ = model_.NewScratch(std::max(options_.max_active, 64));
  batch_logits_.resize(static_cast<size_t>(scratch_->max_batch()) * model_.hparams().n_vocab);
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  Shutdown();
  Join();
}

void Scheduler::Join() {
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Submit(std::shared_ptr<Job> job) {
  CHECK(job && job->session && job->on_done);
  job->submitted_ = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      incoming_.push_back(std::move(job));
      n_queued_.fetch_add(1, std::memory_order_relaxed);
      cv_.notify_one();
      return;
    }
  }
  JobResult r;
  r.status = Error(StatusCode::kUnavailable, "the server is shutting down");
  job->on_done(std::move(r));
}

void Scheduler::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_one();
}

void Scheduler::Loop() {
  std::vector<Job*> batch;
  for (;;) {
    std::deque<std::shared_ptr<Job>> admitted;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Sleep only when there is nothing to run; a job waiting on its
      // reader (backpressure) is polled once a millisecond.
      auto runnable = [&] {
        for (auto& j : active_) {
          if (j->cancelled() || options_.max_unacked <= 0 || j->state_ == Job::State::kPrefill ||
              j->unacked_.load(std::memory_order_relaxed) < options_.max_unacked) {
            return true;
          }
        }
        return false;
      };
      // A job waits while another job uses its session (a turn queued
      // behind its connection's warm-up): one job per session at a time.
      // A cancelled job leaves the queue at once, even while every slot is
      // taken: its request's resources (a server slot, the connection)
      // are released when it ends.
      auto admissible = [&] {
        const bool full = static_cast<int32_t>(active_.size()) >= options_.max_active;
        for (auto& j : incoming_) {
          if (j->cancelled() || (!full && !j->session->in_use_)) return true;
        }
        return false;
      };
      // A job waiting for KV memory that other schedulers' jobs hold is
      // retried once a millisecond: their jobs' ends do not wake this one.
      while (!stopping_ && !runnable() && (memory_wait_ || !admissible())) {
        if (active_.empty() && !memory_wait_) {
          cv_.wait(lock);
        } else {
          cv_.wait_for(lock, std::chrono::milliseconds(1));
        }
        memory_wait_ = false;
      }
      memory_wait_ = false;
      stopping = stopping_;
      if (stopping_) {
        for (auto& j : incoming_) admitted.push_back(j);
        incoming_.clear();
        n_queued_.store(0, std::memory_order_relaxed);
      } else {
        for (auto it = incoming_.begin(); it != incoming_.end();) {
          if ((*it)->cancelled()) {
            admitted.push_back(std::move(*it));  // finished below, never run
            it = incoming_.erase(it);
          } else {
            ++it;
          }
        }
        // Cancelled jobs are all out of the queue now; one cancelled from
        // here on is admitted and finished at once.
        int32_t running = static_cast<int32_t>(active_.size());
        for (auto it = incoming_.begin(); it != incoming_.end() && running < options_.max_active;) {
          Job& j = **it;
          if (j.session->in_use_ && !j.cancelled()) {
            ++it;
            continue;
          }
          // First come, first served: the jobs behind one that waits for
          // memory wait too, or a stream of small jobs could starve it.
          if (!j.cancelled() && !ReserveMemory(j)) {
            memory_wait_ = true;
            break;
          }
          // A cancelled job never runs, so it need not wait for the session.
          if (!j.cancelled()) j.session->in_use_ = j.holds_session_ = true;
          ++running;
          admitted.push_back(std::move(*it));
          it = incoming_.erase(it);
        }
        n_queued_.store(static_cast<int32_t>(incoming_.size()), std::memory_order_relaxed);
      }
    }
    if (stopping) {
      for (auto& j : admitted) {
        j->state_ = Job::State::kQueued;
        active_.push_back(j);
      }
      for (auto& j : active_) Finish(*j, Error(StatusCode::kUnavailable, "the server is shutting down"), "");
      active_.clear();
      n_active_.store(0, std::memory_order_relaxed);
      return;
    }
    // Cancelled jobs leave before any work is spent on them.
    for (auto& j : active_) {
      if (j->cancelled()) Finish(*j, Status::Ok(), "cancelled");
    }
    for (auto& j : admitted) {
      if (j->cancelled()) {
        j->state_ = Job::State::kQueued;
        active_.push_back(j);
        Finish(*j, Status::Ok(), "cancelled");
      } else {
        Admit(j);
      }
    }

    batch.clear();
    Job* prefill = nullptr;
    for (auto& j : active_) {
      if (j->state_ == Job::State::kDecode) {
        if (options_.max_unacked <= 0 ||
            j->unacked_.load(std::memory_order_relaxed) < options_.max_unacked) {
          batch.push_back(j.get());
        }
      } else if (j->state_ == Job::State::kPrefill && prefill == nullptr) {
        prefill = j.get();  // the oldest: active_ is in admission order
      }
    }
    if (!batch.empty()) {
      ComputeGuard guard(options_.compute_lock.get());
      DecodeStep(batch);
    }
    if (prefill != nullptr && prefill->state_ == Job::State::kPrefill) {
      ComputeGuard guard(options_.compute_lock.get());
      PrefillStep(*prefill);
    }

    active_.erase(std::remove_if(active_.begin(), active_.end(),
                                 [](const std::shared_ptr<Job>& j) {
                                   return j->state_ == Job::State::kQueued;
                                 }),
                  active_.end());
    n_active_.store(static_cast<int32_t>(active_.size()), std::memory_order_relaxed);
  }
}

bool Scheduler::ReserveMemory(Job& j) {
  KvBudget* budget = options_.kv_budget.get();
  if (budget == nullptr) return true;
  // The most positions the job may fill: its prompt, and every token it
  // may generate (speculative drafts stay within max_tokens and the
  // context). A warm-up keeps what the session holds past its prompt.
  const int64_t most =
      j.generate ? static_cast<int64_t>(j.prompt.size()) + std::max(j.options.max_tokens, 0) + 1
                 : static_cast<int64_t>(std::max(j.prompt.size(), j.session->tokens_.size()));
  int32_t positions = static_cast<int32_t>(std::min<int64_t>(most, j.session->n_ctx()));
  const int32_t at_least = std::min(static_cast<int32_t>(j.prompt.size()) + (j.generate ? 1 : 0),
                                    j.session->n_ctx());
  if (budget->BytesFor(*j.session, positions) > budget->limit()) {
    // The whole budget is like a shorter context: generation stops there
    // ("length"), as it would at the end of the context. Only a prompt that
    // does not fit at all is refused.
    positions = j.session->kv().PositionsWithin(budget->limit());
    if (positions < at_least) {
      j.over_budget_ = at_least;  // admitted only to be refused (Admit)
      return true;
    }
    if (j.generate) {
      j.options.max_tokens = std::max(
          1, std::min(j.options.max_tokens, positions - static_cast<int32_t>(j.prompt.size()) - 1));
    }
  }
  switch (budget->Reserve(*j.session, positions)) {
    case KvBudget::Grant::kGranted:
      j.reserved_ = positions;
      return true;
    case KvBudget::Grant::kNever:  // not after the clamp above; kept for safety
      j.over_budget_ = positions;
      return true;
    case KvBudget::Grant::kWait:
      return false;
  }
  return false;
}

void Scheduler::Admit(const std::shared_ptr<Job>& job) {
  Job& j = *job;
  j.started_ = Clock::now();
  j.result_.queue_s = std::chrono::duration<double>(j.started_ - j.submitted_).count();
  j.result_.stats.prompt_tokens = static_cast<int32_t>(j.prompt.size());
  active_.push_back(job);
  j.state_ = Job::State::kPrefill;  // Finish turns it back to kQueued (= leaving)

  Session& s = *j.session;
  if (j.prompt.empty()) {
    return Finish(j, Error(StatusCode::kInvalidArgument, "the prompt is empty"), "");
  }
  const int32_t need = static_cast<int32_t>(j.prompt.size()) + (j.generate ? 1 : 0);
  if (need > s.n_ctx()) {
    return Finish(j, Error(StatusCode::kResourceExhausted,
                           "the prompt has {} tokens; the context holds {} (prompt plus at least "
                           "one generated token)", j.prompt.size(), s.n_ctx()), "");
  }
  if (Status st = sampling::ValidateParams(j.options.sampling); !st.ok()) return Finish(j, st, "");
  if (j.over_budget_ > 0) {
    const KvBudget& budget = *options_.kv_budget;
    const int32_t positions = j.over_budget_;
    return Finish(j, Error(StatusCode::kOutOfRange,
                           "the prompt needs {} positions of KV cache ({} MiB), more than the "
                           "server's whole KV budget of {} MiB (--kv-budget); send a shorter input",
                           positions, budget.BytesFor(s, positions) >> 20, budget.limit() >> 20),
                  "");
  }
  if (j.reserved_ > 0) {
    // Evicted while idle: the cache is empty, and so the session must be.
    if (s.evicted_.exchange(false, std::memory_order_acquire)) {
      s.tokens_.clear();
      s.logits_len_ = -1;
    }
    // Pages past what this job may fill were charged to it only until now.
    if (static_cast<int32_t>(s.tokens_.size()) > j.reserved_) s.Truncate(j.reserved_);
    s.kv().Trim(j.reserved_);
  }
  size_t common = s.CommonPrefix(j.prompt);
  j.sampler_ = std::make_unique<sampling::Sampler>(j.options.sampling);
  for (TokenId t : j.prompt) j.sampler_->Accept(t);
  j.decoder_ = std::make_unique<tokenizer::StreamDecoder>(tokenizer_);
  if (j.generate && j.options.speculate && (j.options.lookup || !j.options.prediction.empty())) {
    j.drafter_ = std::make_unique<Drafter>(j.options.prediction, j.options.lookup);
  }
  j.done_ = 0;
  // The whole prompt is cached and so are the logits at its end (a retry,
  // or the same short request again): nothing to evaluate.
  const int32_t n_prompt = static_cast<int32_t>(j.prompt.size());
  // A warm-up whose prompt the session already holds has nothing to do; it
  // leaves what the cache holds past it (the rest of a resumed conversation).
  if (common == j.prompt.size() && !j.generate) {
    j.common_ = n_prompt;
    j.result_.stats.cached_tokens = n_prompt;
    return Finish(j, Status::Ok(), "stop");
  }
  if (common == j.prompt.size() && s.logits_len_ == n_prompt) {
    s.Truncate(n_prompt);
    j.common_ = n_prompt;
    j.result_.stats.cached_tokens = n_prompt;
    if (!j.generate) return Finish(j, Status::Ok(), "stop");
    j.state_ = Job::State::kDecode;
    EmitNext(j, s.logits_.data());
    return;
  }
  // Otherwise the last prompt token is always evaluated, to have its logits.
  if (common == j.prompt.size()) --common;
  s.Truncate(static_cast<int32_t>(common));
  j.common_ = static_cast<int32_t>(common);
  j.result_.stats.cached_tokens = j.common_;
  // The prefill leaves the logits at the prompt's end in the session.
  s.logits_len_ = -1;
  s.logits_.resize(model_.hparams().n_vocab);
}

void Scheduler::PrefillStep(Job& j) {
  Session& s = *j.session;
  const int32_t n_total = static_cast<int32_t>(j.prompt.size()) - j.common_;
  const int32_t n = std::min(options_.prefill_chunk, n_total - j.done_);
  const TokenId* span = j.prompt.data() + j.common_;
  const auto t0 = Clock::now();
  Status st = model_.ForwardSpan(span, n_total, j.done_, n, s.kv(), s.logits_.data(), pool_,
                                 *scratch_);
  if (!st.ok()) {
    s.Truncate(j.common_ + j.done_);  // what the cache holds is still valid
    return Finish(j, st, "");
  }
  s.tokens_.insert(s.tokens_.end(), span + j.done_, span + j.done_ + n);
  j.done_ += n;
  j.result_.stats.prefill_s += SecondsSince(t0);
  if (j.done_ < n_total) return;
  s.logits_len_ = static_cast<int32_t>(j.prompt.size());
  if (!j.generate) return Finish(j, Status::Ok(), "stop");
  j.state_ = Job::State::kDecode;
  EmitNext(j, s.logits_.data());
}

int32_t Scheduler::DraftRoom(const Job& j, int32_t budget) const {
  if (j.drafter_ == nullptr) return 0;
  const GenerateStats& stats = j.result_.stats;
  // The step evaluates next_ and the draft; each kept token counts against
  // max_tokens, and every one needs a place in the context.
  const int32_t by_length = j.options.max_tokens - stats.generated_tokens - 1;
  const int32_t by_context =
      j.session->n_ctx() - static_cast<int32_t>(j.session->tokens_.size()) - 2;
  return std::max(0, std::min({budget, by_length, by_context}));
}

void Scheduler::DecodeStep(std::vector<Job*>& batch) {
  const int32_t n_vocab = model_.hparams().n_vocab;
  // Every job's next token, each followed by its draft (if any), within
  // the scratch's batch: the tokens beyond one per job are shared out.
  const int32_t n_jobs = static_cast<int32_t>(batch.size());
  const int32_t share = (scratch_->max_batch() - n_jobs) / n_jobs;
  // Reused step to step: the decode path allocates nothing once warm.
  std::vector<TokenId>& tokens = step_tokens_;
  std::vector<model::KvCache*>& kvs = step_kvs_;
  std::vector<int32_t>& first = step_first_;
  tokens.clear();
  kvs.clear();
  first.assign(batch.size(), 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& j = *batch[i];
    j.draft_.clear();
    if (const int32_t room = DraftRoom(j, share); room > 0) {
      j.drafter_->Propose(j.prompt, j.result_.generated, room, &j.draft_);
    }
    first[i] = static_cast<int32_t>(tokens.size());
    tokens.push_back(j.next_);
    tokens.insert(tokens.end(), j.draft_.begin(), j.draft_.end());
    kvs.insert(kvs.end(), 1 + j.draft_.size(), &j.session->kv());
  }
  const int32_t n = static_cast<int32_t>(tokens.size());
  if (batch_logits_.size() < static_cast<size_t>(n) * n_vocab) {
    batch_logits_.resize(static_cast<size_t>(n) * n_vocab);
  }
  Status st = model_.ForwardDecode(tokens.data(), kvs.data(), n, batch_logits_.data(), pool_,
                                   *scratch_);
  n_decode_steps_.fetch_add(1, std::memory_order_relaxed);
  // Each job's samples, jobs shared across the pool: a job's samples depend
  // on its own sampler alone (its draft's verdicts, then the history the
  // penalties read, which Accept extends), and with 8 sequences the
  // serial loop over their logits kept the other thread idle. Row a holds
  // the logits after next_ and the first a draft tokens: it verifies draft
  // token a, and the row after the last kept one gives the step's final
  // token. (Samples past a stop are drawn and dropped: the job ends.)
  auto sample = [&](int ith, int nth) {
    for (int32_t i = ith; i < n_jobs; i += nth) {
      Job& j = *batch[i];
      j.picks_.clear();
      const int32_t k = static_cast<int32_t>(j.draft_.size());
      for (int32_t a = 0; a <= k; ++a) {
        const float* row = batch_logits_.data() + static_cast<size_t>(first[i] + a) * n_vocab;
        bool accepted = false;
        const TokenId token = a < k ? j.sampler_->SampleDraft(row, n_vocab, j.draft_[a], &accepted)
                                    : j.sampler_->Sample(row, n_vocab);
        j.sampler_->Accept(token);
        j.picks_.push_back({token, accepted});
        if (!accepted) break;
      }
    }
  };
  if (st.ok()) {
    if (n_jobs > 1) {
      pool_.Run(sample);
    } else {
      sample(0, 1);
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Job& j = *batch[i];
    if (!st.ok()) {
      Finish(j, st, "");
      continue;
    }
    Session& s = *j.session;
    GenerateStats& stats = j.result_.stats;
    s.tokens_.push_back(j.next_);
    const int32_t k = static_cast<int32_t>(j.draft_.size());
    if (k > 0) ++stats.verify_steps;
    int32_t kept = 0;
    for (int32_t a = 0; a < static_cast<int32_t>(j.picks_.size()); ++a) {
      const auto [token, accepted] = j.picks_[a];
      if (a < k) {
        if (accepted) {
          ++kept;
        } else {
          stats.draft_rejected += k - a;
          n_draft_rejected_.fetch_add(k - a, std::memory_order_relaxed);
        }
      }
      // The cache keeps exactly the session's tokens: the verified draft
      // tokens that were kept, not the rest.
      if (!accepted) s.kv().Truncate(static_cast<int32_t>(s.tokens_.size()));
      if (accepted) {
        ++stats.draft_accepted;
        n_draft_accepted_.fetch_add(1, std::memory_order_relaxed);
      }
      const Outcome outcome = Emit(j, token);
      if (outcome != Outcome::kContinue) {
        s.kv().Truncate(static_cast<int32_t>(s.tokens_.size()));
        Finish(j, Status::Ok(), outcome == Outcome::kStop ? "stop" : "length");
        break;
      }
      if (!accepted) break;  // token is next_, to evaluate in the next step
      s.tokens_.push_back(token);  // evaluated in this step already
    }
    if (j.state_ == Job::State::kDecode && k > 0) j.drafter_->Record(k, kept);
  }
}

Scheduler::Outcome Scheduler::Emit(Job& j, TokenId next) {
  GenerateStats& stats = j.result_.stats;
  if (stats.generated_tokens == 0 && j.first_token_ == Clock::time_point{}) {
    j.first_token_ = Clock::now();
    stats.ttft_s = std::chrono::duration<double>(j.first_token_ - j.submitted_).count();
  }
  j.result_.generated.push_back(next);
  if (j.options.stop_at_end_of_generation && tokenizer_.IsEndOfGeneration(next)) {
    return Outcome::kStop;
  }
  ++stats.generated_tokens;
  std::string text = j.decoder_->Push(next);
  if (options_.max_unacked > 0) j.unacked_.fetch_add(1, std::memory_order_relaxed);
  if (j.on_token) j.on_token(next, std::move(text));
  if (stats.generated_tokens >= j.options.max_tokens ||
      static_cast<int32_t>(j.session->tokens_.size()) + 1 > j.session->n_ctx()) {
    return Outcome::kLength;
  }
  j.next_ = next;
  return Outcome::kContinue;
}

void Scheduler::EmitNext(Job& j, const float* logits) {
  const TokenId token = j.sampler_->Sample(logits, model_.hparams().n_vocab);
  j.sampler_->Accept(token);
  const Outcome outcome = Emit(j, token);
  if (outcome != Outcome::kContinue) {
    Finish(j, Status::Ok(), outcome == Outcome::kStop ? "stop" : "length");
  }
}

void Scheduler::Finish(Job& j, Status status, const std::string& reason) {
  if (j.state_ == Job::State::kQueued && !j.on_done) return;
  j.state_ = Job::State::kQueued;
  if (j.holds_session_) j.session->in_use_ = j.holds_session_ = false;
  if (j.reserved_ > 0) {
    options_.kv_budget->Release(*j.session);
    j.reserved_ = 0;
  }
  JobResult r = std::move(j.result_);
  r.status = std::move(status);
  r.stats.finish_reason = reason;
  if (j.decoder_ && r.status.ok()) {
    if (std::string rest = j.decoder_->Flush(); !rest.empty() && j.on_token) j.on_token(-1, rest);
  }
  if (j.first_token_ != Clock::time_point{} && r.stats.generated_tokens > 0) {
    r.stats.decode_s = SecondsSince(j.first_token_);
  }
  auto done = std::move(j.on_done);
  j.on_done = nullptr;
  j.on_token = nullptr;
  j.sampler_.reset();
  j.decoder_.reset();
  j.drafter_.reset();
  done(std::move(r));
}

}  // namespace glint::engine
