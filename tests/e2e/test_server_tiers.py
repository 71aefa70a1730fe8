"""Two tiers in one server: glint-fast and glint-smart side by side, glint-auto
routing each request (docs/routing.md) and reporting why, and a WebSocket
conversation that moves between the tiers without losing its history."""
import asyncio
import json
import re
import threading
import urllib.request

import pytest

from conftest import GlintServer, call

websockets = pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def server(glint_bin):
    # No --model: glint serves its two tiers.
    s = GlintServer("--ctx", "2048", "--session-ttl", "60", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log)


def chat(server, text, model="glint-auto", max_tokens=4, **extra):
    return call(server, "/v1/chat/completions",
                {"model": model, "max_tokens": max_tokens,
                 "messages": [{"role": "user", "content": text}], **extra})


def test_models_lists_both_tiers_and_auto(server):
    status, _, body = call(server, "/v1/models")
    assert status == 200
    ids = [m["id"] for m in body["data"]]
    assert ids == ["glint-fast", "glint-smart", "glint-auto"]
    tiers = {m["id"]: m.get("tier") for m in body["data"]}
    assert tiers["glint-fast"] == "fast" and tiers["glint-smart"] == "smart"
    status, _, auto = call(server, "/v1/models/glint-auto")
    assert status == 200 and auto["routes_to"] == ["glint-fast", "glint-smart"]
    # The tier names and the GGUF names are accepted too.
    for name in ("fast", "smart"):
        status, _, m = call(server, "/v1/models/" + name)
        assert status == 200 and m["id"] == "glint-" + name


@pytest.mark.parametrize("text,model,tier,rule", [
    ("Rename the variable x to count in this loop.", "glint-fast", "fast", "default"),
    ("Fix the SQL query so user input cannot inject: "
     "cursor.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")",
     "glint-smart", "smart", "security"),
    ("Think carefully: what does this one-liner return?", "glint-smart", "smart", "explicit"),
    ("Use the fast model. Hash the password with bcrypt.", "glint-fast", "fast", "explicit"),
])
def test_auto_routes_and_reports_why(server, text, model, tier, rule):
    status, headers, body = chat(server, text)
    assert status == 200, body
    assert body["model"] == model
    routing = body["routing"]
    assert (routing["model"], routing["tier"], routing["rule"]) == (model, tier, rule)
    assert routing["reason"]
    header = headers["x-glint-route"]
    assert header.startswith(model + "; rule=" + rule + "; reason=\""), header


def test_named_tiers_are_not_routed(server):
    status, headers, body = chat(server, "Fix the SQL injection.", model="glint-fast")
    assert status == 200 and body["model"] == "glint-fast"
    assert "routing" not in body and headers.get("x-glint-route") is None


def test_auto_sends_fill_in_the_middle_to_the_model_that_has_it(server):
    status, _, body = call(server, "/v1/completions",
                           {"model": "glint-auto", "prompt": "def add(a, b):\n    return ",
                            "suffix": "\n", "max_tokens": 4})
    assert status == 200, body
    assert body["model"] == "glint-smart" and body["routing"]["rule"] == "fim"
    # Named explicitly, the fast model still says it cannot.
    status, _, body = call(server, "/v1/completions",
                           {"model": "glint-fast", "prompt": "x = ", "suffix": "\n"})
    assert status == 400 and body["error"]["code"] == "fim_unsupported"


def test_responses_carry_the_routing_decision(server):
    status, headers, body = call(server, "/v1/responses",
                                 {"model": "glint-auto", "max_output_tokens": 4,
                                  "input": "Add a docstring to def f(): pass"})
    assert status == 200, body
    assert body["model"] == "glint-fast"
    assert body["routing"]["rule"] == "default" and body["routing"]["tier"] == "fast"
    assert "x-glint-route" in headers


def test_stream_reports_the_decision_first(server):
    req = urllib.request.Request(
        server.base_url + "/v1/chat/completions",
        data=json.dumps({"model": "glint-auto", "stream": True, "max_tokens": 3,
                         "messages": [{"role": "user",
                                       "content": "Think hard about this regex."}]}).encode(),
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        assert r.headers["x-glint-route"].startswith("glint-smart; rule=explicit")
        first = None
        for line in r:
            if line.startswith(b"data: {"):
                first = json.loads(line[6:])
                break
    assert first["model"] == "glint-smart" and first["routing"]["rule"] == "explicit"


def test_metrics_count_the_decisions(server):
    chat(server, "Rename i to index.")
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(r'^glint_route_decisions_total\{tier="fast",rule="default"\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) >= 1, text


async def ws_turn(ws, **fields):
    await ws.send(json.dumps({"type": "response.create", **fields}))
    while True:
        ev = json.loads(await asyncio.wait_for(ws.recv(), 300))
        if ev["type"] in ("response.completed", "response.incomplete"):
            return ev["response"]
        if ev["type"] in ("error", "response.failed"):
            raise AssertionError(ev)


def output_text(response):
    return "".join(c["text"] for item in response["output"] if item["type"] == "message"
                   for c in item["content"])


def test_switching_tier_keeps_the_conversation(server):
    """A WebSocket conversation moves from fast to smart and back: the other
    model renders the whole history once, then reuses its own cache; the
    answer equals a fresh request with the full history."""
    user1 = {"role": "user", "content": "My favourite number is 417. Say OK."}
    user2 = {"role": "user", "content": "What is my favourite number?"}
    user3 = {"role": "user", "content": "And doubled?"}

    async def run():
        async with websockets.connect(server.ws_url) as ws:
            r1 = await ws_turn(ws, model="glint-fast", input=[user1], max_output_tokens=6)
            r2 = await ws_turn(ws, model="glint-smart", previous_response_id=r1["id"],
                               input=[user2], max_output_tokens=12)
            r3 = await ws_turn(ws, model="glint-smart", previous_response_id=r2["id"],
                               input=[user3], max_output_tokens=6)
            r4 = await ws_turn(ws, model="glint-fast", previous_response_id=r3["id"],
                               input=[{"role": "user", "content": "Thanks."}],
                               max_output_tokens=4)
            return r1, r2, r3, r4

    r1, r2, r3, r4 = asyncio.run(run())
    assert [r["model"] for r in (r1, r2, r3, r4)] == ["glint-fast", "glint-smart", "glint-smart",
                                                     "glint-fast"]
    # The smart model had nothing cached at its first turn, then its own
    # cache held the conversation; back on fast, fast's cache still holds
    # its first turn.
    assert r2["usage"]["input_tokens_details"]["cached_tokens"] == 0
    assert r3["usage"]["input_tokens_details"]["cached_tokens"] >= \
        r2["usage"]["input_tokens"] + r2["usage"]["output_tokens"] - 2
    assert r4["usage"]["input_tokens_details"]["cached_tokens"] >= r1["usage"]["input_tokens"] - 1
    # The smart turn saw the history written by the fast model: the same
    # answer as one request carrying that history.
    status, _, fresh = call(server, "/v1/responses", {
        "model": "glint-smart", "max_output_tokens": 12, "store": False,
        "input": [user1, {"role": "assistant", "content": output_text(r1)}, user2]})
    assert status == 200, fresh
    assert output_text(r2) == output_text(fresh)
    assert fresh["usage"]["input_tokens"] == r2["usage"]["input_tokens"]


def test_both_tiers_answer_at_once(server):
    """Requests on both tiers at the same time all finish (the models take
    turns on the cores)."""
    results = []

    def one(model):
        results.append(chat(server, "Write hello world in C.", model=model, max_tokens=8))

    threads = [threading.Thread(target=one, args=(m,))
               for m in ("glint-fast", "glint-smart", "glint-fast", "glint-smart")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 4
    assert all(status == 200 for status, _, _ in results), results
    assert sorted(b["model"] for _, _, b in results) == ["glint-fast", "glint-fast", "glint-smart",
                                                         "glint-smart"]
