"""glint serve on the smart model (Qwen2.5-Coder): fill-in-the-middle through
/v1/completions gives the tokens llama.cpp gives for the same FIM prompt, and
chat answers equal llama.cpp's greedy answers."""
import json
import urllib.request

import pytest

from conftest import GlintServer, model_path, reference_model


@pytest.fixture(scope="module")
def smart_server(glint_bin):
    s = GlintServer(model="smart", *["--ctx", "2048"])
    yield s
    assert s.stop() == 0, "".join(s.log)


def post(server, path, body):
    req = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def reference_greedy(tokens, n):
    llm = reference_model("smart", n_ctx=1024)
    llm.reset()
    out = []
    for tok in llm.generate(tokens, temp=0.0, top_k=1, reset=True):
        if llm.token_eos() == tok or tok in (llm.tokenize(b"<|endoftext|>", add_bos=False, special=True)[0],
                                              llm.tokenize(b"<|fim_pad|>", add_bos=False, special=True)[0],
                                              llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]):
            break
        out.append(tok)
        if len(out) == n:
            break
    return llm.detokenize(out).decode("utf-8", errors="replace")


def test_fill_in_the_middle_matches_the_reference(smart_server):
    prefix = "def mean(values):\n    "
    suffix = "\n    return total / len(values)\n"
    r = post(smart_server, "/v1/completions", {"model": "glint-smart", "prompt": prefix,
                                               "suffix": suffix, "max_tokens": 16})
    text = r["choices"][0]["text"]
    assert "total" in text, text
    llm = reference_model("smart", n_ctx=1024)
    special = lambda s: llm.tokenize(s.encode(), add_bos=False, special=True)
    plain = lambda s: llm.tokenize(s.encode(), add_bos=False, special=False)
    tokens = (special("<|fim_prefix|>") + plain(prefix) + special("<|fim_suffix|>") + plain(suffix)
              + special("<|fim_middle|>"))
    assert r["usage"]["prompt_tokens"] == len(tokens)
    assert text == reference_greedy(tokens, 16)


def test_chat_answer_matches_the_reference(smart_server):
    messages = [{"role": "user", "content": "Write a Python one-liner that reverses a string s."}]
    r = post(smart_server, "/v1/chat/completions", {"model": "glint-smart", "messages": messages,
                                                    "max_tokens": 24})
    llm = reference_model("smart", n_ctx=1024)
    # Qwen2.5's template with its default system prompt, as glint renders it.
    prompt = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\n" + messages[0]["content"] +
              "<|im_end|>\n<|im_start|>assistant\n")
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    assert r["usage"]["prompt_tokens"] == len(tokens)
    assert r["choices"][0]["message"]["content"] == reference_greedy(tokens, 24)
