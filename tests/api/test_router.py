"""`nagare router` in front of real `nagare serve` replicas on loopback (one thread each):
streams passed through chunk by chunk, conversations kept on one replica by the cache-aware
policy, the other policies, a replica killed mid-stream (a clean error event, the router keeps
serving on the survivor, requests that had not started are retried), workers added and removed
at run time (API, file, DNS), API keys at the router, its /metrics through promtool, errors in
each API's shape when no worker can answer, and two replicas sharing the Redis response cache.
Every wait is for a state with a deadline that only stops a hang."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

import httpx
import ollama
import openai
import pytest

from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, _binary, launched_server
from test_response_cache import free_port, start_redis

HANG_S = 120


def replica(*extra):
    cmd = [str(_binary()), "serve", "-m", str(MODEL), "--alias", ALIAS, "--host", "127.0.0.1", "--port", "0",
           "--ctx-size", "1024", "--threads", "1", "--no-audit", *extra]
    return launched_server(cmd)


@contextlib.contextmanager
def router(*args):
    """Runs `nagare router ARGS` on a free port (its /health may be 503: some tests give it no
    healthy worker); yields (url, process, log); at the end SIGTERM, and a clean exit is checked."""
    quick = [] if "--health-interval" in args else ["--health-interval", "0.2"]
    cmd = [str(_binary()), "router", "--host", "127.0.0.1", "--port", "0", *quick, *args]
    with launched_server(cmd, listening=r"router listening on (http://\S+)", healthy=False) as s:
        yield s.url, s.proc, s.log


def worker_args(*servers):
    return [a for s in servers for a in ("--worker", s.url)]


def chat(url, messages, **extra):
    """One chat through the router: (the worker that answered, the answer, usage)."""
    r = httpx.post(f"{url}/v1/chat/completions", timeout=REQUEST_TIMEOUT_S,
                   json={"model": ALIAS, "messages": messages, "max_tokens": 12, "temperature": 0, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    return r.headers["x-nagare-worker"], body["choices"][0]["message"]["content"], body["usage"]


def metrics(url):
    return httpx.get(f"{url}/metrics", timeout=30).text


def metric(url, name, **labels):
    total = 0.0
    for line in metrics(url).splitlines():
        if line.startswith(name) and line[len(name)] in "{ " and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait(predicate, what):
    deadline = time.monotonic() + HANG_S
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def workers(url):
    return {w["url"]: w for w in httpx.get(f"{url}/workers", timeout=30).json()["workers"]}


@pytest.fixture(scope="module")
def replicas():
    with replica() as a, replica() as b:
        yield a, b


@pytest.fixture(scope="module")
def cache_aware(replicas):
    with router(*worker_args(*replicas)) as (url, _, log):
        yield url


def test_a_stream_passes_through_chunk_by_chunk_and_equals_the_workers_answer(replicas, cache_aware):
    client = openai.OpenAI(base_url=f"{cache_aware}/v1", api_key="none", max_retries=0, timeout=REQUEST_TIMEOUT_S)
    messages = [{"role": "user", "content": "Write three sentences about rivers."}]
    chunks = [c for c in client.chat.completions.create(model=ALIAS, messages=messages, max_tokens=24, temperature=0,
                                                        stream=True)]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 10
    direct = openai.OpenAI(base_url=f"{replicas[0].url}/v1", api_key="none", max_retries=0, timeout=REQUEST_TIMEOUT_S)
    assert text == direct.chat.completions.create(model=ALIAS, messages=messages, max_tokens=24,
                                                  temperature=0).choices[0].message.content
    # Bytes arrive as the worker writes them: the first event reaches the client while the
    # request is still generating on its replica (a state, not a timing).
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as c, c.stream(
            "POST", f"{cache_aware}/v1/chat/completions",
            json={"model": ALIAS, "messages": messages, "max_tokens": 900, "temperature": 0, "stream": True,
                  "ignore_eos": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        worker = next(s for s in replicas if s.url == r.headers["x-nagare-worker"])
        lines = r.iter_lines()
        assert next(lines).startswith("data: {")
        assert worker.stats()["running"] == 1, "the first event came only once the answer was complete"
    worker.wait_idle()  # closing the stream cancelled it there


def test_multi_turn_chats_stay_on_one_replica_and_hit_its_cache(replicas, cache_aware):
    seen = {}
    for conv in range(4):
        messages = [{"role": "system", "content": f"You are assistant number {conv}. " + "Be brief. " * 40}]
        for turn in range(3):
            messages.append({"role": "user", "content": f"Question {turn}: name a colour."})
            worker, answer, usage = chat(cache_aware, messages)
            seen.setdefault(conv, set()).add(worker)
            if turn > 0:  # the earlier turns (and the answer) are in that replica's prefix cache
                assert usage["prompt_tokens_details"]["cached_tokens"] > 40, usage
            messages.append({"role": "assistant", "content": answer})
    assert all(len(w) == 1 for w in seen.values()), seen
    assert len({next(iter(w)) for w in seen.values()}) == 2, "idle replicas should share new conversations"
    assert metric(cache_aware, "nagare:router_cache_aware_hits_total") >= 8


@pytest.mark.parametrize("policy", ["round-robin", "least-load", "random"])
def test_other_policies_use_both_replicas(replicas, policy):
    with router(*worker_args(*replicas), "--policy", policy) as (url, _, _):
        used = {chat(url, [{"role": "user", "content": "Hi"}], max_tokens=2)[0] for _ in range(12)}
        assert used == {r.url for r in replicas}
        if policy == "round-robin":
            order = [chat(url, [{"role": "user", "content": "Hi"}], max_tokens=2)[0] for _ in range(4)]
            assert order[0] != order[1] and order[0] == order[2]


def test_ollama_api_through_the_router(cache_aware):
    client = ollama.Client(host=cache_aware, timeout=REQUEST_TIMEOUT_S)
    parts = list(client.chat(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], stream=True,
                             options={"num_predict": 6, "temperature": 0}))
    assert parts[-1].done and "".join(p.message.content for p in parts)
    assert any(m.model.startswith(ALIAS) for m in client.list().models)


def test_errors_pass_through_in_each_apis_shape(cache_aware):
    r = httpx.post(f"{cache_aware}/v1/chat/completions", content=b"{not json", timeout=30)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{cache_aware}/api/chat", json={"model": "nope", "messages": []}, timeout=30)
    assert r.status_code == 404 and isinstance(r.json()["error"], str)
    assert httpx.post(f"{cache_aware}/workers", json={"url": "ftp://x"}, timeout=30).status_code == 400
    assert httpx.delete(f"{cache_aware}/workers/" + urllib.parse.quote("http://127.0.0.1:1", safe=""),
                        timeout=30).status_code == 404


def test_no_healthy_worker_is_503_in_each_apis_shape_and_health_says_so():
    dead = f"http://127.0.0.1:{free_port()}"
    with router("--worker", dead, "--health-failures", "1") as (url, _, _):
        wait(lambda: not workers(url)[dead]["healthy"], "the dead worker's ejection")
        assert httpx.get(f"{url}/health").status_code == 503
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": ALIAS, "messages": []}, timeout=30)
        assert r.status_code == 503 and r.json()["error"]["code"] == "no_worker" and r.headers["retry-after"] == "1"
        r = httpx.post(f"{url}/api/generate", json={"model": ALIAS, "prompt": "x"}, timeout=30)
        assert r.status_code == 503 and "no healthy worker" in r.json()["error"]


def test_a_worker_killed_mid_stream(replicas):
    """kill -9 of the replica that is streaming: that stream ends with an error event, requests that
    had not started are retried on the survivor, none is lost, and the router goes on serving."""
    with replica() as victim:
        survivor = replicas[0]
        # A long health interval: the router learns of the death from the failing requests.
        with router(*worker_args(victim, survivor), "--policy", "round-robin", "--health-interval", "30") as (url, _, _):
            body = {"model": ALIAS, "messages": [{"role": "user", "content": "Count slowly."}], "stream": True,
                    "ignore_eos": True, "max_tokens": 900}
            with httpx.Client(timeout=REQUEST_TIMEOUT_S) as c:
                streams = []
                for _ in range(2):  # round robin: one on each replica
                    cm = c.stream("POST", f"{url}/v1/chat/completions", json=body)
                    r = cm.__enter__()
                    streams.append((cm, r, r.iter_lines()))
                on_victim = [s for s in streams if s[1].headers["x-nagare-worker"] == victim.url]
                assert len(on_victim) == 1
                for _, _, lines in streams:
                    assert next(lines).startswith("data: {")
                victim.proc.kill()
                victim.proc.wait()
                victim.killed_by_test = True
                tail = [line for line in on_victim[0][2] if line.startswith("data: ")]
                assert tail, "the cut stream ended without an event"
                err = json.loads(tail[-1][len("data: "):])
                assert err["error"]["code"] == "worker_failed", tail[-1]
                for cm, r, _ in streams:
                    cm.__exit__(None, None, None)
            # The failure took the victim out of rotation at once: every request goes to the survivor.
            assert metric(url, "nagare:router_failed_mid_stream_total") == 1
            assert metric(url, "nagare:router_worker_healthy", worker=victim.url) == 0
            for _ in range(4):
                assert chat(url, [{"role": "user", "content": "Still there?"}], max_tokens=2)[0] == survivor.url
            # A worker that cannot be reached (added, not yet checked): the request that goes there
            # is retried on the survivor before any byte was sent, so the client never sees it.
            dead = f"http://127.0.0.1:{free_port()}"
            assert httpx.post(f"{url}/workers", json={"url": dead}, timeout=30).status_code == 201
            for _ in range(4):
                assert chat(url, [{"role": "user", "content": "Still there?"}], max_tokens=2)[0] == survivor.url
            assert metric(url, "nagare:router_retries_total") >= 1
            assert metric(url, "nagare:router_ejections_total", worker=dead) == 1


def test_workers_added_and_removed_at_run_time(replicas, tmp_path):
    a, b = replicas
    listing = tmp_path / "workers.txt"
    listing.write_text(f"# the file's workers\n{a.url}\n")
    with router("--workers-file", str(listing)) as (url, _, _):
        assert set(workers(url)) == {a.url}
        r = httpx.post(f"{url}/workers", json={"url": b.url}, timeout=30)
        assert r.status_code == 201 and r.json()["source"] == "api"
        assert set(workers(url)) == {a.url, b.url}
        assert httpx.delete(f"{url}/workers/" + urllib.parse.quote(a.url, safe=""), timeout=30).status_code == 200
        # The file is re-read when it changes: it names a again (b stays, added by the API).
        listing.write_text(f"{a.url}\n{b.url}\n")
        os.utime(listing, (time.time() + 5, time.time() + 5))  # a new mtime whatever the clock's grain
        wait(lambda: set(workers(url)) == {a.url, b.url} and workers(url)[b.url]["source"] in ("api", "file"),
             "the file's workers")
        listing.write_text("")
        os.utime(listing, (time.time() + 10, time.time() + 10))
        wait(lambda: a.url not in workers(url), "the file's worker to go")
        assert chat(url, [{"role": "user", "content": "Hi"}], max_tokens=2)[0] == b.url


def test_workers_from_dns(replicas):
    port = httpx.URL(replicas[0].url).port
    with router("--worker-dns", f"localhost:{port}") as (url, _, _):
        w = wait(lambda: workers(url).get(f"http://127.0.0.1:{port}"), "the resolved worker")
        assert w["source"] == f"dns:localhost:{port}" and w["healthy"]
        assert chat(url, [{"role": "user", "content": "Hi"}], max_tokens=2)[0] == f"http://127.0.0.1:{port}"


KEYS = """
[[keys]]
key = "sk-router"
user = "alice"
"""


def test_api_keys_are_checked_at_the_router(replicas, tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS)
    with router(*worker_args(*replicas), "--api-keys", str(keys)) as (url, _, _):
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": ALIAS, "messages": []}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(f"{url}/health").status_code == 200  # probes need no key
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-router", max_retries=0, timeout=REQUEST_TIMEOUT_S)
        assert client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}],
                                              max_tokens=2).choices[0].message.content is not None


def test_metrics_parse_with_promtool(cache_aware):
    chat(cache_aware, [{"role": "user", "content": "Hi"}], max_tokens=2)
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: scripts/install-deps installs Debian's prometheus package")
    r = subprocess.run(["promtool", "check", "metrics"], input=metrics(cache_aware), capture_output=True, text=True)
    assert r.returncode != 1, r.stderr
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert all("should not contain ':'" in p for p in problems), problems
    assert metric(cache_aware, "nagare:router_requests_total") >= 1


def test_two_replicas_share_the_redis_response_cache(tmp_path):
    port = free_port()
    redis = start_redis(port, tmp_path)
    try:
        cache = ["--cache", f"redis://127.0.0.1:{port}/2"]
        with replica(*cache) as a, replica(*cache) as b, \
                router(*worker_args(a, b), "--policy", "round-robin") as (url, _, _):
            body = {"model": ALIAS, "messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 8,
                    "temperature": 0}
            first = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=REQUEST_TIMEOUT_S)
            second = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=REQUEST_TIMEOUT_S)
            assert first.headers["x-nagare-worker"] != second.headers["x-nagare-worker"]
            assert (first.headers["x-nagare-cache"], second.headers["x-nagare-cache"]) == ("miss", "hit")
            assert first.json()["choices"] == second.json()["choices"]
    finally:
        redis.terminate()
        redis.wait(30)


@contextlib.contextmanager
def static_file_server(tmp_path):
    """Python's http.server on loopback: an HTTP server, but not of the OpenAI API."""
    (tmp_path / "index.html").write_text("<h1>just files</h1>")
    port = free_port()
    proc = subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                             str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(lambda: _answers(f"http://127.0.0.1:{port}/"), "http.server")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def _answers(url):
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_worker_that_is_not_an_api_server_is_refused(cache_aware, tmp_path):
    with static_file_server(tmp_path) as other:
        r = subprocess.run([str(_binary()), "router", "--port", "0", "--worker", other], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0 and "is not a server of the OpenAI API" in r.stderr and "404" in r.stderr, r.stderr
        r = httpx.post(f"{cache_aware}/workers", json={"url": other}, timeout=30)
        assert r.status_code == 400 and "not a server of the OpenAI API" in r.json()["error"]["message"]
        assert other not in workers(cache_aware)


def test_a_body_over_the_limit_is_refused_at_the_router(replicas):
    with router(*worker_args(*replicas), "--max-request-size", "1") as (url, _, _):
        before = metric(url, "nagare:router_requests_total")
        big = {"model": ALIAS, "messages": [{"role": "user", "content": "x" * (2 << 20)}]}
        r = httpx.post(f"{url}/v1/chat/completions", json=big, timeout=60)
        assert r.status_code == 413
        assert metric(url, "nagare:router_requests_total") == before  # never forwarded


def test_sigterm_lets_a_running_stream_finish(replicas):
    with router(*worker_args(*replicas)) as (url, proc, _):
        body = {"model": ALIAS, "messages": [{"role": "user", "content": "Count."}], "stream": True,
                "ignore_eos": True, "max_tokens": 150}
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as c, c.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
            lines = r.iter_lines()
            assert next(lines).startswith("data: {")
            proc.send_signal(signal.SIGTERM)  # drains: this stream goes on, new requests are refused
            wait(lambda: httpx.get(f"{url}/health", timeout=30).status_code == 503, "the router to drain")
            events = [line for line in lines if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        assert any('"finish_reason":"length"' in e for e in events), "the stream was cut, not finished"
        assert proc.wait(60) == 0
