"""Starts the real `nagare serve` once per test session and hands tests its URL and clients.

The binary is $NAGARE_BIN (default: build/nagare); the model is the SmolLM2 test model from
models/ (scripts/fetch-models). The server listens on a free port (--port 0) and prints one line
"nagare: listening on http://HOST:PORT (model NAME)", which is how the fixture finds it; then
/health must answer 200. At the end the server gets SIGTERM and must exit cleanly.
"""
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2-test"
CTX_SIZE = 1024          # small, so context overflows are cheap to provoke
MAX_REQUEST_MIB = 1      # small, so 413 is cheap to provoke
START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 600  # a loaded 2-core machine is slow; never a pass/fail criterion

# Servers keep an audit log by default (~/.nagare/audit.db): the tests' go to a scratch file
# instead of the user's home (test_audit.py gives its servers their own).
if "NAGARE_AUDIT_DB" not in os.environ:
    import tempfile
    os.environ["NAGARE_AUDIT_DB"] = os.path.join(tempfile.mkdtemp(prefix="nagare-test-audit-"), "audit.db")


class Server:
    def __init__(self, proc, url, log):
        self.proc = proc
        self.url = url
        self.log = log  # every line the server printed
        self.killed_by_test = False  # set by a test that kills the server on purpose (no exit check)

    def stats(self):
        r = httpx.get(f"{self.url}/v1/engine/stats", timeout=30)
        r.raise_for_status()
        return r.json()

    def wait_for(self, predicate, timeout=120, what="condition"):
        """Polls the engine stats until predicate(stats) holds; returns those stats."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if predicate(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last stats {s}")
            time.sleep(0.05)

    def wait_idle(self, timeout=300):
        return self.wait_for(lambda s: s["running"] == 0 and s["waiting"] == 0 and s["kv_blocks_in_use"] == 0,
                             timeout, "an idle engine")


def _binary():
    path = Path(os.environ.get("NAGARE_BIN", ROOT / "build" / "nagare"))
    if not path.is_file():
        pytest.fail(f"nagare binary not found at {path}: build it (scripts/build) or set NAGARE_BIN")
    if not MODEL.is_file():
        pytest.fail(f"test model not found at {MODEL}: run scripts/fetch-models")
    return path


@contextlib.contextmanager
def running_server(*extra_args, verify=True):
    """Starts `nagare serve` on a free port with the test model; stops it (SIGTERM) on exit and
    checks that it exited cleanly."""
    cmd = [str(_binary()), "serve", "-m", str(MODEL), "--host", "127.0.0.1", "--port", "0",
           "--alias", ALIAS, "--ctx-size", str(CTX_SIZE), "--max-request-size", str(MAX_REQUEST_MIB),
           *extra_args]
    with launched_server(cmd, verify=verify) as s:
        yield s


SERVE_LISTENING = r"listening on (https?://\S+) \(model (.+)\)"


@contextlib.contextmanager
def launched_server(cmd, env=None, verify=True, listening=SERVE_LISTENING, healthy=True):
    """Runs a `nagare serve` (or `nagare router`) command line until it prints its `listening`
    line and, with `healthy`, /health answers 200 (`verify`: httpx's, e.g. a CA file for HTTPS);
    yields a Server; at the end sends SIGTERM and checks a clean exit."""
    if os.environ.get("NAGARE_TEST_THREADS"):
        cmd = [*cmd, "--threads", os.environ["NAGARE_TEST_THREADS"]]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    found = threading.Event()
    url_box = []

    def pump():
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            m = re.search(listening, line)
            if m and not url_box:
                url_box.append(m.group(1))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(START_TIMEOUT_S):
        proc.kill()
        pytest.fail("server did not start:\n" + "\n".join(log))
    url = url_box[0]
    # The line means ready (docs/serving.md): /health answers at once, no polling.
    if healthy:
        try:
            health = httpx.get(f"{url}/health", timeout=60, verify=verify)
        except httpx.HTTPError as e:
            health = e
        if getattr(health, "status_code", None) != 200:
            proc.kill()
            pytest.fail(f"/health did not answer 200 once the server said it was listening: {health}\n" + "\n".join(log))

    server = Server(proc, url, log)
    try:
        yield server
    except BaseException:  # the test failed: stop the server without judging its exit
        proc.kill()
        proc.wait()
        raise
    if server.killed_by_test:
        return

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("server did not exit within 60 s of SIGTERM:\n" + "\n".join(log[-50:]))
    assert rc == 0, f"server exited with {rc}:\n" + "\n".join(log[-50:])


@contextlib.contextmanager
def small_tmpfs(path, size):
    """A tmpfs of `size` ("4m", "128k") mounted at `path` (a full disk on demand); skips the test
    where mounting needs privileges the machine does not give."""
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.fixture(scope="session")
def server():
    with running_server() as s:
        yield s


@pytest.fixture(scope="session")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=REQUEST_TIMEOUT_S)


@pytest.fixture(scope="session")
def async_client_factory(server):
    # AsyncOpenAI binds to the running event loop, so each test makes its own.
    def make():
        return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                                  timeout=REQUEST_TIMEOUT_S)
    return make


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as c:
        yield c


@pytest.fixture(scope="session")
def model_name():
    return ALIAS
