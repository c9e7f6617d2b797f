"""The Ollama API (/api/...) through the official `ollama` Python client and LiteLLM's `ollama/`,
`ollama_chat/` and `openai/` providers, against the real server: generate and chat, streaming and
not, the final object's counts and durations, list/show/ps/version, and Ollama's error shape.
Greedy text through /api/chat equals /v1/chat/completions' for the same request: one engine,
two wire formats."""
import json
import os

import httpx
import ollama
import pytest

from conftest import ALIAS, REQUEST_TIMEOUT_S

# Greedy and without Ollama's default repeat penalty (1.1), so /api and /v1 must agree.
GREEDY = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": 12}


@pytest.fixture(scope="module")
def oc(server):
    return ollama.Client(host=server.url, timeout=REQUEST_TIMEOUT_S)


def test_chat_matches_the_openai_endpoint(oc, client):
    messages = [{"role": "user", "content": "Name three colours."}]
    r = oc.chat(model=ALIAS, messages=messages, options=GREEDY)
    o = client.chat.completions.create(model=ALIAS, messages=messages, temperature=0, max_tokens=12)
    assert r.message.role == "assistant"
    assert r.message.content == o.choices[0].message.content
    assert r.done and r.done_reason == ("length" if o.choices[0].finish_reason == "length" else "stop")
    assert r.prompt_eval_count == o.usage.prompt_tokens
    assert r.eval_count == o.usage.completion_tokens


def test_chat_streaming_equals_one_object(oc):
    messages = [{"role": "user", "content": "Tell me about the sea."}]
    whole = oc.chat(model=ALIAS, messages=messages, options=GREEDY)
    parts = list(oc.chat(model=ALIAS, messages=messages, options=GREEDY, stream=True))
    assert len(parts) >= 2 and all(not p.done for p in parts[:-1]) and parts[-1].done
    assert "".join(p.message.content for p in parts) == whole.message.content
    last = parts[-1]
    assert last.message.content == ""
    assert last.eval_count == whole.eval_count and last.prompt_eval_count == whole.prompt_eval_count


def test_generate_final_object(oc):
    r = oc.generate(model=f"{ALIAS}:latest", prompt="Why is the sky blue?", options=GREEDY)
    assert r.model == f"{ALIAS}:latest" and r.done
    assert r.done_reason == "length" and r.eval_count == GREEDY["num_predict"]
    # Durations in nanoseconds: positive, and the whole covers its parts.
    assert r.prompt_eval_duration > 0 and r.eval_duration > 0
    assert r.total_duration >= r.prompt_eval_duration + r.eval_duration
    assert r.load_duration == 0  # the model was loaded at start-up
    # context: the prompt's tokens then the answer's, to continue the conversation.
    assert len(r.context) == r.prompt_eval_count + r.eval_count


def test_generate_streaming_and_context(oc):
    kw = dict(model=ALIAS, prompt="Count: one, two,", options=GREEDY)
    whole = oc.generate(**kw)
    parts = list(oc.generate(stream=True, **kw))
    assert "".join(p.response for p in parts) == whole.response
    assert parts[-1].done and parts[-1].context == whole.context
    # A continued conversation is its context plus the new turn.
    more = oc.generate(model=ALIAS, prompt="And then?", context=whole.context, options=GREEDY)
    assert more.prompt_eval_count > len(whole.context)
    assert more.context[:len(whole.context)] == whole.context


def test_raw_generate_matches_the_completions_endpoint(oc, client):
    text = "The capital of France is"
    r = oc.generate(model=ALIAS, prompt=text, raw=True, options=GREEDY)
    o = client.completions.create(model=ALIAS, prompt=text, temperature=0, max_tokens=12)
    assert r.response == o.choices[0].text
    assert r.prompt_eval_count == o.usage.prompt_tokens


def test_system_and_options(oc, client):
    # generate renders [system, user] through the chat template, as the chat endpoints do.
    with_system = oc.generate(model=ALIAS, prompt="Hello", system="You are a pirate.", options=GREEDY)
    o = client.chat.completions.create(model=ALIAS, temperature=0, max_tokens=12, messages=[
        {"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hello"}])
    assert with_system.prompt_eval_count == o.usage.prompt_tokens
    assert with_system.response == o.choices[0].message.content
    base = oc.generate(model=ALIAS, prompt="Hello", options=GREEDY)
    free = oc.generate(model=ALIAS, prompt="Count: one, two,", raw=True, options=GREEDY)
    assert "," in free.response
    stop = oc.generate(model=ALIAS, prompt="Count: one, two,", raw=True, options={**GREEDY, "stop": [","]})
    assert stop.response == free.response[:free.response.index(",")]
    assert "," not in stop.response and stop.done_reason == "stop"
    # num_ctx below the server's context bounds the answer.
    short = oc.generate(model=ALIAS, prompt="Hello", options={**GREEDY, "num_predict": -1,
                                                              "num_ctx": base.prompt_eval_count + 3})
    assert short.eval_count == 3 and short.done_reason == "length"


def test_load_only_requests(oc):
    r = oc.generate(model=ALIAS, prompt="")
    assert r.done and r.done_reason == "load" and r.response == ""
    c = oc.chat(model=ALIAS, messages=[])
    assert c.done and c.done_reason == "load"


def test_list_show_ps_version(oc, server):
    names = [m.model for m in oc.list().models]
    assert f"{ALIAS}:latest" in names
    m = next(m for m in oc.list().models if m.model == f"{ALIAS}:latest")
    assert m.details.family == "llama" and m.details.quantization_level == "Q4_1" and m.details.format == "gguf"
    assert m.size > 0 and len(m.digest) == 64
    s = oc.show(ALIAS)
    assert s.modelinfo["general.architecture"] == "llama"
    assert s.modelinfo["tokenizer.ggml.tokens"] is None  # the vocabulary only with verbose
    assert "im_start" in s.template
    ps = oc.ps().models
    assert [p.model for p in ps] == [f"{ALIAS}:latest"]
    assert httpx.get(f"{server.url}/api/version").json()["version"]
    assert httpx.get(f"{server.url}/").text.endswith("is running")
    assert httpx.head(f"{server.url}/").status_code == 200


def test_errors_take_ollamas_shape(oc, server):
    with pytest.raises(ollama.ResponseError) as e:
        oc.chat(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert e.value.status_code == 404 and e.value.error == "model 'no-such-model' not found"
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model=ALIAS, prompt="Hi", format={"type": "object", "not": {"type": "null"}})
    assert e.value.status_code == 400 and "'not'" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model=ALIAS, prompt="Hi", images=["aGVsbG8="])
    assert e.value.status_code == 400 and "images" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model=ALIAS, prompt="Hi", options={"mirostat": 2})
    assert e.value.status_code == 400 and "mirostat" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model=ALIAS, prompt="Hi", keep_alive="soon")
    assert e.value.status_code == 400 and "keep_alive" in e.value.error
    # Raw HTTP: malformed JSON, unknown route, wrong method -- always {"error": "..."} on /api/.
    for method, path, body, status in [("POST", "/api/chat", "{not json", 400), ("GET", "/api/nothing", None, 404),
                                       ("GET", "/api/chat", None, 405)]:
        r = httpx.request(method, f"{server.url}{path}", content=body)
        assert r.status_code == status
        assert isinstance(r.json()["error"], str), r.text
    # The OpenAI routes keep their nested shape.
    assert isinstance(httpx.get(f"{server.url}/v1/nothing").json()["error"], dict)


def test_runtime_options_are_ignored_with_a_log_line(oc, server):
    r = oc.generate(model=ALIAS, prompt="Hi", options={**GREEDY, "num_thread": 64, "num_gpu": 99})
    assert r.done
    assert any("ignoring Ollama option 'num_thread'" in line for line in server.log)


# LiteLLM, as a proxy in front of nagare would call it (no network: its model price map is local).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.mark.parametrize("provider", ["ollama", "ollama_chat", "openai"])
def test_litellm_providers(server, oc, provider):
    import litellm

    base = f"{server.url}/v1" if provider == "openai" else server.url
    messages = [{"role": "user", "content": "Name a colour."}]
    kw = dict(model=f"{provider}/{ALIAS}", api_base=base, messages=messages, temperature=0, max_tokens=8)
    if provider == "openai":
        kw["api_key"] = "unused"
    r = litellm.completion(**kw)
    text = r.choices[0].message.content
    assert text and r.usage.completion_tokens <= 8
    if provider == "ollama_chat":  # the same request as the ollama client's: the same text
        direct = oc.chat(model=ALIAS, messages=messages, options={"temperature": 0, "num_predict": 8})
        assert text == direct.message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in litellm.completion(stream=True, **kw))
    assert streamed == text
