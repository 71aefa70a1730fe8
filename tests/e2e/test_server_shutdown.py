"""SIGTERM while requests are in flight (a WebSocket turn, an SSE stream, a
plain HTTP request): glint serve exits 0, and under AddressSanitizer with
nothing leaked or touched after free (the teardown order of the event loop,
the inference threads and the state is what this guards)."""
import asyncio
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import ROOT, GlintServer

websockets = pytest.importorskip("websockets")
ASAN_BIN = os.environ.get("GLINT_ASAN_BIN", os.path.join(ROOT, "build", "asan", "glint"))


def in_flight_then_sigterm(server):
    async def start_turn():
        ws = await websockets.connect(server.ws_url)
        await ws.send(json.dumps({"type": "response.create", "input": "Count to 100.",
                                  "max_output_tokens": 300, "prompt_cache_key": "k"}))
        while "output_text.delta" not in await ws.recv():
            pass
        return ws
    ws = asyncio.run(start_turn())
    socks = []
    for path, body in [("/v1/responses", {"input": "Explain sorting. " * 30, "stream": True,
                                          "max_output_tokens": 300}),
                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                 "max_tokens": 200})]:
        data = json.dumps(body).encode()
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                  + data)
        socks.append(s)
    time.sleep(0.5)
    code = server.stop()
    for s in socks:
        s.close()
    return code


def test_sigterm_with_requests_in_flight(glint_bin):
    server = GlintServer()
    assert in_flight_then_sigterm(server) == 0, "".join(server.log)


def test_sigterm_with_requests_in_flight_under_asan():
    if not os.path.exists(ASAN_BIN):
        pytest.skip(f"no AddressSanitizer build at {ASAN_BIN} (make test-asan builds it)")
    server = GlintServer(threads=1, binary=ASAN_BIN)
    code = in_flight_then_sigterm(server)
    log = "".join(server.log)
    assert "Sanitizer" not in log, log[-5000:]
    assert code == 0, log[-5000:]


def sse_request(port, body):
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
              "\r\n".encode() + data)
    return s


def read_all(sock):
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def test_sigterm_drains_running_responses(glint_bin):
    """A response running at SIGTERM finishes whole; new connections are
    refused at once; glint exits 0."""
    server = GlintServer("--no-speculation", "--drain-timeout", "60")
    s = sse_request(server.port, {"messages": [{"role": "user", "content": "Count to 50."}],
                                  "max_tokens": 150, "stream": True,
                                  "stream_options": {"include_usage": True}})
    head = b""
    while b"data:" not in head:  # streaming has begun
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    server.proc.send_signal(15)
    time.sleep(0.3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    text = head.decode(errors="replace") + read_all(s)
    assert "data: [DONE]" in text, text[-500:]
    usage = [json.loads(line[6:]) for line in text.splitlines()
             if line.startswith("data: {") and '"usage"' in line]
    assert usage and usage[-1]["usage"]["completion_tokens"] > 0
    assert server.proc.wait(timeout=60) == 0, "".join(server.log)
    assert any("draining" in line for line in server.log)


def test_drain_deadline_cancels_with_a_clear_error_and_a_close_frame(glint_bin):
    server = GlintServer("--no-speculation", "--drain-timeout", "1")

    async def run():
        ws = await websockets.connect(server.ws_url)
        await ws.send(json.dumps({"type": "response.create", "max_output_tokens": 4000,
                                  "input": "Write a very long story about a lighthouse."}))
        while "output_text.delta" not in await ws.recv():
            pass
        server.proc.send_signal(15)
        events = []
        try:
            while True:
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        except websockets.ConnectionClosed as e:
            return events, e
    events, closed = asyncio.run(run())
    last = events[-1]
    assert last["type"] == "response.failed", last
    assert last["response"]["error"]["code"] == "server_shutting_down"
    rcvd = closed.rcvd
    assert rcvd is not None and rcvd.code == 1001, closed
    assert server.proc.wait(timeout=30) == 0, "".join(server.log)


def test_listens_while_loading_then_serves(glint_bin):
    """glint serve binds before it loads the models: from the "listening on"
    line, /health answers (503 "loading" until the models are in, then 200),
    never a refused connection; the port is the one it then serves on."""
    import re
    import urllib.error
    import urllib.request

    proc = subprocess.Popen([glint_bin, "serve", "--port", "0", "--threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"listening on http://[\d.]+:(\d+); loading 2 model", line)
        assert m, line
        port = int(m.group(1))
        answers = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                    answers.append((r.status, json.loads(r.read())["status"]))
                    break
            except urllib.error.HTTPError as e:
                answers.append((e.code, json.loads(e.read())["status"]))
            time.sleep(0.01)
        assert answers[-1] == (200, "ok"), answers
        assert all(a == (503, "loading") for a in answers[:-1]), answers
        rest = ""
        while "serving on" not in rest:
            line = proc.stderr.readline()
            assert line, "glint serve ended before serving:\n" + rest
            rest += line
        assert f"serving on http://127.0.0.1:{port} " in rest, rest
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_a_taken_port_fails_before_loading(glint_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([glint_bin, "serve", "--port", str(port)], capture_output=True,
                           text=True, timeout=30)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr, r.stderr
    assert "loaded" not in r.stderr, r.stderr
