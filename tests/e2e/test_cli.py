"""The glint command line: models, tokenize, run, help."""
import json
import os

from conftest import ROOT, run_glint


def test_models_lists_the_manifest():
    # The C++ catalog (src/engine/catalog.cc) and models/manifest.json must agree.
    with open(os.path.join(ROOT, "models", "manifest.json")) as f:
        manifest = json.load(f)["models"]
    out = run_glint("models").stdout
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert set(rows) == set(manifest)
    for name, entry in manifest.items():
        assert entry["file"] in rows[name]
        assert "not installed" not in rows[name]
    assert "llama" in rows["fast"] and "Q4_1" in rows["fast"]
    assert "qwen2" in rows["smart"] and "Q4_K" in rows["smart"]


def test_tokenize_modes_agree():
    text = "def f(x):\n    return x  # ok"
    plain = run_glint("tokenize", "-m", "fast", "--json", text).stdout
    stdin = run_glint("tokenize", "-m", "fast", "--json", "-", input=text).stdout
    jsonl = run_glint("tokenize", "-m", "fast", "--jsonl", input=json.dumps(text) + "\n").stdout
    assert json.loads(plain) == json.loads(stdin) == json.loads(jsonl)
    table = run_glint("tokenize", "-m", "fast", text).stdout
    assert table.strip().endswith(f"{len(json.loads(plain))} tokens")


def test_run_streams_and_reports_timings():
    proc = run_glint("run", "-m", "fast", "--chat", "-n", "24", "-t", "2", "-p",
                     "Write a Python function that adds two numbers.")
    assert proc.stdout.strip()
    for needle in ("prompt tokens:", "time to first token:", "prefill:", "decode:"):
        assert needle in proc.stderr


def test_same_seed_same_output():
    args = ("run", "-m", "fast", "--chat", "-n", "24", "--temp", "0.9", "--top-p", "0.95",
            "-q", "-p", "Name three sorting algorithms.")
    a = run_glint(*args, "--seed", "11").stdout
    b = run_glint(*args, "--seed", "11").stdout
    assert a == b and a.strip()


def test_help_is_complete():
    top = run_glint("--help").stdout
    for sub in ("run", "tokenize", "models", "bench"):
        assert sub in top
    run_help = run_glint("run", "--help").stdout
    for flag in ("--model", "--prompt", "--chat", "--max-tokens", "--temp", "--seed",
                 "--threads", "--ctx"):
        assert flag in run_help
