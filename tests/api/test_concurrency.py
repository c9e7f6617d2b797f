"""Load: 32 concurrent requests all succeed; batch invariance -- a request's output, down to its
logprobs as exact floats, is the same alone and inside a mixed batch (other prompts decoding,
others prefilling and finishing around it), and the same again when its prompt comes from the
prefix cache."""
import asyncio

import httpx
import pytest

from conftest import REQUEST_TIMEOUT_S, running_server
from helpers import Hold

PROMPTS = [
    "Write a haiku about autumn.", "List three colors.", "What is 7 times 8?", "Name a famous painter.",
    "Describe the ocean in one sentence.", "Give me a synonym for happy.", "What is the boiling point of water?",
    "Translate 'good morning' to French.", "Who wrote Hamlet?", "Say something kind.",
    "What do bees make?", "Name a planet.", "Count from one to five.", "What is the opposite of cold?",
    "Suggest a name for a cat.", "What is the largest mammal?", "Explain gravity to a child.",
    "Name a programming language.", "What is the capital of Japan?", "Tell me a fun fact.",
    "What color is the sky at night?", "Give an example of a fruit.", "How many legs does a spider have?",
    "What is the square root of 81?", "Name a musical instrument.", "What season comes after winter?",
    "Write one word that rhymes with tree.", "What is H2O?", "Name a bird that cannot fly.",
    "Why do leaves fall?", "What is a verb?", "Describe a sunset briefly.",
]
# The requests whose output is compared: one greedy, one sampled with a seed. Both report the
# logprob of every token and of its five best alternatives.
TARGETS = {
    "greedy": {"messages": [{"role": "user", "content": "Tell me a short story about a brave little robot."}],
               "temperature": 0},
    "seeded": {"messages": [{"role": "user", "content": "Invent a name for a new kind of fruit."}],
               "temperature": 0.8, "seed": 1234},
}
TARGET_TOKENS = 32
N_HELD = 16   # sequences decoding throughout the crowded run
N_CHURN = 14  # short requests arriving with the targets: prefilling and finishing around them


def target_body(name):
    return {"model": "smollm2-test", "max_tokens": TARGET_TOKENS, "ignore_eos": True, "logprobs": True,
            "top_logprobs": 5, **TARGETS[name]}


def post(server, body):
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=REQUEST_TIMEOUT_S)
    assert r.status_code == 200, r.text
    return r.json()


def output(response):
    """What must not change: the text, and every token's logprob and top alternatives, as
    parsed from the JSON (Python floats: exact, no tolerance)."""
    c = response["choices"][0]
    assert response["usage"]["completion_tokens"] == TARGET_TOKENS and c["finish_reason"] == "length"
    return c["message"]["content"], c["logprobs"]["content"]


def test_32_concurrent_requests_all_succeed(server, async_client_factory, model_name):
    async def main():
        client = async_client_factory()
        async def one(i, prompt):
            kw = dict(model=model_name, messages=[{"role": "user", "content": prompt}], max_tokens=8,
                      temperature=0.8, seed=i)
            if i % 2:
                chunks = [c async for c in await client.chat.completions.create(stream=True, **kw)]
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[-1].choices[0].finish_reason
            r = await client.chat.completions.create(**kw)
            return r.choices[0].message.content, r.choices[0].finish_reason
        try:
            return await asyncio.gather(*(one(i, p) for i, p in enumerate(PROMPTS)))
        finally:
            await client.close()

    before = server.wait_idle()
    results = asyncio.run(main())
    after = server.wait_idle()
    assert len(results) == 32
    for text, finish in results:
        assert finish in ("stop", "length")
        assert text is not None
    # Counters, not samples: one at a time, every step would give at most one token.
    steps = after["steps"] - before["steps"]
    tokens = after["generated_tokens"] - before["generated_tokens"]
    assert tokens > steps, f"{tokens} tokens in {steps} steps: the requests never ran together"


@pytest.fixture(scope="module")
def uncached_server():
    # No prefix cache: every run of a target computes its whole prompt, so the crowded run really
    # prefills it in a batch with other sequences.
    with running_server("--no-prefix-cache") as s:
        yield s


@pytest.fixture(scope="module")
def alone(uncached_server):
    """Each target run on its own: nothing else generated a token meanwhile."""
    out = {}
    for name in TARGETS:
        before = uncached_server.wait_idle()
        r = post(uncached_server, target_body(name))
        after = uncached_server.wait_idle()
        assert after["generated_tokens"] - before["generated_tokens"] == TARGET_TOKENS, "not alone"
        out[name] = output(r)
    return out


def test_batch_invariance_of_logprobs(uncached_server, alone):
    server = uncached_server
    server.wait_idle()

    async def crowd():
        async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT_S,
                                     limits=httpx.Limits(max_connections=64)) as c:
            async def send(body):
                r = await c.post("/v1/chat/completions", json=body)
                assert r.status_code == 200, r.text
                return r.json()
            churn = [{"model": "smollm2-test", "messages": [{"role": "user", "content": p}],
                      "max_tokens": 3 + 5 * (i % 6), "ignore_eos": True, "temperature": 0 if i % 3 else 0.9,
                      "seed": i} for i, p in enumerate(PROMPTS[N_HELD:N_HELD + N_CHURN])]
            # Targets in the middle of the churn: sequences arrive before and after them.
            bodies = churn[:N_CHURN // 2] + [target_body(n) for n in TARGETS] + churn[N_CHURN // 2:]
            results = await asyncio.gather(*(send(b) for b in bodies))
            return {n: results[N_CHURN // 2 + i] for i, n in enumerate(TARGETS)}

    # The held streams run from before the targets arrive until after they (and the churn) have
    # finished, without preemption: every step of the targets' prefill and decode was a batch
    # with at least N_HELD other sequences in it.
    with Hold(server, PROMPTS[:N_HELD]) as held:
        crowded = asyncio.run(crowd())
        # (A finished sequence may show in the stats a moment after its response arrived.)
        held.assert_still_running(server.wait_for(lambda s: s["running"] <= N_HELD, what="the crowd to leave"))
    server.wait_idle()

    for name in TARGETS:
        text, logprobs = output(crowded[name])
        assert text == alone[name][0], f"{name}: the text changed in a batch"
        for i, (a, b) in enumerate(zip(logprobs, alone[name][1])):
            assert a == b, f"{name}: token {i} differs alone and in a batch:\n  alone {b}\n  batch {a}"
        assert logprobs == alone[name][1]


def test_prefix_cache_hit_gives_the_same_logprobs(server, alone):
    """On the prefix-caching server: the second run of a target finds its prompt in the cache
    and computes only the rest; text and logprobs are those of the uncached run."""
    for name in TARGETS:
        server.wait_idle()
        first = post(server, target_body(name))
        second = post(server, target_body(name))
        assert second["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, "no prefix cache hit"
        assert output(first) == alone[name], f"{name}: differs from the uncached server's run"
        assert output(second) == alone[name], f"{name}: differs when the prompt comes from the cache"
