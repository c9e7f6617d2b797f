"""Every error path answers in OpenAI's shape {"error": {"message", "type", "param", "code"}} with
the right status, and leaves the server serving."""
import json
import socket

import openai
import pytest

from helpers import chat_body, read_http_response

MESSAGES = [{"role": "user", "content": "Hi"}]


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    return err


@pytest.mark.parametrize("raw", [b"{", b'{"messages": [}', b"not json", b"", b'{"a":1} trailing'])
def test_malformed_json_is_400(http, raw):
    err = error_of(http.post("/v1/chat/completions", content=raw,
                             headers={"content-type": "application/json"}), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] is None


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"null", b"3"])
def test_body_must_be_an_object(http, raw):
    error_of(http.post("/v1/completions", content=raw), 400)


@pytest.mark.parametrize("field,value,param", [
    ("temperature", "hot", "temperature"),
    ("temperature", True, "temperature"),
    ("n", "2", "n"),
    ("n", 1.5, "n"),
    ("stream", "yes", "stream"),
    ("stop", 3, "stop"),
    ("max_tokens", "ten", "max_tokens"),
    ("seed", "x", "seed"),
    ("messages", "Hi", "messages"),
    ("messages", [], "messages"),
    ("messages", [{"role": "wizard", "content": "x"}], "messages[0].role"),
    ("messages", [{"role": "user", "content": 5}], "messages[0].content"),
    ("messages", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
     "messages[0].content[0].type"),
    ("logprobs", "yes", "logprobs"),
    ("stream_options", [], "stream_options"),
])
def test_wrong_types_are_400_with_param(http, field, value, param):
    err = error_of(http.post("/v1/chat/completions", json=chat_body(**{field: value})), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param, err


@pytest.mark.parametrize("kwargs,param", [
    (dict(temperature=2.5), "temperature"),
    (dict(temperature=-1), "temperature"),
    (dict(top_p=0), "top_p"),
    (dict(top_p=1.5), "top_p"),
    (dict(frequency_penalty=3), "frequency_penalty"),
    (dict(presence_penalty=-2.5), "presence_penalty"),
    (dict(n=0), "n"),
    (dict(max_tokens=0), "max_tokens"),
    (dict(stop=["a", "b", "c", "d", "e"]), "stop"),
    (dict(logprobs=True, top_logprobs=21), "top_logprobs"),
    (dict(top_logprobs=2), "top_logprobs"),
    (dict(extra_body={"top_k": -5}), "top_k"),
    (dict(extra_body={"min_p": 2}), "min_p"),
    (dict(extra_body={"repetition_penalty": 0}), "repetition_penalty"),
    (dict(extra_body={"min_tokens": -1}), "min_tokens"),
    (dict(logit_bias={"1": 5}), "logit_bias"),
])
def test_out_of_range_values_are_400_with_param(client, model_name, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model_name, messages=MESSAGES, max_tokens=kwargs.pop("max_tokens", 4),
                                       **kwargs)
    assert e.value.status_code == 400
    assert e.value.type == "invalid_request_error"
    assert e.value.param == param


@pytest.mark.parametrize("kwargs,param", [
    (dict(logprobs=6), "logprobs"),
    (dict(prompt=[]), "prompt"),
    (dict(prompt=[1, "a"]), "prompt"),
    (dict(prompt=[10**9]), "prompt"),  # outside the vocabulary
    (dict(prompt=""), "prompt"),        # nothing to complete
    (dict(echo=True), "echo"),
])
def test_completion_errors(client, model_name, kwargs, param):
    kwargs.setdefault("prompt", "Hello")
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_name, max_tokens=4, **kwargs)
    assert e.value.param == param


def test_missing_required_fields(http):
    assert error_of(http.post("/v1/chat/completions", json={"model": "smollm2-test"}), 400)["param"] == "messages"
    assert error_of(http.post("/v1/completions", json={"model": "smollm2-test"}), 400)["param"] == "prompt"


def test_unknown_model_is_404(client):
    for call in (lambda: client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=2),
                 lambda: client.completions.create(model="gpt-4o", prompt="Hi", max_tokens=2),
                 lambda: client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=2,
                                                        stream=True)):
        with pytest.raises(openai.NotFoundError) as e:
            call()
        assert e.value.status_code == 404
        assert e.value.code == "model_not_found"
        assert e.value.param == "model"
        assert "gpt-4o" in e.value.message


def test_prompt_longer_than_context_is_400(client, model_name):
    long = "hello " * 1500  # > 1024 tokens
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": long}], max_tokens=4)
    assert e.value.code == "context_length_exceeded"
    assert e.value.param == "messages"
    assert "maximum context length is 1024 tokens" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_name, prompt=long, max_tokens=4)
    assert e.value.code == "context_length_exceeded" and e.value.param == "prompt"
    with pytest.raises(openai.BadRequestError) as e:  # streaming requests fail before the stream starts
        client.completions.create(model=model_name, prompt=long, max_tokens=4, stream=True)
    assert e.value.code == "context_length_exceeded"


def test_prompt_plus_max_tokens_beyond_context_is_400(client, model_name):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_name, prompt="Hello", max_tokens=2000)
    assert e.value.code == "context_length_exceeded"
    assert "2000 for the completion" in e.value.message


def test_body_too_large_is_413(http):
    big = b'{"prompt": "' + b"a" * (2 << 20) + b'"}'  # 2 MiB > the 1 MiB limit the fixture sets
    err = error_of(http.post("/v1/completions", content=big), 413)
    assert "limit" in err["message"]


def test_body_too_large_with_expect_continue(server):
    # curl's way: headers first, body only after "100 Continue" -- which a too-large body never gets.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 413"), data[:100]


def test_expect_continue_within_limit_works(server):
    host, port = server.url.removeprefix("http://").split(":")
    body = b'{"prompt": "Hi", "max_tokens": 1}'
    with socket.create_connection((host, int(port)), timeout=120) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]


def test_malformed_http_is_400(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 400"), data


def test_huge_headers_are_431(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 64000 + b"\r\n\r\n")
        data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 431"), data


def test_errors_keep_the_connection_usable(server):
    # One raw socket, so a server that closed it after an error could not hide behind a client
    # that reconnects: two bad requests, then a good one, all answered on the same connection.
    host, port = server.url.removeprefix("http://").split(":")

    def post(body):
        return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with socket.create_connection((host, int(port)), timeout=600) as s:
        f = s.makefile("rb")
        for body, status in ((b"{", b"400"), (json.dumps(chat_body(temperature=9)).encode(), b"400"),
                             (json.dumps(chat_body(max_tokens=2)).encode(), b"200")):
            s.sendall(post(body))
            line, headers, answer = read_http_response(f)
            assert line.startswith(b"HTTP/1.1 " + status), (line, answer)
            assert headers.get("connection") != "close"
    assert json.loads(answer)["choices"][0]["message"]["role"] == "assistant"
