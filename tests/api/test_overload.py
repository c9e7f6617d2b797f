"""More requests than the engine runs at once: the rest wait in the queue and all succeed."""
import asyncio

import openai
import pytest

from conftest import ALIAS, REQUEST_TIMEOUT_S, running_server
from helpers import Hold, MaxRunning

MAX_RUNNING = 2
N_QUEUED = 6


@pytest.fixture(scope="module")
def small_server():
    with running_server("--max-running", str(MAX_RUNNING)) as s:
        yield s


def test_requests_beyond_max_running_wait_and_succeed(small_server):
    small_server.wait_idle()

    async def main(held):
        client = openai.AsyncOpenAI(base_url=f"{small_server.url}/v1", api_key="unused", max_retries=0,
                                    timeout=REQUEST_TIMEOUT_S)
        async def one(i):
            r = await client.completions.create(model=ALIAS, prompt=f"Item {i}:", max_tokens=6, temperature=0,
                                                extra_body={"ignore_eos": True})
            return r.usage.completion_tokens
        async def release():
            # Every slot is held, so all the new requests must be queued...
            s = await asyncio.to_thread(small_server.wait_for,
                                        lambda s: s["waiting"] == N_QUEUED and s["running"] == MAX_RUNNING,
                                        what=f"{N_QUEUED} requests waiting")
            # ...and stay queued while the engine goes on (the count can include requests the
            # scheduler has not looked at yet)...
            later = await asyncio.to_thread(small_server.wait_for, lambda t: t["steps"] >= s["steps"] + 3,
                                            what="the engine to take more steps")
            assert later["waiting"] == N_QUEUED and later["running"] == MAX_RUNNING, later
            # ...until the slots free up.
            await asyncio.to_thread(held.close)
        try:
            results = await asyncio.gather(*(one(i) for i in range(N_QUEUED)), release())
            return results[:N_QUEUED]
        finally:
            await client.close()

    slots = ["Tell me about the sea.", "Count to a thousand."]
    with MaxRunning(small_server) as seen, Hold(small_server, slots) as held:
        done = asyncio.run(main(held))
    assert done == [6] * N_QUEUED
    assert seen.max <= MAX_RUNNING
    small_server.wait_idle()
