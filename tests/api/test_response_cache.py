"""The response cache (issue 12, in-process part): a deterministic request (temperature 0, or a
seed) asked again is answered from the cache — X-Nagare-Cache: hit, the same text, logprobs and
usage, a stream replayed as a stream, the engine untouched, counted in /metrics — while anything
that changes the output (a parameter, the seed, sampling without a seed) is not; --cache-size 0
turns it off."""
import json

import httpx
import openai
import pytest

from conftest import ALIAS, REQUEST_TIMEOUT_S, running_server


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


def chat(server, **kw):
    body = {"model": ALIAS, "messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 10}
    body.update(kw)
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=REQUEST_TIMEOUT_S)
    assert r.status_code == 200, r.text
    return r


def same_answer(a, b):
    ja, jb = a.json(), b.json()
    assert [c["message"] for c in ja["choices"]] == [c["message"] for c in jb["choices"]]
    assert [c["logprobs"] for c in ja["choices"]] == [c["logprobs"] for c in jb["choices"]]
    assert [c["finish_reason"] for c in ja["choices"]] == [c["finish_reason"] for c in jb["choices"]]
    assert ja["usage"] == jb["usage"]


def test_a_repeated_greedy_request_is_a_hit_without_the_engine(server):
    first = chat(server, temperature=0, logprobs=True, top_logprobs=2)
    assert first.headers["x-nagare-cache"] == "miss"
    before = server.stats()
    again = chat(server, temperature=0, logprobs=True, top_logprobs=2)
    assert again.headers["x-nagare-cache"] == "hit"
    same_answer(first, again)
    after = server.stats()
    assert (after["prompt_tokens"], after["generated_tokens"]) == (before["prompt_tokens"], before["generated_tokens"])
    metrics = httpx.get(f"{server.url}/metrics").text
    hits = [l for l in metrics.splitlines() if l.startswith("nagare:response_cache_hits_total")]
    assert hits and float(hits[0].split()[-1]) >= 1


def test_a_streamed_hit_is_a_stream_with_the_same_content(server):
    oa = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=REQUEST_TIMEOUT_S)

    def run():
        raw = oa.completions.with_raw_response.create(model=ALIAS, prompt="Once upon a time", max_tokens=8,
                                                      temperature=0, stream=True, logprobs=2,
                                                      stream_options={"include_usage": True})
        chunks = list(raw.parse())
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.tokens]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        usage = [c.usage for c in chunks if c.usage]
        return raw.headers["x-nagare-cache"], text, tokens, finish, usage, len(chunks)

    miss, hit = run(), run()
    assert (miss[0], hit[0]) == ("miss", "hit")
    assert hit[1:5] == miss[1:5] and miss[1]
    assert hit[5] >= 3  # a stream, not one body: a chunk per token, then the finish and usage


def test_what_changes_the_output_is_not_a_hit(server):
    chat(server, temperature=0)
    assert chat(server, temperature=0, max_tokens=11).headers["x-nagare-cache"] == "miss"
    assert chat(server, temperature=0, stop=["\n"]).headers["x-nagare-cache"] == "miss"
    seeded = chat(server, temperature=1.0, seed=123)
    assert seeded.headers["x-nagare-cache"] == "miss"
    again = chat(server, temperature=1.0, seed=123)
    assert again.headers["x-nagare-cache"] == "hit"
    same_answer(seeded, again)
    assert chat(server, temperature=1.0, seed=124).headers["x-nagare-cache"] == "miss"
    for _ in range(2):  # sampling without a seed is never cached
        assert "x-nagare-cache" not in chat(server, temperature=1.0).headers
    two = chat(server, temperature=0.7, seed=5, n=2)
    assert chat(server, temperature=0.7, seed=5, n=2).headers["x-nagare-cache"] == "hit"
    assert len(two.json()["choices"]) == 2


def test_the_ollama_endpoints_use_it_too(server):
    def generate(stream):
        body = {"model": ALIAS, "prompt": "Why is the sky blue?", "stream": stream,
                "options": {"temperature": 0, "num_predict": 8}}
        with httpx.stream("POST", f"{server.url}/api/generate", json=body, timeout=REQUEST_TIMEOUT_S) as r:
            lines = [json.loads(l) for l in r.iter_lines() if l]
            return r.headers.get("x-nagare-cache"), lines

    status, (first,) = generate(False)
    assert status == "miss"
    status, (again,) = generate(False)
    assert status == "hit"
    assert (again["response"], again["eval_count"], again["context"]) == (first["response"], first["eval_count"], first["context"])
    status, lines = generate(True)
    assert status == "hit" and len(lines) >= 3  # a stream: pieces, then the final object
    assert "".join(l["response"] for l in lines) == first["response"] and lines[-1]["done"]
    chat = {"model": ALIAS, "messages": [{"role": "user", "content": "Hi"}], "stream": False,
            "options": {"temperature": 0.9, "num_predict": 4}}
    assert "x-nagare-cache" not in httpx.post(f"{server.url}/api/chat", json=chat).headers  # no seed: not cached


def test_cache_size_zero_turns_it_off():
    with running_server("--cache-size", "0") as s:
        for _ in range(2):
            assert "x-nagare-cache" not in chat(s, temperature=0).headers


# --- shared through Redis ----------------------------------------------------------------------

import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port, tmp):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not found: scripts/install-deps installs Debian's redis-server")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)


def test_two_servers_share_hits_through_redis_and_survive_it_stopping(tmp_path):
    port = free_port()
    redis = start_redis(port, tmp_path)
    try:
        url = f"redis://127.0.0.1:{port}/1"
        with running_server("--cache", url) as a, running_server("--cache", url) as b:
            first = chat(a, temperature=0)
            assert first.headers["x-nagare-cache"] == "miss"
            shared = chat(b, temperature=0)
            assert shared.headers["x-nagare-cache"] == "hit"  # computed by the other server
            same_answer(first, shared)
            redis.terminate()
            redis.wait(30)
            r = chat(a, temperature=0, max_tokens=7)  # Redis gone: answered, without the cache
            assert r.headers["x-nagare-cache"] == "miss" and r.json()["choices"][0]["message"]["content"]
            assert chat(a, temperature=0).headers["x-nagare-cache"] == "miss"
            assert any("answering without the cache" in l for l in a.log)
            redis = start_redis(port, tmp_path)
            time.sleep(1.2)  # a reconnect is tried at most once a second
            assert chat(b, temperature=0, max_tokens=5).headers["x-nagare-cache"] == "miss"
            assert chat(a, temperature=0, max_tokens=5).headers["x-nagare-cache"] == "hit"
            assert any("answers again" in l for l in a.log)
    finally:
        redis.terminate()
        redis.wait(30)
