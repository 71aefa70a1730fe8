#!/usr/bin/env python3
"""Latency of glint's serving paths against llama.cpp's server, in one run.

Starts one `glint serve` and one llama.cpp server (`python -m
llama_cpp.server` from the pinned llama-cpp-python, built on this machine;
same GGUF, same thread count, its prompt cache on) and measures:

1. Per-request overhead: a 1-token answer to a tiny prompt, median of N:
   glint WebSocket session | glint HTTP, new connection per request |
   glint HTTP keep-alive | llama.cpp HTTP keep-alive.
2. Time to first token at turn 10 of a 10-turn coding conversation
   (~1,500 tokens of history): glint WebSocket with previous_response_id
   (only the new message is sent and prefilled) | glint HTTP resending the
   whole history | llama.cpp resending the whole history. Each is the
   median over R conversations; the history is the one glint's WebSocket
   produced, so every engine sees the same text.

Run on a quiet machine: `.venv/bin/python bench/e2e/latency.py [--json]`.
With --json the last line is one JSON object.
"""
import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLINT_BIN = os.environ.get("GLINT_BIN", os.path.join(ROOT, "build", "release", "glint"))

TURNS = [
    "Write a Python function that parses a CSV line into fields, handling quoted commas.",
    "Add type hints to it.",
    "Now write three unit tests for it with pytest.",
    "What happens with an empty line? Fix it if needed.",
    "Make it accept a custom delimiter.",
    "Write a docstring in Google style.",
    "Rewrite it as a generator over a file object.",
    "How would you handle escaped quotes?",
    "Summarise the final function's behaviour in two sentences.",
    "Now write the same parser in Go.",
]
SYSTEM = "You are a concise coding assistant. Answer with code first."


def model_path(name):
    home = os.environ.get("GLINT_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "glint")
    with open(os.path.join(ROOT, "models", "manifest.json")) as f:
        entry = json.load(f)["models"][name]
    return os.path.join(home, "models", entry["file"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not come up")


def start_glint(model, threads, ctx):
    port = free_port()
    proc = subprocess.Popen([GLINT_BIN, "serve", "--model", model, "--port", str(port),
                             "--threads", str(threads), "--ctx", str(ctx)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port, "/health")
    return proc, port


def start_reference(model, threads, ctx):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", model_path(model),
                             "--port", str(port), "--host", "127.0.0.1", "--n_threads", str(threads),
                             "--n_threads_batch", str(threads), "--n_ctx", str(ctx),
                             "--n_batch", "512", "--cache", "true"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port, "/v1/models")
    return proc, port


def post(conn, path, body, headers=None):
    data = json.dumps(body)
    conn.request("POST", path, body=data, headers={"content-type": "application/json",
                                                   **(headers or {})})
    r = conn.getresponse()
    out = r.read()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {out[:300]!r}")
    return json.loads(out)


def stream_ttft(conn, path, body):
    """Seconds to the first text delta of an SSE stream, and the full text."""
    t0 = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {r.read()[:300]!r}")
    ttft, text = None, ""
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data:") or line == "data: [DONE]":
            continue
        ev = json.loads(line[5:])
        piece = ""
        if ev.get("type") == "response.output_text.delta":
            piece = ev["delta"]
        elif "choices" in ev and ev["choices"]:
            piece = ev["choices"][0].get("delta", {}).get("content") or ""
        if piece and ttft is None:
            ttft = time.perf_counter() - t0
        text += piece
    return ttft, text


def tiny_overhead(port, ref_port, n):
    body = {"model": "glint-fast", "input": "Hi", "max_output_tokens": 1}
    out = {}

    async def ws():
        times = []
        async with websockets.connect(f"ws://127.0.0.1:{port}/v1/responses") as w:
            for _ in range(n + 2):
                t0 = time.perf_counter()
                await w.send(json.dumps({"type": "response.create", **body}))
                while True:
                    ev = json.loads(await w.recv())
                    if ev["type"] in ("response.completed", "response.incomplete"):
                        break
                    if ev["type"] in ("error", "response.failed"):
                        raise RuntimeError(ev)
                times.append(time.perf_counter() - t0)
        return times[2:]  # the first two warm the session

    out["ws"] = asyncio.run(ws())
    times = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        post(c, "/v1/responses", body, {"connection": "close"})
        c.close()
        times.append(time.perf_counter() - t0)
    out["http_new_conn"] = times[2:]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        post(c, "/v1/responses", body)
        times.append(time.perf_counter() - t0)
    out["http_keep_alive"] = times[2:]
    c = http.client.HTTPConnection("127.0.0.1", ref_port, timeout=60)
    times = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        post(c, "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}],
                                         "max_tokens": 1, "temperature": 0})
        times.append(time.perf_counter() - t0)
    out["ref_http"] = times[2:]
    return {k: statistics.median(v) * 1e3 for k, v in out.items()}


def ws_conversation(port, max_tokens):
    """Runs the 10 turns over one WebSocket; returns (turn-10 TTFT, history)."""
    async def run():
        history = []
        async with websockets.connect(f"ws://127.0.0.1:{port}/v1/responses", max_size=None) as w:
            await w.send(json.dumps({"type": "response.create", "model": "glint-fast",
                                     "instructions": SYSTEM, "input": [], "generate": False}))
            prev = None
            while prev is None:
                ev = json.loads(await w.recv())
                if ev["type"] == "response.completed":
                    prev = ev["response"]["id"]
            ttft = None
            for i, q in enumerate(TURNS):
                t0 = time.perf_counter()
                await w.send(json.dumps({"type": "response.create", "model": "glint-fast",
                                         "previous_response_id": prev, "max_output_tokens": max_tokens,
                                         "input": [{"type": "message", "role": "user", "content": q}]}))
                text, first = "", None
                while True:
                    ev = json.loads(await w.recv())
                    if ev["type"] == "response.output_text.delta":
                        if first is None:
                            first = time.perf_counter() - t0
                        text += ev["delta"]
                    elif ev["type"] in ("response.completed", "response.incomplete"):
                        prev = ev["response"]["id"]
                        usage = ev["response"]["usage"]
                        break
                    elif ev["type"] in ("error", "response.failed"):
                        raise RuntimeError(ev)
                history.append((q, text))
                ttft = first
            return ttft, history, usage
    return asyncio.run(run())


def messages_for(history, upto):
    msgs = [{"role": "system", "content": SYSTEM}]
    for q, a in history[:upto]:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": history[upto][0]})
    return msgs


def resend_ttft(port, history, max_tokens, reference):
    """Replays turns 1..10 resending the full history each time (as a
    stateless client does), and returns the TTFT of turn 10."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    ttft = None
    for i in range(len(history)):
        msgs = messages_for(history, i)
        if reference:
            ttft, _ = stream_ttft(c, "/v1/chat/completions",
                                  {"messages": msgs, "max_tokens": max_tokens, "temperature": 0,
                                   "stream": True})
        else:
            ttft, _ = stream_ttft(c, "/v1/responses",
                                  {"model": "glint-fast", "instructions": SYSTEM,
                                   "input": msgs[1:], "max_output_tokens": max_tokens,
                                   "stream": True})
    return ttft


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--requests", type=int, default=30, help="tiny requests per path")
    ap.add_argument("--conversations", type=int, default=3, help="10-turn conversations per path")
    ap.add_argument("--max-tokens", type=int, default=120, help="answer length per turn")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    glint, port = start_glint(args.model, args.threads, args.ctx)
    ref, ref_port = start_reference(args.model, args.threads, args.ctx)
    try:
        over = tiny_overhead(port, ref_port, args.requests)
        ws_t, http_t, ref_t, history_tokens = [], [], [], 0
        for _ in range(args.conversations):
            t, history, usage = ws_conversation(port, args.max_tokens)
            ws_t.append(t)
            history_tokens = usage["input_tokens"]
            http_t.append(resend_ttft(port, history, args.max_tokens, reference=False))
            ref_t.append(resend_ttft(ref_port, history, args.max_tokens, reference=True))
    finally:
        for p in (glint, ref):
            p.terminate()
            p.wait(timeout=30)

    result = {
        "model": args.model,
        "threads": args.threads,
        "ws_overhead_ms": over["ws"],
        "http_new_conn_overhead_ms": over["http_new_conn"],
        "http_keep_alive_overhead_ms": over["http_keep_alive"],
        "ref_http_overhead_ms": over["ref_http"],
        "overhead_reduction": 1 - over["ws"] / over["http_new_conn"],
        "turn10_history_tokens": history_tokens,
        "ttft_turn10_ws_ms": statistics.median(ws_t) * 1e3,
        "ttft_turn10_http_ms": statistics.median(http_t) * 1e3,
        "ttft_turn10_ref_ms": statistics.median(ref_t) * 1e3,
    }
    result["ttft_ratio"] = result["ttft_turn10_ws_ms"] / result["ttft_turn10_ref_ms"]
    print(f"per-request overhead, 1-token answer to a tiny prompt (median of {args.requests}):")
    print(f"  glint WebSocket session       {over['ws']:8.2f} ms")
    print(f"  glint HTTP, new connection    {over['http_new_conn']:8.2f} ms")
    print(f"  glint HTTP, keep-alive        {over['http_keep_alive']:8.2f} ms")
    print(f"  llama.cpp HTTP, keep-alive    {over['ref_http']:8.2f} ms")
    print(f"  overhead_reduction (1 - ws/http_new_conn) = {result['overhead_reduction']:.3f}")
    print(f"time to first token at turn 10 ({history_tokens} tokens of context, "
          f"median of {args.conversations}):")
    print(f"  glint WebSocket, previous_response_id  {result['ttft_turn10_ws_ms']:8.1f} ms")
    print(f"  glint HTTP, full history resent        {result['ttft_turn10_http_ms']:8.1f} ms")
    print(f"  llama.cpp, full history resent         {result['ttft_turn10_ref_ms']:8.1f} ms")
    print(f"  ttft_ratio (ws / llama.cpp) = {result['ttft_ratio']:.3f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
