"""API keys (issue 12): with --api-key / --api-keys, every route but /health needs
`Authorization: Bearer KEY`, as the official `openai` and `ollama` clients send it. Checked: 401
in each API's error shape, 403 for a model the key may not use (and store changes by such a key),
listings filtered to the key's models, 429 with Retry-After past requests or tokens per minute,
keys given by sha256 digest, TOML and JSON-lines files, SIGHUP reloading the file (a broken file
keeps the keys in use), a malformed file refusing the start with its line, and no key in the log."""
import hashlib
import signal
import subprocess
import time

import httpx
import ollama
import openai
import pytest

from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, _binary, running_server

HANG_S = 60  # only stops a hung test

TOML = f"""
# the test's keys
[[keys]]
key = "sk-alice"
user = "alice"

[[keys]]
sha256 = "{hashlib.sha256(b"sk-bob").hexdigest()}"
user = "bob"
models = ["{ALIAS}"]

[[keys]]
key = "sk-carol"
user = "carol"
requests_per_minute = 2

[[keys]]
key = "sk-dave"
user = "dave"
tokens_per_minute = 20
"""


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("keys") / "keys.toml"
    p.write_text(TOML)
    return p


@pytest.fixture(scope="module")
def server(keys_file):
    with running_server("--api-key", "sk-inline", "--api-keys", str(keys_file)) as s:
        yield s


def oa(server, key):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=REQUEST_TIMEOUT_S)


def oc(server, key):
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return ollama.Client(host=server.url, headers=headers, timeout=REQUEST_TIMEOUT_S)


def hi(client, **kw):
    return client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                                          temperature=0, **kw)


def test_health_and_the_web_pages_are_open_and_everything_else_needs_a_key(server):
    assert httpx.get(f"{server.url}/health").status_code == 200
    # The pages and their files hold nothing secret: the page asks for the key itself.
    for path in ("/", "/dashboard", "/ui/js/chat.js"):
        assert httpx.get(f"{server.url}{path}", headers={"Accept": "text/html"}).status_code == 200, path
    for path in ("/v1/models", "/api/tags", "/api/ps", "/v1/engine/stats", "/v1/engine/requests", "/metrics"):
        r = httpx.get(f"{server.url}{path}")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
    with pytest.raises(openai.AuthenticationError) as e:
        hi(oa(server, "sk-wrong"))
    assert e.value.body["code"] == "invalid_api_key" and "not valid" in e.value.body["message"]
    with pytest.raises(ollama.ResponseError) as e:
        oc(server, None).chat(model=ALIAS, messages=[{"role": "user", "content": "Hi"}])
    assert e.value.status_code == 401 and "Authorization: Bearer" in e.value.error  # Ollama's {"error": "..."}
    r = httpx.post(f"{server.url}/v1/chat/completions", headers={"Authorization": "Basic c2stYWxpY2U="}, json={})
    assert r.status_code == 401


def test_inline_file_and_digest_keys_work_with_both_clients(server):
    for key in ("sk-inline", "sk-alice", "sk-bob"):
        assert hi(oa(server, key)).choices[0].message.content
        r = oc(server, key).chat(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 3})
        assert r.done
    assert "sk-inline" not in "\n".join(server.log) and "sk-alice" not in "\n".join(server.log)


def test_a_key_limited_to_some_models(server, tmp_path):
    bob = oa(server, "sk-bob")
    assert [m.id for m in bob.models.list().data] == [ALIAS]
    with pytest.raises(openai.PermissionDeniedError) as e:
        bob.chat.completions.create(model="gemma", messages=[{"role": "user", "content": "Hi"}])
    assert e.value.body["code"] == "model_not_allowed"
    with pytest.raises(ollama.ResponseError) as e:
        oc(server, "sk-bob").show("gemma")
    assert e.value.status_code == 403 and "gemma" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:  # the store is not for keys with a models list
        oc(server, "sk-bob").pull("hf.co/x/y")
    assert e.value.status_code == 403
    assert {m.model for m in oc(server, "sk-bob").list().models} <= {ALIAS, f"{ALIAS}:latest"}


def test_requests_per_minute(server):
    carol = oa(server, "sk-carol")
    hi(carol)
    hi(carol)
    with pytest.raises(openai.RateLimitError) as e:
        hi(carol)
    retry_after = int(e.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60 and e.value.body["code"] == "rate_limit_exceeded"
    hi(oa(server, "sk-alice"))  # other keys are not affected


def test_tokens_per_minute_are_charged_when_a_response_ends(server):
    dave = oa(server, "sk-dave")
    r = hi(dave)  # ~30 prompt tokens: over the 20-token budget once charged
    assert r.usage.total_tokens > 20
    deadline = time.monotonic() + HANG_S
    while True:  # the charge lands when the response has been written: the next request sees it
        try:
            hi(dave)
        except openai.RateLimitError as e:
            assert "20 tokens per minute" in e.body["message"]
            break
        assert time.monotonic() < deadline


def test_sighup_reloads_the_file_and_a_broken_file_keeps_the_keys(server, keys_file):
    with pytest.raises(openai.AuthenticationError):
        hi(oa(server, "sk-erin"))
    keys_file.write_text(TOML + '\n[[keys]]\nkey = "sk-erin"\nuser = "erin"\n')
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + HANG_S
    while not any("API keys reloaded (6 keys)" in l for l in server.log):
        assert time.monotonic() < deadline, "no reload"
        time.sleep(0.05)
    hi(oa(server, "sk-erin"))
    keys_file.write_text(TOML + '\n[[keys]]\nkey = "sk-frank"\n')  # no user
    server.proc.send_signal(signal.SIGHUP)
    while not any("API keys not reloaded" in l for l in server.log):
        assert time.monotonic() < deadline, "no reload attempt"
        time.sleep(0.05)
    assert any("keys.toml:" in l and "'user' is required" in l for l in server.log)
    hi(oa(server, "sk-erin"))  # still the keys of the last good file
    keys_file.write_text(TOML)


@pytest.mark.parametrize("name,text,expect", [
    ("bad.toml", '[[keys]]\nkey = "a"\nuser = "u"\nmodels = "x"\n', "bad.toml:1: 'models' must be a list"),
    ("bad.toml", '[[keys]]\nkey = "a"\nuser = "u"\n[[keys]]\nkey = "a"\nuser = "v"\n', "given twice"),
    ("bad.toml", '[[keys]]\nkey = "a"\nuser = \n', "bad.toml:3:"),
    ("bad.jsonl", '{"key": "a", "user": "u"}\n\n{"key": "b", "usr": "v"}\n', "bad.jsonl:3: unknown field 'usr'"),
    ("bad.jsonl", '{"sha256": "abc", "user": "u"}\n', "bad.jsonl:1: 'sha256' must be 64 hex digits"),
    ("bad.jsonl", '{"key": "a", "user": "u"\n', "bad.jsonl:1: not valid JSON"),
])
def test_a_malformed_keys_file_refuses_the_start(tmp_path, name, text, expect):
    p = tmp_path / name
    p.write_text(text)
    r = subprocess.run([str(_binary()), "serve", "-m", str(MODEL), "--port", "0", "--api-keys", str(p)],
                       capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode != 0 and expect in r.stderr, r.stderr


def test_json_lines_keys_file(tmp_path):
    p = tmp_path / "keys.jsonl"
    p.write_text('# comment\n{"key": "sk-j", "user": "j", "models": ["%s"]}\n' % ALIAS)
    with running_server("--api-keys", str(p)) as s:
        assert hi(oa(s, "sk-j")).choices
        with pytest.raises(openai.AuthenticationError):
            hi(oa(s, "sk-alice"))
