"""GET /metrics (issue 12): Prometheus text that `promtool check metrics` parses (its one lint
finding is the ':' of the vLLM-style `nagare:` names), counters and histograms that agree with
what the clients were told (usage, finish reasons, statuses), and a real Prometheus started on
loopback that scrapes the server and answers a query with the same numbers."""
import re
import shutil
import socket
import subprocess
import time

import httpx
import ollama
import openai
import pytest

from conftest import ALIAS, REQUEST_TIMEOUT_S, running_server

HANG_S = 120  # only stops a hung test
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    got = [v for (n, l), v in samples.items() if n == name and want <= set(l)]
    return sum(got)


@pytest.fixture(scope="module")
def server():
    with running_server() as s:
        yield s


@pytest.fixture(scope="module")
def traffic(server):
    """Known requests; returns what the clients saw."""
    oa = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=REQUEST_TIMEOUT_S)
    seen = {"prompt": 0, "completion": 0, "requests": 0}
    for q in ("Hi", "Name a colour."):
        r = oa.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": q}], max_tokens=6, temperature=0)
        seen["prompt"] += r.usage.prompt_tokens
        seen["completion"] += r.usage.completion_tokens
        seen["requests"] += 1
    stream = oa.completions.create(model=ALIAS, prompt="Once upon a time", max_tokens=5, stream=True,
                                   stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage:
            seen["prompt"] += chunk.usage.prompt_tokens
            seen["completion"] += chunk.usage.completion_tokens
    seen["requests"] += 1
    r = ollama.Client(host=server.url).generate(model=ALIAS, prompt="Hi", options={"num_predict": 4, "temperature": 0})
    seen["prompt"] += r.prompt_eval_count
    seen["completion"] += r.eval_count
    seen["requests"] += 1
    assert httpx.get(f"{server.url}/v1/no-such-route").status_code == 404
    return seen


def scrape(server):
    r = httpx.get(f"{server.url}/metrics", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def test_promtool_parses_the_exposition(server, traffic):
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: scripts/install-deps installs Debian's prometheus package")
    r = subprocess.run(["promtool", "check", "metrics"], input=scrape(server), capture_output=True, text=True)
    assert r.returncode != 1, r.stderr  # 1: the text does not parse
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert problems, "promtool found nothing to say about ':' in names: did the prefix change?"
    assert all("should not contain ':'" in p for p in problems), problems


def test_counters_agree_with_what_clients_saw(server, traffic):
    s = parse(scrape(server))
    assert value(s, "nagare:prompt_tokens_total", model_name=ALIAS) == traffic["prompt"]
    # Every prompt token is looked up in the prefix cache once; the hits are some of those.
    assert value(s, "nagare:prefix_cache_queries_total", model_name=ALIAS) == traffic["prompt"]
    assert value(s, "nagare:prefix_cache_hits_total", model_name=ALIAS) <= traffic["prompt"]
    assert value(s, "nagare:generation_tokens_total", model_name=ALIAS) == traffic["completion"]
    assert value(s, "nagare:request_success_total", model_name=ALIAS) == traffic["requests"]
    assert value(s, "nagare:request_success_total", model_name=ALIAS, finished_reason="length") == traffic["requests"]
    assert value(s, "nagare:time_to_first_token_seconds_count", model_name=ALIAS) == traffic["requests"]
    assert value(s, "nagare:request_generation_tokens_sum", model_name=ALIAS) == traffic["completion"]
    assert value(s, "nagare:inter_token_latency_seconds_count", model_name=ALIAS) == traffic["completion"] - traffic["requests"]
    assert value(s, "nagare:http_requests_total", route="/v1/chat/completions", method="POST", status="200") == 2
    assert value(s, "nagare:http_requests_total", route="/api/generate", status="200") == 1
    assert value(s, "nagare:http_requests_total", route="other", status="404") == 1
    assert value(s, "nagare:num_requests_running", model_name=ALIAS) == 0
    assert value(s, "nagare:loaded_models") == 1
    assert value(s, "nagare:build_info") == 1
    # Histogram buckets are cumulative and end at the count.
    buckets = sorted(((float(dict(l)["le"].replace("+Inf", "inf")), v) for (n, l), v in s.items()
                      if n == "nagare:e2e_request_latency_seconds_bucket"), key=lambda x: x[0])
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] == traffic["requests"]


def test_a_client_that_leaves_is_an_abort(server, traffic):
    before = value(parse(scrape(server)), "nagare:request_success_total", finished_reason="abort")
    with httpx.stream("POST", f"{server.url}/v1/completions", timeout=REQUEST_TIMEOUT_S,
                      json={"model": ALIAS, "prompt": "Count to a thousand:", "max_tokens": 500, "stream": True,
                            "ignore_eos": True}) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                break
    deadline = time.monotonic() + HANG_S
    while value(parse(scrape(server)), "nagare:request_success_total", finished_reason="abort") != before + 1:
        assert time.monotonic() < deadline, "the abandoned stream was never counted"
        time.sleep(0.05)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_prometheus_scrapes_it(server, traffic, tmp_path):
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus not found: scripts/install-deps installs Debian's prometheus package")
    target = server.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: nagare\n    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        expected = value(parse(scrape(server)), "nagare:prompt_tokens_total", model_name=ALIAS)
        deadline = time.monotonic() + HANG_S
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query",
                              params={"query": f'nagare:prompt_tokens_total{{model_name="{ALIAS}"}}'}, timeout=10)
                result = r.json()["data"]["result"] if r.status_code == 200 else []
            except httpx.HTTPError:
                result = []
            if result:
                break
            assert proc.poll() is None, "prometheus exited: " + proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "prometheus never had the series"
            time.sleep(0.2)
        assert float(result[0]["value"][1]) == expected
        up = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "up{job='nagare'}"}).json()
        assert up["data"]["result"][0]["value"][1] == "1"
    finally:
        proc.terminate()
        proc.wait(30)
