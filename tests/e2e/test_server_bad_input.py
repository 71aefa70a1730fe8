"""Bad input to glint serve: every case gets a clear error (or a clean close
where the WebSocket protocol says so), and the server keeps serving. The
server here has small limits so that the limits themselves are tested."""
import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import GlintServer, model_path

websockets = pytest.importorskip("websockets")

MAX_FRAME = 64 * 1024
MAX_BODY = 64 * 1024
CTX = 512


@pytest.fixture(scope="module")
def server(glint_bin):
    s = GlintServer("--max-frame", str(MAX_FRAME), "--max-body", str(MAX_BODY), "--ctx", str(CTX),
                    "--max-sessions", "32")
    yield s
    code = s.stop()
    assert code == 0, "".join(s.log)


def post(server, path, body, raw=False, headers=None):
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(server.base_url + path, data=data, method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def expect_error(server, path, body, status, code, raw=False):
    got_status, got = post(server, path, body, raw=raw)
    assert got_status == status, got
    assert got["error"]["code"] == code, got
    assert got["error"]["message"]
    assert got["error"]["type"]


def still_serving(server):
    status, body = post(server, "/v1/chat/completions",
                        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert status == 200 and body["usage"]["completion_tokens"] >= 1
    assert server.alive()


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions", "/v1/completions"])
def test_malformed_json(server, path):
    expect_error(server, path, b'{"input": "x",', 400, "invalid_json", raw=True)
    expect_error(server, path, b"\xff\xfe not utf-8", 400, "invalid_json", raw=True)
    expect_error(server, path, [1, 2, 3], 400, "invalid_type")


@pytest.mark.parametrize("body,code", [
    ({"input": 42}, "invalid_type"),
    ({"input": "x", "max_output_tokens": "ten"}, "invalid_type"),
    ({"input": "x", "max_output_tokens": -1}, "invalid_value"),
    ({"input": "x", "temperature": 9}, "invalid_value"),
    ({"input": "x", "top_p": 0}, "invalid_value"),
    ({"input": [{"type": "message", "role": "wizard", "content": "x"}]}, "invalid_value"),
    ({"input": [{"type": "message", "role": "user", "content": 5}]}, "invalid_type"),
    ({"input": "x", "stream": "yes"}, "invalid_type"),
    ({"input": "x", "tools": {"type": "function"}}, "invalid_type"),
    ({"input": "x", "model": "gpt-9"}, "model_not_found"),
    ({"input": [], "generate": False}, "empty_prompt"),
])
def test_wrong_fields_of_responses(server, body, code):
    status, got = post(server, "/v1/responses", body)
    assert got["error"]["code"] == code, got
    assert status == (404 if code == "model_not_found" else 400)


def test_wrong_fields_of_chat_and_completions(server):
    expect_error(server, "/v1/chat/completions", {"model": "glint-fast"}, 400, "missing_field")
    expect_error(server, "/v1/chat/completions", {"messages": []}, 400, "invalid_value")
    expect_error(server, "/v1/chat/completions",
                 {"messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "invalid_value")
    expect_error(server, "/v1/chat/completions",
                 {"messages": [{"role": "user", "content": "x"}], "stop": 7}, 400, "invalid_type")
    expect_error(server, "/v1/completions", {"prompt": ["a", "b"]}, 400, "invalid_value")
    expect_error(server, "/v1/completions", {}, 400, "missing_field")


def test_unknown_fields_and_tools_are_ignored(server):
    status, got = post(server, "/v1/responses", {
        "input": "Say hi.", "max_output_tokens": 4, "reasoning": {"effort": "high"},
        "include": ["reasoning.encrypted_content"], "client_metadata": {"a": "b"},
        "tools": [{"type": "web_search"}, {"type": "namespace", "tools": []}],
        "something_new": {"x": 1}})
    assert status == 200 and got["status"] in ("completed", "incomplete"), got


def test_context_overflow_is_an_error_not_a_truncation(server):
    long_text = "word " * 2000  # far more than 512 tokens
    expect_error(server, "/v1/responses", {"input": long_text}, 400, "context_length_exceeded")
    expect_error(server, "/v1/chat/completions",
                 {"messages": [{"role": "user", "content": long_text}]}, 400,
                 "context_length_exceeded")
    still_serving(server)


def test_http_limits_and_routes(server):
    expect_error(server, "/v1/responses", b"{" + b" " * (MAX_BODY + 10) + b"}", 413,
                 "request_too_large", raw=True)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.base_url + "/nope", timeout=10)
    assert e.value.code == 404 and json.loads(e.value.read())["error"]["code"] == "not_found"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.base_url + "/v1/chat/completions", timeout=10)
    assert e.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.base_url + "/v1/responses", timeout=10)
    assert e.value.code == 426  # the WebSocket endpoint, asked without an upgrade
    still_serving(server)


def test_garbage_http_request_line(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply
    still_serving(server)


async def ws_events(url, frames, until=("response.completed", "response.incomplete", "error"),
                    count=1):
    """Sends frames, collects events until `count` terminal events arrive."""
    async with websockets.connect(url, max_size=None) as ws:
        for f in frames:
            await ws.send(f)
        events, done = [], 0
        while done < count:
            ev = json.loads(await asyncio.wait_for(ws.recv(), 60))
            events.append(ev)
            if ev["type"] in until:
                done += 1
        return events


def ws_error(server, frame):
    events = asyncio.run(ws_events(server.ws_url, [frame], until=("error",)))
    ev = events[-1]
    assert ev["type"] == "error" and isinstance(ev["status"], int), ev
    return ev


@pytest.mark.parametrize("frame,code", [
    ("{not json", "invalid_json"),
    (json.dumps({"no": "type"}), "missing_type"),
    (json.dumps({"type": "response.dance"}), "unknown_event"),
    (json.dumps({"type": "response.create", "input": 3}), "invalid_type"),
    (json.dumps({"type": "response.create", "model": "nope", "input": "x"}), "model_not_found"),
    (json.dumps({"type": "response.create", "input": "w " * 2000}), "context_length_exceeded"),
    (b"\x00\x01binary", "binary_not_supported"),
])
def test_websocket_bad_events(server, frame, code):
    ev = ws_error(server, frame)
    assert ev["error"]["code"] == code, ev


def test_websocket_session_survives_errors_and_processed(server):
    frames = [json.dumps({"type": "response.dance"}),
              json.dumps({"type": "response.processed", "response_id": "x"}),
              json.dumps({"type": "response.create", "input": "Say hi.", "max_output_tokens": 4})]
    events = asyncio.run(ws_events(server.ws_url, frames,
                                   until=("response.completed", "response.incomplete")))
    assert events[0]["type"] == "error"
    assert events[-1]["type"] in ("response.completed", "response.incomplete")
    assert [e for e in events if e["type"] == "error"] == events[:1]  # processed: silent


def test_websocket_second_create_while_busy(server):
    create = json.dumps({"type": "response.create", "input": "Count to fifty.",
                         "max_output_tokens": 40})
    events = asyncio.run(ws_events(server.ws_url, [create, create], count=2,
                                   until=("response.completed", "response.incomplete", "error")))
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["status"] == 409
    assert events[-1]["type"] in ("response.completed", "response.incomplete")


def test_websocket_oversized_frame_closes_with_1009(server):
    async def run():
        async with websockets.connect(server.ws_url, max_size=None) as ws:
            await ws.send("x" * (MAX_FRAME + 1))
            with pytest.raises(websockets.ConnectionClosed) as e:
                await asyncio.wait_for(ws.recv(), 30)
            return e.value.rcvd.code if e.value.rcvd else None
    assert asyncio.run(run()) == 1009
    still_serving(server)


def test_websocket_invalid_utf8_closes_with_1007(server):
    # websockets refuses to send invalid UTF-8 as text; write the frame by hand.
    async def run():
        async with websockets.connect(server.ws_url, max_size=None) as ws:
            payload = b'{"type": "\xff"}'
            ws.protocol.send_text(payload)
            ws.send_data()  # flush (sans-I/O core)
            data = ws.protocol.data_to_send()
            for chunk in data:
                ws.transport.write(chunk)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await asyncio.wait_for(ws.recv(), 30)
            return e.value.rcvd.code if e.value.rcvd else None
    try:
        code = asyncio.run(run())
    except AttributeError:
        pytest.skip("this websockets version hides its frame writer")
    assert code == 1007
    still_serving(server)


def test_cancel_stops_generation(server):
    async def run():
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "response.create", "input": "Count from 1 to 500.",
                                      "max_output_tokens": 400}))
            deltas = 0
            while True:
                ev = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if ev["type"] == "response.output_text.delta":
                    deltas += 1
                    if deltas == 3:
                        await ws.send(json.dumps({"type": "response.cancel"}))
                elif ev["type"].startswith("response.") and "response" in ev and \
                        ev["type"] not in ("response.created", "response.in_progress"):
                    return ev["response"]
    final = asyncio.run(run())
    assert final["status"] == "cancelled"
    assert final["usage"]["output_tokens"] < 40


def running(server):
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith("glint_running_requests "):
            return float(line.split()[1])
    raise AssertionError("no glint_running_requests")


def wait_idle(server):
    for _ in range(200):
        if running(server) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("a request is still running after its client left")


@pytest.mark.parametrize("when", ["prefill", "decode"])
def test_client_vanishes_mid_request(server, when):
    prompt = "Explain sorting. " * (90 if when == "prefill" else 2)
    body = json.dumps({"input": prompt, "stream": True, "max_output_tokens": 400}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        if when == "decode":
            got = b""
            while b"output_text.delta" not in got:
                got += s.recv(65536)
    wait_idle(server)
    # And over WebSocket, dropped without a close frame.
    async def vanish():
        ws = await websockets.connect(server.ws_url)
        await ws.send(json.dumps({"type": "response.create", "input": prompt,
                                  "max_output_tokens": 400}))
        if when == "decode":
            while "output_text.delta" not in await ws.recv():
                pass
        ws.transport.abort()
    asyncio.run(vanish())
    wait_idle(server)
    still_serving(server)


def test_session_limit(glint_bin):
    s = GlintServer("--max-sessions", "2")
    try:
        async def run():
            a = await websockets.connect(s.ws_url)
            b = await websockets.connect(s.ws_url)
            with pytest.raises(websockets.InvalidStatus) as e:
                await websockets.connect(s.ws_url)
            await a.close()
            await b.close()
            return e.value.response.status_code
        assert asyncio.run(run()) == 503
    finally:
        assert s.stop() == 0
