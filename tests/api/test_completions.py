"""/v1/completions: text and token-id prompts, several prompts x n, streaming text_completion
chunks, and logprobs in the legacy shape."""
import re

from helpers import parse_sse

PROMPT = "The capital of France is"


def test_non_streaming(client, model_name):
    r = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=8, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert re.fullmatch(r"cmpl-[A-Za-z0-9]{24}", r.id)
    assert r.object == "text_completion" and r.model == model_name
    c = r.choices[0]
    assert c.index == 0 and c.finish_reason == "length" and c.text and c.logprobs is None
    assert r.usage.completion_tokens == 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + 8


def test_default_max_tokens_is_16(client, model_name):
    r = client.completions.create(model=model_name, prompt=PROMPT, temperature=0, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 16 and r.choices[0].finish_reason == "length"


def test_token_id_prompt_usage_is_exact(client, model_name):
    ids = [504, 3575, 282, 4649, 314]  # any ids in the vocabulary
    r = client.completions.create(model=model_name, prompt=ids, max_tokens=3, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.usage.prompt_tokens == len(ids)
    assert r.usage.completion_tokens == 3
    # A list of token-id lists: one choice per list, each its own prompt.
    lists = client.completions.create(model=model_name, prompt=[ids, ids[:2]], max_tokens=3, temperature=0,
                                      extra_body={"ignore_eos": True})
    assert lists.usage.prompt_tokens == len(ids) + 2
    assert lists.choices[0].text == r.choices[0].text


def test_several_prompts_times_n(client, model_name):
    prompts = ["One, two, three,", "The sky is", "def add(a, b):"]
    r = client.completions.create(model=model_name, prompt=prompts, n=2, max_tokens=4, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert [c.index for c in r.choices] == list(range(6))
    assert r.usage.completion_tokens == 6 * 4
    # Choice i belongs to prompt i // n; greedy gives each prompt's own continuation twice.
    for p, prompt in enumerate(prompts):
        alone = client.completions.create(model=model_name, prompt=prompt, max_tokens=4, temperature=0,
                                          extra_body={"ignore_eos": True})
        assert r.choices[2 * p].text == alone.choices[0].text == r.choices[2 * p + 1].text
    single = [client.completions.create(model=model_name, prompt=p, max_tokens=1).usage.prompt_tokens
              for p in prompts]
    assert r.usage.prompt_tokens == sum(single)


def test_streaming_text_completion_chunks(client, model_name, http):
    whole = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=10, temperature=0,
                                      extra_body={"ignore_eos": True}).choices[0].text
    with http.stream("POST", "/v1/completions",
                     json={"model": model_name, "prompt": PROMPT, "max_tokens": 10, "temperature": 0,
                           "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}) as r:
        events = parse_sse(r.read().decode())
    assert all(e["object"] == "text_completion" and e["id"].startswith("cmpl-") for e in events)
    body = [e for e in events if e["choices"]]
    assert "".join(e["choices"][0]["text"] for e in body) == whole
    assert body[-1]["choices"][0] == {"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}
    assert all(e["choices"][0]["finish_reason"] is None for e in body[:-1])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 10
    # Through the client as well.
    text = "".join(c.choices[0].text for c in client.completions.create(
        model=model_name, prompt=PROMPT, max_tokens=10, temperature=0, stream=True,
        extra_body={"ignore_eos": True}))
    assert text == whole


def test_legacy_logprobs(client, model_name):
    r = client.completions.create(model=model_name, prompt=PROMPT, max_tokens=6, temperature=0, logprobs=2,
                                  extra_body={"ignore_eos": True})
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert "".join(lp.tokens) == r.choices[0].text
    offsets = [0]
    for t in lp.tokens[:-1]:
        offsets.append(offsets[-1] + len(t.encode()))
    assert lp.text_offset == offsets
    for tok, val, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert val <= 0 and 1 <= len(top) <= 2
        assert max(top, key=top.get) == tok  # greedy picks the most likely
    streamed = [t for c in client.completions.create(model=model_name, prompt=PROMPT, max_tokens=6, temperature=0,
                                                     logprobs=2, stream=True, extra_body={"ignore_eos": True})
                if c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
    assert streamed == lp.tokens


def test_special_token_text_in_prompt_is_parsed(client, model_name):
    # As llama.cpp's server: "<|im_start|>" in a prompt is one token, not its characters.
    r = client.completions.create(model=model_name, prompt="<|im_start|>", max_tokens=1)
    assert r.usage.prompt_tokens == 1
