// glint bench: prompt-processing and generation speed of one model, measured
// the way the reference's llama-bench does (pp: N prompt tokens in one
// request; tg: N tokens decoded one at a time), so that bench/e2e can put
// the two engines side by side. With --parallel P, tg decodes P sequences
// together (one batched forward pass per step, as the server's scheduler
// does) and reports their aggregate tokens/s. With --draft K, each step
// evaluates K tokens of every sequence in that pass, as verifying a
// speculative draft does, and keeps them all.
#include <algorithm>
#include <cstdio>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "cli/commands.h"
#include "cli/model_loading.h"
#include "model/forward_scratch.h"
#include "sampling/sampler.h"

namespace glint::cli {
namespace {

struct BenchOptions {
  std::string model = "fast";
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int32_t depth = 0;  // tokens already in the cache before tg starts
  int reps = 3;
  int threads = 0;
  int32_t batch = 64;
  int32_t parallel = 1;  // sequences decoded together in tg
  int32_t draft = 1;     // tokens of each sequence evaluated per tg step
  bool json = false;
};

// The benchmark's token ids: a fixed, deterministic sequence spread over the
// vocabulary (content does not change the cost of a dense model).
std::vector<int32_t> BenchTokens(int32_t n, int32_t n_vocab) {
  std::vector<int32_t> ids(n);
  const int32_t span = std::max(1, n_vocab - 200);
  for (int32_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((int64_t{i} * 7919 + 13) % span + 100);
  return ids;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Bench(const BenchOptions& o) {
  auto m = LoadModelOrExplain(o.model);
  if (!m) return 1;
  const model::Model& model = *m->model;
  const int32_t n_vocab = model.hparams().n_vocab;
  const int threads = o.threads > 0 ? o.threads : ThreadPool::HardwareThreads();
  ThreadPool pool(threads);
  const int32_t n_ctx = std::max(o.n_prompt, o.depth + o.n_gen) + 1;
  const int32_t P = o.parallel;
  const int32_t D = o.draft;
  std::vector<std::unique_ptr<model::KvCache>> kvs;
  for (int32_t s = 0; s < P; ++s) kvs.push_back(model.NewKvCache(n_ctx));
  model::KvCache& kv = *kvs[0];
  auto scratch = model.NewScratch(std::max(o.batch, P * D));
  std::vector<float> logits(static_cast<size_t>(n_vocab) * P * D);
  std::vector<double> pp, tg;
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "glint: %s\n", st.message().c_str());
    return 1;
  };

  for (int r = 0; r < o.reps; ++r) {
    if (o.n_prompt > 0) {
      auto prompt = BenchTokens(o.n_prompt, n_vocab);
      kv.Clear();
      auto start = Clock::now();
      Status st = model.Forward(prompt.data(), o.n_prompt, kv, logits.data(), false, pool, *scratch);
      if (!st.ok()) return fail(st);
      pp.push_back(o.n_prompt / SecondsSince(start));
    }
    if (o.n_gen > 0) {
      auto fill = BenchTokens(std::max(o.depth, 1), n_vocab);
      for (int32_t s = 0; s < P; ++s) {
        kvs[s]->Clear();
        Status st = model.Forward(fill.data(), static_cast<int32_t>(fill.size()), *kvs[s],
                                  logits.data() + static_cast<size_t>(s) * n_vocab, false, pool,
                                  *scratch);
        if (!st.ok()) return fail(st);
      }
      // Step i evaluates tokens [i, i + step) of every sequence: the first
      // follows the argmax of the depth fill (as decoding does); a draft's
      // other tokens are the benchmark's fixed sequence.
      const auto draft_ids = BenchTokens(o.n_gen, n_vocab);
      std::vector<model::KvCache*> step_kvs;
      std::vector<int32_t> next, argmax(P);
      int32_t last = 1;  // tokens per sequence in the pass that gave `logits`
      auto start = Clock::now();
      for (int32_t i = 0; i < o.n_gen;) {
        const int32_t step = std::min(D, o.n_gen - i);
        step_kvs.clear();
        next.clear();
        // (The sequences' argmaxes across the pool, as the server samples
        // them.)
        auto pick = [&](int ith, int nth) {
          for (int32_t s = ith; s < P; s += nth) {
            argmax[s] = sampling::Argmax(
                logits.data() + static_cast<size_t>(s * last + last - 1) * n_vocab, n_vocab);
          }
        };
        if (P > 1) {
          pool.Run(pick);
        } else {
          pick(0, 1);
        }
        for (int32_t s = 0; s < P; ++s) {
          for (int32_t d = 0; d < step; ++d) {
            next.push_back(d == 0 ? argmax[s] : draft_ids[i + d]);
            step_kvs.push_back(kvs[s].get());
          }
        }
        Status st = P * step == 1
                        ? model.Forward(next.data(), 1, kv, logits.data(), false, pool, *scratch)
                        : model.ForwardDecode(next.data(), step_kvs.data(), P * step,
                                              logits.data(), pool, *scratch);
        if (!st.ok()) return fail(st);
        i += step;
        last = step;
      }
      tg.push_back(static_cast<double>(o.n_gen) * P / SecondsSince(start));
    }
  }
  const auto& hp = model.hparams();
  if (o.json) {
    nlohmann::json out = {{"model", hp.name}, {"arch", hp.arch}, {"quant", model.QuantName()},
                          {"threads", threads}, {"n_prompt", o.n_prompt}, {"n_gen", o.n_gen},
                          {"depth", o.depth}, {"parallel", P}, {"draft", D}, {"reps", o.reps}, {"pp_tok_s", Median(pp)},
                          {"tg_tok_s", Median(tg)}, {"pp_runs", pp}, {"tg_runs", tg}};
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("{} ({}, {}), {} threads\n", hp.name, hp.arch, model.QuantName(), threads);
    if (!pp.empty()) fmt::print("pp{:<5} {:8.1f} tok/s (median of {})\n", o.n_prompt, Median(pp), pp.size());
    if (!tg.empty()) {
      fmt::print("tg{:<5} {:8.1f} tok/s (median of {}, depth {}{}{})\n", o.n_gen, Median(tg), tg.size(),
                 o.depth, P > 1 ? fmt::format(", {} sequences together", P) : "",
                 D > 1 ? fmt::format(", {} tokens per sequence and pass", D) : "");
    }
  }
  return 0;
}

}  // namespace

Runner AddBenchCommand(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed");
  cmd->add_option("-m,--model", o->model, "fast, smart, or a path to a GGUF file")
      ->capture_default_str();
  cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (0 to skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 17));
  cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens (0 to skip)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 17));
  cmd->add_option("-d,--depth", o->depth, "Context depth before generation")
      ->capture_default_str()->check(CLI::Range(0, 1 << 17));
  cmd->add_option("-r,--reps", o->reps, "Repetitions (the median is reported)")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch", o->batch, "Tokens per forward chunk during prefill")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--parallel", o->parallel,
                  "Sequences decoded together during tg (their aggregate tok/s is reported)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--draft", o->draft,
                  "Tokens of each sequence evaluated per tg pass, as a speculative verify does")
      ->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_flag("--json", o->json, "Print one JSON object");
  return [o] { return Bench(*o); };
}

}  // namespace glint::cli
