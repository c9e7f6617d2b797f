"""/v1/chat/completions through the official openai client and raw HTTP: bodies, usage, SSE
streams (role chunk, deltas, finish chunk, include_usage, [DONE]), n, stop, seed, logprobs."""
import re

import openai
import pytest

from helpers import chat_body, parse_sse

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
# Many likely answers, so that two samples differ (MESSAGES has one answer most samples agree on).
OPEN_ENDED = [{"role": "user", "content": "Write a random sequence of words."}]


def greedy(client, model_name, messages=MESSAGES, **kw):
    return client.chat.completions.create(model=model_name, messages=messages, temperature=0, **kw)


def test_non_streaming_shape_and_usage(client, model_name):
    r = greedy(client, model_name, max_tokens=12)
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{24}", r.id)
    assert r.object == "chat.completion"
    assert r.model == model_name
    assert r.created > 1_600_000_000
    assert len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant"
    assert c.finish_reason in ("stop", "length")
    assert c.message.content
    assert c.logprobs is None
    u = r.usage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert 20 < u.prompt_tokens < 60  # system prompt of the template + the question
    assert 1 <= u.completion_tokens <= 12
    if c.finish_reason == "length":
        assert u.completion_tokens == 12


def test_greedy_is_deterministic_and_usage_is_stable(client, model_name):
    a = greedy(client, model_name, max_tokens=16)
    b = greedy(client, model_name, max_tokens=16)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage.prompt_tokens == b.usage.prompt_tokens
    assert a.usage.completion_tokens == b.usage.completion_tokens


def test_max_tokens_and_ignore_eos_give_exact_usage(client, model_name):
    r = greedy(client, model_name, max_tokens=9, extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 9
    r2 = greedy(client, model_name, max_completion_tokens=5, max_tokens=9, extra_body={"ignore_eos": True})
    assert r2.usage.completion_tokens == 5  # max_completion_tokens wins
    assert r2.usage.prompt_tokens == r.usage.prompt_tokens


def test_stream_chunks_follow_openai(client, model_name):
    stream = greedy(client, model_name, max_tokens=12, stream=True)
    chunks = list(stream)
    assert len(chunks) >= 3
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == model_name for c in chunks)
    assert len({c.created for c in chunks}) == 1
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert first.choices[0].finish_reason is None
    assert last.choices[0].finish_reason in ("stop", "length")
    assert last.choices[0].delta.content is None and last.choices[0].delta.role is None
    for c in chunks[1:-1]:
        assert c.choices[0].finish_reason is None and c.choices[0].delta.content
    assert all(c.usage is None for c in chunks)
    # The stream carries the same text as the non-streaming answer.
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == greedy(client, model_name, max_tokens=12).choices[0].message.content


def test_stream_include_usage(client, model_name):
    body = greedy(client, model_name, max_tokens=10, extra_body={"ignore_eos": True})
    chunks = list(greedy(client, model_name, max_tokens=10, stream=True, extra_body={"ignore_eos": True},
                         stream_options={"include_usage": True}))
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == 10
    assert usage_chunk.usage.prompt_tokens == body.usage.prompt_tokens
    assert usage_chunk.usage.total_tokens == body.usage.total_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"


def test_raw_sse_framing(http):
    with http.stream("POST", "/v1/chat/completions",
                     json=chat_body("Hello", max_tokens=6, temperature=0, stream=True,
                                    stream_options={"include_usage": True})) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        raw = r.read().decode()
    events = parse_sse(raw)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("usage" in e for e in events) and all(e["usage"] is None for e in events[:-1])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] >= 1
    final = events[-2]["choices"][0]
    assert final["delta"] == {} and final["finish_reason"] in ("stop", "length")
    # logprobs key present (null) on every choice, as OpenAI sends it.
    assert all(ch["logprobs"] is None for e in events for ch in e["choices"])


def test_n_choices(client, model_name):
    def sample(n, seed):
        return client.chat.completions.create(model=model_name, messages=OPEN_ENDED, n=n, max_tokens=8,
                                              temperature=1.0, seed=seed, extra_body={"ignore_eos": True})
    r = sample(2, 7)
    assert [c.index for c in r.choices] == [0, 1]
    assert r.usage.completion_tokens == 16
    texts = [c.message.content for c in r.choices]
    assert texts[0] != texts[1], "two sampled choices came out the same: they share one random stream"
    # Choice i is drawn with seed + i, reproducibly.
    assert texts == [sample(1, 7).choices[0].message.content, sample(1, 8).choices[0].message.content]
    # The prompt counts once, however many choices.
    assert r.usage.prompt_tokens == sample(1, 7).usage.prompt_tokens


def test_n_choices_streaming(client, model_name):
    chunks = list(client.chat.completions.create(model=model_name, messages=MESSAGES, n=2, max_tokens=6,
                                                 temperature=0, stream=True))
    for i in (0, 1):
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == i]
        assert mine[0].delta.role == "assistant"
        assert mine[-1].finish_reason in ("stop", "length")
        assert sum(1 for m in mine if m.finish_reason) == 1
    # Greedy: both choices are the same text.
    texts = ["".join(c.choices[0].delta.content or "" for c in chunks if c.choices[0].index == i) for i in (0, 1)]
    assert texts[0] == texts[1] and texts[0]


def test_stop_string_cuts_the_output(client, model_name):
    free = greedy(client, model_name, max_tokens=24, extra_body={"ignore_eos": True}).choices[0].message.content
    words = free.split()
    assert len(words) >= 3, free
    stop = words[2]
    cut = free.index(stop)
    r = greedy(client, model_name, max_tokens=24, stop=[stop, "@@never@@"], extra_body={"ignore_eos": True})
    assert r.choices[0].message.content == free[:cut]
    assert r.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in
                       greedy(client, model_name, max_tokens=24, stop=stop, stream=True,
                              extra_body={"ignore_eos": True}) if c.choices)
    assert streamed == free[:cut]


def test_seed_reproducible_with_temperature(client, model_name):
    def sample(seed):
        return client.chat.completions.create(
            model=model_name, messages=OPEN_ENDED, temperature=1.0, seed=seed, max_tokens=12,
            extra_body={"ignore_eos": True}).choices[0].message.content

    a, b = sample(1234), sample(1234)
    assert a == b
    texts = {a, sample(1), sample(2)}
    assert len(texts) == 3, f"different seeds gave the same text: {texts}"


def test_logprobs(client, model_name):
    r = greedy(client, model_name, max_tokens=8, logprobs=True, top_logprobs=3, extra_body={"ignore_eos": True})
    content = r.choices[0].logprobs.content
    assert len(content) == 8 == r.usage.completion_tokens
    assert "".join(t.token for t in content) == r.choices[0].message.content
    for t in content:
        assert t.logprob <= 0
        assert bytes(t.bytes) == t.token.encode()
        assert len(t.top_logprobs) == 3
        lps = [a.logprob for a in t.top_logprobs]
        assert lps == sorted(lps, reverse=True)
        # Greedy without penalties picks the most likely token.
        assert t.top_logprobs[0].token == t.token
        assert t.top_logprobs[0].logprob == t.logprob
    r0 = greedy(client, model_name, max_tokens=3, logprobs=True)
    assert all(t.top_logprobs == [] for t in r0.choices[0].logprobs.content)


def test_logprobs_streaming(client, model_name):
    kw = dict(max_tokens=6, logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True})
    chunks = list(greedy(client, model_name, stream=True, **kw))
    entries = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert len(entries) == 6
    assert all(len(t.top_logprobs) == 2 for t in entries)
    # The same entries, to the bit, as the whole body's.
    body = greedy(client, model_name, **kw).choices[0].logprobs.content
    assert [t.model_dump() for t in entries] == [t.model_dump() for t in body]


def test_content_parts_and_roles(client, model_name):
    parts = [{"type": "text", "text": "What is the capital"}, {"type": "text", "text": "of France?"}]
    history = [{"role": "system", "content": "Answer briefly."},
               {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Hello!"}]

    def ask(messages):
        return client.chat.completions.create(model=model_name, temperature=0, max_tokens=6, messages=messages,
                                              extra_body={"ignore_eos": True})
    r = ask(history + [{"role": "user", "content": parts}])
    # Parts are the text joined by newlines: the same prompt, token for token, as that string.
    plain = ask(history + [{"role": "user", "content": "What is the capital\nof France?"}])
    assert r.usage.prompt_tokens == plain.usage.prompt_tokens
    assert r.choices[0].message.content == plain.choices[0].message.content
    # The earlier turns are in the prompt as well: a longer system message, a longer prompt.
    longer = [{"role": "system", "content": "Answer briefly, in plain words."}] + history[1:]
    assert ask(longer + [{"role": "user", "content": parts}]).usage.prompt_tokens > r.usage.prompt_tokens


def test_model_may_be_omitted(http):
    body = chat_body("Hi", max_tokens=2)
    del body["model"]
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert r.json()["model"] == "smollm2-test"


def test_sampling_parameters_are_accepted(client, model_name):
    r = client.chat.completions.create(
        model=model_name, messages=MESSAGES, max_tokens=6, temperature=0.7, top_p=0.9,
        frequency_penalty=0.5, presence_penalty=0.3, user="someone", seed=3,
        extra_body={"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1, "min_tokens": 2,
                    "some_unknown_field": [1, 2]})
    assert r.usage.completion_tokens >= 2


COPY = [{"role": "user", "content": "Repeat this sentence twice: The harbour bus leaves the central station every "
                                    "twenty minutes and stops nine times."}]


def spec_counters(server):
    import httpx
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    out = {}
    for name in ("nagare:spec_decode_num_draft_tokens_total", "nagare:spec_decode_num_accepted_tokens_total"):
        out[name] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))
    return out


def test_predicted_output_drafts_without_changing_the_answer(client, model_name, server):
    """OpenAI's Predicted Outputs: the prediction drafts tokens, the answer is the one without it,
    and usage and /metrics count the drafts the answer took and refused."""
    before, engine_before = spec_counters(server), server.stats()
    # (Each request asks for another max_tokens: the response cache would answer a repeat.)
    kw = dict(messages=COPY, extra_body={"ignore_eos": True})
    base = greedy(client, model_name, max_tokens=40, **kw)
    text = base.choices[0].message.content
    r = greedy(client, model_name, max_tokens=39, prediction={"type": "content", "content": text}, **kw)
    assert text.startswith(r.choices[0].message.content) and r.usage.completion_tokens == 39
    d = r.usage.completion_tokens_details
    assert d.accepted_prediction_tokens >= r.usage.completion_tokens // 2, d
    # A wrong prediction is refused token by token; the answer stays the same.
    wrong = greedy(client, model_name, max_tokens=38,
                   prediction={"type": "content", "content": [{"type": "text", "text": "Zebra " * 30}]}, **kw)
    assert r.choices[0].message.content.startswith(wrong.choices[0].message.content)
    after, engine_after = spec_counters(server), server.stats()
    drafted = sum(x.usage.completion_tokens_details.accepted_prediction_tokens +
                  x.usage.completion_tokens_details.rejected_prediction_tokens for x in (base, r, wrong))
    assert after["nagare:spec_decode_num_draft_tokens_total"] - before["nagare:spec_decode_num_draft_tokens_total"] == drafted
    assert engine_after["draft_tokens"] - engine_before["draft_tokens"] == drafted
    assert (after["nagare:spec_decode_num_accepted_tokens_total"] - before["nagare:spec_decode_num_accepted_tokens_total"]
            == sum(x.usage.completion_tokens_details.accepted_prediction_tokens for x in (base, r, wrong)))


def test_a_prediction_of_another_type_is_400(client, model_name):
    with pytest.raises(openai.BadRequestError) as e:
        greedy(client, model_name, max_tokens=4, prediction={"type": "image", "content": "x"})
    assert e.value.status_code == 400 and "prediction.type" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        greedy(client, model_name, max_tokens=4, prediction={"type": "content", "content": 5})


def test_a_draft_model_drafts_and_another_vocabulary_is_refused():
    """--model-draft: the F16 SmolLM2 served with its Q4_1 copy drafting (same vocabulary) answers
    as it does alone; a draft model with another vocabulary stops the start, naming both."""
    import subprocess
    from conftest import ROOT, _binary, launched_server
    f16, q4 = ROOT / "models" / "SmolLM2-135M-Instruct.F16.gguf", ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    story = [{"role": "user", "content": "Write a short story about a lighthouse keeper who finds a strange bird."}]
    answers = []
    for extra in ([], ["--model-draft", str(q4)]):
        cmd = [str(_binary()), "serve", "-m", str(f16), "--host", "127.0.0.1", "--port", "0", "--no-audit",
               "--cache-size", "0", *extra]
        with launched_server(cmd) as s:
            oa = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=300)
            answers.append(oa.chat.completions.create(model=f16.stem, messages=story, temperature=0, max_tokens=60,
                                                      extra_body={"ignore_eos": True}))
    assert answers[0].choices[0].message.content == answers[1].choices[0].message.content
    assert answers[1].usage.completion_tokens_details.accepted_prediction_tokens > 0
    gemma = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
    r = subprocess.run([str(_binary()), "serve", "-m", str(q4), "--port", "0", "--model-draft", str(gemma)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "vocabulary" in r.stderr and "gemma3" in r.stderr and "llama" in r.stderr, r.stderr
