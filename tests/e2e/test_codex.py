"""The real OpenAI Codex CLI (npm @openai/codex, pinned in scripts/install-codex) against
`glint serve --model fast`: `codex exec` over HTTP/SSE and over WebSocket, then a second
turn with `codex exec resume --last` in the same CODEX_HOME.

A recording relay sits between Codex and glint, so each run is checked against what the
server really answered: the text of the server's last completed response must be what
Codex prints, the transport must be the one configured, and the second turn must carry
the first one's history.

Over WebSocket Codex first sends a warm-up (response.create with generate: false and only
its base prompt) and waits for it at most 15 s (its websocket_connect_timeout_ms); glint
answers it at once and prefills in the background, and the turn that follows must continue
from it with previous_response_id (and queue behind that prefill on the server).

Environment: GLINT_CODEX_TIMEOUT (seconds per codex run, default 360: the fast model on
2 busy cores prefills Codex's ~6,400-token prompt in 30 s to 3 minutes)."""
import asyncio
import json
import os
import subprocess
import threading
import time
import zlib

import pytest

from conftest import ROOT, GlintServer, model_path

CODEX_TIMEOUT = int(os.environ.get("GLINT_CODEX_TIMEOUT", "360"))
FIRST_PROMPT = "Say hello in one short sentence."
SECOND_PROMPT = "Now say goodbye in one short sentence."


@pytest.fixture(scope="module")
def codex_bin():
    """Installs the pinned Codex CLI (idempotent) and returns the path of its launcher."""
    proc = subprocess.run([os.path.join(ROOT, "scripts", "install-codex")], capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"scripts/install-codex exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    path = proc.stdout.strip().splitlines()[-1]
    assert os.access(path, os.X_OK), f"install-codex printed {path!r}, which is not executable"
    return path


# ---------------------------------------------------------------------------------------------
# A byte-for-byte TCP relay that records both directions of every connection.

class RecordingRelay:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.connections = []  # dicts: {"c2s": bytearray, "s2c": bytearray, "t0": float}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise AssertionError("recording relay did not start")
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _run(self, ready):
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _handle(self, reader, writer):
        conn = {"c2s": bytearray(), "s2c": bytearray(), "t0": time.monotonic()}
        with self._lock:
            self.connections.append(conn)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return

        async def pump(src, dst, buf):
            try:
                while True:
                    chunk = await src.read(65536)
                    if not chunk:
                        break
                    with self._lock:
                        buf.extend(chunk)  # recorded before the peer can see it
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    if dst.can_write_eof():
                        dst.write_eof()
                except (ConnectionError, OSError, RuntimeError):
                    pass

        await asyncio.gather(pump(reader, up_writer, conn["c2s"]),
                             pump(up_reader, writer, conn["s2c"]))
        for w in (writer, up_writer):
            w.close()

    def take(self):
        """The connections recorded since the last call, as (c2s, s2c) byte strings."""
        time.sleep(0.5)  # lets the relay see the client's last bytes and EOF
        with self._lock:
            taken = [(bytes(c["c2s"]), bytes(c["s2c"])) for c in self.connections]
            self.connections = []
        return taken

    def stop(self):
        def shutdown():
            self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(shutdown)
        self._thread.join(10)


# ---------------------------------------------------------------------------------------------
# Parsing what was recorded: HTTP/1.1 exchanges with SSE bodies, or a WebSocket session.

def _split_head(data, pos):
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        return None, {}, len(data)
    lines = data[pos:end].decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers, end + 4


def _read_body(data, pos, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while pos < len(data):
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(data[pos:eol].split(b";")[0] or b"0", 16)
            pos = eol + 2
            if size == 0:
                end = data.find(b"\r\n\r\n", pos - 2)
                return bytes(body), (end + 4 if end >= 0 else len(data))
            body += data[pos:pos + size]
            pos += size + 2
        return bytes(body), len(data)
    if "content-length" in headers:
        n = int(headers["content-length"])
        return data[pos:pos + n], pos + n
    return data[pos:], len(data)


def _sse_events(body):
    events = []
    for block in body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(l[5:].lstrip() for l in block.split("\n") if l.startswith("data:"))
        if data and data != "[DONE]":
            events.append(json.loads(data))
    return events


def _ws_messages(data, pos, deflate):
    """Text messages of one direction of a WebSocket, permessage-deflate undone."""
    inflater = zlib.decompressobj(-15) if deflate else None
    messages, parts, compressed = [], [], False
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        pos += 2
        opcode, fin, rsv1 = b0 & 0x0F, b0 >> 7, (b0 >> 6) & 1
        n = b1 & 0x7F
        if n == 126:
            n, pos = int.from_bytes(data[pos:pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(data[pos:pos + 8], "big"), pos + 8
        mask = None
        if b1 >> 7:
            mask, pos = data[pos:pos + 4], pos + 4
        payload = data[pos:pos + n]
        pos += n
        if len(payload) < n:
            break  # truncated by the connection's end
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode >= 8:
            continue  # close / ping / pong
        if opcode != 0:
            parts, compressed = [], bool(rsv1)
        parts.append(payload)
        if not fin:
            continue
        message = b"".join(parts)
        if compressed:
            message = inflater.decompress(message + b"\x00\x00\xff\xff")
        messages.append(json.loads(message))
    return messages


def parse_connection(c2s, s2c):
    """One recorded connection as {"kind": "http"|"websocket", "exchanges": [...]}: for HTTP,
    each exchange is (request line, request JSON, status, SSE events); for a WebSocket, the
    client's messages and the server's events."""
    line, headers, pos = _split_head(c2s, 0)
    if line is None:
        return {"kind": "empty", "exchanges": []}
    if headers.get("upgrade", "").lower() == "websocket":
        status, resp_headers, spos = _split_head(s2c, 0)
        assert status and " 101 " in status + " ", f"WebSocket upgrade answered {status!r}"
        ext = resp_headers.get("sec-websocket-extensions", "")
        deflate = "permessage-deflate" in ext
        assert "no_context_takeover" not in ext, "context takeover resets are not decoded here"
        return {"kind": "websocket", "request": line, "headers": headers,
                "sent": _ws_messages(c2s, pos, deflate),
                "received": _ws_messages(s2c, spos, deflate)}
    exchanges, spos = [], 0
    while line is not None:
        body, pos = _read_body(c2s, pos, headers)
        status, resp_headers, spos = _split_head(s2c, spos)
        if status is None:
            exchanges.append((line, body, None, []))
            break
        resp_body, spos = _read_body(s2c, spos, resp_headers)
        if "text/event-stream" in resp_headers.get("content-type", ""):
            events = _sse_events(resp_body)
        else:
            events = [json.loads(resp_body)] if resp_body.strip() else []
        exchanges.append((line, json.loads(body) if body else None, status, events))
        line, headers, pos = _split_head(c2s, pos)
    return {"kind": "http", "exchanges": exchanges}


def turns_of(recorded):
    """Every (request, events) pair the server answered: an HTTP POST with its SSE events, or
    one WebSocket response.create with the events up to its end."""
    turns = []
    for c2s, s2c in recorded:
        conn = parse_connection(c2s, s2c)
        if conn["kind"] == "http":
            for line, request, status, events in conn["exchanges"]:
                if not line.startswith("POST ") or "/responses" not in line:
                    continue  # not a model request
                turns.append({"transport": "http", "line": line, "status": status,
                              "request": request, "events": events})
        elif conn["kind"] == "websocket":
            received = list(conn["received"])
            for request in conn["sent"]:
                events = []
                while received:
                    ev = received.pop(0)
                    events.append(ev)
                    if ev.get("type") in ("response.completed", "response.failed",
                                          "response.incomplete", "error"):
                        break
                turns.append({"transport": "websocket", "line": conn["request"], "status": None,
                              "request": request, "events": events})
    return turns


def completed_response(turn):
    for ev in turn["events"]:
        if ev.get("type") == "response.completed":
            return ev["response"]
    return None


def message_text(response):
    return "".join(part.get("text", "") for item in response.get("output", [])
                   if item.get("type") == "message"
                   for part in item.get("content", []) if part.get("type") == "output_text")


def describe(turns):
    out = []
    for t in turns:
        req = t["request"] or {}
        types = [ev.get("type") for ev in t["events"]]
        errors = [ev for ev in t["events"] if ev.get("type") in ("error", "response.failed")]
        out.append(f"{t['transport']} {t['line']} status={t['status']} "
                   f"generate={req.get('generate')} prev={req.get('previous_response_id')} "
                   f"input_items={len(req.get('input') or [])} events={types[:3]}...{types[-2:]} "
                   f"errors={json.dumps(errors)[:600]}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------

def write_config(home, base_url, websockets):
    lines = [
        'model_provider = "glint"',
        'model = "glint-fast"',
        "",
        "[model_providers.glint]",
        'name = "glint"',
        f'base_url = "{base_url}/v1"',
        'wire_api = "responses"',
        "requires_openai_auth = false",
    ]
    if websockets:
        lines.append("supports_websockets = true")
    lines += ["", "[features]", "plugins = false", ""]
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write("\n".join(lines))


def run_codex(codex_bin, home, workdir, args):
    env = dict(os.environ)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "RUST_LOG"):
        env.pop(key, None)
    env["CODEX_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    start = time.monotonic()
    try:
        proc = subprocess.run([codex_bin, *args], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=CODEX_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"codex {' '.join(args[:2])} did not finish in {CODEX_TIMEOUT} s\n"
                    f"stdout: {e.stdout}\nstderr: {e.stderr}")
    return proc, time.monotonic() - start


def check_turn(proc, elapsed, turns, transport, label):
    """The run exited 0 and printed exactly what the server generated, over `transport`."""
    where = (f"\n--- codex stdout:\n{proc.stdout}\n--- codex stderr:\n{proc.stderr}"
             f"\n--- requests the server answered:\n{describe(turns)}")
    assert proc.returncode == 0, f"{label}: codex exited {proc.returncode}{where}"
    assert turns, f"{label}: codex sent no request{where}"
    used = {t["transport"] for t in turns}
    assert used == {transport}, f"{label}: expected only {transport}, saw {used}{where}"
    for t in turns:
        assert t["status"] in (None, "HTTP/1.1 200 OK"), f"{label}: {t['status']}{where}"
        bad = [ev for ev in t["events"]
               if ev.get("type") in ("error", "response.failed", "response.incomplete")]
        assert not bad, f"{label}: the server answered with {bad}{where}"
        assert completed_response(t) is not None, \
            f"{label}: a stream ended without response.completed{where}"
    answered = [t for t in turns if (t["request"] or {}).get("generate", True) is not False]
    assert answered, f"{label}: no generating request{where}"
    last = completed_response(answered[-1])
    answer = message_text(last).strip()
    assert answer, f"{label}: the server's last response has no text: {last.get('output')}{where}"
    # Codex prints the agent's final message on stdout, and nothing else there.
    assert answer in proc.stdout, f"{label}: codex did not print the server's answer " \
                                  f"{answer!r}{where}"
    assert proc.stdout.strip() == answer, f"{label}: unexpected extra output{where}"
    assert "tokens used" in proc.stderr, f"{label}: no usage line{where}"
    usage = last.get("usage") or {}
    print(f"{label}: {elapsed:.1f} s, {len(turns)} request(s) over {transport}, "
          f"input_tokens={usage.get('input_tokens')} "
          f"cached={usage.get('input_tokens_details', {}).get('cached_tokens')} "
          f"output_tokens={usage.get('output_tokens')}; answer {answer!r}")
    return answered[-1], answer


def warmup_report(turns):
    """What became of Codex's WebSocket warm-up (response.create with generate: false)."""
    warm = [t for t in turns if (t["request"] or {}).get("generate") is False]
    if not warm:
        return "no warm-up sent"
    ids = {completed_response(t)["id"] for t in warm if completed_response(t)}
    chained = [t for t in turns if (t["request"] or {}).get("previous_response_id") in ids]
    if not ids:
        return "warm-up never completed (Codex gave up on it and sent the full input)"
    return f"warm-up completed; {len(chained)} request(s) continued from it"


def check_warm_start(turns, request, label):
    """Over WebSocket: the warm-up was answered, and the turn continued from it."""
    warm = [t for t in turns if (t["request"] or {}).get("generate") is False]
    assert warm and completed_response(warm[0]) is not None, \
        f"{label}: the warm-up was not answered in time:\n{describe(turns)}"
    assert request.get("previous_response_id") == completed_response(warm[0])["id"], \
        f"{label}: the turn did not continue from the warm-up:\n{describe(turns)}"


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_codex_exec_then_resume(codex_bin, glint_bin, tmp_path, transport):
    if not os.path.exists(model_path("fast")):
        pytest.fail("model fast missing; run scripts/fetch-models fast")
    server = GlintServer()
    relay = RecordingRelay(server.port)
    try:
        home = tmp_path / "codex-home"
        work = tmp_path / "work"
        work.mkdir()
        write_config(home, relay.base_url, websockets=(transport == "websocket"))

        proc, elapsed = run_codex(codex_bin, home, work, [
            "exec", "--skip-git-repo-check", "-s", "read-only", FIRST_PROMPT])
        turns = turns_of(relay.take())
        first, first_answer = check_turn(proc, elapsed, turns, transport, f"{transport} exec")
        assert FIRST_PROMPT in json.dumps(first["request"]["input"])
        if transport == "websocket":
            print(f"{transport} exec: {warmup_report(turns)}")
            check_warm_start(turns, first["request"], "exec")

        proc, elapsed = run_codex(codex_bin, home, work, [
            "exec", "resume", "--last", "--skip-git-repo-check", SECOND_PROMPT])
        turns = turns_of(relay.take())
        second, _ = check_turn(proc, elapsed, turns, transport, f"{transport} resume")
        # The second turn continues the first: this process's requests carry the first
        # exchange (in full over HTTP; over WebSocket split between the warm-up and the turn).
        request = second["request"]
        assert SECOND_PROMPT in json.dumps(request["input"])
        history = json.dumps([t["request"].get("input") for t in turns])
        assert FIRST_PROMPT in history and json.dumps(first_answer)[1:-1] in history, \
            f"resume sent no history of the first turn: {history[:2000]}"
        if transport == "websocket":
            print(f"{transport} resume: {warmup_report(turns)}")
            check_warm_start(turns, request, "resume")
        assert server.alive(), "glint serve died:\n" + "".join(server.log)
    finally:
        relay.stop()
        code = server.stop()
    assert code == 0, "glint serve exited with %s:\n%s" % (code, "".join(server.log))
