"""`nagare pull` and the store's CLI against a real nginx standing in for the Hugging Face Hub.

The test starts nginx (Debian's nginx-light) on a loopback port with a config in a temporary
directory and serves an HF-style layout built there:

    api/models/testorg/<repo>/tree/main          the Hub's file listing (static JSON)
    testorg/<repo>/resolve/main/<file>            the files (small GGUFs made here; SmolLM2 linked)
    files/<file>                                  plain URLs
    chunked/<file>                                the same, without Content-Length (SSI filter)

`HF_ENDPOINT=http://127.0.0.1:PORT` points nagare at it. nginx answers Range requests on static
files; the slow repository is rate-limited for requests *without* a Range header, so a pull can
be killed part-way and its resume (a Range request) is fast. Every request lands in nginx's
access log, which tests read to see what nagare asked for.

Each test has its own store (NAGARE_MODELS in a temporary directory). Nothing here depends on
timing: tests wait for states (a partial file of some size, a process's exit) with deadlines that
only turn a hang into a failure.
"""
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import small_tmpfs
from nginx_helper import free_port, start_nginx, stop_nginx

gguf = pytest.importorskip("gguf")

ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
HANG_S = 120  # turns a hang into a failure; never a pass/fail criterion
SLOW_RATE = "1m"  # bytes/s nginx sends the slow repository's file at (no Range header)


def nagare_bin():
    path = Path(os.environ.get("NAGARE_BIN", ROOT / "build" / "nagare"))
    if not path.is_file():
        pytest.fail(f"nagare binary not found at {path}: build it (scripts/build) or set NAGARE_BIN")
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_gguf(path, n_floats, seed):
    """A small valid GGUF (one F32 tensor of random numbers): what pull checks is the format."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"pull test {seed}")
    w.add_tensor("t", np.random.default_rng(seed).standard_normal(n_floats, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


class Hub:
    """The nginx stand-in for the Hugging Face Hub, and what it serves."""

    def __init__(self, base):
        self.base = base
        self.docroot = base / "root"
        self.files = {}  # (repo, file) -> local path of the content
        self.port = None
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def add_repo(self, repo, files, wrong_sha=(), extra_entries=()):
        """files: {name: source path}; the listing states each file's size and sha256 (flipped
        for names in wrong_sha)."""
        entries = [{"type": "file", "oid": "0" * 40, "size": 12, "path": "README.md"},
                   {"type": "directory", "oid": "0" * 40, "size": 0, "path": "docs"}]
        resolve = self.docroot / "testorg" / repo / "resolve" / "main"
        resolve.mkdir(parents=True, exist_ok=True)
        (resolve / "README.md").write_text("# test repo\n")
        for name, src in files.items():
            dest = resolve / name
            if not dest.exists():
                os.symlink(src, dest)
            sha = sha256_file(src)
            if name in wrong_sha:
                sha = ("0" if sha[0] != "0" else "1") + sha[1:]
            size = os.path.getsize(src)
            entries.append({"type": "file", "oid": "0" * 40, "size": size, "path": name,
                            "lfs": {"oid": sha, "size": size, "pointerSize": 134}})
            self.files[(repo, name)] = src
        entries.extend(extra_entries)
        tree = self.docroot / "api" / "models" / "testorg" / repo / "tree"
        tree.mkdir(parents=True, exist_ok=True)
        (tree / "main").write_text(json.dumps(entries))

    def start(self):
        self.port = free_port()
        self.proc = start_nginx(
            self.base, self.port, '$request_method $uri $status "$http_range" $body_bytes_sent "$http_authorization"',
            "default_type application/octet-stream;",
            f"""root {self.docroot};
    location /api/ {{ default_type application/json; }}
    location = /api/models/testorg/private-GGUF/tree/main {{ return 401; }}
    location /testorg/slow-GGUF/ {{ if ($http_range = "") {{ set $limit_rate {SLOW_RATE}; }} }}
    location /chunked/ {{ ssi on; ssi_types *; }}""", timeout=HANG_S)

    def stop(self):
        stop_nginx(self.proc)

    def log(self):
        """Access-log lines as (method, uri, status, range, bytes, authorization)."""
        path = self.base / "access.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            parts = line.split(" ", 4)
            rng, rest = parts[3].strip('"'), parts[4]
            sent, auth = rest.split(" ", 1)
            out.append((parts[0], parts[1], int(parts[2]), rng if rng != "-" else "", int(sent), auth.strip('"')))
        return out

    def requests_for(self, suffix):
        return [r for r in self.log() if r[1].endswith(suffix)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if shutil.which("nginx") is None:
        pytest.fail("nginx not found: scripts/install-deps installs nginx-light")
    base = tmp_path_factory.mktemp("hub")
    src = base / "src"
    src.mkdir()
    h = Hub(base)
    make_gguf(src / "tiny.Q4_K_M.gguf", 256 * 1024, 1)   # 1 MiB
    make_gguf(src / "tiny.Q4_1.gguf", 256 * 1024, 2)
    make_gguf(src / "slow.Q4_K_M.gguf", 512 * 1024, 3)   # 2 MiB: 2 s at SLOW_RATE
    make_gguf(src / "big.Q4_K_M.gguf", 3 * 1024 * 1024, 4)  # 12 MiB, more than the full disk holds
    (src / "page.Q4_K_M.gguf").write_text("<!DOCTYPE html><html><body>Not a model</body></html>\n" * 50)
    h.add_repo("tiny-GGUF", {"tiny.Q4_K_M.gguf": src / "tiny.Q4_K_M.gguf", "tiny.Q4_1.gguf": src / "tiny.Q4_1.gguf"})
    h.add_repo("badsha-GGUF", {"tiny.Q4_K_M.gguf": src / "tiny.Q4_K_M.gguf"}, wrong_sha={"tiny.Q4_K_M.gguf"})
    h.add_repo("notgguf-GGUF", {"page.Q4_K_M.gguf": src / "page.Q4_K_M.gguf"})
    h.add_repo("slow-GGUF", {"slow.Q4_K_M.gguf": src / "slow.Q4_K_M.gguf"})
    h.add_repo("big-GGUF", {"big.Q4_K_M.gguf": src / "big.Q4_K_M.gguf"})
    h.add_repo("multi-GGUF", {"m.Q8_0.gguf": src / "tiny.Q4_1.gguf", "m.Q5_K_M.gguf": src / "tiny.Q4_K_M.gguf"})
    if SMOLLM2.is_file():
        h.add_repo("smollm2-GGUF", {SMOLLM2.name: SMOLLM2})
    for d in ("files", "chunked"):
        (h.docroot / d).mkdir()
        for f in ("tiny.Q4_K_M.gguf", "big.Q4_K_M.gguf"):
            os.symlink(src / f, h.docroot / d / f)
    h.src = src
    h.start()
    yield h
    h.stop()


class Store:
    """One test's model store and a way to run nagare against it and the hub."""

    def __init__(self, root, hub):
        self.root = root
        self.hub = hub

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT", "http_proxy", "https_proxy")}
        env.update(NAGARE_MODELS=str(self.root), HF_ENDPOINT=self.hub.url)
        env.update(extra)
        return env

    def run(self, *args, ok=True, **env):
        r = subprocess.run([str(nagare_bin()), *args], capture_output=True, text=True, env=self.env(**env),
                           timeout=HANG_S)
        if ok:
            assert r.returncode == 0, f"nagare {' '.join(args)} failed ({r.returncode}):\n{r.stderr}"
        else:
            assert r.returncode != 0, f"nagare {' '.join(args)} succeeded, expected an error:\n{r.stdout}"
            assert "error: " in r.stderr, r.stderr
        return r

    def popen(self, *args, **env):
        return subprocess.Popen([str(nagare_bin()), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(**env))

    def listed(self):
        """NAME -> ID from `nagare list`."""
        lines = self.run("list").stdout.splitlines()
        assert lines[0].split() == ["NAME", "ID", "SIZE", "MODIFIED"], lines
        return {l.split()[0]: l.split()[1] for l in lines[1:]}

    def blob_dir_files(self):
        d = self.root / "blobs"
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def blobs(self):
        return [n for n in self.blob_dir_files() if n.startswith("sha256-")]


@pytest.fixture
def store(tmp_path, hub):
    return Store(tmp_path / "models", hub)


def check_only_blob(store, sha):
    """The store holds exactly this blob, with the right bytes, and no partial or temporary file."""
    assert store.blob_dir_files() == [f"sha256-{sha}"]
    assert sha256_file(store.root / "blobs" / f"sha256-{sha}") == sha


# --- pull sources ------------------------------------------------------------------------------

def test_pull_repo_default_quant(store, hub):
    r = store.run("pull", "hf.co/testorg/tiny-GGUF")
    sha = sha256_file(hub.src / "tiny.Q4_K_M.gguf")
    assert store.listed() == {"hf.co/testorg/tiny-GGUF:latest": sha[:12]}
    check_only_blob(store, sha)
    assert "pulled hf.co/testorg/tiny-GGUF:latest" in r.stdout
    assert "pulling hf.co/testorg/tiny-GGUF" in r.stderr
    show = store.run("show", "hf.co/testorg/tiny-GGUF").stdout
    assert "hf.co/testorg/tiny-GGUF/tiny.Q4_K_M.gguf" in show and f"sha256:{sha}" in show
    # A second pull finds the same digest in the store and downloads nothing.
    before = len(hub.requests_for("/tiny.Q4_K_M.gguf"))
    assert "up to date" in store.run("pull", "hf.co/testorg/tiny-GGUF").stdout
    assert len(hub.requests_for("/tiny.Q4_K_M.gguf")) == before


def test_pull_repo_quant_tag(store, hub):
    store.run("pull", "hf.co/testorg/tiny-GGUF:Q4_1")
    sha = sha256_file(hub.src / "tiny.Q4_1.gguf")
    assert store.listed() == {"hf.co/testorg/tiny-GGUF:Q4_1": sha[:12]}
    check_only_blob(store, sha)


def test_pull_file_path_and_url_share_one_blob(store, hub):
    sha = sha256_file(hub.src / "tiny.Q4_K_M.gguf")
    store.run("pull", "hf.co/testorg/tiny-GGUF/tiny.Q4_K_M.gguf")
    store.run("pull", f"{hub.url}/files/tiny.Q4_K_M.gguf")
    assert store.listed() == {"hf.co/testorg/tiny-GGUF:tiny.Q4_K_M": sha[:12], "tiny.q4_k_m:latest": sha[:12]}
    check_only_blob(store, sha)
    assert hub.requests_for("/files/tiny.Q4_K_M.gguf")[-1][2] == 200


def test_hf_token_is_sent(store, hub):
    store.run("pull", "hf.co/testorg/tiny-GGUF:Q4_1", HF_TOKEN="test-token-123")
    tree = [r for r in hub.requests_for("/tiny-GGUF/tree/main") if "test-token-123" in r[5]]
    assert tree and tree[-1][5] == "Bearer test-token-123"


def test_quant_choice_errors_list_the_candidates(store):
    r = store.run("pull", "hf.co/testorg/multi-GGUF", ok=False)
    assert "none is Q4_K_M" in r.stderr and "m.Q8_0.gguf" in r.stderr and "m.Q5_K_M.gguf" in r.stderr
    r = store.run("pull", "hf.co/testorg/multi-GGUF:Q4_0", ok=False)
    assert "no GGUF file carries 'Q4_0'" in r.stderr
    assert not store.root.exists() or store.blob_dir_files() == []


# --- resuming --------------------------------------------------------------------------------

def test_resume_from_a_partial_download(store, hub):
    src = hub.src / "slow.Q4_K_M.gguf"
    sha, size = sha256_file(src), os.path.getsize(src)
    have = size // 3
    (store.root / "blobs").mkdir(parents=True)
    (store.root / "blobs" / f"partial-sha256-{sha}").write_bytes(src.read_bytes()[:have])
    r = store.run("pull", "hf.co/testorg/slow-GGUF")
    assert "resuming" in r.stderr
    method, _, status, rng, sent, _ = hub.requests_for("/slow.Q4_K_M.gguf")[-1]
    assert (method, status, rng, sent) == ("GET", 206, f"bytes={have}-", size - have)
    check_only_blob(store, sha)
    assert store.listed() == {"hf.co/testorg/slow-GGUF:latest": sha[:12]}


def test_resume_after_the_pull_was_killed(store, hub):
    src = hub.src / "slow.Q4_K_M.gguf"
    sha, size = sha256_file(src), os.path.getsize(src)
    partial = store.root / "blobs" / f"partial-sha256-{sha}"
    first = store.popen("pull", "hf.co/testorg/slow-GGUF")
    deadline = time.monotonic() + HANG_S
    while not (partial.exists() and partial.stat().st_size >= 64 * 1024):  # part-way through
        assert first.poll() is None, f"the rate-limited pull ended early: {first.communicate()}"
        assert time.monotonic() < deadline, "the partial download never grew"
        time.sleep(0.02)
    first.kill()
    first.communicate()
    have = partial.stat().st_size
    assert 0 < have < size
    assert store.listed() == {}  # a half model is never listed
    store.run("pull", "hf.co/testorg/slow-GGUF")
    method, _, status, rng, sent, _ = hub.requests_for("/slow.Q4_K_M.gguf")[-1]
    assert (status, rng, sent) == (206, f"bytes={have}-", size - have)
    check_only_blob(store, sha)


def test_concurrent_pulls_share_one_download(store, hub):
    src = hub.src / "slow.Q4_K_M.gguf"
    sha = sha256_file(src)
    before = len(hub.requests_for("/slow.Q4_K_M.gguf"))
    procs = [store.popen("pull", "hf.co/testorg/slow-GGUF") for _ in range(2)]
    outs = [p.communicate(timeout=HANG_S) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert len(hub.requests_for("/slow.Q4_K_M.gguf")) - before == 1  # one download, not two
    check_only_blob(store, sha)
    assert store.listed() == {"hf.co/testorg/slow-GGUF:latest": sha[:12]}


# --- refused downloads leave nothing behind ------------------------------------------------------

def test_wrong_digest_is_rejected(store):
    r = store.run("pull", "hf.co/testorg/badsha-GGUF", ok=False)
    assert "sha256" in r.stderr and "discarded" in r.stderr
    assert store.listed() == {}
    assert store.blob_dir_files() == []


def test_not_found(store, hub):
    r = store.run("pull", "hf.co/testorg/missing-GGUF", ok=False)
    assert "no such repository (HTTP 404" in r.stderr
    r = store.run("pull", "hf.co/testorg/tiny-GGUF/nothere.gguf", ok=False)
    assert "has no file nothere.gguf" in r.stderr and "tiny.Q4_1.gguf" in r.stderr
    r = store.run("pull", f"{hub.url}/files/nothere.gguf", ok=False)
    assert "not found (HTTP 404" in r.stderr
    assert store.listed() == {}
    assert store.blob_dir_files() == []


def test_private_repository_asks_for_a_token(store):
    r = store.run("pull", "hf.co/testorg/private-GGUF", ok=False)
    assert "HTTP 401" in r.stderr and "HF_TOKEN" in r.stderr


def test_not_a_gguf_file(store):
    r = store.run("pull", "hf.co/testorg/notgguf-GGUF", ok=False)
    assert "not a GGUF file (it starts with '<!DOCTYPE html>" in r.stderr
    assert store.listed() == {}
    assert store.blob_dir_files() == []


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (the big test file has 12 MiB)."""
    with small_tmpfs(tmp_path / "small-disk", "4m") as mnt:
        yield mnt


def test_full_disk_leaves_nothing_listed(small_disk, hub):
    store = Store(small_disk / "models", hub)
    # The listing states the size: refused before downloading.
    r = store.run("pull", "hf.co/testorg/big-GGUF", ok=False)
    assert "needs 12.0 MiB more in" in r.stderr and "free" in r.stderr, r.stderr
    # No size known in advance (chunked response): the disk fills part-way.
    r = store.run("pull", f"{hub.url}/chunked/big.Q4_K_M.gguf", ok=False)
    assert "No space left on device" in r.stderr, r.stderr
    assert hub.requests_for("/chunked/big.Q4_K_M.gguf")[-1][2] == 200
    assert store.listed() == {}
    assert store.blob_dir_files() == []
    # The store still works once there is room.
    store.run("pull", "hf.co/testorg/tiny-GGUF")
    assert list(store.listed()) == ["hf.co/testorg/tiny-GGUF:latest"]


# --- names and the store's other commands ---------------------------------------------------------

@pytest.mark.parametrize("bad", ["../evil", "/etc/passwd", "a\\b", "x:../../y", "a//b", "ns/../../x", "a\x01b",
                                 "hf.co/o/r/../../x.gguf", "a b"])
def test_hostile_names_touch_nothing(store, bad):
    for args in (["pull", bad], ["rm", bad], ["cp", bad, "ok"], ["cp", "ok", bad], ["create", bad, "-f", "Modelfile"],
                 ["show", bad], ["run", bad, "-p", "hi"]):
        r = store.run(*args, ok=False)
        # show and run also take a .gguf path, so a path-like argument is a file (that is not a model).
        if args[0] not in ("show", "run"):
            assert "invalid model name" in r.stderr or "cannot pull" in r.stderr, (args, r.stderr)
    assert not store.root.exists()


def test_list_cp_show_create_rm(store, hub, tmp_path):
    store.run("pull", "hf.co/testorg/tiny-GGUF:Q4_1")
    sha = sha256_file(hub.src / "tiny.Q4_1.gguf")
    store.run("cp", "hf.co/testorg/tiny-GGUF:Q4_1", "tiny:copy")
    mf = tmp_path / "Modelfile"
    mf.write_text('# a test model\nFROM tiny:copy\nSYSTEM """You answer\nin one word."""\n'
                  'PARAMETER temperature 0.2\nPARAMETER stop "<end>"\nPARAMETER stop STOP\n'
                  'MESSAGE user "Hi"\nMESSAGE assistant Hello\nLICENSE MIT\n')
    store.run("create", "me/terse", "-f", str(mf))
    assert store.listed() == {"hf.co/testorg/tiny-GGUF:Q4_1": sha[:12], "tiny:copy": sha[:12],
                              "me/terse:latest": sha[:12]}
    check_only_blob(store, sha)  # names share the weights
    show = store.run("show", "me/terse").stdout
    for want in ("You answer", "temperature", '"<end>"', "MIT", "Store", "tiny:copy"):
        assert want in show, show
    modelfile = store.run("show", "me/terse", "--modelfile").stdout
    # The printed Modelfile recreates the same model.
    (tmp_path / "Modelfile2").write_text(modelfile)
    store.run("create", "me/terse2", "-f", str(tmp_path / "Modelfile2"))
    a = json.loads((store.root / "manifests/local/me/terse/latest").read_text())
    b = json.loads((store.root / "manifests/local/me/terse2/latest").read_text())
    for key in ("weights", "system", "parameters", "messages", "license"):
        assert a[key] == b[key], key
    # rm: the weights stay while a name uses them, and go with the last one.
    for name in ("hf.co/testorg/tiny-GGUF:Q4_1", "tiny:copy", "me/terse"):
        assert f"deleted '{name}" in store.run("rm", name).stdout
        assert store.blobs() == [f"sha256-{sha}"]
    store.run("rm", "me/terse2")
    assert store.listed() == {} and store.blobs() == []
    assert "not found" in store.run("rm", "me/terse", ok=False).stderr


def test_create_imports_a_gguf_file(store, hub, tmp_path):
    (tmp_path / "Modelfile").write_text(f"FROM {hub.src / 'tiny.Q4_1.gguf'}\nPARAMETER num_ctx 512\n")
    store.run("create", "imported", "-f", str(tmp_path / "Modelfile"))
    sha = sha256_file(hub.src / "tiny.Q4_1.gguf")
    assert store.listed() == {"imported:latest": sha[:12]}
    check_only_blob(store, sha)
    (tmp_path / "Modelfile").write_text(f"FROM {hub.src / 'page.Q4_K_M.gguf'}\n")
    r = store.run("create", "broken", "-f", str(tmp_path / "Modelfile"), ok=False)
    assert "invalid GGUF file" in r.stderr
    check_only_blob(store, sha)


def test_modelfile_errors_name_the_line(store, tmp_path):
    cases = {
        "FROM x\nSYSTEM hi\nBOGUS thing\n": ":3: unknown instruction 'BOGUS'",
        "FROM x\nPARAMETER temperature warm\n": ":2: parameter temperature takes a number",
        "FROM x\n\nPARAMETER nope 1\n": ":3: unknown parameter 'nope'",
        'FROM x\nTEMPLATE """never\nclosed\n': ':2: TEMPLATE: the """ opened here is never closed',
        "SYSTEM hi\n": ": no FROM line",
        "FROM x\nMESSAGE robot hi\n": ":2: MESSAGE role 'robot'",
    }
    for text, want in cases.items():
        mf = tmp_path / "Modelfile"
        mf.write_text(text)
        r = store.run("create", "m", "-f", str(mf), ok=False)
        assert f"{mf}{want}" in r.stderr, (text, r.stderr)
    assert not store.root.exists()


@pytest.mark.skipif(not SMOLLM2.is_file(), reason="test model missing: run scripts/fetch-models")
def test_run_pulls_a_missing_model(store):
    r = store.run("run", "hf.co/testorg/smollm2-GGUF", "-p", "Name a colour.", "-n", "4", "--temp", "0")
    assert "pulling hf.co/testorg/smollm2-GGUF" in r.stderr
    assert r.stdout.strip(), "no answer"
    assert list(store.listed()) == ["hf.co/testorg/smollm2-GGUF:latest"]
    check_only_blob(store, sha256_file(SMOLLM2))
    # Now it runs from the store, without pulling.
    r = store.run("run", "hf.co/testorg/smollm2-GGUF", "-p", "Name a colour.", "-n", "4", "--temp", "0")
    assert "pulling" not in r.stderr
    # A model's PARAMETERs apply, and a flag wins over them.
    mf = store.root.parent / "Modelfile"
    mf.write_text("FROM hf.co/testorg/smollm2-GGUF\nPARAMETER num_predict 3\nPARAMETER temperature 0\n")
    store.run("create", "short", "-f", str(mf))
    r = store.run("run", "short", "-p", "Name three colours.", "--verbose")
    assert "eval count:           3 token(s)" in r.stderr, r.stderr
    r = store.run("run", "short", "-p", "Name three colours.", "--verbose", "-n", "5")
    assert "eval count:           5 token(s)" in r.stderr, r.stderr
