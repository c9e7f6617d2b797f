"""The audit log (issue 12): one row per request in SQLite (or JSON lines) with who, what and what
came back, checked against what the clients received; `nagare logs` filters and sums it; texts
can be redacted; a `kill -9` under load leaves the database intact with every request that ended
more than one flush interval before; a path that cannot be written refuses the start; a full disk
drops rows (said in the log, counted in /metrics) while requests go on."""
import json
import signal
import sqlite3
import subprocess
import threading
import time
import uuid

import httpx
import openai
import pytest

from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, _binary, running_server, small_tmpfs

HANG_S = 120  # only stops a hung test


def rows(db, where="1=1"):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM requests WHERE {where} ORDER BY id")]
    finally:
        con.close()


def wait_rows(db, n, where="1=1"):
    deadline = time.monotonic() + HANG_S
    while True:
        try:
            got = rows(db, where)
        except sqlite3.OperationalError:
            got = []
        if len(got) >= n:
            return got
        assert time.monotonic() < deadline, f"{len(got)} of {n} audit rows after {HANG_S} s"
        time.sleep(0.05)


def logs(db, *args):
    r = subprocess.run([str(_binary()), "logs", "--db", str(db), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def client(server, key):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=REQUEST_TIMEOUT_S)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    keys = tmp / "keys.jsonl"
    keys.write_text('{"key": "sk-alice", "user": "alice"}\n{"key": "sk-bob", "user": "bob"}\n')
    db = tmp / "audit.db"
    with running_server("--api-keys", str(keys), "--audit", f"sqlite:{db}") as s:
        yield s, db


def test_each_request_is_a_row_with_what_the_client_got(audited):
    server, db = audited
    marker = uuid.uuid4().hex
    messages = [{"role": "user", "content": f"Say hello. {marker}"}]
    r = client(server, "sk-alice").chat.completions.create(model=ALIAS, messages=messages, max_tokens=8, temperature=0)
    text, streamed = "", None
    stream = client(server, "sk-bob").completions.create(model=ALIAS, prompt=f"Once upon a time {marker}", max_tokens=6,
                                                         stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].text
        if chunk.usage:
            streamed = chunk.usage
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    got = wait_rows(db, 2, f"request LIKE '%{marker}%'")
    a, b = got
    assert a["user"] == "alice" and a["key_id"].startswith("key-") and a["client"] == "127.0.0.1"
    assert a["route"] == "/v1/chat/completions" and a["api"] == "openai" and a["model"] == ALIAS
    assert json.loads(a["request"]) == messages
    assert a["response"] == r.choices[0].message.content
    assert (a["prompt_tokens"], a["completion_tokens"]) == (r.usage.prompt_tokens, r.usage.completion_tokens)
    assert a["status"] == 200 and a["finish_reason"] == r.choices[0].finish_reason and a["stream"] == 0
    assert a["ttft_ms"] > 0 and a["latency_ms"] >= a["ttft_ms"]
    assert b["user"] == "bob" and b["stream"] == 1 and b["response"] == text
    assert (b["prompt_tokens"], b["completion_tokens"]) == (streamed.prompt_tokens, streamed.completion_tokens)
    unauthorized = wait_rows(db, 1, "status = 401")
    assert unauthorized[-1]["user"] == "" and unauthorized[-1]["path"] == "/v1/models"
    assert "sk-alice" not in open(db, "rb").read().decode("latin-1")  # keys are never stored


def test_a_client_that_leaves_is_logged_with_what_it_got(audited):
    server, db = audited
    marker = uuid.uuid4().hex
    with httpx.stream("POST", f"{server.url}/v1/completions", headers={"Authorization": "Bearer sk-alice"},
                      json={"model": ALIAS, "prompt": f"Count: {marker}", "max_tokens": 400, "stream": True,
                            "ignore_eos": True}, timeout=REQUEST_TIMEOUT_S) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                break
    (row,) = wait_rows(db, 1, f"request LIKE '%{marker}%'")
    assert row["client_gone"] == 1 and row["finish_reason"] == "cancelled"
    assert 0 < row["completion_tokens"] < 400


def test_nagare_logs_filters_and_sums(audited):
    server, db = audited
    for key in ("sk-alice", "sk-bob", "sk-bob"):
        client(server, key).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    wait_rows(db, 3, "user = 'bob'")
    every = rows(db)
    as_json = [json.loads(l) for l in logs(db, "--json").splitlines()]
    assert [r["id"] for r in as_json] == [r["id"] for r in every]
    bob = [json.loads(l) for l in logs(db, "--user", "bob", "--json").splitlines()]
    assert bob and all(r["user"] == "bob" for r in bob) and len(bob) == sum(r["user"] == "bob" for r in every)
    assert len(logs(db, "-n", "2", "--json").splitlines()) == 2
    assert logs(db, "--until", "2000-01-01", "--json") == ""
    assert len(logs(db, "--since", "1h", "--json").splitlines()) == len(every)
    stats = {s["user"]: s for s in map(json.loads, logs(db, "--stats", "--json").splitlines())}
    for user in ("alice", "bob"):
        mine = [r for r in every if r["user"] == user]
        assert stats[user]["requests"] == len(mine)
        assert stats[user]["prompt_tokens"] == sum(r["prompt_tokens"] or 0 for r in mine)
        assert stats[user]["completion_tokens"] == sum(r["completion_tokens"] or 0 for r in mine)
    table = logs(db, "--stats").splitlines()
    assert table[0].split()[:4] == ["USER", "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS"]
    r = subprocess.run([str(_binary()), "logs", "--db", str(db), "--since", "yesterday"], capture_output=True, text=True)
    assert r.returncode != 0 and "is not a time" in r.stderr


def test_redacted_rows_keep_counts_and_jsonl_works(tmp_path):
    log = tmp_path / "audit.jsonl"
    with running_server("--audit", f"jsonl:{log}", "--audit-redact") as s:
        r = client(s, "x").chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "secret text"}],
                                                  max_tokens=3, user="carol")
    lines = [json.loads(l) for l in log.read_text().splitlines()]  # the server flushed at exit
    (row,) = [l for l in lines if l["route"] == "/v1/chat/completions"]
    assert row["user"] == "carol" and row["request"] is None and row["response"] is None
    assert row["prompt_tokens"] == r.usage.prompt_tokens and row["completion_tokens"] == r.usage.completion_tokens
    assert "secret text" not in log.read_text()


def test_kill_9_under_load_loses_nothing_older_than_a_flush_interval(tmp_path):
    db = tmp_path / "audit.db"
    finished = {}  # marker -> monotonic time the client had the whole response
    stop = threading.Event()
    with running_server("--audit", str(db), "--audit-flush-ms", "1000") as s:
        def load():
            c = client(s, "x")
            while not stop.is_set():
                m = uuid.uuid4().hex
                try:
                    c.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": m}], max_tokens=3)
                except openai.APIError:
                    return  # the server is gone
                finished[m] = time.monotonic()
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + HANG_S
        # Load for a while: some requests end well before the kill, some just before it.
        while len(finished) < 40 or time.monotonic() - min(finished.values()) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        s.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        s.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        s.killed_by_test = True  # no clean exit to check
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    logged = {r[0] for r in con.execute("SELECT request FROM requests")}
    con.close()
    must = [m for m, t in finished.items() if t < killed - 1.0]
    assert must, "no request finished a flush interval before the kill"
    missing = [m for m in must if not any(m in (req or "") for req in logged)]
    assert not missing, f"{len(missing)} of {len(must)} requests that ended over 1 s before the kill are not in the log"


@pytest.mark.parametrize("target,why", [("/proc/no/such/dir/audit.db", "cannot open the audit database"),
                                        ("jsonl:/proc/no/such/dir/audit.jsonl", "cannot open the audit log")])
def test_an_unwritable_audit_path_refuses_the_start(target, why):
    r = subprocess.run([str(_binary()), "serve", "-m", str(MODEL), "--port", "0", "--audit", target],
                       capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode != 0 and why in r.stderr, r.stderr


@pytest.fixture
def tiny_disk(tmp_path):
    with small_tmpfs(tmp_path / "tiny", "128k") as mnt:
        yield mnt


def test_a_full_disk_drops_rows_not_requests(tiny_disk):
    with running_server("--audit", str(tiny_disk / "audit.db"), "--audit-flush-ms", "100") as s:
        c = client(s, "x")
        # ~2.4 KB of message a row (a prompt the prefix cache makes cheap): the disk fills in ~50.
        long = [{"role": "user", "content": "hello " * 400}]
        deadline = time.monotonic() + HANG_S
        while not any("audit log:" in l and "rows not written" in l for l in s.log):
            r = c.chat.completions.create(model=ALIAS, messages=long, max_tokens=1)
            assert r.choices[0].finish_reason in ("length", "stop")  # every request is still answered
            assert time.monotonic() < deadline, "the full disk was never reported"
        metrics = httpx.get(f"{s.url}/metrics").text
        dropped = [l for l in metrics.splitlines() if l.startswith("nagare:audit_rows_dropped_total")]
        assert float(dropped[0].split()[-1]) > 0
        assert c.chat.completions.create(model=ALIAS, messages=long, max_tokens=1).choices  # still serving
