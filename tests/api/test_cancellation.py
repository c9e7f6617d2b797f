"""A client that disconnects cancels its request: the engine stops it and its KV blocks return,
whether it was streaming or waiting for a whole body."""
import socket
import json

import httpx

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
            busy = server.stats()
            assert busy["running"] == 1 and busy["kv_blocks_in_use"] > base["kv_blocks_in_use"]
        # Leaving the block mid-body closes the connection.
    after = server.wait_for(lambda s: s["running"] == 0 and s["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                            timeout=60, what="KV blocks back at baseline")
    # Stopped within a few engine steps of the close, not after 900 tokens.
    assert after["steps"] - busy["steps"] <= 10, (busy, after)
    assert after["generated_tokens"] - base["generated_tokens"] < 100


def test_disconnect_while_waiting_for_a_body_frees_kv_blocks(server):
    base = server.wait_idle()
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps(LONG).encode()
    s = socket.create_connection((host, int(port)), timeout=60)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    busy = server.wait_for(lambda st: st["running"] == 1 and st["generated_tokens"] > base["generated_tokens"] + 3,
                           timeout=120, what="the request to start generating")
    s.close()
    after = server.wait_for(lambda st: st["running"] == 0 and st["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                            timeout=60, what="KV blocks back at baseline")
    assert after["steps"] - busy["steps"] <= 10, (busy, after)


def test_disconnect_of_one_client_leaves_others_running(server, client, model_name):
    base = server.wait_idle()
    with httpx.Client(base_url=server.url, timeout=600) as c:
        with c.stream("POST", "/v1/completions", json={**LONG, "stream": True}) as r:
            next(line for line in r.iter_lines() if line.startswith("data: "))
    # The server keeps serving normally.
    out = client.completions.create(model=model_name, prompt="Hello", max_tokens=4, temperature=0,
                                    extra_body={"ignore_eos": True})
    assert out.usage.completion_tokens == 4
    server.wait_for(lambda st: st["running"] == 0 and st["kv_blocks_in_use"] == base["kv_blocks_in_use"],
                    timeout=60, what="KV blocks back at baseline")
