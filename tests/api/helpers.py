"""Small helpers shared by the API tests: raw SSE parsing, request bodies, sampling the engine's
running count, and held streams (requests known to be running while a test does something)."""
import json
import threading
import time

import httpx


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


class Hold:
    """Chat streams that keep running in the engine until the test closes them: ignore_eos and
    no max_tokens, so each runs until the context is full (about a thousand steps at the test
    context). While they are open they are known to be running -- an overlap that is a fact, not
    a race -- and closing them cancels them (the client hangs up). `prompts` gives one stream
    each; with `mixed`, every third is sampled (seeded) rather than greedy, so the batch mixes
    samplers; without it all are greedy, and text(i) reads what stream i wrote, to compare with
    the same request run alone."""

    def __init__(self, server, prompts, mixed=True):
        self.server, self.prompts, self.mixed = server, list(prompts), mixed
        self._client = httpx.Client(base_url=server.url, timeout=600,
                                    limits=httpx.Limits(max_connections=len(self.prompts) + 1))
        self._streams = []  # (context manager, line iterator, text pieces)

    def __enter__(self):
        base = self.server.stats()
        try:
            for i, p in enumerate(self.prompts):
                sampled = self.mixed and i % 3 == 2
                body = chat_body(p, stream=True, ignore_eos=True, temperature=0.9 if sampled else 0, seed=i)
                cm = self._client.stream("POST", "/v1/chat/completions", json=body)
                r = cm.__enter__()
                self._streams.append((cm, r.iter_lines(), []))
                assert r.status_code == 200, r.read()
            # Each has produced a token, and none can finish before the context is full.
            for i in range(len(self._streams)):
                while not self._read_one(i):
                    pass
            self.stats = self.server.wait_for(
                lambda s: s["running"] == base["running"] + len(self.prompts) and s["waiting"] == 0,
                what=f"the {len(self.prompts)} held streams to be running")
        except BaseException:
            self.close()
            raise
        return self

    def _read_one(self, i):
        """Reads one SSE line of stream i, keeping its text; True when it carried text."""
        _, lines, pieces = self._streams[i]
        line = next(lines)
        assert line != "data: [DONE]", "a held stream ended"
        if not line.startswith("data: "):
            return False
        choices = json.loads(line[len("data: "):])["choices"]
        assert not (choices and choices[0].get("finish_reason")), "a held stream finished"
        text = choices[0]["delta"].get("content") if choices else None
        if text:
            pieces.append(text)
        return bool(text)

    def text(self, i, at_least):
        """Stream i's text so far, read on until it has at least `at_least` characters."""
        pieces = self._streams[i][2]
        while sum(map(len, pieces)) < at_least:
            self._read_one(i)
        return "".join(pieces)

    def assert_still_running(self, stats):
        """Every held stream is running in `stats` (taken when nothing else runs) and none was
        preempted since they started: each was running throughout."""
        assert stats["running"] == len(self.prompts) and stats["waiting"] == 0, \
            f"the held streams are not all running any more: {stats}"
        assert stats["preemptions"] == self.stats["preemptions"], f"a held stream was preempted: {stats}"

    def close(self):
        # Leaving a stream mid-body closes its connection, which cancels the request.
        for cm, _, _ in self._streams:
            cm.__exit__(None, None, None)
        self._streams.clear()
        self._client.close()

    def __exit__(self, *exc):
        self.close()
