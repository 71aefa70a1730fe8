#!/usr/bin/env python3
"""Load and faults: glint serve under many well-behaved sessions while
misbehaving clients attack it, loopback only, bounded in count and time.

Starts `glint serve -m fast` on a free port (binary from $GLINT_BIN or
build/release/glint; extra flags with --server-args) unless --url names a
running server, then for --duration seconds runs

- well-behaved load: --ws-clients WebSocket sessions (previous_response_id,
  only the new message is sent) and --http-clients HTTP clients on kept-alive
  connections (half /v1/responses, half /v1/chat/completions, both streamed,
  resending the whole history), each running 10-turn coding conversations
  (a fresh connection per conversation) with --max-tokens per answer. Any
  failure of theirs is an error: the run must have none.
- faults, each kind its own task, spread over the run: clients that vanish
  mid-prefill or mid-decode (RST or FIN without a goodbye), slow readers,
  slowloris, WebSocket messages over --max-frame, HTTP bodies over
  --max-body, invalid UTF-8 in text frames, 100,000-deep JSON, and one burst
  of --burst connections opened at once. Each fault checks what the server
  answers (status, error code, close code); a different answer is a
  fault error.

It samples the server's resident memory (VmRSS) through the run, once after
a warm-up (the baseline) and once the server is idle again after the load,
and glint's /metrics gauges every 5 s. rss_returned says whether rss_after
is within --rss-tolerance-mb (64 MiB, or 10% of the baseline if more) of
the baseline. What may rightly stay resident: the KV caches glint keeps by
design (the HTTP prefix caches; shown apart), and memory glibc keeps in its
arenas after freeing it. Measured on glint-fast: a WebSocket message grown
to 8 MiB in fragments leaves ~23 MiB cached, the 100,000-deep JSON ~8 MiB,
the load itself ~5 MiB; none of it grows with repetition and malloc_trim(0)
gives it all back (--malloc-trim shows it). A leak grows with the run;
64 MiB is about twice what is cached.

`.venv/bin/python bench/e2e/load.py [--json]`: a summary; with --json the
last line is one JSON object. Exits 1 when a well-behaved client saw an
error or the server died.
"""
import argparse
import asyncio
import base64
import codecs
import collections
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLINT_BIN = os.environ.get("GLINT_BIN", os.path.join(ROOT, "build", "release", "glint"))
MODEL = "glint-fast"
# glint serve's own defaults; passed explicitly when this script starts the
# server, so that the faults test exactly the limits the server has.
DEFAULT_LIMIT = 8 * 1024 * 1024

SYSTEM = "You are a concise coding assistant. Answer with code first."
# Several openings, so that sessions do not all hold the same text (greedy
# decoding would otherwise give every session the same answers).
TOPICS = [
    "parses a CSV line into fields, handling quoted commas",
    "merges two sorted lists into one sorted list",
    "implements an LRU cache with get and put",
    "checks whether a string is a valid IPv4 address",
    "returns the n-th Fibonacci number iteratively",
    "flattens a nested list of integers",
    "counts word frequencies in a text file",
    "finds the longest common prefix of a list of strings",
]
FOLLOW_UPS = [
    "Add type hints to it.",
    "Now write three unit tests for it with pytest.",
    "What happens with empty input? Fix it if needed.",
    "Make it faster if you can.",
    "Write a docstring in Google style.",
    "Rewrite it without using the standard library.",
    "How would you handle very large inputs?",
    "Summarise the final function's behaviour in two sentences.",
    "Now write the same function in Go.",
]
TERMINAL = ("response.completed", "response.incomplete")


def conversation(rng):
    return [f"Write a Python function that {rng.choice(TOPICS)}."] + FOLLOW_UPS


def percentile(values, p):
    """The p-th percentile (0..100), linearly interpolated; None when empty."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# The server process and what can be read of it from outside.

class Server:
    """A `glint serve` this script started, or one named by --url."""

    def __init__(self, host, port, proc=None, pid=None):
        self.host, self.port, self.proc = host, port, proc
        self.pid = proc.pid if proc else pid
        self.log = collections.deque(maxlen=5000)  # stderr lines, newest last

    @classmethod
    def start(cls, args):
        cmd = [args.glint_bin, "serve", "-m", "fast", "--port", "0", "--threads", str(args.threads),
               "--max-frame", str(args.max_frame), "--max-body", str(args.max_body),
               *shlex.split(args.server_args)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, errors="replace")
        server = cls("127.0.0.1", None, proc)
        listening = threading.Event()

        # Reads stderr for the whole run: the port comes from the first
        # lines, the server never blocks on a full pipe, and its last words
        # are at hand when something goes wrong.
        def drain():
            for line in proc.stderr:
                server.log.append(line.rstrip("\n"))
                m = server.port is None and re.search(r"serving on http://[\d.]+:(\d+)", line)
                if m:
                    server.port = int(m.group(1))
                    listening.set()
            listening.set()  # the server exited

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(120) or server.port is None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"glint serve did not start: {' '.join(cmd)}\n" + "\n".join(server.log))
        return server

    def alive(self):
        if self.proc:
            return self.proc.poll() is None
        return self.pid is None or os.path.exists(f"/proc/{self.pid}")

    def memory_mb(self):
        """(VmRSS, RssAnon) in MiB, or (None, None) without a process to read."""
        if self.pid is None:
            return None, None
        out = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "RssAnon"):
                        out[key] = int(value.split()[0]) / 1024
        except OSError:
            return None, None
        return out.get("VmRSS"), out.get("RssAnon")

    def stop(self, timeout):
        """SIGTERM (a drain) and the exit status; None for a server not ours."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.log.append(f"[load.py] no exit {timeout} s after SIGTERM: killed")
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---------------------------------------------------------------------------
# A small HTTP/1.1 client on asyncio streams. The faults need byte-level
# control (half-sent headers, lying lengths, sockets dropped at a chosen
# moment), and the well-behaved clients use the same code so that both see
# the server the same way.

class Closed(Exception):
    """The server closed the connection (before a complete answer)."""


async def read_head(reader):
    """Status and headers (lower-cased names) of an HTTP response."""
    line = await reader.readline()
    if not line:
        raise Closed("connection closed before a response")
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise RuntimeError(f"not an HTTP status line: {line[:100]!r}")
    status = int(parts[1])
    headers = {}
    while True:
        line = await reader.readline()
        if not line:
            raise Closed("connection closed inside the response headers")
        if line in (b"\r\n", b"\n"):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def iter_body(reader, headers):
    """The body's pieces as they arrive (chunked, sized, or up to the close)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise Closed("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return
            yield data[:-2]
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n:
            yield await reader.readexactly(n)
    else:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            yield data


async def read_body(reader, headers):
    return b"".join([piece async for piece in iter_body(reader, headers)])


def request_bytes(method, path, host, body=b"", headers=()):
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body or method == "POST":
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += list(headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def http_once(host, port, method, path, body=b"", timeout=60):
    """One request on a new connection: (status, headers, body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(request_bytes(method, path, f"{host}:{port}", body, ["Connection: close"]))
        status, headers = await asyncio.wait_for(read_head(reader), timeout)
        data = await asyncio.wait_for(read_body(reader, headers), timeout)
        return status, headers, data
    finally:
        writer.close()


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def abort(writer, rst):
    """Drops a connection without any goodbye: a reset (SO_LINGER 0), or a
    bare FIN without finishing the request or sending a WebSocket close."""
    sock = writer.get_extra_info("socket")
    if rst and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# ---------------------------------------------------------------------------
# A raw WebSocket client (RFC 6455) for the faults: it sends what a correct
# library refuses to (invalid UTF-8, frames over the limit) and stops at any
# byte. It offers no extensions, so the server's frames are uncompressed.

WS_TEXT, WS_CONT, WS_CLOSE, WS_PING = 0x1, 0x0, 0x8, 0x9


def masked(data, mask):
    # XOR through big integers: fast even for megabytes, no per-byte loop.
    if not data:
        return data
    key = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(len(data), "big")


def ws_frame(opcode, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    first = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 65536:
        length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return first + length + mask + masked(payload, mask)


async def ws_open(host, port, sock=None, limit=2 ** 16):
    """A raw WebSocket on /v1/responses: (reader, writer) once upgraded, or
    raises with the refusal's status."""
    if sock is not None:
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
    else:
        reader, writer = await asyncio.open_connection(host, port, limit=limit)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(request_bytes("GET", "/v1/responses", f"{host}:{port}", headers=[
        "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13"]))
    status, headers = await read_head(reader)
    if status != 101:
        body = await read_body(reader, headers)
        writer.close()
        raise RuntimeError(f"upgrade refused: {status} {body[:200]!r}")
    return reader, writer


async def ws_read(reader):
    """The next message: (opcode, payload); continuation frames joined,
    pings skipped. A close is (WS_CLOSE, payload)."""
    opcode, parts = None, []
    while True:
        head = await reader.readexactly(2)
        fin, op, n = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(n)  # a server's frames are unmasked
        if op == WS_CLOSE:
            return WS_CLOSE, payload
        if op >= 0x8:
            continue  # ping / pong
        if op != WS_CONT:
            opcode = op
        parts.append(payload)
        if fin:
            return opcode, b"".join(parts)


async def ws_read_event(reader):
    opcode, payload = await ws_read(reader)
    if opcode == WS_CLOSE:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        raise Closed(f"close frame {code} {payload[2:200]!r}")
    return json.loads(payload)


async def ws_close_code(reader, timeout):
    """Reads until the server's close frame: its code; None if the socket
    ended without one."""
    async def until_close():
        while True:
            opcode, payload = await ws_read(reader)
            if opcode == WS_CLOSE:
                return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    try:
        return await asyncio.wait_for(until_close(), timeout)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


# ---------------------------------------------------------------------------
# Well-behaved clients.

class Load:
    def __init__(self):
        self.turns = collections.Counter()  # per path
        self.errors = []  # (t, client, what)
        self.ttft = []
        self.itl = []
        self.tpot = []
        self.output_tokens = 0
        self.empty_answers = 0
        self.conversations = 0


class ClientError(Exception):
    pass


def http_body(path, history, text, max_tokens):
    """A stateless client's request: the whole conversation so far
    (history: (question, answer) pairs) and the new question."""
    if path == "/v1/responses":
        items = []
        for q, a in history:
            items += [{"type": "message", "role": "user", "content": q},
                      {"type": "message", "role": "assistant", "content": a}]
        items.append({"type": "message", "role": "user", "content": text})
        return {"model": MODEL, "instructions": SYSTEM, "input": items, "stream": True,
                "max_output_tokens": max_tokens}
    msgs = [{"role": "system", "content": SYSTEM}]
    for q, a in history:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": text})
    return {"model": MODEL, "messages": msgs, "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": max_tokens}


def is_error_event(ev):
    """An error in a stream: a WebSocket/SSE error event, a failed response,
    or Chat Completions' {"error": {...}} (a response object's own "error"
    field sits deeper, under "response")."""
    return ev.get("type") in ("error", "response.failed") or isinstance(ev.get("error"), dict)


def sse_events(buffer):
    """Splits complete SSE events off a text buffer: (data payloads, rest)."""
    out = []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        data = "\n".join(l[5:].lstrip() for l in block.split("\n") if l.startswith("data:"))
        if data:
            out.append(data)
    return out, buffer


class Timing:
    """One answer's time to first token, the gaps between its text deltas,
    and its time per output token (first to last token over the tokens
    after the first: unlike the gaps, it does not depend on how tokens are
    grouped into deltas or frames)."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.first_at = self.last = None
        self.gaps = []
        self.tokens = 0  # from the answer's usage

    def delta(self):
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        else:
            self.gaps.append(now - self.last)
        self.last = now

    def record(self, load):
        load.output_tokens += self.tokens
        if self.first_at is None:
            load.empty_answers += 1
            return
        load.ttft.append(self.first_at - self.t0)
        load.itl.extend(self.gaps)
        if self.tokens > 1:
            load.tpot.append((self.last - self.first_at) / (self.tokens - 1))


async def ws_client(name, url, args, deadline, load, rng):
    while time.monotonic() < deadline:
        turns = conversation(rng)
        load.conversations += 1
        try:
            async with websockets.connect(url, max_size=None, ping_interval=None,
                                          open_timeout=args.turn_timeout,
                                          close_timeout=10) as ws:
                prev = None
                for i, text in enumerate(turns):
                    if time.monotonic() >= deadline:
                        break
                    event = {"type": "response.create", "model": MODEL,
                             "max_output_tokens": args.max_tokens,
                             "input": [{"type": "message", "role": "user", "content": text}]}
                    if prev:
                        event["previous_response_id"] = prev
                    else:
                        event["instructions"] = SYSTEM
                    timing = Timing()
                    await ws.send(json.dumps(event))
                    while True:
                        ev = json.loads(await asyncio.wait_for(ws.recv(), args.turn_timeout))
                        kind = ev.get("type")
                        if kind == "response.output_text.delta":
                            timing.delta()
                        elif kind in TERMINAL:
                            prev = ev["response"]["id"]
                            timing.tokens = ev["response"]["usage"]["output_tokens"]
                            break
                        elif is_error_event(ev):
                            raise ClientError(f"turn {i + 1}: {json.dumps(ev)[:400]}")
                    timing.record(load)
                    load.turns["ws"] += 1
        except Exception as e:  # every failure of a well-behaved client counts
            load.errors.append((time.monotonic(), name, describe(e)))
            await asyncio.sleep(1)


def describe(e):
    if isinstance(e, websockets.InvalidStatus):
        r = e.response
        return f"upgrade refused: {r.status_code} {bytes(r.body or b'')[:300]!r}"
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    return f"{type(e).__name__}: {e}"[:500]


async def http_client(name, host, port, path, args, deadline, load, rng):
    reader = writer = None
    while time.monotonic() < deadline:
        turns = conversation(rng)
        history = []  # (question, answer)
        load.conversations += 1
        try:
            # A fresh connection per conversation, kept alive across its turns.
            if writer:
                writer.close()
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    args.turn_timeout)
            for i, text in enumerate(turns):
                if time.monotonic() >= deadline:
                    break
                body = http_body(path, history, text, args.max_tokens)
                timing = Timing()
                writer.write(request_bytes("POST", path, f"{host}:{port}", json.dumps(body).encode()))
                answer = await asyncio.wait_for(
                    read_stream(reader, path, timing, i), args.turn_timeout)
                timing.record(load)
                history.append((text, answer))
                load.turns["http" + path.replace("/v1/", " ")] += 1
        except Exception as e:
            load.errors.append((time.monotonic(), name, describe(e)))
            await asyncio.sleep(1)
    if writer:
        writer.close()


async def read_stream(reader, path, timing, turn):
    """Reads one SSE answer; returns its text, raises on anything but a
    clean, finished stream."""
    status, headers = await read_head(reader)
    if status != 200:
        raise ClientError(f"turn {turn + 1}: HTTP {status} {(await read_body(reader, headers))[:300]!r}")
    text, buffer, finished = "", "", False
    utf8 = codecs.getincrementaldecoder("utf-8")()  # a chunk may end inside a character
    async for piece in iter_body(reader, headers):
        events, buffer = sse_events(buffer + utf8.decode(piece))
        for data in events:
            if data == "[DONE]":
                finished = True
                continue
            ev = json.loads(data)
            if is_error_event(ev):
                raise ClientError(f"turn {turn + 1}: {data[:400]}")
            if path == "/v1/responses":
                kind = ev.get("type")
                if kind == "response.output_text.delta":
                    timing.delta()
                    text += ev["delta"]
                elif kind in TERMINAL:
                    timing.tokens = ev["response"]["usage"]["output_tokens"]
                    finished = True
            else:
                if ev.get("usage"):
                    timing.tokens = ev["usage"]["completion_tokens"]
                for choice in ev.get("choices") or []:
                    piece_text = (choice.get("delta") or {}).get("content")
                    if piece_text:
                        timing.delta()
                        text += piece_text
    if not finished:
        raise ClientError(f"turn {turn + 1}: the stream ended without its last event")
    if headers.get("connection", "").lower() == "close":
        raise ClientError(f"turn {turn + 1}: the server closed a kept-alive connection")
    return text


# ---------------------------------------------------------------------------
# Faults. Each kind records how many it injected and every answer that was
# not the expected one (a fault error), with the first few details.

class Faults:
    def __init__(self):
        self.injected = collections.Counter()
        self.errors = collections.Counter()
        self.details = collections.defaultdict(list)
        self.notes = collections.defaultdict(collections.Counter)

    def ok(self, kind, note=None):
        self.injected[kind] += 1
        if note:
            self.notes[kind][note] += 1

    def bad(self, kind, what):
        self.injected[kind] += 1
        self.errors[kind] += 1
        if len(self.details[kind]) < 5:
            self.details[kind].append(what[:400])


def long_prompt(rng):
    # About 600 tokens: enough that prefill takes a while, so that a client
    # leaving right after sending leaves during it (or while it is queued).
    words = "sort merge heap quick radix bucket shell insertion selection bubble".split()
    return ("Review this plan and then write the code: " +
            " ".join(rng.choice(words) for _ in range(500)))


OVERLOADED = "503 server_overloaded"


async def vanish_one(host, port, n, rng, patience, faults, tokens=None):
    """A client that sends a request and drops the socket after `after`
    events (0: at once, while its prompt is queued or being prefilled), or
    after `patience` seconds if they have not all come by then (under load
    a request may wait long for its turn: it then leaves while queued).
    With `tokens`, it waits for that many text deltas instead (mid-decode)."""
    via = ("ws", "responses", "chat")[n % 3]
    after = rng.choice([0, 0, 1, 3, 5, 6, 8, 10, 12, 16]) if tokens is None else 10 ** 6
    rst = rng.random() < 0.5
    prompt = long_prompt(rng) if after == 0 else rng.choice(TOPICS)
    kind = "vanishing"
    state = {"events": 0, "tokens": 0}

    def seen(ev):
        """Counts an event; returns an error description for an error."""
        state["events"] += 1
        if is_error_event(ev) and "server_overloaded" in json.dumps(ev):
            return OVERLOADED
        if is_error_event(ev):
            return f"{via}: an error before vanishing: {json.dumps(ev)[:300]}"
        if ev.get("type") == "response.output_text.delta" or \
                any((c.get("delta") or {}).get("content") for c in ev.get("choices") or []):
            state["tokens"] += 1
        return None

    def enough():
        return state["events"] >= after or (tokens is not None and state["tokens"] >= tokens)

    async def watch_ws(reader):
        while not enough():
            ev = await ws_read_event(reader)
            problem = seen(ev)
            if problem or ev["type"] in TERMINAL:
                return problem

    async def watch_sse(reader, path):
        status, headers = await read_head(reader)
        if status != 200:
            body = await read_body(reader, headers)
            if status == 503 and b"server_overloaded" in body:
                return OVERLOADED
            return f"{path} answered {status} {body[:300]!r}"
        buffer = ""
        async for piece in iter_body(reader, headers):
            events, buffer = sse_events(buffer + piece.decode(errors="replace"))
            for data in events:
                problem = data != "[DONE]" and seen(json.loads(data))
                if problem:
                    return problem
            if enough():
                return None

    writer = None
    try:
        if via == "ws":
            reader, writer = await asyncio.wait_for(ws_open(host, port), 30)
            writer.write(ws_frame(WS_TEXT, json.dumps({
                "type": "response.create", "model": MODEL, "max_output_tokens": 200,
                "input": prompt}).encode()))
            watch = watch_ws(reader)
        else:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
            if via == "responses":
                path, body = "/v1/responses", {"model": MODEL, "input": prompt, "stream": True,
                                               "max_output_tokens": 200}
            else:
                path, body = "/v1/chat/completions", {
                    "model": MODEL, "messages": [{"role": "user", "content": prompt}],
                    "stream": True, "max_tokens": 200}
            writer.write(request_bytes("POST", path, f"{host}:{port}", json.dumps(body).encode()))
            watch = watch_sse(reader, path)
        problem = None
        if after:
            try:
                problem = await asyncio.wait_for(watch, patience)
            except asyncio.TimeoutError:
                pass
        else:
            watch.close()
            await asyncio.sleep(rng.random() * 0.05)
        abort(writer, rst)
        if problem is OVERLOADED:
            # At --max-requests the server sheds load with a documented 503:
            # a right answer, shown apart.
            return faults.ok(kind, f"{via}, refused: 503 server_overloaded")
        if problem:
            return faults.bad(kind, problem)
        phase = "mid-decode" if state["tokens"] else "before its first token"
        faults.ok(kind, f"{via}, {phase}, {'RST' if rst else 'FIN'}")
    except Exception as e:
        faults.bad(kind, f"{via}, after {state['events']} events: {describe(e)}")
        if writer:
            writer.close()


async def vanishing(host, port, count, start, end, stop, concurrency, rng, faults):
    """`count` vanishing clients at an even pace over [start, end), at most
    `concurrency` at once (so that they never exceed the server's request
    limit themselves: that would fail the well-behaved clients by design);
    those that could not start before `stop` (the end of the load) are
    reported as such."""
    gate = asyncio.Semaphore(concurrency)
    step = (end - start) / max(count, 1)
    # Each may take at most the time that keeps the pace at `concurrency` at once.
    patience = max(0.5, 0.8 * step * concurrency)
    # Under heavy load that is less than the wait for a first token, so one
    # in ten waits as long as it takes for 1..8 tokens and then vanishes
    # mid-decode; two at a time at most (else it goes the quick way).
    patient = asyncio.Semaphore(2)
    tasks = []

    async def one(n):
        if n % 10 == 5 and not patient.locked():
            async with patient:
                if time.monotonic() < stop:
                    await vanish_one(host, port, n, rng, stop - time.monotonic(), faults,
                                     tokens=rng.randint(1, 8))
            return
        async with gate:
            if time.monotonic() < stop:
                await vanish_one(host, port, n, rng, patience, faults)

    for n in range(count):
        await sleep_until(start + n * step)
        if time.monotonic() > stop:
            break
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    if count > faults.injected["vanishing"]:
        faults.notes["vanishing"]["not started: the load ended first"] += \
            count - faults.injected["vanishing"]


async def sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def slow_reader(host, port, read_s, faults):
    """Asks for a long answer and reads one frame per second through a tiny
    receive buffer, so that the server's writes back up (its generation
    should wait, holding back no one else); after read_s it cancels and reads
    the rest at full speed, expecting an ordered stream that ends properly."""
    kind = "slow_reader"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    writer = None
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await ws_open(host, port, sock=sock, limit=4096)
        writer.write(ws_frame(WS_TEXT, json.dumps({
            # (A prompt the fast model answers at length: 1,000 tokens.)
            "type": "response.create", "model": MODEL, "max_output_tokens": 1000,
            "input": "List the numbers from 1 to 500 separated by commas."}).encode()))
        seq, slow_until, cancelled = -1, time.monotonic() + read_s, False
        while True:
            ev = await asyncio.wait_for(ws_read_event(reader), 120)
            if ev.get("sequence_number") != seq + 1:
                return faults.bad(kind, f"sequence {ev.get('sequence_number')} after {seq}: "
                                        f"{json.dumps(ev)[:200]}")
            seq += 1
            if ev["type"] in TERMINAL:
                writer.write(ws_frame(WS_CLOSE, struct.pack("!H", 1000)))
                return faults.ok(kind, f"{ev['response']['status']} after "
                                       f"{'a cancel' if cancelled else 'the slow reads'}")
            if is_error_event(ev):
                return faults.bad(kind, json.dumps(ev)[:300])
            if time.monotonic() < slow_until:
                await asyncio.sleep(1)
            elif not cancelled:
                writer.write(ws_frame(WS_TEXT, b'{"type": "response.cancel"}'))
                cancelled = True
    except Exception as e:
        faults.bad(kind, describe(e))
    finally:
        if writer:
            writer.close()
        else:
            sock.close()


async def slow_readers(host, port, lanes, start, end, faults):
    read_s = max(2.0, min(30.0, (end - start) / 3))

    async def lane(i):
        await sleep_until(start + i * 2)
        while time.monotonic() + read_s < end:
            await slow_reader(host, port, read_s, faults)

    await asyncio.gather(*(lane(i) for i in range(lanes)))


async def slowloris(host, port, until, faults):
    """Sends a request's headers one byte per second and never finishes them.
    The server may answer nothing or close (408/400 or silently, once its
    deadline passes); answering the unfinished request would be wrong."""
    kind = "slowloris"
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    except Exception as e:
        return faults.bad(kind, f"connect: {describe(e)}")
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    reply = asyncio.create_task(reader.read(4096))
    i = 0
    try:
        while time.monotonic() < until and not reply.done():
            writer.write(head[i:i + 1] if i < len(head) else b"a")
            await writer.drain()
            i += 1
            await asyncio.wait([reply], timeout=1)
    except ConnectionError:
        pass
    held = time.monotonic() - t0
    if reply.done() and reply.exception() is not None:
        faults.ok(kind, f"reset by the server after {held:.0f} s")
    elif reply.done():
        data = reply.result()
        status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else None
        if data and status not in (b"408", b"400"):
            faults.bad(kind, f"answered an unfinished request after {held:.0f} s: {data[:200]!r}")
        else:
            faults.ok(kind, f"closed by the server after {held:.0f} s "
                            f"({status.decode() if status else 'no answer'})")
    else:
        reply.cancel()
        faults.ok(kind, f"held {held:.0f} s, the server waiting ({i} bytes sent)")
    abort(writer, rst=False)


class RawConn:
    """A plain non-blocking socket that keeps reading while it sends. For
    oversized requests: the server answers (413, a close frame) and stops
    reading while the client is still sending, and asyncio's streams would
    then report the failed write instead of the answer already received."""

    def __init__(self):
        self.data = bytearray()
        self.eof = False
        self.changed = asyncio.Event()
        self.sock = self.reader = None

    async def connect(self, host, port):
        self.loop = asyncio.get_running_loop()
        self.sock = socket.socket()
        self.sock.setblocking(False)
        await asyncio.wait_for(self.loop.sock_connect(self.sock, (host, port)), 30)
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            while True:
                got = await self.loop.sock_recv(self.sock, 65536)
                if not got:
                    break
                self.data += got
                self.changed.set()
        except OSError:
            pass
        self.eof = True
        self.changed.set()

    async def send(self, data):
        """False once the server no longer takes bytes."""
        try:
            await self.loop.sock_sendall(self.sock, data)
            return True
        except OSError:
            return False

    async def wait(self, done, timeout):
        """Waits until done(bytes received) or the end of the stream."""
        async def until():
            while not done(bytes(self.data)) and not self.eof:
                self.changed.clear()
                await self.changed.wait()
        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            pass
        return bytes(self.data)

    async def close(self, *tasks):
        """Stops the reader and the given senders, then closes the socket
        (closing it under a pending socket operation upsets the event loop)."""
        tasks = [t for t in (self.reader, *tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.sock:
            self.sock.close()


def parse_http(data):
    """(status, body) of a complete Content-Length response in data, or None."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    if len(rest) < n:
        return None
    return int(head.split(b" ", 2)[1]), rest[:n]


def close_frame_code(data):
    """The code of the first close frame in a server's frames, None if
    there is none (yet)."""
    i = 0
    while i + 2 <= len(data):
        op, n, j = data[i] & 0x0F, data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        if j + n > len(data):
            return None
        if op == WS_CLOSE:
            return int.from_bytes(data[j:j + 2], "big") if n >= 2 else 1005
        i = j + n
    return None


async def oversized_ws(host, port, n, limit, faults):
    """A message one byte over --max-frame, whole or in 1 MiB fragments:
    the server must close with 1009 (message too big)."""
    kind = "oversized_ws_message"
    what = "fragmented" if n % 2 else "one frame"
    conn, sender = RawConn(), None
    try:
        await conn.connect(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        await conn.send(request_bytes("GET", "/v1/responses", f"{host}:{port}", headers=[
            "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13"]))
        head = (await conn.wait(lambda d: b"\r\n\r\n" in d, 30)).partition(b"\r\n\r\n")[0]
        if not head.startswith(b"HTTP/1.1 101"):
            return faults.bad(kind, f"upgrade: {head[:200]!r}")
        skip = len(head) + 4

        async def send():
            if n % 2 == 0:
                return await conn.send(ws_frame(WS_TEXT, b"x" * (limit + 1)))
            left, opcode = limit + 1, WS_TEXT
            while left > 0:
                size = min(left, 1 << 20)
                left -= size
                if not await conn.send(ws_frame(opcode, b"x" * size, fin=left == 0)):
                    return
                opcode = WS_CONT

        sender = asyncio.create_task(send())
        data = await conn.wait(lambda d: close_frame_code(d[skip:]) is not None, 60)
        code = close_frame_code(data[skip:])
        if code == 1009:
            faults.ok(kind, f"{what}: 1009")
        else:
            faults.bad(kind, f"{what}: close code {code} (expected 1009)"
                             f"{', connection ended' if conn.eof else ', no answer in 60 s'}")
    except Exception as e:
        faults.bad(kind, f"{what}: {describe(e)}")
    finally:
        await conn.close(sender)


async def oversized_http(host, port, n, limit, faults):
    """A body one byte over --max-body, sized or chunked: 413 request_too_large."""
    kind = "oversized_http_body"
    chunked = n % 2 == 1
    what = "chunked" if chunked else "Content-Length"
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {limit + 1}"
    conn, sender = RawConn(), None
    try:
        await conn.connect(host, port)

        async def send():
            await conn.send((f"POST /v1/responses HTTP/1.1\r\nHost: {host}:{port}\r\n"
                             f"Content-Type: application/json\r\n{framing}\r\n\r\n").encode())
            left = limit + 1
            while left > 0:
                size = min(left, 1 << 20)
                left -= size
                piece = f"{size:x}\r\n".encode() + b" " * size + b"\r\n" if chunked else b" " * size
                if not await conn.send(piece):
                    return
            if chunked:
                await conn.send(b"0\r\n\r\n")

        sender = asyncio.create_task(send())
        data = await conn.wait(lambda d: parse_http(d) is not None, 60)
        answer = parse_http(data)
        if answer is None:
            faults.bad(kind, f"{what}: no complete answer ({data[:100]!r}"
                             f"{', connection ended' if conn.eof else ''})")
        elif answer[0] == 413 and error_code(answer[1]) == "request_too_large":
            faults.ok(kind, f"{what}: 413")
        else:
            faults.bad(kind, f"{what}: {answer[0]} {answer[1][:200]!r} (expected 413)")
    except Exception as e:
        faults.bad(kind, f"{what}: {describe(e)}")
    finally:
        await conn.close(sender)


async def invalid_utf8(host, port, n, faults):
    """A text frame that is not UTF-8: the server must close with 1007."""
    kind = "invalid_utf8"
    payload = [b'{"type": "\xff"}', b'{"type": "response.create", "input": "\xc0\xaf"}'][n % 2]
    try:
        reader, writer = await asyncio.wait_for(ws_open(host, port), 30)
    except Exception as e:
        return faults.bad(kind, f"upgrade: {describe(e)}")
    writer.write(ws_frame(WS_TEXT, payload))
    code = await ws_close_code(reader, 30)
    writer.close()
    if code == 1007:
        faults.ok(kind, "1007")
    else:
        faults.bad(kind, f"{payload!r}: close code {code} (expected 1007)")


async def nested_json(host, port, n, faults):
    """100,000-deep JSON: a 400 (invalid_json or invalid_type), never a crash
    or a hang; on a WebSocket the session must stay usable."""
    kind = "nested_json"
    depth = 100_000
    accepted = ("invalid_json", "invalid_type")
    variant = n % 3
    try:
        if variant == 0:  # unterminated, over HTTP
            status, _, body = await http_once(host, port, "POST", "/v1/responses", b"[" * depth)
        elif variant == 1:  # balanced: a deep value the parser builds and frees
            status, _, body = await http_once(host, port, "POST", "/v1/chat/completions",
                                              b"[" * depth + b"]" * depth)
        else:  # deep inside a WebSocket event, then an event that shows the session lives
            reader, writer = await asyncio.wait_for(ws_open(host, port), 30)
            try:
                writer.write(ws_frame(WS_TEXT, b'{"type": "response.create", "input": ' +
                                      b"[" * depth + b"]" * depth + b"}"))
                ev = await asyncio.wait_for(ws_read_event(reader), 30)
                writer.write(ws_frame(WS_TEXT, b'{"type": "load.still_there"}'))
                after = await asyncio.wait_for(ws_read_event(reader), 30)
                writer.write(ws_frame(WS_CLOSE, struct.pack("!H", 1000)))
            finally:
                writer.close()
            if ev.get("type") != "error" or ev.get("status") != 400 or \
                    ev["error"].get("code") not in accepted:
                return faults.bad(kind, f"ws: {json.dumps(ev)[:300]}")
            if after.get("error", {}).get("code") != "unknown_event":
                return faults.bad(kind, f"ws session after the deep event: {json.dumps(after)[:300]}")
            return faults.ok(kind, f"ws: 400 {ev['error']['code']}")
        if status == 400 and error_code(body) in accepted:
            faults.ok(kind, f"http: 400 {error_code(body)}")
        else:
            faults.bad(kind, f"http variant {variant}: {status} {body[:200]!r}")
    except Exception as e:
        faults.bad(kind, f"variant {variant}: {describe(e)}")


async def burst(host, port, count, faults, log):
    """`count` connections opened at once, each asking GET /health. Over
    --max-connections the server answers 503 too_many_connections and closes
    (documented), so that answer (or a close) is expected, not an error."""
    kind = "burst"
    t0 = time.monotonic()

    async def connect():
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        except Exception as e:
            return e

    conns = await asyncio.gather(*(connect() for _ in range(count)))
    opened = time.monotonic()
    # What a well-behaved client connecting right now would get.
    try:
        status, _, _ = await http_once(host, port, "GET", "/health", timeout=30)
        log["probe"] = f"answered {status}"
    except (Closed, ConnectionError):
        log["probe"] = "refused (closed without an answer)"
    except Exception as e:
        log["probe"] = describe(e)

    async def ask(conn):
        if isinstance(conn, Exception):
            return faults.bad(kind, f"connect: {describe(conn)}")
        reader, writer = conn
        try:
            writer.write(request_bytes("GET", "/health", f"{host}:{port}", headers=["Connection: close"]))
            status, headers = await asyncio.wait_for(read_head(reader), 30)
            body = await asyncio.wait_for(read_body(reader, headers), 30)
            if status == 200:
                faults.ok(kind, "200")
            elif status == 503 and b"too_many_connections" in (body or b""):
                faults.ok(kind, "503 too_many_connections")
            else:
                faults.bad(kind, f"GET /health: {status}")
        except (Closed, ConnectionError):
            faults.ok(kind, "refused (closed without an answer)")
        except Exception as e:
            faults.bad(kind, f"GET /health: {describe(e)}")
        finally:
            writer.close()

    await asyncio.gather(*(ask(c) for c in conns))
    log["burst_window"] = (t0, time.monotonic())
    log["burst_connect_s"] = opened - t0


# ---------------------------------------------------------------------------
# Metrics and memory.

async def metrics(host, port):
    """glint's /metrics gauges as a dict (unlabelled series only)."""
    status, _, body = await http_once(host, port, "GET", "/metrics", timeout=10)
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


async def sample_memory(server, until, samples, every=1.0):
    while time.monotonic() < until:
        rss, anon = server.memory_mb()
        if rss is not None:
            samples.append((time.monotonic(), rss, anon))
        await asyncio.sleep(every)


GAUGES = ("glint_queue_depth", "glint_running_requests", "glint_open_connections",
          "glint_active_sessions", "glint_kv_cache_bytes")


async def sample_gauges(host, port, samples, every=5.0):
    """glint's gauges through the run (a probe refused during the burst
    is skipped): what the server holds, next to what the clients hold."""
    while True:
        try:
            m = await metrics(host, port)
            samples.append((time.monotonic(), *(m.get(g) for g in GAUGES)))
        except Exception:
            pass
        await asyncio.sleep(every)


async def steady_memory(server, n=5, every=0.5):
    """The median of a few VmRSS / RssAnon samples."""
    rss, anon = [], []
    for _ in range(n):
        r, a = server.memory_mb()
        if r is not None:
            rss.append(r)
            anon.append(a)
        await asyncio.sleep(every)
    return percentile(rss, 50), percentile(anon, 50)


async def malloc_trim(server):
    """VmRSS after asking the server's allocator to give its free memory
    back (gdb calls glibc's malloc_trim(0) in the idle process): what is
    still resident then is held, not cached. None without gdb."""
    if server.pid is None or not shutil.which("gdb"):
        return None
    await asyncio.to_thread(subprocess.run, ["gdb", "-p", str(server.pid), "-batch", "-ex",
                                             "call (int)malloc_trim(0)"],
                            capture_output=True, timeout=120)
    return (await steady_memory(server))[0]


async def wait_idle(host, port, timeout):
    """Waits until nothing runs or waits and only our probe is connected;
    returns (idle, last gauges)."""
    deadline = time.monotonic() + timeout
    m = {}
    while time.monotonic() < deadline:
        try:
            m = await metrics(host, port)
            if m.get("glint_running_requests") == 0 and m.get("glint_queue_depth") == 0 and \
                    m.get("glint_open_connections", 0) <= 1:
                return True, m
        except Exception:
            pass
        await asyncio.sleep(0.5)
    return False, m


# ---------------------------------------------------------------------------

async def warm_up(host, port, url, args, rng):
    """One WebSocket conversation and one HTTP conversation per pooled HTTP
    cache, so the baseline already holds what a steady server holds (model
    pages touched, scratch buffers grown, the HTTP prefix caches filled)."""
    turns = args.warmup_turns

    async def ws_conv():
        async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
            prev = None
            for text in conversation(rng)[:turns]:
                ev = {"type": "response.create", "model": MODEL, "max_output_tokens": args.max_tokens,
                      "input": [{"type": "message", "role": "user", "content": text}]}
                if prev:
                    ev["previous_response_id"] = prev
                else:
                    ev["instructions"] = SYSTEM
                await ws.send(json.dumps(ev))
                while True:
                    got = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if got["type"] in TERMINAL:
                        prev = got["response"]["id"]
                        break
                    if is_error_event(got):
                        raise RuntimeError(f"warm-up: {got}")

    async def http_conv(path):
        reader, writer = await asyncio.open_connection(host, port)
        history = []
        try:
            for i, text in enumerate(conversation(rng)[:turns]):
                body = http_body(path, history, text, args.max_tokens)
                writer.write(request_bytes("POST", path, f"{host}:{port}", json.dumps(body).encode()))
                answer = await asyncio.wait_for(read_stream(reader, path, Timing(), i), 120)
                history.append((text, answer))
        finally:
            writer.close()

    paths = ["/v1/responses", "/v1/chat/completions"] * args.warmup_http
    await asyncio.gather(ws_conv(), *(http_conv(p) for p in paths[:args.warmup_http]))


async def run(args, server):
    host, port = server.host, server.port
    url = f"ws://{host}:{port}/v1/responses"
    rng = random.Random(args.seed)
    result = {}

    t = time.monotonic()
    await warm_up(host, port, url, args, rng)
    await wait_idle(host, port, 30)
    result["warmup_s"] = round(time.monotonic() - t, 1)
    baseline, baseline_anon = await steady_memory(server)
    try:
        result["metrics_baseline"] = await metrics(host, port)
    except Exception as e:
        result["metrics_baseline"] = {"error": describe(e)}

    load, faults, burst_log = Load(), Faults(), {}
    samples = []
    start = time.monotonic()
    deadline = start + args.duration
    # Faults run inside the load, leaving its first and last few percent
    # clean so that the start and the end are not what gets measured.
    f_start = start + min(5, args.duration * 0.05)
    f_end = start + args.duration * 0.9
    crng = random.Random(args.seed + 1)

    tasks = [asyncio.create_task(ws_client(f"ws{i}", url, args, deadline, load,
                                           random.Random(crng.random())))
             for i in range(args.ws_clients)]
    for i in range(args.http_clients):
        path = "/v1/responses" if i % 2 == 0 else "/v1/chat/completions"
        tasks.append(asyncio.create_task(http_client(f"http{i}{path}", host, port, path, args,
                                                     deadline, load, random.Random(crng.random()))))
    load_tasks = list(tasks)

    async def spread(fn, count):
        step = (f_end - f_start) / max(count, 1)
        for n in range(count):
            await sleep_until(f_start + (n + 0.5) * step)
            await fn(n)

    fault_tasks = [
        vanishing(host, port, args.vanishing, f_start, f_end, deadline, args.vanishing_concurrency,
                  random.Random(args.seed + 2), faults),
        slow_readers(host, port, args.slow_readers, f_start, f_end, faults),
        *(slowloris(host, port, f_end, faults) for _ in range(args.slowloris)),
        spread(lambda n: oversized_ws(host, port, n, args.max_frame, faults), args.malformed),
        spread(lambda n: oversized_http(host, port, n, args.max_body, faults), args.malformed),
        spread(lambda n: invalid_utf8(host, port, n, faults), args.malformed),
        spread(lambda n: nested_json(host, port, n, faults), args.malformed),
    ]
    if args.burst:
        async def burst_at_half():
            await sleep_until(start + args.duration * 0.5)
            await burst(host, port, args.burst, faults, burst_log)
        fault_tasks.append(burst_at_half())
    tasks += [asyncio.create_task(f) for f in fault_tasks]
    sampler = asyncio.create_task(sample_memory(server, float("inf"), samples))
    gauges = []
    gauge_sampler = asyncio.create_task(sample_gauges(host, port, gauges))

    async def watch_server():
        while server.alive():
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_server())
    # Bounded: the load stops starting turns at the deadline; what is still
    # running gets one turn's timeout to end.
    await asyncio.wait([asyncio.gather(*tasks), watcher],
                                 timeout=args.duration + args.turn_timeout + 30,
                                 return_when=asyncio.FIRST_COMPLETED)
    why = "the server died" if not server.alive() else "still running at the time limit (hung)"
    for t in tasks:
        if not t.done():
            t.cancel()
            if t in load_tasks:
                load.errors.append((time.monotonic(), "load", f"a client was stopped: {why}"))
    await asyncio.gather(*tasks, return_exceptions=True)
    duration = time.monotonic() - start
    server_died = not server.alive()

    idle, after_gauges = (False, {})
    rss_after = anon_after = None
    if not server_died:
        idle, after_gauges = await wait_idle(host, port, args.idle_timeout)
        # Memory freed by the allocator shows in VmRSS a moment later.
        await asyncio.sleep(2)
        rss_after, anon_after = await steady_memory(server)
        if args.malloc_trim:
            result["rss_after_trim_mb"] = rnd(await malloc_trim(server))
    for t in (sampler, watcher, gauge_sampler):
        t.cancel()

    rss_values = [s[1] for s in samples]
    result.update({
        "turns": sum(load.turns.values()),
        "errors": len(load.errors),
        "ttft_p50_ms": ms(percentile(load.ttft, 50)),
        "ttft_p95_ms": ms(percentile(load.ttft, 95)),
        "ttft_p99_ms": ms(percentile(load.ttft, 99)),
        "itl_p50_ms": ms(percentile(load.itl, 50)),
        "itl_p95_ms": ms(percentile(load.itl, 95)),
        "itl_p99_ms": ms(percentile(load.itl, 99)),
        "tpot_p50_ms": ms(percentile(load.tpot, 50)),
        "tpot_p95_ms": ms(percentile(load.tpot, 95)),
        "tpot_p99_ms": ms(percentile(load.tpot, 99)),
        "rss_baseline_mb": rnd(baseline),
        "rss_peak_mb": rnd(max(rss_values + [baseline or 0, rss_after or 0]) if baseline else None),
        "rss_after_mb": rnd(rss_after),
        "faults_injected": sum(faults.injected.values()),
        "fault_errors": sum(faults.errors.values()),
        "duration_s": round(duration, 1),
        "turns_by_path": dict(load.turns),
        "conversations": load.conversations,
        "output_tokens": load.output_tokens,
        "output_tokens_per_s": round(load.output_tokens / duration, 1),
        "empty_answers": load.empty_answers,
        "error_kinds": dict(collections.Counter(error_kind(e) for _, _, e in load.errors)),
        "clients_with_errors": len({c for _, c, _ in load.errors}),
        "error_details": [{"t_s": round(t - start, 1), "client": c, "error": e}
                          for t, c, e in load.errors[:20]],
        "faults": {k: {"injected": faults.injected[k], "errors": faults.errors[k],
                       "outcomes": dict(faults.notes[k]), "error_details": faults.details[k]}
                   for k in sorted(faults.injected)},
        "rss_anon_baseline_mb": rnd(baseline_anon),
        "rss_anon_after_mb": rnd(anon_after),
        "rss_timeline_mb": [[round(t - start), rnd(r)] for t, r, _ in samples[::max(1, len(samples) // 30)]],
        # [s, queue depth, running, open connections, sessions, KV MiB] every 5 s
        "gauges_timeline": [[round(t - start), *(None if v is None else int(v) for v in g[:4]),
                             rnd(g[4] / 2 ** 20) if g[4] is not None else None]
                            for t, *g in gauges],
        "gauges_peak": {g.replace("glint_", ""): max((x[i + 1] for x in gauges
                                                      if x[i + 1] is not None), default=None)
                        for i, g in enumerate(GAUGES[:4])},
        "idle_after_load": idle,
        "metrics_after": after_gauges,
        "server_died": server_died,
        "ws_clients": args.ws_clients,
        "http_clients": args.http_clients,
        "max_tokens": args.max_tokens,
    })
    # The KV cache is part of VmRSS: the HTTP prefix caches and sessions
    # kept by design, not a leak. Shown apart so the rest can be compared.
    kv_base = result["metrics_baseline"].get("glint_kv_cache_bytes")
    kv_after = after_gauges.get("glint_kv_cache_bytes")
    result["kv_cache_baseline_mb"] = rnd(kv_base / 2 ** 20) if kv_base is not None else None
    result["kv_cache_after_mb"] = rnd(kv_after / 2 ** 20) if kv_after is not None else None
    if burst_log:
        b0, b1 = burst_log["burst_window"]
        result["burst_connect_s"] = round(burst_log["burst_connect_s"], 2)
        result["burst_probe"] = burst_log["probe"]
        result["errors_during_burst"] = sum(1 for t, _, _ in load.errors if b0 - 1 <= t <= b1 + 1)
    if baseline and rss_after:
        tolerance = max(args.rss_tolerance_mb, 0.1 * baseline)
        result["rss_tolerance_mb"] = rnd(tolerance)
        result["rss_returned"] = rss_after - baseline <= tolerance
    return result


def error_kind(text):
    """A short name for an error: its API error code when it has one."""
    m = re.search(r'"code": "(\w+)"', text)
    return m.group(1) if m else text.split(":")[0]


def ms(seconds):
    # (To the microsecond: the tokens of an accepted draft arrive together,
    # tens of microseconds apart, which a tenth of a millisecond rounded to
    # zero.)
    return None if seconds is None else round(seconds * 1000, 3)


def rnd(x):
    return None if x is None else round(x, 1)


def summary(r, server):
    def row(name, value):
        print(f"  {name:<34} {value}")

    print(f"load: {r['ws_clients']} WebSocket + {r['http_clients']} HTTP clients, "
          f"{r['duration_s']} s, max {r['max_tokens']} tokens per answer")
    row("turns", f"{r['turns']} {r['turns_by_path']} in {r['conversations']} conversations")
    row("errors (well-behaved clients)", f"{r['errors']} {r['error_kinds'] or ''}"
                                          f"{' from %d clients' % r['clients_with_errors'] if r['errors'] else ''}")
    for e in r["error_details"][:10]:
        print(f"      t={e['t_s']:>6} s {e['client']}: {e['error']}")
    if "errors_during_burst" in r:
        row("  of which around the burst", r["errors_during_burst"])
        row("a new request during the burst", r["burst_probe"])
    row("output tokens", f"{r['output_tokens']} ({r['output_tokens_per_s']} tok/s)")
    row("time to first token p50/p95/p99", f"{r['ttft_p50_ms']} / {r['ttft_p95_ms']} / {r['ttft_p99_ms']} ms")
    row("inter-token latency p50/p95/p99", f"{r['itl_p50_ms']} / {r['itl_p95_ms']} / {r['itl_p99_ms']} ms"
                                           "  (gaps between text deltas)")
    row("time per output token p50/p95/p99", f"{r['tpot_p50_ms']} / {r['tpot_p95_ms']} / {r['tpot_p99_ms']} ms")
    print("memory (VmRSS):")
    row("baseline (after warm-up)", f"{r['rss_baseline_mb']} MiB (anon {r['rss_anon_baseline_mb']})")
    row("peak", f"{r['rss_peak_mb']} MiB")
    row("after (idle)", f"{r['rss_after_mb']} MiB (anon {r['rss_anon_after_mb']})")
    row("of which KV cache, before/after", f"{r['kv_cache_baseline_mb']} / {r['kv_cache_after_mb']} MiB")
    if "rss_after_trim_mb" in r:
        row("after malloc_trim(0)", f"{r['rss_after_trim_mb']} MiB")
    if "rss_returned" in r:
        row("returned to baseline", f"{r['rss_returned']} (tolerance {r['rss_tolerance_mb']} MiB)")
    row("timeline [s, MiB]", " ".join(f"{t}:{m}" for t, m in r["rss_timeline_mb"]))
    print(f"faults: {r['faults_injected']} injected, {r['fault_errors']} unexpected answers")
    print(f"  {'kind':<22} {'injected':>8} {'errors':>7}  outcomes")
    for kind, f in r["faults"].items():
        outcomes = "; ".join(f"{k}: {v}" for k, v in sorted(f["outcomes"].items()))
        print(f"  {kind:<22} {f['injected']:>8} {f['errors']:>7}  {outcomes}")
        for d in f["error_details"]:
            print(f"      ! {d}")
    p = r["gauges_peak"]
    print(f"server during the load (peaks, every 5 s): queue_depth={p['queue_depth']}, "
          f"running={p['running_requests']}, connections={p['open_connections']}, "
          f"sessions={p['active_sessions']}")
    m = r["metrics_after"]
    print(f"server after the load: idle={r['idle_after_load']}, "
          f"connections={m.get('glint_open_connections')}, sessions={m.get('glint_active_sessions')}, "
          f"running={m.get('glint_running_requests')}, kv_cache_bytes={m.get('glint_kv_cache_bytes')}")
    if r.get("server_exit_code") is not None or r["server_died"]:
        row("server exit status", r.get("server_exit_code"))
    if (r["errors"] or r["server_died"] or r.get("server_exit_code")) and server.log:
        print("server stderr (last lines):")
        for line in list(server.log)[-30:]:
            print("  | " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running glint (http://HOST:PORT) instead of starting one")
    ap.add_argument("--pid", type=int, help="with --url: the server's process id, for its memory")
    ap.add_argument("--glint-bin", default=GLINT_BIN)
    ap.add_argument("--server-args", default="", help="more flags for glint serve")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=float, default=300, help="seconds of load")
    ap.add_argument("--ws-clients", type=int, default=32)
    ap.add_argument("--http-clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=48, help="answer length per turn")
    ap.add_argument("--turn-timeout", type=float, default=120)
    ap.add_argument("--vanishing", type=int, default=1000, help="clients that vanish mid-request")
    ap.add_argument("--vanishing-concurrency", type=int, default=12,
                    help="at most this many at once: with the 40 well-behaved clients, under "
                         "glint's --max-requests (64) and --max-sessions (64)")
    ap.add_argument("--slow-readers", type=int, default=2, help="slow readers at a time")
    ap.add_argument("--slowloris", type=int, default=4, help="slowloris connections")
    ap.add_argument("--malformed", type=int, default=10,
                    help="of each: oversized WS message, oversized HTTP body, invalid UTF-8, deep JSON")
    ap.add_argument("--burst", type=int, default=500, help="connections opened at once, mid-run")
    ap.add_argument("--max-frame", type=int, default=DEFAULT_LIMIT, help="the server's --max-frame")
    ap.add_argument("--max-body", type=int, default=DEFAULT_LIMIT, help="the server's --max-body")
    ap.add_argument("--warmup-turns", type=int, default=10)
    ap.add_argument("--warmup-http", type=int, default=4,
                    help="HTTP conversations in the warm-up (glint's --http-sessions pool)")
    ap.add_argument("--idle-timeout", type=float, default=60, help="seconds to wait for idle after")
    ap.add_argument("--rss-tolerance-mb", type=float, default=64,
                    help="how far above the baseline rss_after may be and still count as "
                         "returned (see rss_returned in the summary)")
    ap.add_argument("--malloc-trim", action="store_true",
                    help="after the load, also measure VmRSS once gdb has made the server call "
                         "malloc_trim(0): cached free memory vs memory still held")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if args.url:
        u = urlsplit(args.url)
        server = Server(u.hostname, u.port or 80, pid=args.pid)
    else:
        server = Server.start(args)
    try:
        result = asyncio.run(run(args, server))
    finally:
        code = server.stop(timeout=30)
    result["server_exit_code"] = code
    summary(result, server)
    if args.json:
        print(json.dumps(result))
    failed = result["errors"] > 0 or result["server_died"] or (code not in (0, None))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
