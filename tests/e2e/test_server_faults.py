"""Faults that once held server resources: clients that leave while their
request is queued, connections over --max-connections, and clients that
trickle a request (slowloris)."""
import asyncio
import json
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import GlintServer

websockets = pytest.importorskip("websockets")


def metric(server, name):
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def accepted(server):
    """True once a new connection is served; a 503 means "not yet"."""
    try:
        return metric(server, "glint_open_connections") is not None
    except urllib.error.HTTPError as e:
        if e.code != 503:
            raise
        return False


@pytest.fixture
def one_slot(glint_bin):
    s = GlintServer("--parallel", "1", "--max-requests", "4")
    yield s
    assert s.stop() == 0, "".join(s.log)


def test_clients_that_leave_while_queued_give_their_slots_back(one_slot):
    """One long response holds the only decode slot; clients that queue a
    request and vanish must not keep --max-requests slots until it ends."""
    long_request = {"type": "response.create", "model": "glint-fast", "max_output_tokens": 2000,
                    "input": [{"role": "user", "content": "Write a very long story about a robot."}]}
    short = {"type": "response.create", "model": "glint-fast", "max_output_tokens": 4,
             "input": [{"role": "user", "content": "Hi"}]}

    async def run():
        async with websockets.connect(one_slot.ws_url) as holder:
            await holder.send(json.dumps(long_request))
            while json.loads(await holder.recv())["type"] != "response.output_text.delta":
                pass
            # More vanishing clients than --max-requests has slots.
            for _ in range(6):
                ws = await websockets.connect(one_slot.ws_url)
                await ws.send(json.dumps(short))
                await asyncio.sleep(0.05)
                ws.transport.abort()  # gone without a close frame
            queued_gone = await asyncio.to_thread(
                wait_for, lambda: metric(one_slot, "glint_queue_depth") == 0)
            # A live client is served, not refused, while the long one runs.
            async with websockets.connect(one_slot.ws_url) as live:
                await live.send(json.dumps(short))
                first = json.loads(await asyncio.wait_for(live.recv(), 60))
                await live.send(json.dumps({"type": "response.cancel"}))
            await holder.send(json.dumps({"type": "response.cancel"}))
            return queued_gone, first

    queued_gone, first = asyncio.run(run())
    assert queued_gone, "the vanished clients' requests stayed queued"
    assert first["type"] == "response.created", first


def test_connections_over_the_limit_get_a_503(glint_bin):
    s = GlintServer("--max-connections", "2")
    try:
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
        assert wait_for(lambda: True)
        time.sleep(0.3)  # the server has accepted both
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := extra.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"too_many_connections" in answer and b"Retry-After: 1" in answer
        for c in held:
            c.close()
        # Once the server has seen them close (asynchronously: a connection
        # made at once may still meet the limit), connections are accepted again.
        assert wait_for(lambda: accepted(s))
    finally:
        assert s.stop() == 0, "".join(s.log)


def test_a_trickled_request_is_cut_off_but_a_quiet_connection_is_not(glint_bin):
    s = GlintServer("--request-timeout", "2", "--idle-timeout", "60")
    try:
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=15)
        quiet = socket.create_connection(("127.0.0.1", s.port), timeout=15)
        slow.sendall(b"GET /health HTTP/1.1\r\n")
        start = time.monotonic()
        closed = False
        for byte in b"X-Slow: " + b"a" * 40:
            try:
                slow.sendall(bytes([byte]))
                slow.settimeout(0.5)
                if slow.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        assert closed, "a request trickled for 20 s was not cut off"
        assert time.monotonic() - start < 15
        # Silence between requests is allowed for --idle-timeout.
        quiet.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := quiet.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        assert s.stop() == 0, "".join(s.log)
