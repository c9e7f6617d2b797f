"""End-to-end tests of `nagare bench`, the benchmark client.

Against the real `nagare serve` (the session `server` fixture of conftest.py), through a
recording proxy that sums the usage the server reports, so the token totals bench prints are
checked against the server's own counts. Against small fake servers (Python's http.server) that
answer garbage, HTTP errors, hang or drop connections, and against a closed port: every failure
is counted with its reason and the run ends within its bounds with a summary.
"""
import json
import os
import signal
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "tests" / "unit" / "bench" / "data"
SVG = "{http://www.w3.org/2000/svg}"
HEADER = ("| Concurrency | Wall Time (s) | Avg Latency (s) | P95 Latency (s) | Prompt Tokens | Compl Tokens "
          "| Prompt TPS | Compl TPS | Reqs (Succ/Att) |")
RUN_TIMEOUT_S = 900  # a loaded 2-core machine is slow; never a pass/fail criterion
HANG_S = 120         # how long a fake server's hanging answer lasts at most: only stops a hung test


@pytest.fixture(scope="session")
def nagare_bin():
    path = Path(os.environ.get("NAGARE_BIN", ROOT / "build" / "nagare"))
    if not path.is_file():
        pytest.fail(f"nagare binary not found at {path}: build it (scripts/build) or set NAGARE_BIN")
    return path


def bench(nagare_bin, *args, timeout=RUN_TIMEOUT_S):
    return subprocess.run([str(nagare_bin), "bench", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Fake OpenAI-compatible servers

class FakeServer(ThreadingHTTPServer):
    """Answers POSTs with `behavior(handler, body, index)`; records every request body."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behavior):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behavior = behavior
        self.bodies = []
        self.lock = threading.Condition()
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for_requests(self, n, timeout=HANG_S):
        """Waits until n requests have arrived (a deadline only against a hung test)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.bodies) >= n, timeout), \
                f"only {len(self.bodies)} of {n} requests arrived in {timeout} s"

    def stop(self):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/v1/models":
            send(self, 200, json.dumps({"object": "list", "data": [{"id": "fake-model"}]}))
        else:
            send(self, 404, '{"error":{"message":"not found"}}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n))
        with self.server.lock:
            self.server.bodies.append(body)
            index = len(self.server.bodies) - 1
            self.server.lock.notify_all()
        try:
            self.server.behavior(self, body, index)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, --duration): expected in these tests


def send(h, status, text, ctype="application/json", declared_extra=0, close=False):
    data = text.encode()
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data) + declared_extra))
    if close:
        h.send_header("Connection", "close")
        h.close_connection = True
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()


def prompt_words(body):
    if "messages" in body:
        return sum(len(m["content"].split()) for m in body["messages"])
    return len(body["prompt"].split())


def good_reply(h, body, index, usage=True):
    """A valid answer of exactly max_tokens tokens; prompt tokens = words (a known count)."""
    n = body.get("max_tokens", 8)
    chat = "messages" in body
    u = {"prompt_tokens": prompt_words(body), "completion_tokens": n, "total_tokens": prompt_words(body) + n}
    if not body.get("stream"):
        choice = ({"index": 0, "message": {"role": "assistant", "content": "w " * n}, "finish_reason": "length"}
                  if chat else {"index": 0, "text": "w " * n, "finish_reason": "length"})
        send(h, 200, json.dumps({"id": "x", "choices": [choice], "usage": u}))
        return
    out = []
    for i in range(n):
        choice = ({"index": 0, "delta": {"content": "w "}, "finish_reason": None} if chat
                  else {"index": 0, "text": "w ", "finish_reason": None})
        if i == n - 1:
            choice["finish_reason"] = "length"
        out.append("data: " + json.dumps({"id": "x", "choices": [choice]}) + "\n\n")
    if usage and body.get("stream_options", {}).get("include_usage"):
        out.append("data: " + json.dumps({"id": "x", "choices": [], "usage": u}) + "\n\n")
    out.append("data: [DONE]\n\n")
    send(h, 200, "".join(out), "text/event-stream")


@pytest.fixture
def fake():
    servers = []

    def make(behavior):
        s = FakeServer(behavior)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def load(path):
    return json.loads(Path(path).read_text())


# ---------------------------------------------------------------------------------------------
# Against the real nagare serve

class UsageProxy(ThreadingHTTPServer):
    """Relays requests to the server and sums the `usage` it reports, request by request."""
    daemon_threads = True

    def __init__(self, upstream):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        host, port = upstream.split("//")[1].split(":")
        self.upstream = (host, int(port))
        self.usages = []  # (prompt_tokens, completion_tokens) per response, in arrival order
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        conn = HTTPConnection(*self.server.upstream, timeout=RUN_TIMEOUT_S)
        conn.request("POST", self.path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        usage = None
        text = raw.decode("utf-8", "replace")
        if "text/event-stream" in resp.getheader("Content-Type", ""):
            for line in text.split("\n"):
                if line.startswith("data: ") and line != "data: [DONE]":
                    u = json.loads(line[6:]).get("usage")
                    if u:
                        usage = u
        elif resp.status == 200:
            usage = json.loads(text).get("usage")
        if usage:
            with self.server.lock:
                self.server.usages.append((usage["prompt_tokens"], usage["completion_tokens"]))
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def proxy(server):
    server.wait_idle()
    p = UsageProxy(server.url)
    yield p
    p.shutdown()
    p.server_close()


def test_bench_against_nagare_counts_match_server_usage(nagare_bin, server, model_name, proxy, tmp_path):
    out, chart = tmp_path / "r.json", tmp_path / "c.svg"
    r = bench(nagare_bin, "--url", proxy.url, "--model", model_name, "--concurrency", "1,2", "--num-requests", 3,
              "--input-len", 12, "--output-len", 4, "--ignore-eos", "--warmup", 1, "--seed", 5,
              "--out", out, "--chart", chart)
    assert r.returncode == 0, r.stdout + r.stderr
    assert HEADER in r.stdout
    res = load(out)
    assert res["server"]["model"] == model_name
    assert res["server"]["endpoint_url"] == proxy.url + "/v1/chat/completions"
    assert [lv["concurrency"] for lv in res["levels"]] == [1, 2]
    for lv in res["levels"]:
        assert lv["requests"] == {"attempted": 3, "succeeded": 3, "failed": 0, "cut_off": 0}, lv
        assert lv["usage_missing"] == 0
        assert lv["completion_tokens"] == 3 * 4, "ignore_eos + min_tokens give exact lengths"
        assert lv["short_outputs"] == 0
        for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
            s = lv[key]
            # One per request, except ITL: one per gap between content chunks, and a client that
            # reads slower than the engine writes may get several tokens in one chunk.
            assert s["count"] == 3 or key == "itl_ms", (key, s)
            if s["count"]:
                assert 0 <= s["min"] <= s["p50"] <= s["p90"] <= s["p95"] <= s["p99"] <= s["max"], (key, s)
        # At most three gaps between four tokens.
        assert lv["itl_ms"]["count"] <= 3 * 3
        assert lv["e2e_ms"]["p50"] >= lv["ttft_ms"]["p50"]
        assert lv["completion_tps"] == pytest.approx(lv["completion_tokens"] / lv["wall_time_s"], rel=1e-9)
    # The server's own usage, request by request: one warm-up, then 6 measured requests.
    assert len(proxy.usages) == 7
    measured = proxy.usages[1:]
    assert sum(lv["prompt_tokens"] for lv in res["levels"]) == sum(p for p, _ in measured)
    assert sum(lv["completion_tokens"] for lv in res["levels"]) == sum(c for _, c in measured)
    # 12 one-token words plus the chat template's fixed frame: the same count for every request.
    assert len({p for p, _ in proxy.usages}) == 1
    assert proxy.usages[0][0] >= 12
    # The table shows the same totals.
    row = next(l for l in r.stdout.splitlines() if l.startswith("|           2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == str(res["levels"][1]["prompt_tokens"]) and cells[5] == "12" and cells[8] == "3/3"
    svg = ET.parse(chart).getroot()
    assert svg.tag == SVG + "svg"
    assert len(svg.findall(f".//{SVG}polyline")) == 3  # throughput, mean latency, p95 latency


def test_bench_completions_prompt_is_one_token_per_word(nagare_bin, server, model_name, proxy, tmp_path):
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", proxy.url + "/v1", "--model", model_name, "--endpoint", "completions",
              "--num-requests", 2, "--input-len", 40, "--output-len", 2, "--ignore-eos", "--no-stream", "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    lv = load(out)["levels"][0]
    assert lv["requests"]["succeeded"] == 2
    assert lv["ttft_ms"]["count"] == 0, "no TTFT without streaming"
    for p, c in proxy.usages:
        assert 40 <= p <= 41, "40 words from the one-token list (+ BOS if the model adds one)"
        assert c == 2
    assert lv["prompt_tokens"] == sum(p for p, _ in proxy.usages)


def test_bench_model_defaults_to_the_servers_first(nagare_bin, server, model_name, tmp_path):
    server.wait_idle()
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", server.url, "--num-requests", 1, "--input-len", 4, "--output-len", 1,
              "--out", out, "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert load(out)["server"]["model"] == model_name


# ---------------------------------------------------------------------------------------------
# Charts and comparisons from result files

def test_chart_and_compare_from_result_files(nagare_bin, fake, tmp_path):
    s = fake(good_reply)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, label in ((a, "alpha & <one>"), (b, "beta")):
        r = bench(nagare_bin, "--url", s.url, "--concurrency", "1,3", "--num-requests", 3, "--input-len", 5,
                  "--output-len", 3, "--label", label, "--out", path, "-q")
        assert r.returncode == 0, r.stdout + r.stderr
    chart = tmp_path / "both.svg"
    r = bench(nagare_bin, "--chart", chart, a, b)
    assert r.returncode == 0, r.stderr
    root = ET.parse(chart).getroot()
    assert root.tag == SVG + "svg"
    assert len(root.findall(f".//{SVG}polyline")) == 6
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "alpha & <one>" in texts and "beta" in texts
    r = bench(nagare_bin, "--compare", a, b)
    assert r.returncode == 0, r.stderr
    assert "[1] alpha & <one>" in r.stdout and "[2] beta" in r.stdout
    assert "[2]/[1]" in r.stdout and "x |" in r.stdout
    assert "Completion tokens/s" in r.stdout


def test_bad_result_files(nagare_bin, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    r = bench(nagare_bin, "--compare", bad, bad)
    assert r.returncode == 1 and "not a nagare bench result file" in r.stderr
    r = bench(nagare_bin, "--chart", tmp_path / "x.svg", tmp_path / "missing.json")
    assert r.returncode == 1 and "cannot read result file" in r.stderr


# ---------------------------------------------------------------------------------------------
# Workloads, request bodies and modes against a well-behaved fake

def test_shared_workload_file_as_it_is(nagare_bin, fake, tmp_path):
    s = fake(good_reply)
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--workload", WORKLOADS / "extraction_en.json",
              "--num-requests", 2, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    res = load(out)
    # The file's concurrency list is the default sweep.
    assert [lv["concurrency"] for lv in res["levels"]] == [1, 5, 10, 15, 20]
    assert res["workload"]["name"] == "extraction_en"
    src = load(WORKLOADS / "extraction_en.json")
    assert len(s.bodies) == 10
    for body in s.bodies:
        assert body["messages"] == src["messages"]
        assert body["max_tokens"] == 1024 and body["temperature"] == 0.1
        assert body["model"] == "m" and body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert "concurrency" not in body and "name" not in body
        assert "ignore_eos" not in body and "min_tokens" not in body
    assert res["levels"][0]["completion_tokens"] == 2 * 1024
    assert res["levels"][0]["prompt_tokens"] == 2 * prompt_words(src)


def test_random_and_shared_prefix_bodies(nagare_bin, fake, tmp_path):
    s = fake(good_reply)
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--num-requests", 4, "--input-len", 20,
              "--output-len", 7, "--ignore-eos", "-q")
    assert r.returncode == 0, r.stderr
    contents = [b["messages"][0]["content"] for b in s.bodies]
    assert all(len(c.split()) == 20 for c in contents)
    assert len(set(contents)) == 4, "every request has its own prompt"
    assert all(b["ignore_eos"] is True and b["min_tokens"] == 7 and b["max_tokens"] == 7 for b in s.bodies)
    s.bodies.clear()
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--workload", "shared-prefix", "--prefix-len", 300,
              "--input-len", 10, "--num-requests", 3, "--output-len", 2, "-q")
    assert r.returncode == 0, r.stderr
    systems = {b["messages"][0]["content"] for b in s.bodies}
    users = {b["messages"][1]["content"] for b in s.bodies}
    assert len(systems) == 1 and len(next(iter(systems)).split()) == 300
    assert len(users) == 3 and all(len(u.split()) == 10 for u in users)


def test_request_rate_sweep_and_jsonl(nagare_bin, fake, tmp_path):
    s = fake(good_reply)
    wl = tmp_path / "w.jsonl"
    wl.write_text('{"prompt": "one two three", "max_tokens": 2}\n{"prompt": "four five", "max_tokens": 3}\n')
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--endpoint", "completions", "--workload", wl,
              "--request-rate", "inf,50", "--num-requests", 4, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| Request Rate |" in r.stdout
    res = load(out)
    assert res["mode"] == "request_rate"
    assert [lv["request_rate"] for lv in res["levels"]] == ["inf", 50]
    for lv in res["levels"]:
        assert lv["requests"]["succeeded"] == 4
        assert lv["prompt_tokens"] == 3 + 2 + 3 + 2 and lv["completion_tokens"] == 2 + 3 + 2 + 3
    # The file's requests cycle in order; at rate inf they are all in flight at once, so only the
    # multiset of what arrived is fixed, not its order.
    assert sorted(b["prompt"] for b in s.bodies) == ["four five"] * 4 + ["one two three"] * 4


def test_missing_usage_is_estimated_and_said(nagare_bin, fake, tmp_path):
    s = fake(lambda h, body, i: good_reply(h, body, i, usage=False))
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--num-requests", 2, "--output-len", 5, "--out", out)
    assert r.returncode == 0, r.stderr
    lv = load(out)["levels"][0]
    assert lv["usage_missing"] == 2 and lv["completion_tokens"] == 10 and lv["prompt_tokens"] == 0
    assert "had no usage counts" in r.stdout


def test_strict_server_rejecting_min_tokens(nagare_bin, fake, tmp_path):
    def strict(h, body, i):
        if "min_tokens" in body:
            send(h, 400, json.dumps({"error": {"message": "Unrecognized request argument: min_tokens"}}))
        else:
            good_reply(h, body, i)
    s = fake(strict)
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--num-requests", 3, "--output-len", 4, "--ignore-eos",
              "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    res = load(out)
    assert res["levels"][0]["requests"]["succeeded"] == 3
    assert res["config"]["dropped_fields"] == ["min_tokens"]
    assert 'rejected "min_tokens"' in r.stdout
    assert len(s.bodies) == 4, "one rejected attempt, retried once"


# ---------------------------------------------------------------------------------------------
# Broken servers: counted failures with reasons, bounded runs, clear summaries

def test_closed_port(nagare_bin, tmp_path):
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", f"http://127.0.0.1:{free_port()}", "--model", "m", "--concurrency", "1,2",
              "--num-requests", 3, "--out", out, timeout=120)
    assert r.returncode == 1, "no request succeeded"
    assert HEADER in r.stdout
    assert "0/3" in r.stdout and "3 x connection refused" in r.stdout
    assert "no request succeeded" in r.stderr
    res = load(out)
    for lv in res["levels"]:
        assert lv["requests"]["failed"] == 3
        assert lv["failures"] == [{"reason": "connection refused (could not connect)", "count": 3}]


def test_closed_port_without_model_cannot_list_models(nagare_bin):
    r = bench(nagare_bin, "--url", f"http://127.0.0.1:{free_port()}", "--num-requests", 1, timeout=120)
    assert r.returncode == 1
    assert "cannot list models" in r.stderr and "--model" in r.stderr


@pytest.mark.parametrize("stream", [True, False])
def test_garbage_and_http_errors_mid_run(nagare_bin, fake, tmp_path, stream):
    # Requests cycle through: fine, HTTP 500, HTML with 200, JSON (or SSE of JSON) not OpenAI-shaped.
    def mixed(h, body, i):
        kind = i % 4
        if kind == 0:
            good_reply(h, body, i)
        elif kind == 1:
            send(h, 500, json.dumps({"error": {"message": "engine exploded", "type": "server_error"}}))
        elif kind == 2:
            send(h, 200, "<html><body>hello</body></html>", "text/html")
        elif body["stream"]:
            send(h, 200, 'data: {"result": "ok"}\n\ndata: [DONE]\n\n', "text/event-stream")
        else:
            send(h, 200, json.dumps({"result": "ok"}))
    s = fake(mixed)
    out = tmp_path / "r.json"
    args = ["--url", s.url, "--model", "m", "--num-requests", 8, "--output-len", 3, "--out", out]
    r = bench(nagare_bin, *args, *([] if stream else ["--no-stream"]), timeout=120)
    assert r.returncode == 0, "some requests succeeded"
    lv = load(out)["levels"][0]
    assert lv["requests"] == {"attempted": 8, "succeeded": 2, "failed": 6, "cut_off": 0}
    reasons = {f["reason"]: f["count"] for f in lv["failures"]}
    assert reasons.pop("HTTP 500: engine exploded") == 2
    garbage = "not an event stream: <html><body>hello</body></html>" if stream else "response is not JSON: <html>"
    assert reasons.pop(next(k for k in reasons if k.startswith(garbage))) == 2
    assert reasons.pop(next(k for k in reasons if k.startswith("not OpenAI-shaped"))) == 2
    assert not reasons
    assert lv["completion_tokens"] == 2 * 3
    assert "2/8" in r.stdout and "2 x HTTP 500: engine exploded" in r.stdout


def test_dropped_connections(nagare_bin, fake, tmp_path):
    def drop(h, body, i):
        chunk = "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "w"}}]}) + "\n\n"
        if i % 2 == 0:
            send(h, 200, chunk, "text/event-stream", declared_extra=100, close=True)  # length promised, not sent
        else:
            send(h, 200, chunk, "text/event-stream", close=True)  # complete body, but no [DONE]
    s = fake(drop)
    out = tmp_path / "r.json"
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--num-requests", 4, "--out", out, timeout=120)
    assert r.returncode == 1
    reasons = {f["reason"]: f["count"] for f in load(out)["levels"][0]["failures"]}
    assert reasons == {"response cut short (connection closed)": 2, "stream ended before [DONE]": 2}


def test_hanging_server_times_out_within_bounds(nagare_bin, fake, tmp_path):
    # The fake never answers (until the test ends): only bench's own --timeout can end the run,
    # so finishing at all, with every request counted as timed out, is the proof.
    release = threading.Event()
    s = fake(lambda h, body, i: release.wait(HANG_S))
    out = tmp_path / "r.json"
    try:
        r = bench(nagare_bin, "--url", s.url, "--model", "m", "--concurrency", 2, "--num-requests", 4,
                  "--timeout", 1, "--out", out, timeout=HANG_S / 2)
    finally:
        release.set()
    assert r.returncode == 1
    assert len(s.bodies) == 4
    lv = load(out)["levels"][0]
    assert lv["failures"] == [{"reason": "timed out after 1s", "count": 4}]


def test_duration_bounds_a_level_and_cut_off_requests_are_not_counted(nagare_bin, fake, tmp_path):
    # The first four requests are answered at once; every later one hangs until the test ends.
    # Only --duration can end the level, and two requests are then in flight (concurrency 2).
    release = threading.Event()

    def first_four(h, body, i):
        if i >= 4:
            release.wait(HANG_S)
        good_reply(h, body, i)
    s = fake(first_four)
    out = tmp_path / "r.json"
    try:
        r = bench(nagare_bin, "--url", s.url, "--model", "m", "--concurrency", 2, "--duration", 2,
                  "--output-len", 2, "--out", out, timeout=HANG_S / 2)
    finally:
        release.set()
    assert r.returncode == 0, r.stdout + r.stderr
    lv = load(out)["levels"][0]
    # Four, unless the machine took two seconds to answer them: counted from what arrived.
    assert 1 <= lv["requests"]["succeeded"] == len(s.bodies) - 2 <= 4, (lv["requests"], len(s.bodies))
    assert lv["requests"]["failed"] == 0 and lv["requests"]["cut_off"] == 2
    assert lv["completion_tokens"] == 2 * lv["requests"]["succeeded"], "cut-off requests add nothing"
    # The level lasts exactly its duration: it ended by it.
    assert lv["wall_time_s"] == 2
    assert "still running at the end (--duration)" in r.stdout


def test_interrupt_reports_what_finished(nagare_bin, fake, tmp_path):
    release = threading.Event()

    def first_fast(h, body, i):
        if i > 0:
            release.wait(HANG_S)
        good_reply(h, body, i)
    s = fake(first_fast)
    out = tmp_path / "r.json"
    p = subprocess.Popen([str(nagare_bin), "bench", "--url", s.url, "--model", "m", "--concurrency", "1,2",
                          "--num-requests", "5", "--output-len", "2", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # At concurrency 1 the second request is sent only once the first is answered.
        s.wait_for_requests(2)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=HANG_S / 2)
    finally:
        release.set()
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, stderr
    res = load(out)
    assert res["interrupted"] is True
    assert len(res["levels"]) == 1, "the second level never started"
    lv = res["levels"][0]
    assert lv["requests"]["succeeded"] == 1 and lv["requests"]["cut_off"] == 1 and lv["interrupted"] is True
    assert "interrupted" in stdout and "1/1" in stdout


def test_progress_lines_when_stderr_is_not_a_tty(nagare_bin, fake):
    s = fake(good_reply)
    r = bench(nagare_bin, "--url", s.url, "--model", "m", "--concurrency", "1,2", "--num-requests", 2,
              "--output-len", 1, "--warmup", 1)
    assert r.returncode == 0
    assert "bench: warm-up: started" in r.stderr
    assert "bench: concurrency 2: 2 done, 0 failed in" in r.stderr
    assert "\r" not in r.stderr
    assert len(s.bodies) == 1 + 2 + 2


# ---------------------------------------------------------------------------------------------
# Bad flags

@pytest.mark.parametrize("args, message", [
    (["--model", "m"], "--url is required"),
    (["--url", "http://127.0.0.1:9", "--concurrency", "0"], "--concurrency"),
    (["--url", "http://127.0.0.1:9", "--concurrency", "1", "--request-rate", "2"], "excludes"),
    (["--url", "http://127.0.0.1:9", "--request-rate", "fast"], "request rate must be a positive number or inf"),
    (["--url", "http://127.0.0.1:9", "--endpoint", "embeddings"], "--endpoint"),
    (["--url", "http://127.0.0.1:9", "--num-requests", "-3"], "--num-requests"),
    (["--url", "http://127.0.0.1:9", "a.json"], "result files are for --chart or --compare"),
    (["--compare"], "needs result files"),
    (["--url", "http://127.0.0.1:9", "--bogus"], "--bogus"),
])
def test_bad_flags_get_a_usage_message(nagare_bin, args, message):
    r = bench(nagare_bin, *args, timeout=60)
    assert r.returncode not in (0, 1), (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr


def test_bad_workload_file_is_a_clear_error(nagare_bin, tmp_path):
    r = bench(nagare_bin, "--url", "http://127.0.0.1:9", "--model", "m", "--workload", tmp_path / "nope.json")
    assert r.returncode == 1 and "cannot read workload file" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"messages": []}')
    r = bench(nagare_bin, "--url", "http://127.0.0.1:9", "--model", "m", "--workload", bad)
    assert r.returncode == 1 and "non-empty array" in r.stderr and str(bad) in r.stderr
