"""The API key as a WebSocket subprotocol, for browsers (which cannot set
Authorization on a WebSocket): `Sec-WebSocket-Protocol: glint,
glint-key.<key>` authenticates the upgrade, and the server answers
`glint`, never the key. Driven by the `websockets` library."""
import asyncio
import json
import urllib.request

import pytest

from conftest import GlintServer, new_key

websockets = pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("keys") / "keys.json")
    return path, {"alice": new_key(path, "alice"), "bob": new_key(path, "bob", "--tiers", "fast")}


@pytest.fixture(scope="module")
def server(glint_bin, keys):
    s = GlintServer("--keys", keys[0], "--ctx", "1024", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log)


async def connect(url, subprotocols=None, headers=None):
    kwargs = {}
    if subprotocols is not None:
        kwargs["subprotocols"] = subprotocols
    if headers:
        kwargs["additional_headers"] = headers
    return await websockets.connect(url, **kwargs)


async def refusal(url, **kwargs):
    """The HTTP status a refused upgrade answered with (None: accepted)."""
    try:
        ws = await connect(url, **kwargs)
    except websockets.exceptions.InvalidStatus as e:
        return e.response.status_code, e.response.body.decode()
    await ws.close()
    return None


async def one_turn(ws, model="glint-fast"):
    await ws.send(json.dumps({"type": "response.create", "model": model,
                              "max_output_tokens": 2, "input": "Say hi."}))
    events = []
    while True:
        ev = json.loads(await asyncio.wait_for(ws.recv(), 120))
        events.append(ev)
        if ev["type"] in ("response.completed", "response.incomplete", "response.failed",
                          "error"):
            return events


def test_a_key_offered_as_a_subprotocol_opens_a_session(server, keys):
    key = keys[1]["alice"]

    async def run():
        ws = await connect(server.ws_url, subprotocols=["glint", "glint-key." + key])
        async with ws:
            # The server picks "glint"; the key never comes back.
            assert ws.subprotocol == "glint"
            answered = ws.response.headers.get_all("Sec-WebSocket-Protocol")
            assert answered == ["glint"], answered
            assert key not in str(ws.response.headers)
            return await one_turn(ws)

    events = asyncio.run(run())
    assert events[-1]["type"] in ("response.completed", "response.incomplete"), events[-1]
    assert events[-1]["response"]["usage"]["output_tokens"] >= 1


def test_a_missing_or_wrong_subprotocol_key_is_refused(server, keys):
    key = keys[1]["alice"]
    for offered in (["glint"], ["glint", "glint-key." + key + "x"], ["glint", "glint-key."],
                    ["glint", "glint-key.not-a-key"]):
        status, body = asyncio.run(refusal(server.ws_url, subprotocols=offered))
        assert status == 401, offered
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
        assert key not in body


def test_the_subprotocol_key_keeps_the_keys_tiers(server, keys):
    async def run():
        ws = await connect(server.ws_url, subprotocols=["glint", "glint-key." + keys[1]["bob"]])
        async with ws:
            return await one_turn(ws, model="glint-smart")

    err = asyncio.run(run())[-1]
    assert err["type"] == "error" and err["status"] == 403, err
    assert err["error"]["code"] == "model_not_allowed"


def test_an_authorization_header_comes_first(server, keys):
    # With a header, the header decides; the subprotocol list is not read.
    status = asyncio.run(refusal(
        server.ws_url, subprotocols=["glint", "glint-key." + keys[1]["alice"]],
        headers={"Authorization": "Bearer glint-wrong"}))
    assert status is not None and status[0] == 401
    assert asyncio.run(refusal(server.ws_url, subprotocols=["glint", "glint-key.glint-wrong"],
                               headers={"Authorization": "Bearer " + keys[1]["alice"]})) is None


def test_the_playground_itself_needs_no_key(server):
    with urllib.request.urlopen(server.base_url + "/", timeout=10) as r:
        assert r.status == 200 and b"glint playground" in r.read()


def test_without_keys_glint_still_answers_the_subprotocol(glint_bin):
    s = GlintServer("--ctx", "512")
    try:
        async def run(offered):
            ws = await connect(s.ws_url, subprotocols=offered)
            async with ws:
                return ws.subprotocol

        # A browser that offers "glint" must get it back or it fails the
        # handshake; a client that offers nothing gets nothing.
        assert asyncio.run(run(["glint"])) == "glint"
        assert asyncio.run(run(["glint", "glint-key.ignored"])) == "glint"
        assert asyncio.run(run(None)) is None
    finally:
        assert s.stop() == 0
