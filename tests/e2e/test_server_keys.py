"""API keys and rate limits end to end: keys made by `glint keys new`, a server
started with --keys, bearer authentication over HTTP and on the WebSocket
upgrade, tiers a key may not use, and per-key, per-tier token buckets with
OpenAI's x-ratelimit-* headers and 429s (32 parallel clients: no
over-admission)."""
import asyncio
import json
import os
import re
import subprocess
import threading
import urllib.request

import pytest

from conftest import GLINT_BIN, GlintServer, new_key

websockets = pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("keys") / "keys.json")
    return path, {
        "alice": new_key(path, "alice"),
        "bob": new_key(path, "bob", "--tiers", "fast"),
        "carol": new_key(path, "carol", "--fast-rpm", "10", "--smart-rpm", "3"),
        "dave": new_key(path, "dave", "--fast-tpm", "300"),
        "erin": new_key(path, "erin", "--fast-rpm", "1"),
    }


@pytest.fixture(scope="module")
def server(glint_bin, keys):
    s = GlintServer("--keys", keys[0], "--ctx", "1024", "--max-requests", "128", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log)


def call(server, path, body=None, key=None, method=None):
    """(status, headers, parsed body) of a request; HTTP errors are returned."""
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = "Bearer " + key
    req = urllib.request.Request(server.base_url + path,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw.startswith(b"{") else raw
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def chat(server, key, model="glint-fast", text="Say hi.", max_tokens=1):
    return call(server, "/v1/chat/completions",
                {"model": model, "max_tokens": max_tokens,
                 "messages": [{"role": "user", "content": text}]}, key=key)


def test_requests_without_a_valid_key_are_refused(server, keys):
    for key in (None, "glint-not-a-real-key", keys[1]["alice"] + "x"):
        status, headers, body = chat(server, key)
        assert status == 401, body
        assert body["error"]["code"] == "invalid_api_key"
        assert headers["www-authenticate"] == "Bearer"
        # The presented key never comes back.
        assert "glint-" not in json.dumps(body)
    status, _, _ = call(server, "/v1/models")
    assert status == 401
    # Health and metrics stay open (load balancers, Prometheus).
    status, _, _ = call(server, "/health")
    assert status == 200
    status, _, text = call(server, "/metrics")
    assert status == 200
    m = re.search(rb"^glint_auth_failures_total (\d+)$", text, re.M)
    assert m and int(m.group(1)) >= 4


def test_a_valid_key_is_served(server, keys):
    status, headers, body = chat(server, keys[1]["alice"])
    assert status == 200, body
    # alice has no limits: no rate-limit headers.
    assert headers.get("x-ratelimit-limit-requests") is None
    status, _, models = call(server, "/v1/models", key=keys[1]["alice"])
    assert status == 200 and "glint-smart" in [m["id"] for m in models["data"]]


def test_the_openai_sdk_authenticates_with_a_key(server, keys):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=keys[1]["alice"],
                           max_retries=0)
    r = client.chat.completions.create(model="glint-fast", max_tokens=2,
                                       messages=[{"role": "user", "content": "Hi"}])
    assert r.choices[0].message.content is not None
    bad = openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="glint-fast", max_tokens=2,
                                    messages=[{"role": "user", "content": "Hi"}])


def test_a_key_uses_only_its_tiers(server, keys):
    bob = keys[1]["bob"]
    status, _, body = chat(server, bob, model="glint-smart")
    assert status == 403 and body["error"]["code"] == "model_not_allowed", body
    assert "bob" in body["error"]["message"]
    status, _, body = chat(server, bob, model="glint-fast")
    assert status == 200
    # glint-auto keeps a fast-only key on the fast tier, and says why.
    status, _, body = chat(server, bob, model="glint-auto",
                           text="Fix the SQL injection in this query builder.")
    assert status == 200, body
    assert body["model"] == "glint-fast" and body["routing"]["rule"] == "key"


def test_no_over_admission_with_32_parallel_clients(server, keys):
    carol = keys[1]["carol"]
    results = []
    barrier = threading.Barrier(32)

    def one():
        barrier.wait()
        results.append(chat(server, carol))

    threads = [threading.Thread(target=one) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 10 + [429] * 22, statuses
    for status, headers, body in results:
        assert headers["x-ratelimit-limit-requests"] == "10"
        if status == 429:
            assert body["error"]["code"] == "rate_limit_exceeded"
            assert int(headers["retry-after"]) >= 1
            assert headers["x-ratelimit-remaining-requests"] == "0"
    # The smart tier is counted apart: carol still has her 3 smart requests.
    status, headers, body = chat(server, carol, model="glint-smart")
    assert status == 200, body
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "2"
    status, _, text = call(server, "/metrics")
    m = re.search(rb'^glint_rate_limited_total\{tier="fast",limit="requests"\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) >= 22


def test_tokens_per_minute(server, keys):
    dave = keys[1]["dave"]
    # The estimate (prompt plus max_tokens) must fit the 300 a minute.
    status, _, body = chat(server, dave, max_tokens=1000)
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert "never" in body["error"]["message"] or "exceeds" in body["error"]["message"]
    status, headers, body = chat(server, dave, max_tokens=100)
    assert status == 200, body
    assert headers["x-ratelimit-limit-tokens"] == "300"
    remaining = int(headers["x-ratelimit-remaining-tokens"])
    assert remaining <= 300 - 100 - body["usage"]["prompt_tokens"]
    # What the answer did not use comes back: one token was asked for at
    # most 100, so the next request sees nearly the whole bucket again.
    status, headers, _ = chat(server, dave, max_tokens=50)
    assert status == 200
    assert int(headers["x-ratelimit-remaining-tokens"]) > remaining - 50


def test_websocket_needs_the_key_on_the_upgrade(server, keys):
    async def refused():
        try:
            async with websockets.connect(server.ws_url):
                return None
        except Exception as e:  # InvalidStatus / InvalidStatusCode by version
            return e

    err = asyncio.run(refused())
    assert err is not None and "401" in str(err)

    async def session():
        headers = {"Authorization": "Bearer " + keys[1]["erin"]}
        try:
            ws = await websockets.connect(server.ws_url, additional_headers=headers)
        except TypeError:  # websockets < 14
            ws = await websockets.connect(server.ws_url, extra_headers=headers)
        events = []
        async with ws:
            for _ in range(2):
                await ws.send(json.dumps({"type": "response.create", "model": "glint-fast",
                                          "max_output_tokens": 1, "input": "Hi"}))
                while True:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    events.append(ev)
                    if ev["type"] in ("response.completed", "response.incomplete", "error"):
                        break
        return events

    events = asyncio.run(session())
    types = [e["type"] for e in events]
    # The first turn is admitted and says what is left; the second is over
    # erin's one request a minute.
    assert types[0] == "rate_limits.updated", types
    limits = {l["name"]: l for l in events[0]["rate_limits"]}
    assert limits["requests"]["limit"] == 1 and limits["requests"]["remaining"] == 0
    assert "response.completed" in types or "response.incomplete" in types
    err = events[-1]
    assert err["type"] == "error" and err["status"] == 429
    assert err["error"]["code"] == "rate_limit_exceeded" and err["retry_after_seconds"] > 0


def test_refuses_a_public_address_without_keys(glint_bin):
    proc = subprocess.run([GLINT_BIN, "serve", "--model", "fast", "--host", "0.0.0.0", "--port",
                           "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--keys" in proc.stderr and "--insecure" in proc.stderr, proc.stderr


def test_insecure_serves_a_public_address(glint_bin):
    s = GlintServer("--host", "0.0.0.0", "--insecure")
    try:
        status, _, _ = call(s, "/health")
        assert status == 200
    finally:
        assert s.stop() == 0


def test_a_bad_keys_file_stops_the_server_with_a_clear_error(glint_bin, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"name": "x", "sha256": "1234"}]}')
    proc = subprocess.run([GLINT_BIN, "serve", "--model", "fast", "--port", "0", "--keys",
                           str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "sha256" in proc.stderr and "keys.json" in proc.stderr, proc.stderr
