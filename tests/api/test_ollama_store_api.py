"""The Ollama endpoints that change the model store, through the official `ollama` client against
`nagare serve` (no -m, so it serves the store): /api/pull streams progress from the nginx stand-in
for the Hugging Face Hub (test_pull.py's `hub`), /api/create (from a stored model, or `files`
naming a stored blob; SYSTEM, PARAMETER num_ctx and MESSAGE applied), /api/copy and
/api/delete, and `nagare ps`. Bad input: unknown models are 404 in Ollama's shape, a path as FROM
is refused, a pull of a missing repository fails with its reason."""
import hashlib
import os
import subprocess
import time

import httpx
import ollama
import pytest

from conftest import REQUEST_TIMEOUT_S, ROOT, _binary, launched_server
from test_pull import hub, sha256_file  # noqa: F401  (hub: the nginx Hugging Face stand-in fixture)

SMOL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
HANG_S = 120  # only stops a hung test; never a pass/fail criterion
GREEDY = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": 12}


@pytest.fixture(scope="module")
def server(tmp_path_factory, hub):  # noqa: F811
    tmp = tmp_path_factory.mktemp("store-api")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "http_proxy", "https_proxy")}
    env.update(NAGARE_MODELS=str(tmp / "models"), HF_ENDPOINT=hub.url)
    mf = tmp / "Modelfile"
    mf.write_text(f"FROM {SMOL}\n")
    r = subprocess.run([str(_binary()), "create", "smol", "-f", str(mf)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cmd = [str(_binary()), "serve", "--host", "127.0.0.1", "--port", "0", "--ctx-size", "1024"]
    with launched_server(cmd, env) as s:
        s.root = tmp / "models"
        yield s


@pytest.fixture(scope="module")
def oc(server):
    return ollama.Client(host=server.url, timeout=REQUEST_TIMEOUT_S)


def until(predicate, what):
    deadline = time.monotonic() + HANG_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def names(oc):
    return {m.model for m in oc.list().models}


def test_pull_streams_progress_then_lists_the_model(oc, hub):  # noqa: F811
    sha = sha256_file(hub.src / "tiny.Q4_K_M.gguf")
    updates = list(oc.pull("hf.co/testorg/tiny-GGUF", stream=True))
    statuses = [u.status for u in updates]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success", statuses
    bars = [u for u in updates if u.digest]
    assert bars and all(u.digest == f"sha256:{sha}" and u.total == (hub.src / "tiny.Q4_K_M.gguf").stat().st_size
                        for u in bars)
    completed = [u.completed for u in bars]
    assert completed == sorted(completed) and completed[-1] == bars[-1].total
    assert "hf.co/testorg/tiny-GGUF:latest" in names(oc)
    # Pulled again: nothing to download, one object when not streamed.
    before = len(hub.requests_for("/tiny.Q4_K_M.gguf"))
    assert oc.pull("hf.co/testorg/tiny-GGUF").status == "success"
    assert len(hub.requests_for("/tiny.Q4_K_M.gguf")) == before


def test_pull_failures_say_why(oc, server):
    with pytest.raises(ollama.ResponseError) as e:  # not streamed: the error object, status 500
        oc.pull("hf.co/testorg/no-such-GGUF")
    assert "no such repository" in str(e.value) and e.value.status_code == 500
    with pytest.raises(ollama.ResponseError) as e:  # streamed: an {"error"} line ends the stream
        list(oc.pull("hf.co/testorg/notgguf-GGUF", stream=True))
    assert "GGUF" in str(e.value)
    with pytest.raises(ollama.ResponseError) as e:
        oc.pull("../../etc/passwd")
    assert e.value.status_code == 400 and ".." in str(e.value)
    assert not any("notgguf" in n or "no-such" in n for n in names(oc))
    assert not [p for p in (server.root / "blobs").iterdir() if "partial" in p.name and "notgguf" in p.name]


def test_a_client_that_goes_away_cancels_its_pull_which_resumes_later(oc, server, hub):  # noqa: F811
    # slow-GGUF is sent at 1 MB/s: read the first progress objects, then hang up.
    with httpx.stream("POST", f"{server.url}/api/pull", json={"model": "hf.co/testorg/slow-GGUF"},
                      timeout=REQUEST_TIMEOUT_S) as r:
        for line in r.iter_lines():
            if '"completed"' in line and '"completed":0' not in line:
                break
    until(lambda: any("pull hf.co/testorg/slow-GGUF failed" in l and "cancelled" in l for l in server.log),
          "the pull to be cancelled")
    assert "hf.co/testorg/slow-GGUF:latest" not in names(oc)
    updates = list(oc.pull("hf.co/testorg/slow-GGUF", stream=True))
    assert updates[-1].status == "success"
    first = min(u.completed for u in updates if u.digest)
    assert first > 0, "the second pull started from zero instead of resuming"
    assert "hf.co/testorg/slow-GGUF:latest" in names(oc)


def ask(oc, model, messages):
    r = oc.chat(model=model, messages=messages, options=GREEDY)
    return r.message.content, r.prompt_eval_count


def test_create_applies_system_parameters_and_messages(oc, server):
    example = [{"role": "user", "content": "Say a colour."}, {"role": "assistant", "content": "Blue."}]
    r = oc.create(model="shy", from_="smol", system="You answer in one word.",
                  parameters={"num_ctx": 256, "temperature": 0, "stop": ["\n\n"]}, messages=example)
    assert r.status == "success"
    shown = oc.show("shy")
    assert 'SYSTEM """You answer in one word."""' in shown.modelfile
    assert "num_ctx 256" in shown.parameters.splitlines() and "temperature 0" in shown.parameters
    question = [{"role": "user", "content": "Say another colour."}]
    got = ask(oc, "shy", question)
    # The same conversation spelled out on the base model gives the same prompt and answer.
    spelled = [{"role": "system", "content": "You answer in one word."}, *example, *question]
    r = oc.chat(model="smol", messages=spelled, options={**GREEDY, "stop": ["\n\n"]})
    assert got == (r.message.content, r.prompt_eval_count)
    # num_ctx set the context the model was loaded with.
    ps = {m.model: m for m in oc.ps().models}
    assert ps["shy:latest"].context_length == 256
    # A request's own system message replaces the default; the MESSAGEs follow it.
    own = [{"role": "system", "content": "Be verbose."}, *question]
    r = oc.chat(model="smol", messages=[own[0], *example, *question], options={**GREEDY, "stop": ["\n\n"]})
    assert ask(oc, "shy", own) == (r.message.content, r.prompt_eval_count)


def test_create_from_a_stored_blob_and_bad_sources(oc, server):
    digest = "sha256:" + hashlib.sha256(SMOL.read_bytes()).hexdigest()
    assert httpx.head(f"{server.url}/api/blobs/{digest}").status_code == 200
    assert httpx.head(f"{server.url}/api/blobs/sha256:{'0' * 64}").status_code == 404
    assert oc.create(model="fromblob", files={"model.gguf": digest}).status == "success"
    assert {m.model: m.digest for m in oc.list().models}["fromblob:latest"] == digest[7:]
    for bad in ({"from_": str(SMOL)}, {"from_": "../x.gguf"}, {"from_": "missing"},
                {"files": {"model.gguf": f"sha256:{'0' * 64}"}}, {"from_": "smol", "quantize": "q4_0"}):
        with pytest.raises(ollama.ResponseError) as e:
            oc.create(model="bad", **bad)
        assert e.value.status_code == 400, bad
    assert "bad:latest" not in names(oc)
    # An older client's Modelfile text: errors name the line.
    r = httpx.post(f"{server.url}/api/create", json={"model": "bad", "modelfile": "FROM smol\nPARAMETER nope 1\n"})
    assert r.status_code == 400 and "modelfile:2" in r.json()["error"]


def test_copy_and_delete(oc, server):
    oc.chat(model="smol", messages=[{"role": "user", "content": "Hi"}], options=GREEDY)
    assert oc.copy("smol", "smol-copy").status == "success"
    assert {"smol:latest", "smol-copy:latest"} <= names(oc)
    assert ask(oc, "smol-copy", [{"role": "user", "content": "Hi"}])[0] == \
        ask(oc, "smol", [{"role": "user", "content": "Hi"}])[0]
    assert "smol-copy:latest" in {m.model for m in oc.ps().models}
    assert oc.delete("smol-copy").status == "success"
    assert "smol-copy:latest" not in names(oc)
    until(lambda: "smol-copy:latest" not in {m.model for m in oc.ps().models}, "the deleted model to unload")
    assert "smol:latest" in names(oc)  # the weights stay: another name uses them
    for call in (lambda: oc.delete("smol-copy"), lambda: oc.copy("nothing", "x"),
                 lambda: oc.chat(model="smol-copy", messages=[{"role": "user", "content": "Hi"}])):
        with pytest.raises(ollama.ResponseError) as e:
            call()
        assert e.value.status_code == 404 and "not found" in str(e.value)


def test_nagare_ps_shows_what_the_server_loaded(oc, server):
    oc.generate(model="smol", prompt="Hi", options=GREEDY, keep_alive="10m")
    r = subprocess.run([str(_binary()), "ps", "--host", server.url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    row = next(l for l in lines[1:] if l.startswith("smol:latest "))
    digest = hashlib.sha256(SMOL.read_bytes()).hexdigest()
    assert digest[:12] in row and "1024" in row and "from now" in row
    r = subprocess.run([str(_binary()), "ps", "--host", "127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cannot reach a nagare server" in r.stderr
