"""WebSocket session lifetime: a session parked under its prompt_cache_key
comes back to a new connection with its KV cache and its responses; a stored
response continues on another connection; a silent connection is closed
after --idle-timeout."""
import asyncio
import time

import pytest

from conftest import GlintServer, ws_turn

websockets = pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def server(glint_bin):
    s = GlintServer("--idle-timeout", "2", "--session-ttl", "60")
    yield s
    assert s.stop() == 0, "".join(s.log)


async def turn(ws, **fields):
    return await ws_turn(ws, model="glint-fast", **fields)

def test_parked_session_comes_back_under_its_key(server):
    async def run():
        async with websockets.connect(server.ws_url) as ws:
            first = await turn(ws, prompt_cache_key="thread-42", store=False,
                               instructions="You are terse.", max_output_tokens=12,
                               input=[{"role": "user", "content": "Name a prime number."}])
        # The connection is gone; the session waits under its key.
        async with websockets.connect(server.ws_url) as ws:
            second = await turn(ws, prompt_cache_key="thread-42", store=False,
                                previous_response_id=first["id"], max_output_tokens=8,
                                input=[{"role": "user", "content": "Another one."}])
        # Without the key, a store: false response is not found elsewhere.
        async with websockets.connect(server.ws_url) as ws:
            third = await turn(ws, previous_response_id=first["id"],
                               input=[{"role": "user", "content": "x"}])
        return first, second, third

    first, second, third = asyncio.run(run())
    assert second.get("status") in ("completed", "incomplete"), second
    # Everything before the new message was in the adopted cache.
    assert second["usage"]["input_tokens_details"]["cached_tokens"] >= \
        first["usage"]["input_tokens"] + first["usage"]["output_tokens"] - 1
    assert third["type"] == "error" and third["error"]["code"] == "previous_response_not_found"


def test_stored_response_continues_on_another_connection(server):
    async def run():
        async with websockets.connect(server.ws_url) as ws:
            first = await turn(ws, store=True, max_output_tokens=8,
                               input=[{"role": "user", "content": "Say a colour."}])
        async with websockets.connect(server.ws_url) as ws:
            return first, await turn(ws, previous_response_id=first["id"], max_output_tokens=8,
                                     input=[{"role": "user", "content": "Another."}])

    first, second = asyncio.run(run())
    assert second.get("status") in ("completed", "incomplete"), second
    assert second["previous_response_id"] == first["id"]


def test_silent_connection_is_closed_after_the_idle_timeout(server):
    async def run():
        async with websockets.connect(server.ws_url, ping_interval=None) as ws:
            start = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 30)
            return time.monotonic() - start

    waited = asyncio.run(run())
    assert 1.5 <= waited < 20, waited
