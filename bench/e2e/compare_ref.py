#!/usr/bin/env python3
"""glint vs llama.cpp on the same GGUF, in one run on one machine.

Prompt processing of --n-prompt tokens (one request) and generation of
--n-gen tokens (one at a time, greedy), alternating the two engines for
--reps repetitions and reporting medians and ratios (glint / reference).
Both engines see the same token ids and use the same thread count.

usage: bench/e2e/compare_ref.py --model fast|smart|PATH [--threads N] [--reps N]
                                [--depth D] [--json]
With --json the last line is one JSON object with glint_pp_tok_s,
ref_pp_tok_s, glint_tg_tok_s, ref_tg_tok_s, pp_ratio, tg_ratio.

       bench/e2e/compare_ref.py --sweep [--models fast,smart] [--depths 0,1024,4096]
measures generation at each context depth (prompt processing at depth 0
only) for each model, and writes bench/results/sweep-<date>.md (a table) and
.png (tokens/s against depth, both engines, both models) and .json.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(ROOT, "build", "release", "glint")


def model_path(spec):
    if os.path.exists(spec):
        return spec
    with open(os.path.join(ROOT, "models", "manifest.json")) as f:
        entry = json.load(f)["models"][spec]
    home = os.environ.get("GLINT_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "glint")
    return os.path.join(home, "models", entry["file"])


def bench_tokens(n, n_vocab):
    # Same sequence as `glint bench` (src/cli/bench_cmd.cc).
    span = max(1, n_vocab - 200)
    return [(i * 7919 + 13) % span + 100 for i in range(n)]


def glint_once(args, path):
    cmd = [args.glint, "bench", "-m", path, "-p", str(args.n_prompt), "-n", str(args.n_gen),
           "-d", str(args.depth), "-r", "1", "-t", str(args.threads), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["pp_tok_s"], r["tg_tok_s"]


class Reference:
    def __init__(self, path, args):
        import llama_cpp
        import numpy as np

        self.llama_cpp, self.np = llama_cpp, np
        n_ctx = max(args.n_prompt, args.depth + args.n_gen) + 16
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=max(args.n_prompt, 32),
                                   n_ubatch=max(args.n_prompt, 32), n_threads=args.threads,
                                   n_threads_batch=args.threads, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.args = args

    def logits(self):
        ptr = self.llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return self.np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def once(self):
        a = self.args
        pp = tg = 0.0
        if a.n_prompt > 0:
            self.llm.reset()
            ids = bench_tokens(a.n_prompt, self.n_vocab)
            start = time.perf_counter()
            self.llm.eval(ids)
            pp = a.n_prompt / (time.perf_counter() - start)
        if a.n_gen > 0:
            self.llm.reset()
            self.llm.eval(bench_tokens(max(a.depth, 1), self.n_vocab))
            start = time.perf_counter()
            for _ in range(a.n_gen):
                self.llm.eval([int(self.np.argmax(self.logits()))])
            tg = a.n_gen / (time.perf_counter() - start)
        return pp, tg


def measure(args, path, ref=None):
    """Medians over --reps alternating runs of both engines at args.depth."""
    ref = ref or Reference(path, args)
    ref.once()  # warm-up: page the weights in for both
    glint_once(args, path)
    g_pp, g_tg, r_pp, r_tg = [], [], [], []
    for rep in range(args.reps):
        a, b = glint_once(args, path)
        c, d = ref.once()
        g_pp.append(a); g_tg.append(b); r_pp.append(c); r_tg.append(d)
        print(f"{args.model} depth {args.depth} rep {rep + 1}: glint pp {a:7.1f} tg {b:6.1f} | "
              f"llama.cpp pp {c:7.1f} tg {d:6.1f} tok/s", file=sys.stderr)
    med = statistics.median
    res = {
        "model": args.model, "threads": args.threads, "reps": args.reps,
        "n_prompt": args.n_prompt, "n_gen": args.n_gen, "depth": args.depth,
        "glint_pp_tok_s": round(med(g_pp), 2), "ref_pp_tok_s": round(med(r_pp), 2),
        "glint_tg_tok_s": round(med(g_tg), 2), "ref_tg_tok_s": round(med(r_tg), 2),
        "cpu": platform.processor() or platform.machine(),
    }
    res["pp_ratio"] = round(res["glint_pp_tok_s"] / res["ref_pp_tok_s"], 3) if res["ref_pp_tok_s"] else None
    res["tg_ratio"] = round(res["glint_tg_tok_s"] / res["ref_tg_tok_s"], 3) if res["ref_tg_tok_s"] else None
    return res


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def sweep(args):
    import copy

    rows = []
    for model in args.models.split(","):
        path = model_path(model)
        for depth in (int(d) for d in args.depths.split(",")):
            a = copy.copy(args)
            a.model, a.depth = model, depth
            a.n_prompt = args.n_prompt if depth == 0 else 0  # pp once, at depth 0
            rows.append(measure(a, path))
    day = time.strftime("%Y-%m-%d")
    base = os.path.join(ROOT, "bench", "results", f"sweep-{day}")
    machine = f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} threads"
    lines = [f"Measured {day} on {machine}; medians of {args.reps} alternating runs "
             f"(`bench/e2e/compare_ref.py --sweep`).", "",
             "| model | depth | glint tg tok/s | llama.cpp tg tok/s | tg ratio | glint pp tok/s "
             "| llama.cpp pp tok/s | pp ratio |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pp = (f"{r['glint_pp_tok_s']} | {r['ref_pp_tok_s']} | {r['pp_ratio']}" if r["n_prompt"]
              else "| |")
        lines.append(f"| {r['model']} | {r['depth']} | {r['glint_tg_tok_s']} | {r['ref_tg_tok_s']} "
                     f"| {r['tg_ratio']} | {pp} |")
    table = "\n".join(lines) + "\n"
    with open(base + ".md", "w") as f:
        f.write(table)
    with open(base + ".json", "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=1)
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model in args.models.split(","):
        mine = [r for r in rows if r["model"] == model]
        depths = [r["depth"] for r in mine]
        ax.plot(depths, [r["glint_tg_tok_s"] for r in mine], marker="o", label=f"glint {model}")
        ax.plot(depths, [r["ref_tg_tok_s"] for r in mine], marker="s", linestyle="--",
                label=f"llama.cpp {model}")
    ax.set_xlabel("context depth (tokens)")
    ax.set_ylabel("generation (tokens/s)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(f"Decode speed against context depth ({args.threads} threads)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, machine, fontsize=7, alpha=0.7)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)
    print(table)
    print(f"wrote {base}.md, .json and .png", file=sys.stderr)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fast")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--n-prompt", type=int, default=512)
    p.add_argument("--n-gen", type=int, default=128)
    p.add_argument("--depth", type=int, default=0)
    p.add_argument("--glint", default=os.environ.get("GLINT_BIN", DEFAULT_BIN))
    p.add_argument("--json", action="store_true")
    p.add_argument("--sweep", action="store_true", help="generation at several depths, both models")
    p.add_argument("--models", default="fast,smart", help="with --sweep")
    p.add_argument("--depths", default="0,1024,4096", help="with --sweep")
    args = p.parse_args()
    if args.sweep:
        rows = sweep(args)
        if args.json:
            print(json.dumps({"rows": rows}))
        return
    res = measure(args, model_path(args.model))
    print(f"| model | threads | glint pp{args.n_prompt} | llama.cpp pp{args.n_prompt} | pp ratio "
          f"| glint tg{args.n_gen} | llama.cpp tg{args.n_gen} | tg ratio |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.model} | {args.threads} | {res['glint_pp_tok_s']} | {res['ref_pp_tok_s']} | "
          f"{res['pp_ratio']} | {res['glint_tg_tok_s']} | {res['ref_tg_tok_s']} | {res['tg_ratio']} |")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
