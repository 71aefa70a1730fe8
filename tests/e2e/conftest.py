"""Fixtures shared by the end-to-end tests: the glint binary, the installed
models, and the reference peer (llama.cpp through llama-cpp-python)."""
import asyncio
import json
import os
import subprocess
import urllib.error
import urllib.request

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


def new_key(path, name, *options):
    """A new API key from `glint keys new`, added to the keys file at path."""
    import re

    out = run_glint("keys", "new", "--name", name, "--file", path, *options).stdout
    keys = re.findall(r"\bglint-[A-Za-z0-9_-]{20,}", out)
    assert len(keys) == 1, out
    return keys[0]


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


class GlintServer:
    """A `glint serve` process on a free port, for the tests that talk to it."""

    def __init__(self, *args, model="fast", threads=2, binary=None):
        import re
        import threading

        # model=None: glint's default, both tiers (glint-fast and glint-smart).
        model_args = ["--model", model] if model else []
        self.args = ["serve", *model_args, "--port", "0", "--threads", str(threads), *args]
        self.proc = subprocess.Popen([binary or GLINT_BIN, *self.args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"serving on http://[\d.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.wait(timeout=10)
            raise AssertionError("glint serve did not start:\n" + "".join(self.log))
        # Keep draining stderr so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=lambda: [self.log.append(l) for l in self.proc.stderr],
                                       daemon=True)
        self._drain.start()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1/responses"

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def fast_server(glint_bin):
    """One glint server on the fast model, shared by a test module."""
    if not os.path.exists(model_path("fast")):
        pytest.fail("model fast missing; run scripts/fetch-models fast")
    server = GlintServer()
    yield server
    code = server.stop()
    assert code == 0, "glint serve exited with %s:\n%s" % (code, "".join(server.log))


def call(server, path, body=None):
    """(status, headers, body) of an HTTP request to a GlintServer: the body
    as JSON when it is JSON, else as text; errors are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            status, headers, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode(errors="replace")


async def ws_turn(ws, **fields):
    """Sends a response.create on a WebSocket and returns the response of its
    terminal event, or the error event."""
    await ws.send(json.dumps({"type": "response.create", **fields}))
    while True:
        ev = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if ev["type"] in ("response.completed", "response.incomplete"):
            return ev["response"]
        if ev["type"] in ("error", "response.failed"):
            return ev
