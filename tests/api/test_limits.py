"""Timeouts and pipelining, against a server with a 1-second --timeout: idle and half-sent
requests are dropped, while generation that takes longer than the timeout is not cut off; and
a start-up limit (a KV cache larger than memory)."""
import json
import socket
import subprocess
import time

import httpx
import pytest

from conftest import ALIAS, MODEL, _binary, running_server
from helpers import read_http_response


@pytest.fixture(scope="module")
def quick_timeout_server():
    with running_server("--timeout", "1") as s:
        yield s


def connect(server):
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def test_idle_keep_alive_connection_is_closed(quick_timeout_server):
    with connect(quick_timeout_server) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        status, _, _ = read_http_response(f)
        assert status.startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        assert f.read(1) == b""  # the server closes the idle connection
        assert time.monotonic() - start < 10


def test_half_sent_request_is_dropped(quick_timeout_server):
    with connect(quick_timeout_server) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
        start = time.monotonic()
        assert s.recv(4096) == b""
        assert time.monotonic() - start < 10


def test_generation_longer_than_the_timeout_completes(quick_timeout_server):
    # Non-streaming and streaming: waiting for tokens is not an idle connection.
    body = {"model": ALIAS, "prompt": "Once upon a time", "max_tokens": 80, "temperature": 0, "ignore_eos": True}
    start = time.monotonic()
    r = httpx.post(f"{quick_timeout_server.url}/v1/completions", json=body, timeout=600)
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 80
    took = time.monotonic() - start
    with httpx.stream("POST", f"{quick_timeout_server.url}/v1/completions", json={**body, "stream": True},
                      timeout=600) as s:
        raw = s.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    if took < 1.5:
        pytest.skip(f"generation took only {took:.1f} s: too fast to test the timeout")


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
