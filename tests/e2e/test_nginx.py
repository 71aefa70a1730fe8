"""deploy/nginx/glint.conf in front of two glint replicas, with Debian's nginx:
a conversation keeps reaching the replica that holds its KV cache (HTTP and
WebSocket), and when that replica dies the conversation moves to the other
one, whose first answer is previous_response_not_found; resending the full
input continues it."""
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, GlintServer

websockets = pytest.importorskip("websockets")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX),
                                reason="nginx is not installed (scripts/install-deps installs it)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(glint_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    replicas = [GlintServer("--ctx", "2048"), GlintServer("--ctx", "2048")]
    port = free_port()
    # The committed configuration, with this test's ports.
    conf = open(os.path.join(ROOT, "deploy", "nginx", "glint.conf")).read()
    conf = conf.replace("127.0.0.1:8081", f"127.0.0.1:{replicas[0].port}")
    conf = conf.replace("127.0.0.1:8082", f"127.0.0.1:{replicas[1].port}")
    conf = re.sub(r"listen 8080;", f"listen 127.0.0.1:{port};", conf)
    (tmp / "glint.conf").write_text(conf)
    (tmp / "nginx.conf").write_text(f"""
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{}}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  include {tmp}/glint.conf;
}}
""")
    proc = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                            stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode())
    yield f"http://127.0.0.1:{port}", replicas
    proc.terminate()
    proc.wait(timeout=10)
    for r in replicas:
        r.stop()


def post(base, body, session):
    req = urllib.request.Request(base + "/v1/responses", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json",
                                          "x-glint-session": session})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def served(replica):
    """Responses the replica has answered over HTTP."""
    with urllib.request.urlopen(replica.base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^glint_requests_total\{endpoint="/v1/responses",status="200"\} (\d+)$',
                  text, re.M)
    return int(m.group(1)) if m else 0


def conversation(base, session, turns):
    """Turns with previous_response_id; returns the responses."""
    out, previous = [], None
    for i in range(turns):
        body = {"model": "glint-fast", "max_output_tokens": 8,
                "input": [{"role": "user", "content": f"Step {i}: say a number."}]}
        if previous:
            body["previous_response_id"] = previous
        status, r = post(base, body, session)
        assert status == 200, r
        out.append(r)
        previous = r["id"]
    return out


def test_a_conversation_stays_on_its_replica(cluster):
    base, replicas = cluster
    before = [served(r) for r in replicas]
    responses = conversation(base, "alice", 4)
    after = [served(r) for r in replicas]
    # All four on one replica, and each turn found the last in its cache.
    assert sorted(a - b for a, b in zip(after, before)) == [0, 4]
    cached = [r["usage"]["input_tokens_details"]["cached_tokens"] for r in responses]
    assert all(c > 0 for c in cached[1:]), cached


def test_sessions_spread_over_the_replicas(cluster):
    base, replicas = cluster
    before = [served(r) for r in replicas]
    for i in range(12):
        status, _ = post(base, {"model": "glint-fast", "max_output_tokens": 1, "input": "hi"},
                         f"user-{i}")
        assert status == 200
    after = [served(r) for r in replicas]
    assert all(a > b for a, b in zip(after, before)), (before, after)


def test_websocket_sessions_go_through(cluster):
    base, _ = cluster

    async def run():
        url = base.replace("http://", "ws://") + "/v1/responses"
        headers = {"X-Glint-Session": "carol"}
        try:
            ws = await websockets.connect(url, additional_headers=headers)
        except TypeError:
            ws = await websockets.connect(url, extra_headers=headers)
        results, previous = [], None
        async with ws:
            for text in ("Name a colour.", "Another one."):
                msg = {"type": "response.create", "model": "glint-fast", "max_output_tokens": 6,
                       "input": [{"role": "user", "content": text}]}
                if previous:
                    msg["previous_response_id"] = previous
                await ws.send(json.dumps(msg))
                while True:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if ev["type"] in ("response.completed", "response.incomplete"):
                        results.append(ev["response"])
                        previous = ev["response"]["id"]
                        break
                    assert ev["type"] != "error", ev
        return results

    first, second = asyncio.run(run())
    assert second["usage"]["input_tokens_details"]["cached_tokens"] > 0


def test_a_dead_replica_sends_its_sessions_elsewhere(cluster):
    base, replicas = cluster
    before = [served(r) for r in replicas]
    responses = conversation(base, "dave", 2)
    after = [served(r) for r in replicas]
    holder = 0 if after[0] > before[0] else 1
    replicas[holder].proc.kill()
    replicas[holder].proc.wait()
    body = {"model": "glint-fast", "max_output_tokens": 8, "previous_response_id":
            responses[-1]["id"], "input": [{"role": "user", "content": "And one more."}]}
    status, r = post(base, body, "dave")
    # The other replica never saw this conversation: the client is told once...
    assert status == 400 and r["error"]["code"] == "previous_response_not_found", r
    # ...and continues with the full input.
    full = []
    for resp in responses:
        full.append({"role": "assistant", "content": resp["output"][0]["content"][0]["text"]})
    body = {"model": "glint-fast", "max_output_tokens": 8,
            "input": [{"role": "user", "content": "Step 0: say a number."}, full[0],
                      {"role": "user", "content": "Step 1: say a number."}, full[1],
                      {"role": "user", "content": "And one more."}]}
    status, r = post(base, body, "dave")
    assert status == 200, r
