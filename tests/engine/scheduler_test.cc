// The scheduler on the real fast model (scripts/fetch-models fast): batched
// decoding of several sessions and chunked prefill give exactly the tokens
// of a single-session Generator; cancellation, warm-up and overflow behave.
#include "engine/scheduler.h"

#include <atomic>
#include <future>
#include <thread>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "engine/catalog.h"
#include "gguf/gguf.h"

namespace glint::engine {
namespace {

struct Fixture {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

Fixture& Fast() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    auto path = ResolveModel("fast");
    if (!path.ok()) return fx;
    auto m = model::Model::Load(path.value());
    if (!m.ok()) return fx;
    fx->model = std::move(m).value();
    auto t = tokenizer::Tokenizer::FromGguf(fx->model->file());
    if (t.ok()) fx->tok = std::move(t).value();
    return fx;
  }();
  return *f;
}

#define REQUIRE_FAST()                                                          \
  do {                                                                          \
    if (!Fast().model || !Fast().tok) FAIL() << "run scripts/fetch-models fast"; \
  } while (0)

std::vector<TokenId> Prompt(const std::string& text) {
  return Fast().tok->Encode("<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n",
                            false, true);
}

std::vector<TokenId> Single(const std::vector<TokenId>& prompt, int32_t max_tokens) {
  Generator gen(*Fast().model, *Fast().tok, 2);
  Session s(*Fast().model, 512);
  GenerateOptions o;
  o.max_tokens = max_tokens;
  std::vector<TokenId> out;
  auto st = gen.Generate(s, prompt, o, [&](TokenId id, const std::string&) {
    if (id >= 0) out.push_back(id);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return out;
}

struct Outcome {
  std::vector<TokenId> streamed;
  std::string text;
  std::promise<JobResult> done;
};

std::shared_ptr<Job> MakeJob(std::shared_ptr<Session> s, std::vector<TokenId> prompt,
                             int32_t max_tokens, Outcome* out) {
  auto job = std::make_shared<Job>();
  job->session = std::move(s);
  job->prompt = std::move(prompt);
  job->options.max_tokens = max_tokens;
  job->on_token = [out](TokenId id, std::string text) {
    if (id >= 0) out->streamed.push_back(id);
    out->text += text;
  };
  job->on_done = [out](JobResult r) { out->done.set_value(std::move(r)); };
  return job;
}

TEST(Scheduler, ConcurrentSessionsEqualSingleSessionOutputs) {
  REQUIRE_FAST();
  const std::vector<std::string> texts = {
      "Write a Python function that reverses a string.", "What is 2+2?",
      "Name three sorting algorithms.", "Explain recursion in one sentence.",
      "Write hello world in C.", "What does HTTP stand for?"};
  Scheduler::Options so;
  so.max_active = 4;  // more jobs than slots: some queue, then join the batch
  so.prefill_chunk = 16;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  std::vector<Outcome> outs(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    sched.Submit(MakeJob(std::make_shared<Session>(*Fast().model, 512), Prompt(texts[i]), 24,
                         &outs[i]));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    JobResult r = outs[i].done.get_future().get();
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(outs[i].streamed, Single(Prompt(texts[i]), 24)) << texts[i];
    EXPECT_EQ(r.stats.generated_tokens, static_cast<int32_t>(outs[i].streamed.size()));
    EXPECT_EQ(outs[i].text, Fast().tok->Decode(outs[i].streamed));
  }
  EXPECT_GT(sched.decode_steps(), 0u);
}

TEST(Scheduler, WarmUpThenContinuationReusesTheCache) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  auto session = std::make_shared<Session>(*Fast().model, 512);
  std::vector<TokenId> system =
      Fast().tok->Encode("<|im_start|>system\nYou are a terse assistant.<|im_end|>\n", false, true);
  Outcome warm;
  auto job = MakeJob(session, system, 8, &warm);
  job->generate = false;
  sched.Submit(job);
  JobResult r = warm.done.get_future().get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.stats.generated_tokens, 0);
  EXPECT_TRUE(warm.streamed.empty());
  EXPECT_EQ(session->tokens(), system);

  std::vector<TokenId> full = system;
  auto turn = Prompt("Say hi.");
  full.insert(full.end(), turn.begin(), turn.end());
  Outcome out;
  sched.Submit(MakeJob(session, full, 12, &out));
  r = out.done.get_future().get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.stats.cached_tokens, static_cast<int32_t>(system.size()));
  EXPECT_EQ(r.stats.prompt_tokens, static_cast<int32_t>(full.size()));
}

// A turn submitted while its session's warm-up still runs waits for it (one
// job per session) and then finds the warm-up's tokens in the cache; a
// warm-up of a prefix the session holds leaves the rest of the cache alone.
TEST(Scheduler, JobsOnOneSessionRunOneAtATime) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  auto session = std::make_shared<Session>(*Fast().model, 512);
  std::vector<TokenId> system = Fast().tok->Encode(
      "<|im_start|>system\nYou are a terse assistant who answers in one line.<|im_end|>\n", false,
      true);
  std::vector<TokenId> full = system;
  auto turn = Prompt("Say hi.");
  full.insert(full.end(), turn.begin(), turn.end());
  Outcome warm, out;
  auto warm_job = MakeJob(session, system, 8, &warm);
  warm_job->generate = false;
  sched.Submit(warm_job);
  sched.Submit(MakeJob(session, full, 6, &out));
  ASSERT_TRUE(warm.done.get_future().get().status.ok());
  JobResult r = out.done.get_future().get();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.stats.cached_tokens, static_cast<int32_t>(system.size()));
  EXPECT_EQ(out.streamed, Single(full, 6));

  const size_t held = session->tokens().size();
  Outcome again;
  auto rewarm = MakeJob(session, system, 8, &again);
  rewarm->generate = false;
  sched.Submit(rewarm);
  JobResult w = again.done.get_future().get();
  ASSERT_TRUE(w.status.ok());
  EXPECT_EQ(w.stats.cached_tokens, static_cast<int32_t>(system.size()));
  EXPECT_EQ(session->tokens().size(), held);
}

// A consumer that does not acknowledge its tokens holds back its own job
// (after max_unacked tokens) and nobody else's.
TEST(Scheduler, ASlowReaderHoldsBackOnlyItsOwnJob) {
  REQUIRE_FAST();
  Scheduler::Options so;
  so.max_unacked = 4;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  Outcome slow, fast;
  std::atomic<int> slow_tokens{0};
  auto slow_job = MakeJob(std::make_shared<Session>(*Fast().model, 512),
                          Prompt("Count from 1 to 100."), 16, &slow);
  slow_job->on_token = [&slow, &slow_tokens](TokenId id, std::string) {
    if (id >= 0) slow.streamed.push_back(id);
    slow_tokens.fetch_add(1);
  };
  auto fast_job = MakeJob(std::make_shared<Session>(*Fast().model, 512), Prompt("Say hi."), 12,
                          &fast);
  std::shared_ptr<Job> fast_ref = fast_job;
  fast_job->on_token = [&fast, fast_ref](TokenId id, std::string text) {
    if (id >= 0) fast.streamed.push_back(id);
    fast.text += text;
    fast_ref->Ack();  // a reader that keeps up
  };
  sched.Submit(slow_job);
  sched.Submit(fast_job);
  JobResult r = fast.done.get_future().get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(fast.streamed, Single(Prompt("Say hi."), 12));
  // The slow job stopped at its limit while the other ran to the end.
  EXPECT_EQ(slow_tokens.load(), 4);
  auto slow_done = slow.done.get_future();
  EXPECT_EQ(slow_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  // Reading again lets it finish, with the tokens it would have had anyway.
  std::thread reader([&] {
    while (slow_done.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
      slow_job->Ack(4);
    }
  });
  reader.join();
  JobResult s = slow_done.get();
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(slow.streamed, Single(Prompt("Count from 1 to 100."), 16));
}

TEST(Scheduler, TheSamePromptAgainNeedsNoForwardPass) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  auto session = std::make_shared<Session>(*Fast().model, 512);
  const auto prompt = Prompt("What is a linked list?");
  Outcome first, second;
  sched.Submit(MakeJob(session, prompt, 10, &first));
  JobResult a = first.done.get_future().get();
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.stats.cached_tokens, 0);
  sched.Submit(MakeJob(session, prompt, 10, &second));
  JobResult b = second.done.get_future().get();
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.stats.cached_tokens, static_cast<int32_t>(prompt.size()));
  EXPECT_EQ(b.stats.prefill_s, 0.0);
  EXPECT_EQ(second.streamed, first.streamed);
  EXPECT_EQ(second.streamed, Single(prompt, 10));
}

TEST(Scheduler, CancelStopsWithinAStepAndLeavesTheSessionUsable) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  auto session = std::make_shared<Session>(*Fast().model, 512);
  Outcome out;
  auto job = MakeJob(session, Prompt("Count from 1 to 200."), 400, &out);
  std::shared_ptr<Job> weak = job;
  job->on_token = [&out, weak](TokenId id, std::string) {
    out.streamed.push_back(id);
    if (out.streamed.size() == 5) weak->Cancel();
  };
  sched.Submit(job);
  JobResult r = out.done.get_future().get();
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.stats.finish_reason, "cancelled");
  EXPECT_LE(out.streamed.size(), 6u);
  // The cache holds exactly the tokens the session lists, so the next turn
  // on it gives what a fresh session gives.
  EXPECT_EQ(session->kv().size(), static_cast<int32_t>(session->tokens().size()));
  Outcome again;
  sched.Submit(MakeJob(session, Prompt("What is 2+2?"), 10, &again));
  ASSERT_TRUE(again.done.get_future().get().status.ok());
  EXPECT_EQ(again.streamed, Single(Prompt("What is 2+2?"), 10));
}

TEST(Scheduler, OverflowAndBadParametersFailCleanly) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  auto small = std::make_shared<Session>(*Fast().model, 16);
  Outcome out;
  sched.Submit(MakeJob(small, Prompt("This prompt is longer than sixteen tokens, by some way."), 4,
                       &out));
  JobResult r = out.done.get_future().get();
  EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted) << r.status.ToString();
  EXPECT_TRUE(out.streamed.empty());

  Outcome bad;
  auto job = MakeJob(std::make_shared<Session>(*Fast().model, 64), Prompt("hi"), 4, &bad);
  job->options.sampling.top_p = 0.0f;
  sched.Submit(job);
  EXPECT_EQ(bad.done.get_future().get().status.code(), StatusCode::kInvalidArgument);

  Outcome after_shutdown;
  sched.Shutdown();
  sched.Submit(MakeJob(std::make_shared<Session>(*Fast().model, 64), Prompt("hi"), 4,
                       &after_shutdown));
  EXPECT_EQ(after_shutdown.done.get_future().get().status.code(), StatusCode::kUnavailable);
}



const char kCode[] = R"(def summarize(values):
    total = 0
    count = 0
    for v in values:
        if v is None:
            continue
        total += v
        count += 1
    if count == 0:
        return 0.0
    return total / count


def spread(values):
    present = [v for v in values if v is not None]
    return max(present) - min(present)
)";

JobResult RunOne(Scheduler& sched, const std::vector<TokenId>& prompt, bool speculate,
                 std::vector<TokenId> prediction, Outcome* out, int32_t max_tokens = 160) {
  auto session = std::make_shared<Session>(*Fast().model, 1024);
  auto job = MakeJob(session, prompt, max_tokens, out);
  job->options.speculate = speculate;
  job->options.prediction = std::move(prediction);
  sched.Submit(job);
  JobResult r = out->done.get_future().get();
  EXPECT_EQ(session->kv().size(), static_cast<int32_t>(session->tokens().size()));
  return r;
}

// Greedy speculative decoding gives the tokens of plain decoding, whatever
// the drafts: the right prediction, a wrong one, prompt lookup alone; and
// drafts verified beside other sequences in one batch.
TEST(Scheduler, SpeculationIsLosslessUnderGreedyDecoding) {
  REQUIRE_FAST();
  Scheduler sched(*Fast().model, *Fast().tok, {});
  const auto prompt = Prompt(std::string("Rename the variable `total` to `acc` in this code and "
                                         "show the whole file.\n```python\n") + kCode + "```");
  Outcome plain_out;
  const JobResult plain = RunOne(sched, prompt, false, {}, &plain_out);
  ASSERT_TRUE(plain.status.ok());
  EXPECT_EQ(plain.stats.draft_accepted + plain.stats.draft_rejected, 0);
  EXPECT_EQ(plain_out.streamed, Single(prompt, 160));

  const auto code = Fast().tok->Encode(kCode, false, false);
  const auto wrong = Fast().tok->Encode("fn main() { println!(\"unrelated\"); }", false, false);
  for (const auto& [name, prediction, lookup] :
       {std::tuple{"prediction", code, true}, std::tuple{"wrong prediction", wrong, false},
        std::tuple{"lookup only", std::vector<TokenId>{}, true}}) {
    Outcome out;
    auto session = std::make_shared<Session>(*Fast().model, 1024);
    auto job = MakeJob(session, prompt, 160, &out);
    job->options.prediction = prediction;
    job->options.lookup = lookup;
    sched.Submit(job);
    const JobResult r = out.done.get_future().get();
    ASSERT_TRUE(r.status.ok()) << name;
    EXPECT_EQ(out.streamed, plain_out.streamed) << name;
    EXPECT_EQ(out.text, plain_out.text) << name;
    EXPECT_EQ(r.stats.generated_tokens, plain.stats.generated_tokens) << name;
    EXPECT_EQ(session->kv().size(), static_cast<int32_t>(session->tokens().size())) << name;
    if (std::string(name) == "prediction") {
      EXPECT_GT(r.stats.draft_accepted, 20) << "the model copies most of the file";
      EXPECT_LT(r.stats.verify_steps, plain.stats.generated_tokens / 2);
    }
  }

  // Three at once: two speculating, one not, sharing each decode pass.
  std::vector<Outcome> outs(3);
  const std::vector<std::vector<TokenId>> prompts = {prompt, Prompt("Write a haiku about Rust."),
                                                     prompt};
  for (int i = 0; i < 3; ++i) {
    auto job = MakeJob(std::make_shared<Session>(*Fast().model, 1024), prompts[i], 160, &outs[i]);
    job->options.speculate = i != 1;
    job->options.prediction = i == 0 ? code : std::vector<TokenId>{};
    sched.Submit(job);
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(outs[i].done.get_future().get().status.ok());
  }
  EXPECT_EQ(outs[0].streamed, plain_out.streamed);
  EXPECT_EQ(outs[2].streamed, plain_out.streamed);
  EXPECT_EQ(outs[1].streamed, Single(prompts[1], 160));
}

// A queued job whose client left ends at once, even while every slot is
// taken by a long job: its request's resources go back right away.
TEST(Scheduler, ACancelledQueuedJobEndsWhileAllSlotsAreBusy) {
  REQUIRE_FAST();
  Scheduler::Options so;
  so.max_active = 1;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  Outcome longer;
  auto running = MakeJob(std::make_shared<Session>(*Fast().model, 512),
                         Prompt("Write a long story about a robot."), 400, &longer);
  running->options.stop_at_end_of_generation = false;
  auto long_done = longer.done.get_future();
  sched.Submit(running);
  std::vector<Outcome> queued(3);
  std::vector<std::shared_ptr<Job>> jobs;
  for (auto& o : queued) {
    jobs.push_back(MakeJob(std::make_shared<Session>(*Fast().model, 512), Prompt("Hi"), 8, &o));
    sched.Submit(jobs.back());
  }
  while (sched.decode_steps() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& j : jobs) j->Cancel();
  for (auto& o : queued) {
    auto f = o.done.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    JobResult r = f.get();
    EXPECT_TRUE(r.status.ok());
    EXPECT_EQ(r.stats.finish_reason, "cancelled");
    EXPECT_TRUE(o.streamed.empty());
  }
  // The long job was still running when they ended, and it goes on.
  EXPECT_NE(long_done.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(sched.queued(), 0);
  running->Cancel();
  EXPECT_EQ(long_done.get().stats.finish_reason, "cancelled");
}

// KV budget (engine/kv_budget.h). The fast model's cache at 512 positions:
// what a job of prompt + max_tokens positions is charged.
size_t Charge(int32_t positions) {
  Session probe(*Fast().model, 512);
  return probe.kv().ResidentBytes(positions);
}

JobResult RunOne(Scheduler& sched, std::shared_ptr<Session> s, const std::vector<TokenId>& prompt,
                 int32_t max_tokens, Outcome* out) {
  sched.Submit(MakeJob(std::move(s), prompt, max_tokens, out));
  return out->done.get_future().get();
}

TEST(KvBudget, TheLeastRecentlyUsedIdleSessionIsEvictedAndReprefillsTransparently) {
  REQUIRE_FAST();
  const auto pa = Prompt("Write a Python function that reverses a string.");
  const auto pb = Prompt("Name three sorting algorithms.");
  const auto pc = Prompt("What does HTTP stand for?");
  const int32_t n = 16;
  // Room for two sessions' jobs, not three.
  const size_t one = Charge(static_cast<int32_t>(std::max({pa.size(), pb.size(), pc.size()})) + n + 1);
  auto budget = std::make_shared<KvBudget>(2 * one + one / 2);
  Scheduler::Options so;
  so.kv_budget = budget;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  auto a = std::make_shared<Session>(*Fast().model, 512, budget);
  auto b = std::make_shared<Session>(*Fast().model, 512, budget);
  auto c = std::make_shared<Session>(*Fast().model, 512, budget);
  Outcome oa, ob, oc;
  ASSERT_TRUE(RunOne(sched, a, pa, n, &oa).status.ok());
  ASSERT_TRUE(RunOne(sched, b, pb, n, &ob).status.ok());
  EXPECT_EQ(budget->evictions(), 0u);
  EXPECT_GT(a->kv().high_water(), 0);
  // c needs room: a, the least recently used idle session, gives it up.
  ASSERT_TRUE(RunOne(sched, c, pc, n, &oc).status.ok());
  EXPECT_EQ(budget->evictions(), 1u);
  EXPECT_EQ(a->kv().high_water(), 0);
  EXPECT_GT(b->kv().high_water(), 0);
  EXPECT_LE(budget->charged(), budget->limit());
  // a's next turn continues its conversation: nothing is cached any more,
  // and the answer is the one an unevicted session gives.
  std::vector<TokenId> next = pa;
  next.insert(next.end(), oa.streamed.begin(), oa.streamed.end());
  const auto more = Fast().tok->Encode("<|im_end|>\n<|im_start|>user\nAnd in C?<|im_end|>\n"
                                       "<|im_start|>assistant\n", false, true);
  next.insert(next.end(), more.begin(), more.end());
  Outcome oa2;
  JobResult r = RunOne(sched, a, next, 8, &oa2);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.stats.cached_tokens, 0);
  EXPECT_EQ(oa2.streamed, Single(next, 8));
  EXPECT_EQ(a->tokens().size(), next.size() + oa2.streamed.size() - 1);
  // b was used before c, so b went next.
  EXPECT_EQ(budget->evictions(), 2u);
  EXPECT_EQ(b->kv().high_water(), 0);
}

TEST(KvBudget, AJobWaitsForMemoryRunningJobsHoldAndThenRuns) {
  REQUIRE_FAST();
  const auto p1 = Prompt("Write hello world in C.");
  const auto p2 = Prompt("Explain recursion in one sentence.");
  const int32_t n = 24;
  // One job at a time fits.
  auto budget = std::make_shared<KvBudget>(Charge(static_cast<int32_t>(std::max(p1.size(), p2.size())) + n + 1) + 4096);
  Scheduler::Options so;
  so.kv_budget = budget;
  so.max_active = 4;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  auto s1 = std::make_shared<Session>(*Fast().model, 512, budget);
  auto s2 = std::make_shared<Session>(*Fast().model, 512, budget);
  Outcome o1, o2;
  sched.Submit(MakeJob(s1, p1, n, &o1));
  sched.Submit(MakeJob(s2, p2, n, &o2));
  JobResult r1 = o1.done.get_future().get();
  JobResult r2 = o2.done.get_future().get();
  ASSERT_TRUE(r1.status.ok()) << r1.status.ToString();
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  EXPECT_EQ(o1.streamed, Single(p1, n));
  EXPECT_EQ(o2.streamed, Single(p2, n));
  // The second could start only after the first ended and its session,
  // idle by then (and still alive), was evicted.
  EXPECT_EQ(budget->evictions(), 1u);
  EXPECT_GE(r2.queue_s, r1.stats.ttft_s);
}

TEST(KvBudget, TheWholeBudgetActsAsAShorterContext) {
  REQUIRE_FAST();
  const auto p = Prompt("Write a Python function that reverses a string.");
  auto budget = std::make_shared<KvBudget>(Charge(static_cast<int32_t>(p.size()) + 10));
  Scheduler::Options so;
  so.kv_budget = budget;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  auto s = std::make_shared<Session>(*Fast().model, 512, budget);
  // max_tokens beyond the budget: it generates what fits, then "length".
  Outcome clamped;
  JobResult r = RunOne(sched, s, p, 400, &clamped);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.stats.finish_reason, "length");
  const int32_t within = s->kv().PositionsWithin(budget->limit());
  EXPECT_GE(within, static_cast<int32_t>(p.size()) + 10);
  EXPECT_EQ(static_cast<int32_t>(clamped.streamed.size()), within - static_cast<int32_t>(p.size()) - 1);
  EXPECT_EQ(clamped.streamed, Single(p, static_cast<int32_t>(clamped.streamed.size())));
  EXPECT_LE(s->kv().ResidentBytes(s->kv().high_water()), budget->limit());
  // A prompt that does not fit at all is refused, clearly.
  std::vector<TokenId> huge;
  while (static_cast<int32_t>(huge.size()) <= within) huge.insert(huge.end(), p.begin(), p.end());
  Outcome refused;
  r = RunOne(sched, s, huge, 4, &refused);
  EXPECT_EQ(r.status.code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status.message().find("KV budget"), std::string::npos) << r.status.message();
  EXPECT_TRUE(refused.streamed.empty());
  // The session still works; nothing leaked.
  Outcome ok;
  r = RunOne(sched, s, p, 4, &ok);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(ok.streamed, Single(p, 4));
  EXPECT_EQ(budget->charged(), s->kv().ResidentBytes(s->kv().high_water()));
}

TEST(KvBudget, AdmissionTrimsTheSessionsPagesBeyondWhatTheJobMayFill) {
  REQUIRE_FAST();
  auto budget = std::make_shared<KvBudget>(size_t{1} << 30);
  Scheduler::Options so;
  so.kv_budget = budget;
  Scheduler sched(*Fast().model, *Fast().tok, so);
  auto s = std::make_shared<Session>(*Fast().model, 512, budget);
  const auto longer = Prompt("Write a Python class for a bank account with deposit and withdraw.");
  Outcome o1;
  ASSERT_TRUE(RunOne(sched, s, longer, 64, &o1).status.ok());
  const int32_t reached = s->kv().high_water();
  ASSERT_GT(reached, 64);
  // A short unrelated request on the same session (a pooled HTTP session).
  const auto shorter = Prompt("Hi");
  Outcome o2;
  ASSERT_TRUE(RunOne(sched, s, shorter, 2, &o2).status.ok());
  EXPECT_LE(s->kv().high_water(), static_cast<int32_t>(shorter.size()) + 3);
  EXPECT_EQ(o2.streamed, Single(shorter, 2));
  EXPECT_EQ(budget->charged(), s->kv().ResidentBytes(s->kv().high_water()));
}

}  // namespace
}  // namespace glint::engine
