#!/usr/bin/env python3
"""Batched decoding: the aggregate tokens/s of P sequences decoded together
against one sequence, on the same model and threads, in one run.

Each round runs `glint bench` once with --parallel 1 and once with
--parallel P (alternating, so that the machine's drift hits both alike) and
takes the ratio of the two; the report gives every round and the medians.
The ratio is what issue 4 asks of the fast model: 8 sequences at least 3x
one.

usage: bench/e2e/batched.py [--model fast|smart|PATH] [--parallel P]
                            [--rounds N] [--n-gen N] [--depth D]
                            [--threads N] [--out FILE]
Writes bench/results/batched-<date>-<model>.json unless --out - is given.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(ROOT, "build", "release", "glint")


def tg(args, parallel):
    cmd = [args.glint, "bench", "-m", args.model, "-p", "0", "-n", str(args.n_gen), "-d",
           str(args.depth), "-r", str(args.reps), "--parallel", str(parallel), "--json"]
    if args.threads > 0:
        cmd += ["-t", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["tg_tok_s"], r["threads"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fast")
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3, help="glint bench -r per run (its median)")
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="0: glint's default (all cores)")
    ap.add_argument("--glint", default=os.environ.get("GLINT_BIN", DEFAULT_BIN))
    ap.add_argument("--out", default=None, help="result file; - for none")
    args = ap.parse_args()
    if args.parallel < 2:
        sys.exit("batched.py: --parallel must be at least 2")

    rounds = []
    threads = None
    for i in range(args.rounds):
        one, threads = tg(args, 1)
        many, _ = tg(args, args.parallel)
        rounds.append({"one_tok_s": one, "many_tok_s": many, "ratio": many / one})
        print(f"round {i + 1}: one {one:7.1f} tok/s   {args.parallel} together {many:7.1f} tok/s"
              f"   ratio {many / one:5.2f}", flush=True)
    result = {
        "model": args.model, "parallel": args.parallel, "threads": threads,
        "n_gen": args.n_gen, "depth": args.depth, "reps": args.reps,
        "machine": platform.processor() or platform.machine(),
        "one_tok_s": statistics.median(r["one_tok_s"] for r in rounds),
        "many_tok_s": statistics.median(r["many_tok_s"] for r in rounds),
        "ratio": statistics.median(r["ratio"] for r in rounds),
        "rounds": rounds,
    }
    print(f"median: one {result['one_tok_s']:.1f} tok/s, {args.parallel} together "
          f"{result['many_tok_s']:.1f} tok/s, ratio {result['ratio']:.2f} "
          f"(per-round range {min(r['ratio'] for r in rounds):.2f}-"
          f"{max(r['ratio'] for r in rounds):.2f}), {threads} threads")
    if args.out != "-":
        name = os.path.basename(args.model).split(".")[0]
        out = args.out or os.path.join(
            ROOT, "bench", "results", f"batched-{datetime.date.today().isoformat()}-{name}.json")
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
