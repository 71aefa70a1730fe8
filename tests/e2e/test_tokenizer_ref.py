"""glint's tokenizer against the reference (llama.cpp via llama-cpp-python).

For each real model present, every string of the corpus
(tests/e2e/tokenizer_corpus) is tokenized by glint
(`$GLINT_BIN tokenize --model PATH --json [--no-special] -`, text on stdin)
and by llama.cpp (`Llama(..., vocab_only=True).tokenize(text, add_bos=False,
special=...)`), and the ids must be identical.

GLINT_BIN defaults to build/release/glint. The binary is called once per
model with `--jsonl` (one JSON string per input line, one JSON array per
output line).

The chat-template test renders conversations with jinja2 from each model's
own tokenizer.chat_template and checks them against
tests/tokenizer/testdata/chat_golden.json, which the C++ unit test checks
glint's ChatTemplate::Render against (jinja2 == golden == glint).
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "tokenizer_corpus"))
import corpus  # noqa: E402

from conftest import model_path  # noqa: E402

MODELS = {
    "smollm2": pathlib.Path(model_path("fast")),
    "qwen25coder": pathlib.Path(model_path("smart")),
}
GLINT_BIN = pathlib.Path(os.environ.get("GLINT_BIN", ROOT / "build" / "release" / "glint"))
GOLDEN = ROOT / "tests" / "tokenizer" / "testdata" / "chat_golden.json"

# Strings also checked with parse_special = false (special tokens as text).
NO_SPECIAL_CATEGORIES = ("specials", "random", "edge")


def _model_or_fail(key):
    path = MODELS[key]
    if not path.exists():
        pytest.fail(f"model file {path} not present; run scripts/fetch-models")
    return path


def _reference(path):
    import llama_cpp
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)


def _glint_many(path, texts, special):
    if not GLINT_BIN.exists():
        pytest.fail(f"glint binary {GLINT_BIN} not built (run make build or set GLINT_BIN)")
    args = [str(GLINT_BIN), "tokenize", "--model", str(path), "--jsonl"]
    if not special:
        args.append("--no-special")
    stdin = "".join(json.dumps(t) + "\n" for t in texts).encode()
    proc = subprocess.run(args, input=stdin, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(texts)
    return [json.loads(line) for line in lines]


def _compare(key, items, special):
    path = _model_or_fail(key)
    ref = _reference(path)
    texts = [t for _, t in items]
    got = _glint_many(path, texts, special)
    mismatches = []
    for (cat, text), ids in zip(items, got):
        want = ref.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        if ids != want:
            mismatches.append((cat, text, ids, want))
    if mismatches:
        lines = [f"{len(mismatches)} of {len(items)} strings differ ({key}, special={special}):"]
        for cat, text, ids, want in mismatches[:20]:
            lines.append(f"  [{cat}] {text!r}\n    glint: {ids}\n    ref:   {want}")
        pytest.fail("\n".join(lines))


def test_corpus_is_large_enough():
    items = corpus.load_corpus()
    assert len(items) >= 500
    cats = {c.split("/")[0] for c, _ in items}
    for needed in ("code", "cjk", "emoji", "marks", "scripts", "whitespace", "numbers", "specials",
                   "contractions", "edge"):
        assert needed in cats
    langs = {c.split("/")[1] for c, _ in items if c.startswith("code/")}
    assert len(langs & {"python", "cpp", "javascript", "go", "rust", "java", "sql", "shell"}) >= 6


@pytest.mark.parametrize("key", sorted(MODELS))
def test_matches_reference(key):
    _compare(key, corpus.load_corpus(), special=True)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_matches_reference_without_special(key):
    items = [(c, t) for c, t in corpus.load_corpus() if c.split("/")[0] in NO_SPECIAL_CATEGORIES]
    _compare(key, items, special=False)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_chat_golden_matches_jinja(key):
    """The golden renders the C++ test checks are exactly what jinja2 makes."""
    import jinja2
    import gguf
    path = _model_or_fail(key)
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["tokenizer.chat_template"]
    template_text = bytes(field.parts[field.data[0]]).decode("utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    entry = golden["templates"][key]
    assert entry["template"] == template_text, "golden file holds a different template; regenerate it"
    env = jinja2.Environment(trim_blocks=False, lstrip_blocks=False)
    tpl = env.from_string(template_text)
    assert entry["cases"], "no cases"
    for case in entry["cases"]:
        rendered = tpl.render(messages=case["messages"],
                              add_generation_prompt=case["add_generation_prompt"])
        assert rendered == case["expected"], case["messages"]
