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
