"""Requests from other sites' pages are refused (a browser does not hold
back WebSockets or simple POSTs to localhost), and clients cannot mint
metric labels."""
import asyncio
import json
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")


def post(server, headers):
    req = urllib.request.Request(
        server.base_url + "/v1/chat/completions",
        data=json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}).encode(),
        headers={"content-type": "text/plain", **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_page_from_another_site_is_refused(fast_server):
    status, body = post(fast_server, {"origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == "cross_origin", body
    status, body = post(fast_server, {"origin": "null"})
    assert status == 403


def test_the_same_origin_and_non_browser_clients_are_served(fast_server):
    status, _ = post(fast_server, {"origin": f"http://127.0.0.1:{fast_server.port}"})
    assert status == 200
    status, _ = post(fast_server, {"origin": "http://LOCALHOST:9", "host": "localhost:8080"})
    assert status == 200
    status, _ = post(fast_server, {})
    assert status == 200


def test_a_cross_site_websocket_is_refused(fast_server):
    async def connect(origin):
        try:
            async with websockets.connect(fast_server.ws_url, origin=origin):
                return "open"
        except Exception as e:  # the handshake is refused
            return str(e)

    assert "403" in asyncio.run(connect("https://evil.example"))
    assert asyncio.run(connect(f"http://127.0.0.1:{fast_server.port}")) == "open"


def test_unknown_paths_do_not_become_metric_labels(fast_server):
    for i in range(3):
        try:
            urllib.request.urlopen(fast_server.base_url + f"/no-such-page-{i}", timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 404
    with urllib.request.urlopen(fast_server.base_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    assert "no-such-page" not in text
    assert 'glint_requests_total{endpoint="other",status="404"}' in text
