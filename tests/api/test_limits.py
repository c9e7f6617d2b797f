"""Timeouts and pipelining, against a server with a 1-second --timeout: idle and half-sent
requests are dropped, while generation that takes longer than the timeout is not cut off; and
a start-up limit (a KV cache larger than memory)."""
import concurrent.futures
import json
import socket
import subprocess
import time

import httpx
import pytest

from conftest import ALIAS, CTX_SIZE, MODEL, _binary, launched_server, running_server
from helpers import read_http_response


TIMEOUT_S = 1
LONGER_THAN_S = 1.5 * TIMEOUT_S  # a generation this long would have met the timeout
HANG_S = 30                      # only stops a hung test (the default --timeout is 60)


@pytest.fixture(scope="module")
def quick_timeout_server():
    with running_server("--timeout", str(TIMEOUT_S)) as s:
        yield s


def connect(server):
    host, port = server.url.removeprefix("http://").split(":")
    # The socket timeout only stops a hung test; it is far above the server's 1-second limit.
    return socket.create_connection((host, int(port)), timeout=HANG_S)


def read_until_closed(s, what):
    try:
        data = s.recv(4096)
    except socket.timeout:
        pytest.fail(f"the server never closed the connection ({what}); waited {HANG_S} s")
    assert data == b"", f"expected the connection to be closed ({what}), got {data[:80]!r}"


def test_idle_keep_alive_connection_is_closed(quick_timeout_server):
    with connect(quick_timeout_server) as s:
        f = s.makefile("rb")
        # Kept alive after a response (the second request is answered on the same connection)...
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = read_http_response(f)
            assert status.startswith(b"HTTP/1.1 200") and body == b'{"status":"ok"}'
        # ...and closed once idle.
        try:
            assert f.read(1) == b"", "unexpected data on an idle connection"
        except socket.timeout:
            pytest.fail(f"the server never closed the idle connection; waited {HANG_S} s")


def test_half_sent_request_is_dropped(quick_timeout_server):
    with connect(quick_timeout_server) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
        read_until_closed(s, "a request body that never arrives")


def stream_completion(url, body):
    """Streams a completion; returns (seconds from its first to its last token as this client
    saw them, the usage)."""
    first = last = None
    usage, done = None, False
    with httpx.stream("POST", f"{url}/v1/completions", timeout=600,
                      json={**body, "stream": True, "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            done = done or line == "data: [DONE]"
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[len("data: "):])
            assert "error" not in event, event
            if event["choices"] and event["choices"][0]["text"]:
                last = time.monotonic()
                first = first or last
            usage = event["usage"] or usage
        assert done, "the stream was cut off"
    return last - first, usage


def post_completion(url, body):
    """Posts a completion for a whole body; returns (seconds until it arrived, the usage)."""
    start = time.monotonic()
    r = httpx.post(f"{url}/v1/completions", json=body, timeout=600)
    took = time.monotonic() - start
    assert r.status_code == 200, r.text
    return took, r.json()["usage"]


def test_generation_longer_than_the_timeout_completes(quick_timeout_server):
    """Waiting for tokens is not an idle connection: a response -- streamed, or a whole body --
    that takes longer than --timeout (1 s) to generate is not cut off. The generation is grown
    until this client saw both last well over the timeout, whatever the machine's speed: more
    tokens (up to the context), then more choices. The two requests run side by side."""
    url = quick_timeout_server.url
    prompt = [504, 3575, 282, 4649, 314]  # token ids: a known prompt length
    body = {"model": ALIAS, "prompt": prompt, "temperature": 0, "ignore_eos": True, "max_tokens": 64, "n": 1}
    room = CTX_SIZE - len(prompt)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        while True:
            whole = pool.submit(post_completion, url, dict(body))
            streamed_took, streamed_usage = stream_completion(url, body)
            whole_took, whole_usage = whole.result()
            for usage in (streamed_usage, whole_usage):
                assert usage["completion_tokens"] == body["max_tokens"] * body["n"]
            took = min(streamed_took, whole_took)
            if took > LONGER_THAN_S:
                break
            # Aim a little over the needed time, from the rate just seen (at most 8 times the work).
            want = body["max_tokens"] * body["n"] * min(8.0, max(1.5, 1.3 * LONGER_THAN_S / max(took, 1e-3)))
            body["max_tokens"] = min(room, int(want))
            body["n"] = -(-int(want) // body["max_tokens"])
            assert body["n"] <= 128, "could not make generation last longer than the timeout"


def test_pipelined_requests_are_answered_in_order(server):
    # The second request arrives while the first is generating; it must be kept, not lost.
    def req(prompt):
        body = json.dumps({"model": ALIAS, "prompt": prompt, "max_tokens": 3, "temperature": 0,
                           "ignore_eos": True}).encode()
        return (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with connect(server) as s:
        s.sendall(req("One, two,") + req("Red, green,") + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        answers = [read_http_response(f) for _ in range(3)]
    assert all(status.startswith(b"HTTP/1.1 200") for status, _, _ in answers)
    first, second = (json.loads(b) for _, _, b in answers[:2])
    alone = [httpx.post(f"{server.url}/v1/completions", timeout=600,
                        json={"model": ALIAS, "prompt": p, "max_tokens": 3, "temperature": 0, "ignore_eos": True}
                        ).json()["choices"][0]["text"] for p in ("One, two,", "Red, green,")]
    assert [first["choices"][0]["text"], second["choices"][0]["text"]] == alone
    assert answers[2][2] == b'{"status":"ok"}'


def test_kv_cache_larger_than_memory_is_a_clear_start_up_error():
    """An absurd --kv-cache-size cannot be allocated: the server exits with a message naming
    the flag, not with a bare std::bad_alloc or a crash."""
    r = subprocess.run([str(_binary()), "serve", "-m", str(MODEL), "--port", "0", "--kv-cache-size", "100000000"],
                       capture_output=True, text=True, timeout=120)
    if "AddressSanitizer" in r.stderr:
        pytest.skip("an AddressSanitizer build aborts on an impossible allocation instead of throwing")
    assert r.returncode == 1, r.stderr
    assert "not enough memory for a KV cache" in r.stderr and "--kv-cache-size" in r.stderr, r.stderr


def test_ctx_size_0_is_the_models_training_context():
    """-c 0 serves the context the model was trained for; /v1/models states it, a prompt past the
    4,096-token default is served, and one past the training context gets context_length_exceeded."""
    import gguf
    field = gguf.GGUFReader(str(MODEL)).fields["llama.context_length"]
    trained = int(field.parts[field.data[0]][0])
    assert trained > 4096
    cmd = [str(_binary()), "serve", "-m", str(MODEL), "--host", "127.0.0.1", "--port", "0", "--alias", ALIAS,
           "-c", "0", "--no-audit"]
    with launched_server(cmd) as s:
        models = httpx.get(s.url + "/v1/models", timeout=30).json()["data"]
        assert models[0]["max_model_len"] == trained
        ids = [28] * 4500  # a 4,500-token prompt of one repeated token
        r = httpx.post(s.url + "/v1/completions", json={"prompt": ids, "max_tokens": 2, "temperature": 0}, timeout=300)
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["prompt_tokens"] == 4500
        r = httpx.post(s.url + "/v1/completions", json={"prompt": [28] * trained, "max_tokens": 2}, timeout=300)
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded", r.text
