"""Fixtures shared by the end-to-end tests: the glint binary, the installed
models, and the reference peer (llama.cpp through llama-cpp-python)."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLINT_BIN = os.environ.get("GLINT_BIN", os.path.join(ROOT, "build", "release", "glint"))


def models_dir():
    home = os.environ.get("GLINT_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "glint")
    return os.path.join(home, "models")


def model_path(name):
    with open(os.path.join(ROOT, "models", "manifest.json")) as f:
        entry = json.load(f)["models"][name]
    return os.path.join(models_dir(), entry["file"])


@pytest.fixture(scope="session")
def glint_bin():
    if not os.path.exists(GLINT_BIN):
        pytest.fail(f"glint binary not found at {GLINT_BIN}; run `make build` first")
    return GLINT_BIN


@pytest.fixture(scope="session", params=["fast", "smart"])
def model_name(request):
    path = model_path(request.param)
    if not os.path.exists(path):
        pytest.fail(f"model {request.param} missing at {path}; run scripts/fetch-models")
    return request.param


def run_glint(*args, input=None, timeout=600, check=True):
    proc = subprocess.run([GLINT_BIN, *args], input=input, capture_output=True, timeout=timeout,
                          text=isinstance(input, str) or input is None)
    if check and proc.returncode != 0:
        raise AssertionError(f"glint {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


_reference_cache = {}


def reference_model(name, n_ctx=1024):
    """A llama.cpp instance for a model, shared across a test session."""
    import llama_cpp  # imported lazily: only these tests need it

    key = (name, n_ctx)
    if key not in _reference_cache:
        _reference_cache[key] = llama_cpp.Llama(model_path=model_path(name), n_ctx=n_ctx,
                                                n_threads=2, n_batch=512, verbose=False)
    return _reference_cache[key]


def reference_vocab(name):
    import llama_cpp

    key = (name, "vocab")
    if key not in _reference_cache:
        _reference_cache[key] = llama_cpp.Llama(model_path=model_path(name), vocab_only=True,
                                                verbose=False)
    return _reference_cache[key]
