"""--kv-budget: when the KV memory is full, the least recently used idle
session gives its cache up, and its next turn re-prefills the history
(fewer cached tokens, the same answer); a request waits rather than fails
while running requests hold the memory; a prompt that cannot fit is refused
with a clear error, and max_tokens beyond the budget stop at it ("length")."""
import asyncio
import re

import pytest

from conftest import GlintServer, call, ws_turn

websockets = pytest.importorskip("websockets")

# The fast model's KV cache holds about 170 positions in 4 MiB (30 layers,
# 384-byte K and V rows, whole pages): two short conversations, not three.
BUDGET_MB = 4
CODE = ("def merge(a, b):\n    out = []\n    i = j = 0\n    while i < len(a) and j < len(b):\n"
        "        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n"
        "            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n")


@pytest.fixture(scope="module")
def budget_server(glint_bin):
    s = GlintServer("--kv-budget", str(BUDGET_MB), "--http-sessions", "1")
    yield s
    assert s.stop() == 0, "".join(s.log)


@pytest.fixture(scope="module")
def roomy_server(glint_bin):
    s = GlintServer()
    yield s
    assert s.stop() == 0, "".join(s.log)


def metric(server, name):
    _, _, text = call(server, "/metrics")
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


async def turn(ws, **fields):
    return await ws_turn(ws, **{"model": "glint-fast", "store": False, "max_output_tokens": 16,
                                **fields})


def text_of(response):
    return "".join(c["text"] for item in response["output"] if item["type"] == "message"
                   for c in item["content"])


async def conversation(server, interleave):
    """Conversation A over two turns; `interleave` runs between them."""
    async with websockets.connect(server.ws_url) as a:
        first = await turn(a, instructions="You are terse.",
                           input=[{"role": "user", "content": "Name a prime number."}])
        await interleave(server)
        second = await turn(a, previous_response_id=first["id"],
                            input=[{"role": "user", "content": "Another one."}])
        return first, second


async def other_conversation(server):
    async with websockets.connect(server.ws_url) as b:
        r = await turn(b, input=[{"role": "user", "content": "Review this:\n" + CODE}])
        assert r.get("status") in ("completed", "incomplete"), r


async def nothing(server):
    pass


def test_an_evicted_session_reprefills_and_answers_the_same(budget_server, roomy_server):
    before = metric(budget_server, "glint_kv_evictions_total")
    assert before == 0
    first, second = asyncio.run(conversation(budget_server, other_conversation))
    assert second.get("status") in ("completed", "incomplete"), second
    # B needed A's memory while A was idle: A's cache went, so nothing of
    # its history was cached, and yet the conversation went on.
    assert metric(budget_server, "glint_kv_evictions_total") >= 1
    assert second["usage"]["input_tokens_details"]["cached_tokens"] == 0
    assert metric(budget_server, "glint_kv_charged_bytes") <= BUDGET_MB << 20
    assert metric(budget_server, "glint_kv_budget_bytes") == BUDGET_MB << 20
    # Without a tight budget the history stays cached; the answers are equal.
    ref_first, ref_second = asyncio.run(conversation(roomy_server, nothing))
    assert ref_second["usage"]["input_tokens_details"]["cached_tokens"] > 0
    assert text_of(first) == text_of(ref_first)
    assert text_of(second) == text_of(ref_second)
    assert second["usage"]["input_tokens"] == ref_second["usage"]["input_tokens"]


def test_concurrent_requests_wait_for_memory_and_all_succeed(budget_server):
    async def one(i):
        async with websockets.connect(budget_server.ws_url) as ws:
            return await turn(ws, input=[{"role": "user", "content": f"Say the number {i}."}],
                              max_output_tokens=24)

    async def run():
        return await asyncio.gather(*(one(i) for i in range(6)))

    results = asyncio.run(run())
    for r in results:
        assert r.get("status") in ("completed", "incomplete"), r
    assert metric(budget_server, "glint_kv_charged_bytes") <= BUDGET_MB << 20


def test_a_prompt_beyond_the_budget_is_refused_clearly(budget_server):
    big = "Explain this code.\n" + CODE * 6
    status, _, body = call(budget_server, "/v1/chat/completions", {
        "model": "glint-fast", "max_tokens": 4, "messages": [{"role": "user", "content": big}]})
    assert status == 400, body
    assert body["error"]["code"] == "kv_budget_exceeded"
    assert "--kv-budget" in body["error"]["message"]

    async def ws():
        async with websockets.connect(budget_server.ws_url) as c:
            return await turn(c, input=[{"role": "user", "content": big}])

    ev = asyncio.run(ws())
    # The scheduler refuses it after response.created: the response fails.
    assert ev["type"] == "response.failed", ev
    assert ev["response"]["error"]["code"] == "kv_budget_exceeded"
    # The server goes on serving.
    status, _, body = call(budget_server, "/v1/chat/completions", {
        "model": "glint-fast", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]})
    assert status == 200, body


def test_max_tokens_beyond_the_budget_stop_at_it(budget_server):
    status, _, body = call(budget_server, "/v1/completions", {
        "model": "glint-fast", "max_tokens": 5000,
        "prompt": "".join(f"{i}, " for i in range(1, 20))})
    assert status == 200, body
    assert body["choices"][0]["finish_reason"] == "length"
    usage = body["usage"]
    # About 170 positions fit in 4 MiB: prompt + completion stay within.
    assert 100 < usage["prompt_tokens"] + usage["completion_tokens"] <= 171, usage
