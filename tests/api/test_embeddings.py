"""Embeddings through the real server: OpenAI's POST /v1/embeddings with the official `openai`
client (float and base64) and LiteLLM's `openai/` provider, Ollama's POST /api/embed and legacy
/api/embeddings with the `ollama` client. Vectors agree with llama.cpp's (the goldens of
scripts/golden/embeddings.py, within the C++ test's bounds), a batch of inputs gives each input's
vector bit for bit, and bad input gets each API's error shape and status.
"""
import base64
import json
import struct

import httpx
import numpy as np
import ollama
import pytest

from conftest import ALIAS, CTX_SIZE, REQUEST_TIMEOUT_S, ROOT, running_server

GOLDEN = json.loads((ROOT / "tests" / "golden" / "embeddings" / "SmolLM2-135M-Instruct.Q4_1.json").read_text())
N_EMBD = GOLDEN["n_embd"]
# As tests/unit/engine/test_embeddings.cc (SmolLM2's bounds; see there for the measurements).
MAX_ABS, MIN_COS = 0.0125, 0.9995


def close_to_golden(v, ref):
    v, ref = np.asarray(v, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    cos = float(v @ ref / np.linalg.norm(v) / np.linalg.norm(ref))
    return float(np.abs(v - ref).max()) <= MAX_ABS and cos >= MIN_COS


def post(http, path, body):
    return http.post(path, json=body)


def openai_error(r, status, param=None, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if param is not None:
        assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.fixture(scope="module")
def oc(server):
    return ollama.Client(host=server.url, timeout=REQUEST_TIMEOUT_S)


def test_openai_float_base64_and_usage(client, http):
    text = "The quick brown fox jumps over the lazy dog."
    r = client.embeddings.create(model=ALIAS, input=text, encoding_format="float")
    assert r.object == "list" and r.model == ALIAS and len(r.data) == 1
    d = r.data[0]
    assert d.object == "embedding" and d.index == 0 and len(d.embedding) == N_EMBD
    assert abs(np.linalg.norm(d.embedding) - 1) < 1e-5  # normalized, as llama-server
    # Text is tokenized as /v1/completions tokenizes its prompt.
    done = client.completions.create(model=ALIAS, prompt=text, max_tokens=1, temperature=0)
    assert r.usage.prompt_tokens == r.usage.total_tokens == done.usage.prompt_tokens
    # base64: the same float32 values, little-endian.
    raw = post(http, "/v1/embeddings", {"model": ALIAS, "input": text, "encoding_format": "base64"}).json()
    b = base64.b64decode(raw["data"][0]["embedding"])
    assert len(b) == 4 * N_EMBD
    decoded = struct.unpack(f"<{N_EMBD}f", b)
    assert list(decoded) == [float(np.float32(x)) for x in d.embedding]
    # The client's default asks for base64 and decodes it itself.
    default = client.embeddings.create(model=ALIAS, input=text)
    assert [float(np.float32(x)) for x in default.data[0].embedding] == list(decoded)


def test_matches_llama_cpp_and_batches_bit_for_bit(client):
    # The server's default pooling for this GGUF (no pooling_type key) is mean.
    cases = GOLDEN["cases"]
    many = client.embeddings.create(model=ALIAS, input=[c["ids"] for c in cases], encoding_format="float")
    assert [d.index for d in many.data] == list(range(len(cases)))
    assert many.usage.prompt_tokens == sum(len(c["ids"]) for c in cases)
    for c, d in zip(cases, many.data):
        assert close_to_golden(d.embedding, c["mean"]), c["name"]
        alone = client.embeddings.create(model=ALIAS, input=c["ids"], encoding_format="float")
        assert alone.data[0].embedding == d.embedding, c["name"]
    # Texts give the golden's token ids (BOS/EOS as the vocabulary asks), so the same vectors.
    texts = client.embeddings.create(model=ALIAS, input=[c["text"] for c in cases], encoding_format="float")
    assert [d.embedding for d in texts.data] == [d.embedding for d in many.data]


def test_litellm_openai_provider(server, client):
    import litellm

    inputs = ["Hello there", "日本の首都は東京です。"]
    r = litellm.embedding(model=f"openai/{ALIAS}", api_base=f"{server.url}/v1", api_key="unused", input=inputs,
                          encoding_format="float")
    direct = client.embeddings.create(model=ALIAS, input=inputs, encoding_format="float")
    assert [d["embedding"] for d in r.data] == [d.embedding for d in direct.data]
    assert r.usage.prompt_tokens == direct.usage.prompt_tokens


def test_ollama_embed_and_legacy(oc, client):
    inputs = ["Why is the sky blue?", "Why is the grass green?"]
    r = oc.embed(model=ALIAS, input=inputs)
    assert r.model == ALIAS and len(r.embeddings) == 2 and all(len(e) == N_EMBD for e in r.embeddings)
    direct = client.embeddings.create(model=ALIAS, input=inputs, encoding_format="float")
    assert [list(e) for e in r.embeddings] == [d.embedding for d in direct.data]
    assert r.prompt_eval_count == direct.usage.prompt_tokens
    assert r.total_duration > 0 and r.load_duration == 0
    one = oc.embed(model=ALIAS, input=inputs[0])
    assert list(one.embeddings[0]) == list(r.embeddings[0])
    # The legacy route answers the vector as it comes out of the model, not normalized (as Ollama).
    legacy = oc.embeddings(model=ALIAS, prompt=inputs[0])
    v = np.asarray(legacy.embedding)
    assert len(v) == N_EMBD and np.linalg.norm(v) > 2
    assert np.abs(v / np.linalg.norm(v) - np.asarray(r.embeddings[0])).max() < 1e-6
    # No input: the model is loaded, nothing embedded.
    assert oc.embed(model=ALIAS, input=[]).embeddings == []
    assert oc.embeddings(model=ALIAS, prompt="").embedding == []


def test_ollama_truncate(http):
    long_text = "word " * (2 * CTX_SIZE)
    r = post(http, "/api/embed", {"model": ALIAS, "input": long_text})
    assert r.status_code == 200, r.text
    assert r.json()["prompt_eval_count"] == CTX_SIZE
    r = post(http, "/api/embed", {"model": ALIAS, "input": long_text, "truncate": False})
    assert r.status_code == 400 and set(r.json()) == {"error"} and "context length" in r.json()["error"]


@pytest.mark.parametrize("body, param", [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": [[]]}, "input"),
    ({"input": ["a", ""]}, "input"),
    ({}, "input"),
    ({"input": 5}, "input"),
    ({"input": {"text": "a"}}, "input"),
    ({"input": ["a", 1]}, "input"),
    ({"input": [1, "a"]}, "input"),
    ({"input": [[1, 2], "a"]}, "input"),
    ({"input": [1.5, 2]}, "input"),
    ({"input": [True]}, "input"),
    ({"input": [-1]}, "input"),
    ({"input": [999999]}, "input"),
    ({"input": [[1, 2], [999999]]}, "input"),
    ({"input": "hi", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "hi", "encoding_format": 1}, "encoding_format"),
    ({"input": "hi", "dimensions": 64}, "dimensions"),
    ({"input": "hi", "dimensions": 0}, "dimensions"),
    ({"input": "hi", "dimensions": "576"}, "dimensions"),
    ({"input": "hi", "model": 7}, "model"),
])
def test_openai_bad_input_is_400(http, body, param):
    openai_error(post(http, "/v1/embeddings", {"model": ALIAS, **body} if "model" not in body else body), 400, param)


def test_openai_limits_and_models(http, client):
    err = openai_error(post(http, "/v1/embeddings", {"model": ALIAS, "input": "word " * (CTX_SIZE + 10)}), 400, "input",
                       "context_length_exceeded")
    assert str(CTX_SIZE) in err["message"]
    # Exactly the context fits: an embedding needs no room for output.
    ok = post(http, "/v1/embeddings", {"model": ALIAS, "input": [1] * CTX_SIZE})
    assert ok.status_code == 200 and ok.json()["usage"]["prompt_tokens"] == CTX_SIZE
    openai_error(post(http, "/v1/embeddings", {"model": "no-such-model", "input": "hi"}), 404, "model", "model_not_found")
    openai_error(post(http, "/v1/embeddings", {"model": ALIAS, "input": ["a"] * 2049}), 400, "input")
    openai_error(http.post("/v1/embeddings", content=b"{not json"), 400)
    # dimensions equal to the model's width is accepted.
    r = client.embeddings.create(model=ALIAS, input="hi", dimensions=N_EMBD, encoding_format="float")
    assert len(r.data[0].embedding) == N_EMBD


@pytest.mark.parametrize("path, body, status", [
    ("/api/embed", {"input": "hi"}, 400),
    ("/api/embed", {"model": "no-such-model", "input": "hi"}, 404),
    ("/api/embed", {"model": ALIAS, "input": 5}, 400),
    ("/api/embed", {"model": ALIAS, "input": ["a", 1]}, 400),
    ("/api/embed", {"model": ALIAS, "input": "hi", "options": 3}, 400),
    ("/api/embed", {"model": ALIAS, "input": "hi", "keep_alive": "soon"}, 400),
    ("/api/embed", {"model": ALIAS, "input": "hi", "dimensions": 3}, 400),
    ("/api/embeddings", {"prompt": "hi"}, 400),
    ("/api/embeddings", {"model": "no-such-model", "prompt": "hi"}, 404),
    ("/api/embeddings", {"model": ALIAS, "prompt": 3}, 400),
])
def test_ollama_bad_input_in_ollama_shape(http, path, body, status):
    r = post(http, path, body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and r.json()["error"]


def test_pooling_flag():
    last = [c for c in GOLDEN["cases"]]
    with running_server("--embeddings", "--pooling", "last") as s:
        with httpx.Client(base_url=s.url, timeout=REQUEST_TIMEOUT_S) as h:
            r = h.post("/v1/embeddings", json={"model": ALIAS, "input": [c["ids"] for c in last]})
            assert r.status_code == 200, r.text
            for c, d in zip(last, r.json()["data"]):
                assert close_to_golden(d["embedding"], c["last"]), c["name"]
    with running_server("--pooling", "none") as s:
        with httpx.Client(base_url=s.url, timeout=REQUEST_TIMEOUT_S) as h:
            err = openai_error(h.post("/v1/embeddings", json={"model": ALIAS, "input": "hi"}), 400)
            assert "none" in err["message"]
            r = h.post("/api/embed", json={"model": ALIAS, "input": "hi"})
            assert r.status_code == 400 and set(r.json()) == {"error"}


def test_more_inputs_than_the_engine_runs_at_once(client):
    # A request's inputs go to the engine as many at a time as it runs (--max-running), the rest
    # as those finish, so a list longer than --max-queue is not refused as an overload.
    inputs = [f"Sentence number {i} about the sea." for i in range(24)]
    expected = [d.embedding for d in client.embeddings.create(model=ALIAS, input=inputs, encoding_format="float").data]
    with running_server("--max-running", "2", "--max-queue", "1") as s:
        with httpx.Client(base_url=s.url, timeout=REQUEST_TIMEOUT_S) as h:
            r = h.post("/v1/embeddings", json={"model": ALIAS, "input": inputs})
            assert r.status_code == 200, r.text
            assert [d["embedding"] for d in r.json()["data"]] == expected
            r = h.post("/api/embed", json={"model": ALIAS, "input": inputs})
            assert r.status_code == 200 and r.json()["embeddings"] == expected
            # A bad input after the first window still gets a 400 in the API's shape.
            bad = [[1, 2]] * 5 + [[999999]]
            openai_error(h.post("/v1/embeddings", json={"model": ALIAS, "input": bad}), 400, "input")
        s.wait_idle()


def test_bert_encoder_model():
    # An encoder (the tiny random-weight BERT of scripts/tiny_models.py, mean pooling from its
    # GGUF) served on its own: the openai client's vectors agree with llama.cpp's (the goldens of
    # scripts/golden/encoder_embeddings.py, within tests/unit/engine/test_encoder_embeddings.cc's
    # bounds), and a completion request is a 400 that says the model serves embeddings only.
    import openai
    from conftest import _binary, launched_server
    golden = json.loads((ROOT / "tests" / "golden" / "embeddings" / "tiny-bert.json").read_text())
    model = ROOT / "models" / golden["model"]
    if not model.is_file():
        pytest.fail(f"test model not found at {model}: run scripts/fetch-models")
    cmd = [str(_binary()), "serve", "-m", str(model), "--host", "127.0.0.1", "--port", "0", "--alias", "bert"]
    with launched_server(cmd) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key="unused", timeout=REQUEST_TIMEOUT_S)
        cases = golden["cases"]
        data = client.embeddings.create(model="bert", input=[c["text"] for c in cases]).data
        assert len(data) == len(cases)
        for c, d in zip(cases, data):
            v, ref = np.asarray(d.embedding), np.asarray(c["mean"])
            # test_encoder_embeddings.cc's bounds for mean pooling (and why they are what they are)
            assert np.abs(v - ref).max() <= 0.0038 and v @ ref / np.linalg.norm(v) / np.linalg.norm(ref) >= 0.99993, c["name"]
        with pytest.raises(openai.BadRequestError) as e:
            client.completions.create(model="bert", prompt="hello", max_tokens=4)
        assert "embedding" in str(e.value)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="bert", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
