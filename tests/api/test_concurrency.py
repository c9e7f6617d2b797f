"""Load: 32 concurrent requests all succeed; batch invariance -- a greedy request's output is
byte-identical alone and among 31 concurrent requests with other prompts."""
import asyncio

from helpers import MaxRunning

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
TARGET = [{"role": "user", "content": "Tell me a short story about a brave little robot."}]


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

    with MaxRunning(server) as seen:
        results = asyncio.run(main())
    assert len(results) == 32
    for text, finish in results:
        assert finish in ("stop", "length")
        assert text is not None
    assert seen.max > 1, "the requests never ran together"
    server.wait_idle()


def test_batch_invariance(server, client, async_client_factory, model_name):
    kw = dict(model=model_name, temperature=0, max_tokens=32, extra_body={"ignore_eos": True})
    server.wait_idle()
    alone = client.chat.completions.create(messages=TARGET, **kw).choices[0].message.content

    async def crowd():
        aclient = async_client_factory()
        async def other(i, prompt):
            # Other prompts, other lengths, some sampled: a mixed batch around the target.
            r = await aclient.chat.completions.create(
                model=model_name, messages=[{"role": "user", "content": prompt}], max_tokens=24 + i % 17,
                temperature=0 if i % 3 else 0.9, seed=i, extra_body={"ignore_eos": True})
            return r.choices[0].message.content
        async def target():
            await asyncio.sleep(0.3)  # join a batch that is already decoding
            r = await aclient.chat.completions.create(messages=TARGET, **kw)
            return r.choices[0].message.content
        try:
            results = await asyncio.gather(target(), *(other(i, p) for i, p in enumerate(PROMPTS[:31])))
            return results[0]
        finally:
            await aclient.close()

    with MaxRunning(server) as seen:
        among = asyncio.run(crowd())
    assert seen.max >= 8, f"at most {seen.max} sequences ran at once: not a real batch"
    assert among.encode() == alone.encode()
    # And once more alone, now with its prompt in the prefix cache.
    again = client.chat.completions.create(messages=TARGET, **kw).choices[0].message.content
    assert again.encode() == alone.encode()
    server.wait_idle()
