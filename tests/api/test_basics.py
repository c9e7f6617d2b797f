"""Health, model listing, routing and HTTP behaviour (keep-alive, 404/405)."""
import socket

import httpx


def test_health(http):
    r = http.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["content-type"] == "application/json"


def test_models_lists_the_alias(client, model_name):
    models = client.models.list()
    assert [m.id for m in models.data] == [model_name]
    m = models.data[0]
    assert m.object == "model" and m.owned_by == "nagare" and m.created > 1_600_000_000
    assert client.models.retrieve(model_name).id == model_name


def test_unknown_model_id_is_404(http):
    r = http.get("/v1/models/gpt-4")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"


def test_engine_stats_shape(server):
    s = server.stats()
    for key in ["running", "waiting", "kv_blocks_total", "kv_blocks_in_use", "kv_blocks_cached",
                "prompt_tokens", "prefix_cache_hit_tokens", "generated_tokens", "preemptions", "steps"]:
        assert isinstance(s[key], int), key
    assert s["kv_blocks_total"] > 0


def test_unknown_route_is_404_in_openai_shape(http):
    r = http.post("/v1/nothing-here", json={})
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert "/v1/nothing-here" in err["message"]


def test_wrong_method_is_405_with_allow(http):
    r = http.get("/v1/chat/completions")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert http.post("/health").status_code == 405


def test_keep_alive_serves_many_requests_on_one_connection(server):
    # One raw socket, three requests one after the other: each answered on the same connection.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        f = s.makefile("rb")
        for _ in range(3):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = None
            while (line := f.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert f.read(length) == b'{"status":"ok"}'


def test_http10_close(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.0 200") and data.endswith(b'{"status":"ok"}')


def test_url_with_query_string_routes_by_path(http):
    assert http.get("/health?verbose=1").status_code == 200
