"""OpenAI's `prediction` field on glint serve (the draft of speculative
decoding): the usage counts its tokens, it never changes the answer, bad
values are 400s in OpenAI's error shape, /v1/responses takes it too, and
/metrics counts draft tokens. Also the assistant prefill of chat
completions: a final assistant message is continued, and only the
continuation is returned. All on the fast model with greedy decoding."""
import json
import re
import urllib.error
import urllib.request

import pytest

TEXT = ("The quick brown fox jumps over the lazy dog.\n"
        "Pack my box with five dozen liquor jugs.\n")
REPEAT = [{"role": "user",
           "content": "Repeat the following text exactly, with nothing else:\n\n" + TEXT}]


def post(server, path, body):
    req = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def post_stream(server, path, body):
    """The data of each server-sent event of a streamed answer."""
    req = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    events = []
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200
        assert r.headers.get("content-type", "").startswith("text/event-stream")
        for raw in r:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data: "):
                events.append(line[len("data: "):])
    return events


def chat(server, **body):
    body.setdefault("temperature", 0)
    status, out = post(server, "/v1/chat/completions", body)
    assert status == 200, out
    return out


def metrics(server):
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=30) as r:
        return r.read().decode()


def speculative(server, result):
    m = re.search(r'^glint_speculative_tokens_total\{result="%s"\} (\d+)$' % result,
                  metrics(server), re.M)
    assert m, f'glint_speculative_tokens_total{{result="{result}"}} not in /metrics'
    return int(m.group(1))


def test_chat_usage_counts_prediction_tokens(fast_server):
    out = chat(fast_server, messages=REPEAT, max_tokens=60,
               prediction={"type": "content", "content": TEXT})
    content = out["choices"][0]["message"]["content"]
    assert content.strip() and content.strip() in TEXT, content
    usage = out["usage"]
    details = usage["completion_tokens_details"]
    accepted, rejected = details["accepted_prediction_tokens"], details["rejected_prediction_tokens"]
    assert isinstance(accepted, int) and isinstance(rejected, int)
    assert not isinstance(accepted, bool) and not isinstance(rejected, bool)
    assert accepted > 0, usage
    assert rejected >= 0
    # Accepted draft tokens are tokens of the answer.
    assert accepted <= usage["completion_tokens"]
    assert details["reasoning_tokens"] == 0


def test_prediction_never_changes_the_answer(fast_server):
    base = dict(messages=REPEAT, max_tokens=60)
    plain = chat(fast_server, **base)
    predicted = chat(fast_server, **base, prediction={"type": "content", "content": TEXT})
    # A prediction that is wrong from the first token on costs time, not
    # correctness.
    wrong = chat(fast_server, **base,
                 prediction={"type": "content", "content": "Lorem ipsum dolor sit amet. " * 8})
    empty = chat(fast_server, **base, prediction={"type": "content", "content": ""})
    texts = [r["choices"][0]["message"]["content"] for r in (plain, predicted, wrong, empty)]
    assert texts[0].strip()
    assert texts[1:] == [texts[0]] * 3
    finishes = [r["choices"][0]["finish_reason"] for r in (plain, predicted, wrong, empty)]
    assert finishes == [finishes[0]] * 4
    # The plain request's usage has the fields too (prompt lookup may draft).
    d = plain["usage"]["completion_tokens_details"]
    assert isinstance(d["accepted_prediction_tokens"], int)
    assert isinstance(d["rejected_prediction_tokens"], int)


def test_prediction_with_a_longer_answer_is_lossless(fast_server):
    # A longer answer that departs from the prediction and comes back to it.
    code = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(8))
    messages = [{"role": "user", "content": "Rewrite this code, changing every + to -:\n\n"
                 "```python\n" + code + "```"}]
    plain = chat(fast_server, messages=messages, max_tokens=150)
    predicted = chat(fast_server, messages=messages, max_tokens=150,
                     prediction={"type": "content", "content": code})
    assert (predicted["choices"][0]["message"]["content"]
            == plain["choices"][0]["message"]["content"])
    assert predicted["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]


def test_prediction_as_text_parts(fast_server):
    half = len(TEXT) // 2
    parts = chat(fast_server, messages=REPEAT, max_tokens=60,
                 prediction={"type": "content",
                             "content": [{"type": "text", "text": TEXT[:half]},
                                         {"type": "text", "text": TEXT[half:]}]})
    whole = chat(fast_server, messages=REPEAT, max_tokens=60,
                 prediction={"type": "content", "content": TEXT})
    assert parts["choices"][0]["message"]["content"] == whole["choices"][0]["message"]["content"]
    d = parts["usage"]["completion_tokens_details"]
    assert d["accepted_prediction_tokens"] > 0, parts["usage"]


def test_prediction_null_is_no_prediction(fast_server):
    out = chat(fast_server, messages=REPEAT, max_tokens=8, prediction=None)
    assert out["choices"][0]["message"]["content"]


def test_streamed_chat_reports_prediction_usage(fast_server):
    events = post_stream(fast_server, "/v1/chat/completions", {
        "messages": REPEAT, "max_tokens": 60, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True},
        "prediction": {"type": "content", "content": TEXT}})
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c.get("choices"))
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert len(usage) == 1, chunks[-3:]
    assert usage[0]["completion_tokens_details"]["accepted_prediction_tokens"] > 0
    whole = chat(fast_server, messages=REPEAT, max_tokens=60,
                 prediction={"type": "content", "content": TEXT})
    assert text == whole["choices"][0]["message"]["content"]


BAD_PREDICTIONS = [
    pytest.param("a string", "prediction", id="string"),
    pytest.param(3, "prediction", id="number"),
    pytest.param([{"type": "content", "content": "x"}], "prediction", id="array"),
    pytest.param({"type": "text", "content": "x"}, "prediction.type", id="type-text"),
    pytest.param({"content": "x"}, "prediction.type", id="type-missing"),
    pytest.param({"type": 1, "content": "x"}, "prediction.type", id="type-number"),
    pytest.param({"type": "content"}, "prediction.content", id="content-missing"),
    pytest.param({"type": "content", "content": 42}, "prediction.content", id="content-number"),
    pytest.param({"type": "content", "content": {"text": "x"}}, "prediction.content",
                 id="content-object"),
    pytest.param({"type": "content", "content": [{"type": "text"}]}, "prediction.content",
                 id="part-without-text"),
    pytest.param({"type": "content", "content": [{"type": "text", "text": 5}]},
                 "prediction.content[].text", id="part-text-number"),
    pytest.param({"type": "content", "content": ["plain string part"]}, "prediction.content",
                 id="part-string"),
]


def expect_openai_error(status, body, param):
    assert status == 400, body
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) >= {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and "prediction" in err["message"], err
    assert err["type"] == "invalid_request_error", err
    assert err["param"] == param, err
    assert isinstance(err["code"], str) and err["code"], err


@pytest.mark.parametrize("prediction,param", BAD_PREDICTIONS)
def test_bad_prediction_is_a_400(fast_server, prediction, param):
    status, body = post(fast_server, "/v1/chat/completions",
                        {"messages": REPEAT, "max_tokens": 4, "prediction": prediction})
    expect_openai_error(status, body, param)


@pytest.mark.parametrize("prediction,param", BAD_PREDICTIONS[:1] + BAD_PREDICTIONS[3:4]
                         + BAD_PREDICTIONS[7:8])
def test_bad_prediction_is_a_400_on_responses(fast_server, prediction, param):
    status, body = post(fast_server, "/v1/responses",
                        {"input": "hi", "max_output_tokens": 4, "prediction": prediction})
    expect_openai_error(status, body, param)


def test_server_still_serves_after_bad_predictions(fast_server):
    assert fast_server.alive()
    out = chat(fast_server, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    assert out["usage"]["completion_tokens"] >= 1


def test_responses_take_prediction_and_report_it(fast_server):
    body = {"input": REPEAT[0]["content"], "max_output_tokens": 60, "temperature": 0}
    status, plain = post(fast_server, "/v1/responses", body)
    assert status == 200, plain
    status, predicted = post(fast_server, "/v1/responses",
                             {**body, "prediction": {"type": "content", "content": TEXT}})
    assert status == 200, predicted

    def text(r):
        return "".join(c["text"] for item in r["output"] if item["type"] == "message"
                       for c in item["content"] if c["type"] == "output_text")

    assert text(predicted) and text(predicted) == text(plain)
    details = predicted["usage"]["output_tokens_details"]
    assert isinstance(details["accepted_prediction_tokens"], int)
    assert isinstance(details["rejected_prediction_tokens"], int)
    assert details["accepted_prediction_tokens"] > 0, predicted["usage"]
    assert details["accepted_prediction_tokens"] <= predicted["usage"]["output_tokens"]
    assert details["reasoning_tokens"] == 0
    assert "accepted_prediction_tokens" in plain["usage"]["output_tokens_details"]


def test_metrics_count_speculative_tokens(fast_server):
    text = metrics(fast_server)
    assert "# TYPE glint_speculative_tokens_total counter" in text
    accepted0 = speculative(fast_server, "accepted")
    rejected0 = speculative(fast_server, "rejected")
    out = chat(fast_server, messages=REPEAT, max_tokens=60,
               prediction={"type": "content", "content": TEXT})
    d = out["usage"]["completion_tokens_details"]
    accepted1 = speculative(fast_server, "accepted")
    rejected1 = speculative(fast_server, "rejected")
    # Nothing else runs on this server meanwhile: the counters moved by this
    # request's counts.
    assert accepted1 - accepted0 == d["accepted_prediction_tokens"] > 0
    assert rejected1 - rejected0 == d["rejected_prediction_tokens"]


PREFILL_PROMPT = [{"role": "user", "content": "Write a Python program that prints hello world."}]


def test_assistant_prefill_is_continued(fast_server):
    prefilled = chat(fast_server, max_tokens=40,
                     messages=PREFILL_PROMPT + [{"role": "assistant", "content": "```python\n"}])
    content = prefilled["choices"][0]["message"]["content"]
    assert content.strip(), prefilled
    # Only the continuation: the prefill is not repeated, and the model did
    # not open a second fence.
    assert not content.startswith("```"), content
    assert prefilled["choices"][0]["message"]["role"] == "assistant"
    # The prefill is part of the prompt.
    plain = chat(fast_server, max_tokens=40, messages=PREFILL_PROMPT)
    assert prefilled["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"]


def test_assistant_prefill_with_stop_and_prediction_is_an_edit(fast_server):
    # The shape of the request glint edit sends: the fence is the prefill,
    # the closing fence the stop sequence, the old code the prediction.
    code = "def add(a, b):\n    return a + b\n"
    messages = [{"role": "user", "content": "Repeat this code exactly:\n```python\n" + code
                 + "```"}, {"role": "assistant", "content": "```python\n"}]
    out = chat(fast_server, messages=messages, max_tokens=60, stop=["\n```"],
               prediction={"type": "content", "content": code})
    content = out["choices"][0]["message"]["content"]
    assert not content.startswith("```"), content
    assert "```" not in content, content
    assert out["choices"][0]["finish_reason"] == "stop"
    same = chat(fast_server, messages=messages, max_tokens=60, stop=["\n```"])
    assert same["choices"][0]["message"]["content"] == content


def test_assistant_prefill_streamed_equals_whole(fast_server):
    messages = PREFILL_PROMPT + [{"role": "assistant", "content": "```python\n"}]
    whole = chat(fast_server, max_tokens=30, messages=messages)
    events = post_stream(fast_server, "/v1/chat/completions",
                         {"messages": messages, "max_tokens": 30, "temperature": 0,
                          "stream": True})
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e).get("choices"))
    assert text == whole["choices"][0]["message"]["content"]
