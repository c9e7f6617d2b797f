"""Small helpers shared by the API tests: raw SSE parsing and request bodies."""
import json
import threading
import time


def parse_sse(raw: str):
    """Splits an SSE body into its data payloads; checks the framing as OpenAI sends it."""
    assert raw.endswith("\n\n"), f"stream does not end with a blank line: {raw[-80:]!r}"
    events = raw[:-2].split("\n\n")
    payloads = []
    for e in events:
        assert e.startswith("data: "), f"not an SSE data event: {e[:80]!r}"
        assert "\n" not in e, f"an event spans lines: {e[:80]!r}"
        payloads.append(e[len("data: "):])
    assert payloads[-1] == "[DONE]", f"stream does not end with [DONE]: {payloads[-1][:80]!r}"
    return [json.loads(p) for p in payloads[:-1]]


def chat_body(content="Hi", **extra):
    body = {"model": "smollm2-test", "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


class MaxRunning:
    """Samples /v1/engine/stats in the background: the most sequences seen running at once."""

    def __init__(self, server):
        self.server, self.max, self._stop = server, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max = max(self.max, self.server.stats()["running"])
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def read_http_response(f):
    """Reads one HTTP/1.1 response with a Content-Length body from a socket file; returns
    (status line, lower-case headers, body)."""
    status = f.readline()
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = f.read(int(headers.get("content-length", 0)))
    return status, headers, body
