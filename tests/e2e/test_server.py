"""glint serve with real clients: the openai SDK over HTTP, SSE and the
Responses WebSocket mode, on the fast model. Greedy decoding makes every
answer reproducible, so the tests compare paths with each other: streamed
with whole, WebSocket turns with fresh HTTP requests, concurrent with alone."""
import asyncio
import json
import re
import time
import urllib.request

import pytest

openai = pytest.importorskip("openai")
websockets = pytest.importorskip("websockets")


def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def http_get(server, path):
    with urllib.request.urlopen(server.base_url + path, timeout=30) as r:
        return r.status, r.headers.get("content-type"), r.read().decode()


def metric(server, name):
    _, _, text = http_get(server, "/metrics")
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def test_health_models_and_metrics(fast_server):
    status, ctype, body = http_get(fast_server, "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    models = client(fast_server).models.list()
    assert [m.id for m in models.data] == ["glint-fast"]
    status, ctype, text = http_get(fast_server, "/metrics")
    assert ctype.startswith("text/plain; version=0.0.4")
    for name in ["glint_requests_total", "glint_time_to_first_token_seconds_bucket",
                 "glint_inter_token_latency_seconds_count", "glint_prompt_tokens_total",
                 "glint_cached_prompt_tokens_total", "glint_generated_tokens_total",
                 "glint_active_sessions", "glint_queue_depth", "glint_kv_cache_bytes",
                 "glint_speculative_tokens_total"]:
        assert re.search(r"^%s[ {]" % name, text, re.M), name
    assert "# TYPE glint_time_to_first_token_seconds histogram" in text


def test_responses_stream_equals_whole(fast_server):
    c = client(fast_server)
    whole = c.responses.create(model="glint-fast", input="Write a Python function that "
                               "returns the square of a number.", max_output_tokens=40)
    assert whole.status == "incomplete" or whole.status == "completed"
    text = whole.output_text
    assert text.strip()
    assert whole.usage.input_tokens > 10 and whole.usage.output_tokens > 0
    assert whole.usage.total_tokens == whole.usage.input_tokens + whole.usage.output_tokens

    events = list(c.responses.create(model="glint-fast", input="Write a Python function that "
                                     "returns the square of a number.", max_output_tokens=40,
                                     stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[-4:-1] == ["response.output_text.done", "response.content_part.done",
                            "response.output_item.done"]
    assert types[-1] in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == text
    final = events[-1].response
    assert final.output[0].content[0].text == text
    # The second identical request found its prompt, and the logits at its
    # end, in the prefix cache: nothing was evaluated again.
    assert final.usage.input_tokens_details.cached_tokens == final.usage.input_tokens


def test_chat_completions_stream_equals_whole(fast_server):
    c = client(fast_server)
    messages = [{"role": "system", "content": "You are a concise coding assistant."},
                {"role": "user", "content": "How do I reverse a list in Python?"}]
    whole = c.chat.completions.create(model="glint-fast", messages=messages, max_tokens=30)
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason in ("stop", "length")
    text = whole.choices[0].message.content
    assert text.strip()
    chunks = list(c.chat.completions.create(model="glint-fast", messages=messages, max_tokens=30,
                                            stream=True, stream_options={"include_usage": True}))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == text
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_completions_and_stop(fast_server):
    c = client(fast_server)
    r = c.completions.create(model="glint-fast", prompt="def fibonacci(n):", max_tokens=24)
    assert r.choices[0].text and r.usage.completion_tokens <= 24
    # A stop sequence from the output itself cuts it there.
    cut = r.choices[0].text[5:9]
    if cut.strip():
        s = c.completions.create(model="glint-fast", prompt="def fibonacci(n):", max_tokens=24,
                                 stop=[cut])
        assert s.choices[0].text == r.choices[0].text[:r.choices[0].text.find(cut)]
        assert s.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model="glint-fast", prompt="def f(", suffix="\n    return 1",
                             max_tokens=8)
    assert e.value.body["code"] == "fim_unsupported"


def ws_turn(conn, **kwargs):
    conn.response.create(**kwargs)
    text, final = "", None
    for event in conn:
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type in ("response.completed", "response.incomplete"):
            final = event.response
            break
        elif event.type in ("error", "response.failed"):
            raise AssertionError(f"turn failed: {event}")
    return text, final


def test_websocket_turns_reuse_the_cache_and_equal_fresh_requests(fast_server):
    c = client(fast_server)
    questions = ["Write a Python function is_even(n).", "Now add a docstring to it.",
                 "What does it return for 7?"]
    history = []
    with c.responses.connect() as conn:
        # Warm-up: instructions prefilled, nothing generated.
        conn.response.create(model="glint-fast", instructions="You are a concise coding "
                             "assistant.", input=[], generate=False)
        warm = None
        for event in conn:
            if event.type == "response.completed":
                warm = event.response
                break
        assert warm.output == [] and warm.usage.output_tokens == 0
        previous, cached = warm.id, []
        instructions_tokens = warm.usage.input_tokens
        for q in questions:
            text, final = ws_turn(conn, model="glint-fast", previous_response_id=previous,
                                  input=[{"role": "user", "content": q}], max_output_tokens=32)
            assert text == final.output[0].content[0].text
            cached.append(final.usage.input_tokens_details.cached_tokens)
            previous = final.id
            history.append((q, text))
    assert cached[0] >= instructions_tokens - 1
    assert cached[1] > cached[0] and cached[2] > cached[1]
    # The last turn, asked afresh over HTTP with the whole history, gives the
    # same answer.
    items = []
    for q, a in history[:-1]:
        items += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    items.append({"role": "user", "content": history[-1][0]})
    fresh = c.responses.create(model="glint-fast", instructions="You are a concise coding "
                               "assistant.", input=items, max_output_tokens=32)
    assert fresh.output_text == history[-1][1]


def test_websocket_unknown_previous_response(fast_server):
    with client(fast_server).responses.connect() as conn:
        conn.response.create(model="glint-fast", previous_response_id="resp_nope",
                             input=[{"role": "user", "content": "hi"}])
        event = conn.recv()
        assert event.type == "error"
        raw = event.model_dump()
        assert raw["status"] == 400 and raw["error"]["code"] == "previous_response_not_found"
        # The session is still usable.
        text, final = ws_turn(conn, model="glint-fast", input="Say hi.", max_output_tokens=8)
        assert final.usage.output_tokens > 0


def test_store_true_response_continues_over_http(fast_server):
    c = client(fast_server)
    first = c.responses.create(model="glint-fast", input="Name a sorting algorithm.",
                               max_output_tokens=16, store=True)
    second = c.responses.create(model="glint-fast", previous_response_id=first.id,
                                input="Another one?", max_output_tokens=16)
    assert second.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="glint-fast", previous_response_id="resp_missing", input="x")
    assert e.value.body["code"] == "previous_response_not_found"


async def ws_answer(url, prompt, n):
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "response.create", "model": "glint-fast",
                                  "input": prompt, "max_output_tokens": n}))
        text = ""
        while True:
            ev = json.loads(await ws.recv())
            if ev["type"] == "response.output_text.delta":
                text += ev["delta"]
            elif ev["type"] in ("response.completed", "response.incomplete"):
                return text
            elif ev["type"] in ("error", "response.failed"):
                raise AssertionError(ev)


def test_sixteen_concurrent_sessions_equal_single_sessions(fast_server):
    prompts = [f"Write a one-line Python expression that computes {i} times {i + 3}."
               for i in range(16)]
    alone = [asyncio.run(ws_answer(fast_server.ws_url, p, 16)) for p in prompts]

    async def together():
        return await asyncio.gather(*[ws_answer(fast_server.ws_url, p, 16) for p in prompts])

    assert asyncio.run(together()) == alone
    # The gauge follows within a scheduler step.
    for _ in range(100):
        if metric(fast_server, "glint_running_requests") == 0:
            break
        time.sleep(0.02)
    assert metric(fast_server, "glint_running_requests") == 0
