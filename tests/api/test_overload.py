"""More requests than the engine runs at once: the rest wait in the queue and all succeed."""
import asyncio

import openai
import pytest

from conftest import ALIAS, REQUEST_TIMEOUT_S, running_server
from helpers import MaxRunning


@pytest.fixture(scope="module")
def small_server():
    with running_server("--max-running", "2") as s:
        yield s


def test_requests_beyond_max_running_wait_and_succeed(small_server):
    waiting_seen = []

    async def main():
        client = openai.AsyncOpenAI(base_url=f"{small_server.url}/v1", api_key="unused", max_retries=0,
                                    timeout=REQUEST_TIMEOUT_S)
        async def one(i):
            r = await client.completions.create(model=ALIAS, prompt=f"Item {i}:", max_tokens=6, temperature=0,
                                                extra_body={"ignore_eos": True})
            return r.usage.completion_tokens
        async def watch():
            for _ in range(200):
                s = await asyncio.to_thread(small_server.stats)
                waiting_seen.append(s["waiting"])
                assert s["running"] <= 2
                if s["waiting"] > 0:
                    return
                await asyncio.sleep(0.02)
        try:
            results = await asyncio.gather(*(one(i) for i in range(8)), watch())
            return results[:8]
        finally:
            await client.close()

    with MaxRunning(small_server) as seen:
        done = asyncio.run(main())
    assert done == [6] * 8
    assert max(waiting_seen) > 0, "no request ever waited: the test did not overload the engine"
    assert seen.max <= 2
    small_server.wait_idle()
