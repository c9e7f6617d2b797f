"""`nagare serve` without -m serves the model store ($NAGARE_MODELS), as `ollama serve` does:
a request naming a stored model loads it (load_duration > 0), /api/ps shows what is loaded with
its expiry, keep_alive 0 unloads after the request, two models answer concurrent requests with the
same greedy text each gives alone, --max-loaded-models 1 unloads the least recently used, an
unknown model is a 404 in each API's shape, and a damaged blob fails only its own requests.

Every wait is for a state (polling /api/ps) with a deadline that only stops a hang."""
import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import ollama
import openai
import pytest

from conftest import REQUEST_TIMEOUT_S, ROOT, _binary, launched_server

SMOL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
GREEDY = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": 10}
HANG_S = 120  # only stops a hung test; never a pass/fail criterion


def create(env, name, modelfile_text, tmp):
    mf = tmp / f"{name}.Modelfile"
    mf.write_text(modelfile_text)
    r = subprocess.run([str(_binary()), "create", name, "-f", str(mf)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with smol and gemma (the test models) and `broken`, whose blob is cut short."""
    if not GEMMA.is_file():
        pytest.fail(f"test model not found at {GEMMA}: run scripts/fetch-models")
    tmp = tmp_path_factory.mktemp("store")
    root = tmp / "models"
    env = dict(os.environ, NAGARE_MODELS=str(root))
    create(env, "smol", f"FROM {SMOL}\n", tmp)
    create(env, "gemma", f"FROM {GEMMA}\n", tmp)
    create(env, "broken", f"FROM {SMOL}\n", tmp)
    create(env, "terse", f"FROM {SMOL}\nSYSTEM You answer in one word.\nPARAMETER num_predict 3\n", tmp)
    # Point `broken` at a blob holding the first MiB of the weights (a download cut short that
    # got past the store's checks): its manifest and size agree, the GGUF inside does not.
    cut = SMOL.read_bytes()[: 1 << 20]
    digest = hashlib.sha256(cut).hexdigest()
    (root / "blobs" / f"sha256-{digest}").write_bytes(cut)
    manifest = root / "manifests" / "local" / "library" / "broken" / "latest"
    m = json.loads(manifest.read_text())
    m["weights"] = {"digest": f"sha256:{digest}", "size": len(cut)}
    manifest.write_text(json.dumps(m))
    return env


@contextlib.contextmanager
def store_server(env, *extra_args):
    cmd = [str(_binary()), "serve", "--host", "127.0.0.1", "--port", "0", "--ctx-size", "512", *extra_args]
    with launched_server(cmd, env) as s:
        yield s.url, s.log


@pytest.fixture(scope="module")
def served(store):
    with store_server(store) as (url, log):
        yield url, log


@pytest.fixture(scope="module")
def oc(served):
    return ollama.Client(host=served[0], timeout=REQUEST_TIMEOUT_S)


@pytest.fixture(scope="module")
def oa(served):
    return openai.OpenAI(base_url=f"{served[0]}/v1", api_key="unused", max_retries=0, timeout=REQUEST_TIMEOUT_S)


def loaded(url):
    return {m["model"]: m for m in httpx.get(f"{url}/api/ps", timeout=30).json()["models"]}


def wait_loaded(url, predicate, what):
    deadline = time.monotonic() + HANG_S
    while True:
        ps = loaded(url)
        if predicate(ps):
            return ps
        assert time.monotonic() < deadline, f"timed out waiting for {what}; /api/ps shows {sorted(ps)}"
        time.sleep(0.05)


def test_lists_the_store_and_loads_nothing_yet(served, oc, oa):
    url, log = served
    assert any("model store" in line for line in log)
    names = {m.model for m in oc.list().models}
    assert {"smol:latest", "gemma:latest", "broken:latest"} <= names
    families = {m.model: m.details.family for m in oc.list().models}
    assert families["smol:latest"] == "llama" and families["gemma:latest"] == "gemma3"
    assert {"smol:latest", "gemma:latest"} <= {m.id for m in oa.models.list().data}
    assert loaded(url) == {}


def test_first_request_loads_then_ps_shows_expiry(served, oc):
    url, _ = served
    first = oc.generate(model="smol", prompt="Why is the sky blue?", options=GREEDY)
    assert first.done and first.load_duration > 0
    again = oc.generate(model="library/smol:latest", prompt="Why is the sky blue?", options=GREEDY)
    assert again.load_duration == 0 and again.response == first.response
    ps = loaded(url)
    assert list(ps) == ["smol:latest"]
    p = ps["smol:latest"]
    expires = datetime.datetime.fromisoformat(p["expires_at"].replace("Z", "+00:00"))
    assert expires > datetime.datetime.now(datetime.timezone.utc)  # the default keep-alive is 5 minutes
    assert p["size"] > SMOL.stat().st_size and p["size_vram"] == 0 and p["context_length"] == 512
    assert len(p["digest"]) == 64


def test_keep_alive_zero_unloads_after_the_request(served, oc):
    url, _ = served
    r = oc.chat(model="gemma", messages=[{"role": "user", "content": "Hi"}], options=GREEDY, keep_alive=0)
    assert r.done and r.load_duration > 0
    wait_loaded(url, lambda ps: "gemma:latest" not in ps, "gemma to unload")
    assert "smol:latest" in loaded(url)  # the other model keeps its keep-alive


def test_two_models_answer_concurrently_as_alone(served, oa):
    url, _ = served
    prompts = {"smol": "Name three colours.", "gemma": "Write a short poem about rain."}

    def ask(model):
        r = oa.chat.completions.create(model=model, messages=[{"role": "user", "content": prompts[model]}],
                                       temperature=0, max_tokens=24)
        return r.choices[0].message.content

    alone = {m: ask(m) for m in prompts}
    with ThreadPoolExecutor(4) as pool:
        futures = [(m, pool.submit(ask, m)) for m in ["smol", "gemma", "smol", "gemma"]]
        together = [(m, f.result()) for m, f in futures]
    for m, text in together:
        assert text == alone[m], m
    assert {"smol:latest", "gemma:latest"} <= set(loaded(url))
    # Any spelling of a store name reaches the same model.
    r = oa.chat.completions.create(model="local/library/smol:latest", messages=[{"role": "user", "content": "Hi"}],
                                   max_tokens=1)
    assert r.model == "smol:latest"


def test_manifest_overrides_apply(oc, oa):
    # PARAMETER num_predict 3 is the default; a request's own option wins.
    r = oc.generate(model="terse", prompt="Tell me a long story.", options={"temperature": 0})
    assert r.eval_count == 3 and r.done_reason == "length"
    r = oc.generate(model="terse", prompt="Tell me a long story.", options={"temperature": 0, "num_predict": 5})
    assert r.eval_count == 5
    shown = oc.show("terse")
    assert "You answer in one word." in shown.modelfile and shown.parameters.strip() == "num_predict 3"
    # SYSTEM is the system message of a chat without one (and only then): the same answer as
    # the plain model given that system message.
    msgs = [{"role": "user", "content": "Hi"}]
    sys_msgs = [{"role": "system", "content": "You answer in one word."}] + msgs
    own = [{"role": "system", "content": "You are a pirate."}] + msgs

    def ask(model, messages):
        r = oa.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0)
        return r.usage.prompt_tokens, r.choices[0].message.content

    assert ask("terse", msgs) == ask("smol", sys_msgs)
    assert ask("terse", own) == ask("smol", own)
    assert ask("terse", msgs) != ask("smol", msgs)


def test_unknown_model_is_404_in_each_apis_shape(oc, oa):
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model="no-such-model", prompt="Hi")
    assert e.value.status_code == 404 and e.value.error == "model 'no-such-model' not found"
    with pytest.raises(ollama.ResponseError) as e:
        oc.show("no-such-model")
    assert e.value.status_code == 404
    with pytest.raises(openai.NotFoundError) as e:
        oa.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert e.value.status_code == 404 and e.value.body["code"] == "model_not_found"


def test_damaged_blob_fails_its_request_and_the_others_serve(served, oc, oa):
    url, _ = served
    with pytest.raises(ollama.ResponseError) as e:
        oc.generate(model="broken", prompt="Hi", options=GREEDY)
    assert e.value.status_code == 500 and "'broken:latest' failed to load" in e.value.error
    with pytest.raises(openai.InternalServerError) as e:
        oa.chat.completions.create(model="broken", messages=[{"role": "user", "content": "Hi"}])
    assert "'broken:latest' failed to load" in e.value.body["message"]
    assert "broken:latest" not in loaded(url)
    assert oc.generate(model="smol", prompt="Hi", options=GREEDY).done


def test_max_loaded_models_one_unloads_the_least_recently_used(store):
    with store_server(store, "--max-loaded-models", "1") as (url, _):
        oc = ollama.Client(host=url, timeout=REQUEST_TIMEOUT_S)
        oc.generate(model="smol", prompt="Hi", options=GREEDY)
        assert list(loaded(url)) == ["smol:latest"]
        oc.generate(model="gemma", prompt="Hi", options=GREEDY)
        assert list(loaded(url)) == ["gemma:latest"]
        r = oc.generate(model="smol", prompt="Hi", options=GREEDY)
        assert r.load_duration > 0 and list(loaded(url)) == ["smol:latest"]
