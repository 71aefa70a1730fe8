#!/usr/bin/env python3
"""Code edits with and without speculative decoding, through `glint edit`.

For each task of bench/e2e/edits/tasks (an original file, an instruction and
the expected file), runs `glint edit FILE INSTRUCTION --server URL --dry-run
--json` twice: against a `glint serve` with speculative decoding (the old
file is the prediction; prompt lookup on) and against one started with
--no-speculation. Reports per task the generated tokens, the wall time of
both runs, the draft tokens accepted and rejected, whether the two outputs
are identical (they must be: greedy decoding is lossless) and whether the
output equals the expected file.

    .venv/bin/python bench/e2e/edits.py [--model fast|smart] [--limit N] [--json]

With --json the last line is one JSON object with speedup_median,
speedup_p10, lossless, exact_match_rate and the per-task rows. Run on a
quiet machine: both servers use the same threads, one at a time.
"""
import argparse
import glob
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLINT_BIN = os.environ.get("GLINT_BIN", os.path.join(ROOT, "build", "release", "glint"))
TASKS = os.path.join(ROOT, "bench", "e2e", "edits", "tasks")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model, threads, speculation):
    port = free_port()
    args = [GLINT_BIN, "serve", "--model", model, "--port", str(port), "--threads", str(threads),
            "--parallel", "1"]
    if not speculation:
        args.append("--no-speculation")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"glint serve exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("glint serve did not come up")


def load_tasks(limit, pattern):
    tasks = []
    for d in sorted(glob.glob(os.path.join(TASKS, "*"))):
        if pattern and pattern not in os.path.basename(d):
            continue
        with open(os.path.join(d, "task.json")) as f:
            meta = json.load(f)
        original = glob.glob(os.path.join(d, "original.*"))[0]
        expected = glob.glob(os.path.join(d, "expected.*"))[0]
        tasks.append({"name": os.path.basename(d), "dir": d, "original": original,
                      "expected": expected, **meta})
    return tasks[:limit] if limit else tasks


def run_edit(task, port, workdir, model):
    """One `glint edit` run on a fresh copy of the task's file."""
    path = os.path.join(workdir, os.path.basename(task["original"]))
    shutil.copyfile(task["original"], path)
    t0 = time.perf_counter()
    p = subprocess.run([GLINT_BIN, "edit", path, task["instruction"], "--server",
                        f"http://127.0.0.1:{port}", "--model", model, "--dry-run", "--json"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"{task['name']}: glint edit printed no JSON (exit {p.returncode}): "
                           f"{p.stderr[-500:]}")
    out = json.loads(lines[-1])
    out["wall_s"] = wall
    return out


def percentile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fast", help="fast, smart or a GGUF path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    ap.add_argument("--tasks", default="", help="only tasks whose name contains this")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args()

    tasks = load_tasks(args.limit, args.tasks)
    if not tasks:
        sys.exit("no tasks")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for speculation in (True, False):
            proc, port = start_server(args.model, args.threads, speculation)
            try:
                for t in tasks:
                    r = run_edit(t, port, workdir, args.model)
                    results.setdefault(t["name"], {})["spec" if speculation else "plain"] = r
                    print(f"  {'spec ' if speculation else 'plain'} {t['name']:34s} "
                          f"{r['completion_tokens']:5d} tok {r['wall_s']:7.2f} s", file=sys.stderr)
            finally:
                proc.terminate()
                proc.wait(timeout=30)

    rows = []
    for t in tasks:
        s, p = results[t["name"]]["spec"], results[t["name"]]["plain"]
        with open(t["expected"]) as f:
            expected = f.read()
        rows.append({
            "task": t["name"], "language": t["language"], "kind": t["kind"],
            "tokens": s["completion_tokens"],
            "spec_s": round(s["wall_s"], 3), "plain_s": round(p["wall_s"], 3),
            "speedup": round(p["wall_s"] / s["wall_s"], 3),
            "accepted": s["accepted_prediction_tokens"],
            "rejected": s["rejected_prediction_tokens"],
            "lossless": s["new_text"] == p["new_text"] and s["complete"] == p["complete"],
            "complete": s["complete"],
            "exact": s["complete"] and s["new_text"].rstrip("\n") == expected.rstrip("\n"),
        })

    print(f"{'task':34s} {'tokens':>6s} {'plain s':>8s} {'spec s':>7s} {'speedup':>7s} "
          f"{'acc':>5s} {'rej':>5s}  lossless exact")
    for r in rows:
        print(f"{r['task']:34s} {r['tokens']:6d} {r['plain_s']:8.2f} {r['spec_s']:7.2f} "
              f"{r['speedup']:7.2f} {r['accepted']:5d} {r['rejected']:5d}  "
              f"{'yes' if r['lossless'] else 'NO':8s} {'yes' if r['exact'] else 'no'}")
    speedups = [r["speedup"] for r in rows]
    summary = {
        "model": args.model,
        "tasks": len(rows),
        "speedup_median": round(statistics.median(speedups), 3),
        "speedup_p10": round(percentile(speedups, 0.10), 3),
        "lossless": all(r["lossless"] for r in rows),
        "exact_match_rate": round(sum(r["exact"] for r in rows) / len(rows), 3),
        "complete_rate": round(sum(r["complete"] for r in rows) / len(rows), 3),
        "accepted_tokens": sum(r["accepted"] for r in rows),
        "rejected_tokens": sum(r["rejected"] for r in rows),
        "generated_tokens": sum(r["tokens"] for r in rows),
        "rows": rows,
    }
    print(f"\n{args.model}: speedup median {summary['speedup_median']}x, p10 "
          f"{summary['speedup_p10']}x; lossless {summary['lossless']}; exact match "
          f"{summary['exact_match_rate']:.0%}; finished {summary['complete_rate']:.0%}")
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["lossless"] else 1


if __name__ == "__main__":
    sys.exit(main())
