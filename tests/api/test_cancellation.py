"""A client that disconnects cancels its request: the engine stops it and its KV blocks return,
whether it was streaming or waiting for a whole body, and other requests keep running.

"Stopped" is a count, not a time: a request that was not cancelled runs to its max_tokens, so
the engine's generated-token counter tells the two apart however fast the machine is."""
import json
import socket

import httpx

from helpers import Hold

LONG = {"prompt": "Once upon a time, in a land far away,", "max_tokens": 900, "ignore_eos": True,
        "temperature": 0}


def test_disconnect_mid_stream_frees_kv_blocks(server):
    base = server.wait_idle()
    with httpx.Client(base_url=server.url, timeout=600) as c:
        with c.stream("POST", "/v1/completions", json={**LONG, "stream": True}) as r:
            assert r.status_code == 200
            # Pull lines by hand: leaving a for loop over iter_lines() would already close the
            # connection (httpx closes an abandoned stream).
            lines = r.iter_lines()
            seen = 0
            while seen < 4:
                seen += next(lines).startswith("data: ")
            busy = server.wait_for(lambda s: s["running"] == 1, what="the request to be running")
            assert busy["kv_blocks_in_use"] > base["kv_blocks_in_use"]
        # Leaving the block mid-body closes the connection.
    after = server.wait_for(lambda s: s["running"] == 0 and s["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                            what="KV blocks back at baseline")
    generated = after["generated_tokens"] - base["generated_tokens"]
    assert 4 <= generated < LONG["max_tokens"], f"{generated} tokens: the request was not cancelled"


def test_disconnect_while_waiting_for_a_body_frees_kv_blocks(server):
    base = server.wait_idle()
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps(LONG).encode()
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    server.wait_for(lambda st: st["running"] == 1 and st["generated_tokens"] > base["generated_tokens"] + 3,
                    what="the request to start generating")
    s.close()
    after = server.wait_for(lambda st: st["running"] == 0 and st["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                            what="KV blocks back at baseline")
    generated = after["generated_tokens"] - base["generated_tokens"]
    assert generated < LONG["max_tokens"], f"{generated} tokens: the request was not cancelled"


def test_disconnect_of_one_client_leaves_others_running(server, client, model_name):
    base = server.wait_idle()
    with Hold(server, ["Tell me about the sea."]) as other:
        start = server.stats()
        with httpx.Client(base_url=server.url, timeout=600) as c:
            with c.stream("POST", "/v1/completions", json={**LONG, "stream": True}) as r:
                lines = r.iter_lines()  # kept: an abandoned iterator would close the stream
                while not next(lines).startswith("data: "):
                    pass
                server.wait_for(lambda s: s["running"] == 2, what="both requests to be running")
        # One hung up: it goes, the other stays and keeps generating.
        gone = server.wait_for(lambda s: s["running"] == 1, what="the closed request to be dropped")
        later = server.wait_for(lambda s: s["generated_tokens"] >= gone["generated_tokens"] + 5,
                                what="the other request to go on generating")
        other.assert_still_running(later)
        # Had the closed one run to its end, it alone would have made max_tokens tokens.
        generated = later["generated_tokens"] - start["generated_tokens"]
        assert generated < LONG["max_tokens"], f"{generated} tokens: the closed request was not cancelled"
    server.wait_for(lambda st: st["running"] == 0 and st["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                    what="KV blocks back at baseline")
    # The server keeps serving normally.
    out = client.completions.create(model=model_name, prompt="Hello", max_tokens=4, temperature=0,
                                    extra_body={"ignore_eos": True})
    assert out.usage.completion_tokens == 4
