"""HTTPS and CORS (issue 12): with --ssl-cert-file / --ssl-key-file the server speaks TLS (a
self-signed certificate made here with Debian's openssl), the official openai client works over
it, plain HTTP and an untrusted certificate are refused, and a key that does not match its
certificate stops the start. --cors-origin answers browsers' preflight requests (before any API
key check) and marks responses to allowed origins; without it no CORS header is sent."""
import shutil
import ssl
import subprocess

import httpx
import openai
import pytest

from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, _binary, running_server

HANG_S = 60


def make_cert(dir, name):
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found: scripts/install-deps installs it")
    cert, key = dir / f"{name}.pem", dir / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return make_cert(d, "server"), make_cert(d, "other")


def test_https_with_the_openai_client(certs):
    (cert, key), _ = certs
    trust = ssl.create_default_context(cafile=str(cert))
    with running_server("--ssl-cert-file", str(cert), "--ssl-key-file", str(key), verify=trust) as s:
        assert s.url.startswith("https://127.0.0.1:")
        client = openai.OpenAI(base_url=f"{s.url}/v1", api_key="x", max_retries=0, timeout=REQUEST_TIMEOUT_S,
                               http_client=httpx.Client(verify=trust))
        r = client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        assert r.choices[0].message.content
        pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=4, stream=True) if c.choices]
        assert "".join(p or "" for p in pieces)
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port
            httpx.get(s.url.replace("https://", "http://") + "/health", timeout=10)
        with pytest.raises(httpx.ConnectError):  # a certificate nobody vouched for
            httpx.get(f"{s.url}/health", timeout=10)
        assert httpx.get(f"{s.url}/health", verify=trust).status_code == 200  # still serving


def test_a_key_that_does_not_match_the_certificate_stops_the_start(certs):
    (cert, _), (_, other_key) = certs
    r = subprocess.run([str(_binary()), "serve", "-m", str(MODEL), "--port", "0", "--no-audit",
                        "--ssl-cert-file", str(cert), "--ssl-key-file", str(other_key)],
                       capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode != 0 and "cannot use the private key with" in r.stderr and "mismatch" in r.stderr, r.stderr


def preflight(url, origin):
    return httpx.options(f"{url}/v1/chat/completions", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_cors_for_allowed_origins_only(tmp_path):
    with running_server("--cors-origin", "http://app.example", "--api-key", "sk-1") as s:
        p = preflight(s.url, "http://app.example")
        assert p.status_code == 204
        assert p.headers["access-control-allow-origin"] == "http://app.example"
        assert "POST" in p.headers["access-control-allow-methods"]
        assert p.headers["access-control-allow-headers"] == "authorization, content-type"
        bad = preflight(s.url, "http://evil.example")
        assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
        # The real request: a 401 without a key still says who may read it, so a page can show it.
        r = httpx.post(f"{s.url}/v1/chat/completions", headers={"Origin": "http://app.example"}, json={})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "http://app.example"
        r = httpx.post(f"{s.url}/v1/chat/completions", json={"model": ALIAS, "max_tokens": 2, "stream": True,
                                                             "messages": [{"role": "user", "content": "Hi"}]},
                       headers={"Origin": "http://app.example", "Authorization": "Bearer sk-1"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://app.example"
        assert r.headers["vary"] == "Origin"
        r = httpx.get(f"{s.url}/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    with running_server("--cors-origin", "*") as s:
        assert preflight(s.url, "http://anything.example").headers["access-control-allow-origin"] == "*"


def test_no_cors_headers_unless_asked(server):
    r = httpx.get(f"{server.url}/v1/models", headers={"Origin": "http://app.example"})
    assert r.status_code == 200 and not any(h.startswith("access-control-") for h in r.headers)
    assert preflight(server.url, "http://app.example").status_code == 405
