"""The deployment recipes under deploy/ (docs/deploy.md).

- Kubernetes (deploy/kubernetes): every file passes yamllint (deploy/.yamllint); every object
  but KEDA's ScaledObject validates, unknown fields rejected, against the schemas of a fixed
  Kubernetes version (kubernetes-validate); the objects agree with each other (names, labels,
  ports, the namespace, the ConfigMap and claim they mount); the ScaledObject uses only the fields
  KEDA documents, targets the serve Deployment, and its query names a metric that a real
  `nagare serve`, started with the Deployment's own arguments, exports; the keys ConfigMap holds
  only digests and nagare accepts it.
- nginx (deploy/nginx): a real nginx with each recipe (its upstream addresses replaced) in front
  of two real `nagare serve` replicas. Round robin spreads requests over both and streams (SSE
  and NDJSON arrive in pieces); sticky-by-user keeps each API key on one replica and survives one replica's death.
- systemd (deploy/systemd): `systemd-analyze verify` accepts both units, and stopping waits
  longer than the drain.

Requests are short and greedy; every wait is a poll whose deadline only stops a hang.
"""
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib

import httpx
import openai
import pytest
import yaml

from conftest import ALIAS, MODEL, REQUEST_TIMEOUT_S, ROOT, _binary, launched_server
from nginx_helper import free_port, stop_nginx

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
NGINX = DEPLOY / "nginx"
SYSTEMD = DEPLOY / "systemd"
NAMESPACE = "nagare"
# A Kubernetes release kubernetes-validate ships schemas for; the recipes need 1.30 or later
# (preStop's sleep action).
K8S_VERSION = "1.30.0"
HANG_S = 120  # only stops a hung test

# KEDA's documented fields, from https://keda.sh/docs/2.17/reference/scaledobject-spec/ and
# https://keda.sh/docs/2.17/scalers/prometheus/ (ScaledObject spec, trigger, prometheus metadata).
KEDA_SPEC_KEYS = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                  "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced",
                  "triggers"}
KEDA_SCALE_TARGET_KEYS = {"apiVersion", "kind", "name", "envSourceContainerName"}
KEDA_FALLBACK_KEYS = {"failureThreshold", "replicas", "behavior"}
KEDA_ADVANCED_KEYS = {"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"}
KEDA_HPA_CONFIG_KEYS = {"name", "behavior"}
KEDA_TRIGGER_KEYS = {"type", "metadata", "name", "useCachedMetrics", "authenticationRef", "metricType"}
KEDA_PROMETHEUS_KEYS = {"serverAddress", "query", "threshold", "activationThreshold", "namespace",
                        "customHeaders", "ignoreNullValues", "queryParameters", "unsafeSsl", "authModes"}
KEDA_PROMETHEUS_REQUIRED = {"serverAddress", "query", "threshold"}


# --- the Kubernetes files ------------------------------------------------------------------------

def _yaml_files():
    files = sorted(K8S.glob("*.yaml")) + sorted(K8S.glob("*.yml"))
    assert files, f"no YAML files under {K8S}"
    return files


def _objects():
    """Every Kubernetes object of deploy/kubernetes except the Kustomization: [(file, object)]."""
    out = []
    for f in _yaml_files():
        for doc in yaml.safe_load_all(f.read_text()):
            if doc is not None and doc.get("kind") != "Kustomization":
                out.append((f.name, doc))
    return out


def _one(kind, name=None):
    found = [o for _, o in _objects() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _deployment(subcommand):
    """The Deployment whose container runs `nagare <subcommand>`."""
    found = [o for _, o in _objects() if o["kind"] == "Deployment"
             and o["spec"]["template"]["spec"]["containers"][0]["args"][0] == subcommand]
    assert len(found) == 1, f"expected one Deployment running `nagare {subcommand}`, found {len(found)}"
    return found[0]


def _flag(args, name):
    """The value after `name` in an argument list."""
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


def _matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def test_kubernetes_yaml_passes_yamllint():
    r = subprocess.run([sys.executable, "-m", "yamllint", "--strict", "-c", str(DEPLOY / ".yamllint"),
                        *map(str, _yaml_files())], capture_output=True, text=True)
    if "No module named yamllint" in r.stderr:
        pytest.fail("yamllint is not installed: .venv/bin/pip install -r scripts/requirements-test.txt")
    assert r.returncode == 0, f"yamllint:\n{r.stdout}{r.stderr}"


def test_kubernetes_objects_validate_against_the_api_schemas():
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: .venv/bin/pip install -r scripts/requirements-test.txt")
    checked = []
    for name, obj in _objects():
        assert obj["metadata"].get("namespace") == NAMESPACE, f"{name}: {obj['kind']} not in namespace {NAMESPACE}"
        if obj["kind"] == "ScaledObject":
            continue  # a KEDA CRD: no schema here; test_keda_scaledobject checks it
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)  # strict: unknown fields fail
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']} at {'.'.join(map(str, e.path))}: "
                        f"{e.message}")
        checked.append(obj["kind"])
    for kind in ("Deployment", "Service", "PersistentVolumeClaim", "ConfigMap", "PodDisruptionBudget"):
        assert kind in checked, f"no {kind} among {checked}"


def test_kustomization_lists_every_file():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert k["kind"] == "Kustomization" and k["namespace"] == NAMESPACE
    assert sorted(k["resources"]) == sorted(f.name for f in _yaml_files() if f.name != "kustomization.yaml")


def test_kubernetes_objects_agree_with_each_other():
    serve, router = _deployment("serve"), _deployment("router")
    serve_pod, router_pod = serve["spec"]["template"], router["spec"]["template"]
    serve_labels, router_labels = serve_pod["metadata"]["labels"], router_pod["metadata"]["labels"]
    assert _matches(serve["spec"]["selector"]["matchLabels"], serve_labels)
    assert _matches(router["spec"]["selector"]["matchLabels"], router_labels)
    assert not _matches(serve["spec"]["selector"]["matchLabels"], router_labels), "selectors overlap"

    # serve: probes on /health, the drain fits in the grace period, the model from the claim.
    c = serve_pod["spec"]["containers"][0]
    args = c["args"]
    assert c["image"] == "ghcr.io/nagare/nagare:latest"
    port = int(_flag(args, "--port"))
    assert [p["containerPort"] for p in c["ports"]] == [port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health", probe
    # The startup probe allows minutes for loading a model.
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300
    drain = float(_flag(args, "--shutdown-timeout"))
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert serve_pod["spec"]["terminationGracePeriodSeconds"] > pre_stop + drain
    # Liveness tolerates a whole drain's 503s.
    assert c["livenessProbe"]["periodSeconds"] * c["livenessProbe"]["failureThreshold"] > drain
    for what in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][what]), what
    volumes = {v["name"]: v for v in serve_pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True
    claim = volumes[mounts["/models"]["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim == "nagare-models"
    _one("PersistentVolumeClaim", claim)
    assert _flag(args, "-m").startswith("/models/")

    # The headless Service: the serve pods, their port, only ready ones.
    headless = _one("Service", "nagare-workers")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is False
    assert _matches(headless["spec"]["selector"], serve_labels)
    (hport,) = headless["spec"]["ports"]
    assert hport["port"] == port

    # The router finds the replicas through it and checks keys from the ConfigMap.
    rc = router_pod["spec"]["containers"][0]
    rargs = rc["args"]
    assert _flag(rargs, "--worker-dns") == f"nagare-workers.{NAMESPACE}.svc.cluster.local:{hport['port']}"
    assert _flag(rargs, "--host") == "0.0.0.0"
    rport = int(_flag(rargs, "--port"))
    assert [p["containerPort"] for p in rc["ports"]] == [rport]
    assert router["spec"]["replicas"] == 2
    assert rc["readinessProbe"]["httpGet"]["path"] == "/health"
    keys_path = _flag(rargs, "--api-keys")
    (mount,) = [m for m in rc["volumeMounts"] if keys_path.startswith(m["mountPath"].rstrip("/") + "/")]
    rvolumes = {v["name"]: v for v in router_pod["spec"]["volumes"]}
    cm_name = rvolumes[mount["name"]]["configMap"]["name"]
    assert os.path.basename(keys_path) in _one("ConfigMap", cm_name)["data"]
    assert router_pod["spec"]["terminationGracePeriodSeconds"] > float(_flag(rargs, "--shutdown-timeout"))

    # The client-facing Service: port 80 to the router.
    svc = _one("Service", "nagare")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert _matches(svc["spec"]["selector"], router_labels)
    (sport,) = svc["spec"]["ports"]
    assert sport["port"] == 80 and sport["targetPort"] in ("http", rport)

    # A disruption budget for the serve pods.
    pdbs = [o for _, o in _objects() if o["kind"] == "PodDisruptionBudget"
            and _matches(o["spec"]["selector"]["matchLabels"], serve_labels)]
    assert len(pdbs) == 1 and ({"minAvailable", "maxUnavailable"} & set(pdbs[0]["spec"]))


def test_keys_configmap_holds_digests_that_nagare_accepts(tmp_path):
    cm = _one("ConfigMap", "nagare-keys")
    text = cm["data"]["keys.toml"]
    keys = tomllib.loads(text)["keys"]
    assert keys
    for k in keys:
        assert "key" not in k, "a plaintext key in the ConfigMap"
        assert re.fullmatch(r"[0-9a-f]{64}", k["sha256"]), k
    # nagare refuses a malformed keys file at start: this one starts (with one more key of the
    # test's own, since nobody has the ConfigMap's keys), and keeps strangers out.
    (tmp_path / "keys.toml").write_text(text)
    cmd = [str(_binary()), "serve", "-m", str(MODEL), "--alias", ALIAS, "--host", "127.0.0.1", "--port", "0",
           "--no-audit", "--api-keys", str(tmp_path / "keys.toml"), "--api-key", "sk-deploy-test", *_threads()]
    with launched_server(cmd) as s:
        assert any(f"API keys required ({len(keys) + 1} keys" in line for line in s.log), s.log
        assert httpx.get(f"{s.url}/v1/models", timeout=30).status_code == 401
        ok = httpx.get(f"{s.url}/v1/models", headers={"Authorization": "Bearer sk-deploy-test"}, timeout=30)
        assert ok.status_code == 200


def _threads():
    return [] if os.environ.get("NAGARE_TEST_THREADS") else ["--threads", "1"]


def test_keda_scaledobject(tmp_path):
    (so,) = [o for _, o in _objects() if o["kind"] == "ScaledObject"]
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    spec = so["spec"]
    assert set(spec) <= KEDA_SPEC_KEYS, f"fields KEDA does not know: {set(spec) - KEDA_SPEC_KEYS}"
    ref = spec["scaleTargetRef"]
    assert set(ref) <= KEDA_SCALE_TARGET_KEYS, set(ref) - KEDA_SCALE_TARGET_KEYS
    serve = _deployment("serve")
    assert ref["name"] == serve["metadata"]["name"]
    assert ref.get("kind", "Deployment") == "Deployment" and ref.get("apiVersion", "apps/v1") == "apps/v1"
    for f in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        assert isinstance(spec[f], int), f
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert set(spec.get("fallback", {})) <= KEDA_FALLBACK_KEYS
    advanced = spec["advanced"]
    assert set(advanced) <= KEDA_ADVANCED_KEYS, set(advanced) - KEDA_ADVANCED_KEYS
    hpa = advanced["horizontalPodAutoscalerConfig"]
    assert set(hpa) <= KEDA_HPA_CONFIG_KEYS, set(hpa) - KEDA_HPA_CONFIG_KEYS
    # KEDA hands `behavior` to the HPA it creates: validate it as an HPA's.
    import kubernetes_validate
    kubernetes_validate.validate({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "keda-hpa"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ref["name"]},
                 "minReplicas": spec["minReplicaCount"], "maxReplicas": spec["maxReplicaCount"],
                 "behavior": hpa["behavior"]}}, K8S_VERSION, strict=True)

    (trigger,) = spec["triggers"]
    assert set(trigger) <= KEDA_TRIGGER_KEYS, set(trigger) - KEDA_TRIGGER_KEYS
    assert trigger["type"] == "prometheus"
    meta = trigger["metadata"]
    assert set(meta) <= KEDA_PROMETHEUS_KEYS, f"metadata KEDA does not know: {set(meta) - KEDA_PROMETHEUS_KEYS}"
    assert KEDA_PROMETHEUS_REQUIRED <= set(meta)
    # Trigger metadata is a map of strings in KEDA's CRD: a bare number would be refused.
    for k, v in meta.items():
        assert isinstance(v, str), f"metadata.{k} must be a string, is {v!r}"
    float(meta["threshold"]), float(meta.get("activationThreshold", "0"))

    query = meta["query"]
    names = set(re.findall(r"nagare:[A-Za-z0-9_:]+", query))
    assert names, f"the query names no nagare metric: {query}"
    if shutil.which("promtool"):  # Prometheus' own parser, through a recording rule
        rules = tmp_path / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": [{"name": "keda", "rules": [
            {"record": "keda:query", "expr": query}]}]}))
        r = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
        assert r.returncode == 0, f"PromQL {query!r}:\n{r.stdout}{r.stderr}"

    # A real nagare serve, started with the Deployment's own arguments (model file, port, host,
    # threads and audit path replaced), exports the metric.
    args = list(serve["spec"]["template"]["spec"]["containers"][0]["args"])
    replace = {"-m": str(MODEL), "--port": "0", "--host": "127.0.0.1",
               "--audit": f"sqlite:{tmp_path / 'audit.db'}"}
    for flag, v in replace.items():
        args[args.index(flag) + 1] = v
    i = args.index("--threads")
    del args[i:i + 2]
    with launched_server([str(_binary()), *args, *_threads()]) as s:
        text = httpx.get(f"{s.url}/metrics", timeout=30).text
    for name in names:
        assert re.search(rf"^{re.escape(name)}(\{{| )", text, re.M), f"{name} not in /metrics:\n{text}"
    if "nagare:num_requests_waiting" in names:
        assert "# TYPE nagare:num_requests_waiting gauge" in text


# --- nginx in front of real replicas -------------------------------------------------------------

@contextlib.contextmanager
def replicas(n, *extra):
    with contextlib.ExitStack() as stack:
        servers = []
        for _ in range(n):
            cmd = [str(_binary()), "serve", "-m", str(MODEL), "--alias", ALIAS, "--host", "127.0.0.1",
                   "--port", "0", "--ctx-size", "1024", "--no-audit",
                   "--cache-size", "0",  # every request reaches an engine, so the counters count it
                   *_threads(), *extra]
            servers.append(stack.enter_context(launched_server(cmd)))
        yield servers


@contextlib.contextmanager
def recipe_nginx(base, recipe, servers):
    """A real nginx running deploy/nginx/<recipe> as an http-level include, its two upstream
    servers replaced by `servers` and its listen by a free loopback port; yields its URL."""
    text = (NGINX / recipe).read_text()
    placeholders = re.findall(r"^\s*server\s+(127\.0\.0\.1:\d+)\b", text, re.M)
    assert len(placeholders) == len(servers), f"{recipe}: upstream servers {placeholders}"
    for ph, s in zip(placeholders, servers):
        text = re.sub(rf"^(\s*server\s+){re.escape(ph)}\b", rf"\g<1>{httpx.URL(s.url).netloc.decode()}", text,
                      count=1, flags=re.M)
    port = free_port()
    text, n = re.subn(r"^(\s*)listen\s+[^;]+;", rf"\g<1>listen 127.0.0.1:{port};", text, flags=re.M)
    assert n == 1, f"{recipe}: {n} listen directives"
    (base / "recipe.conf").write_text(text)
    conf = base / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
events {{}}
http {{
  log_format up '$request $status upstream=$upstream_addr';
  access_log {base}/access.log up;
  client_body_temp_path {base}/tmp_body;
  proxy_temp_path {base}/tmp_proxy;
  fastcgi_temp_path {base}/tmp_fastcgi;
  uwsgi_temp_path {base}/tmp_uwsgi;
  scgi_temp_path {base}/tmp_scgi;
  include {base}/recipe.conf;
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-p", str(base), "-c", str(conf), "-e", str(base / "error.log"),
                             "-g", f"daemon off; master_process off; pid {base}/nginx.pid; error_log {base}/error.log;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + HANG_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"nginx exited: {proc.stderr.read().decode()}")
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        log = base / "access.log"
        print("nginx access log:\n" + (log.read_text() if log.exists() else ""))
        raise
    finally:
        stop_nginx(proc)


def successes(server, key=None):
    """nagare:request_success_total of a replica, summed over its labels."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)
    r.raise_for_status()
    return sum(float(line.rsplit(" ", 1)[1]) for line in r.text.splitlines()
               if line.startswith("nagare:request_success_total{"))


def counts_after(servers, before, total, key=None):
    """Polls until the replicas counted `total` more requests than `before`; returns each one's
    increase (a response's counters are updated as it ends, possibly just after the client read it)."""
    deadline = time.monotonic() + HANG_S
    while True:
        now = [successes(s, key) for s in servers]
        delta = [a - b for a, b in zip(now, before)]
        if sum(delta) >= total:
            assert sum(delta) == total, f"counted {delta}, expected {total} in all"
            return delta
        assert time.monotonic() < deadline, f"counted {delta}, expected {total} in all"
        time.sleep(0.05)


def chat(client, i, stream):
    kw = dict(model=ALIAS, messages=[{"role": "user", "content": f"Say the number {i}."}],
              max_tokens=6, temperature=0)
    if not stream:
        r = client.chat.completions.create(**kw)
        assert r.choices[0].message.content
        return 1
    chunks = [c for c in client.chat.completions.create(stream=True, **kw)
              if c.choices and c.choices[0].delta.content]
    assert chunks
    return len(chunks)


def test_nginx_round_robin_spreads_and_streams(tmp_path):
    with replicas(2) as servers, recipe_nginx(tmp_path, "round-robin.conf", servers) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=REQUEST_TIMEOUT_S)
        before = [successes(s) for s in servers]
        streamed_chunks = []
        for i in range(12):
            n = chat(client, i, stream=i % 2 == 1)
            if i % 2 == 1:
                streamed_chunks.append(n)
        delta = counts_after(servers, before, 12)
        # nginx alternates: both replicas served a fair share.
        assert min(delta) >= 4, f"requests per replica: {delta}"
        # SSE through nginx arrives as several chunks, one per token.
        assert max(streamed_chunks) > 1, streamed_chunks

        # Ollama's NDJSON stream (no X-Accel-Buffering header: it relies on the recipe's
        # proxy_buffering off) comes through nginx as it is generated: in several reads, line by
        # line. (nginx 1.22 passes data on as it arrives even when buffering, so this checks the
        # streaming path end to end, not that one directive.)
        body = {"model": ALIAS, "stream": True, "options": {"temperature": 0, "num_predict": 16},
                "messages": [{"role": "user", "content": "Count from 1 to 50, separated by commas."}]}
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as h, h.stream("POST", f"{url}/api/chat", json=body) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            reads = [b for b in r.iter_raw() if b]
        lines = [json.loads(line) for line in b"".join(reads).decode().splitlines() if line]
        assert [m["done"] for m in lines] == [False] * (len(lines) - 1) + [True], lines
        assert len(lines) > 2 and len(reads) > 1, f"{len(lines)} lines in {len(reads)} reads"


KEY_A, KEY_B = "sk-deploy-alice", "sk-deploy-bob"


def test_nginx_sticky_by_user_keeps_keys_on_one_replica_and_fails_over(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\nkey = "{KEY_A}"\nuser = "alice"\n\n'
                    f'[[keys]]\nsha256 = "{hashlib.sha256(KEY_B.encode()).hexdigest()}"\nuser = "bob"\n')
    with replicas(2, "--api-keys", str(keys)) as servers, \
            recipe_nginx(tmp_path, "sticky-by-user.conf", servers) as url:
        clients = {k: openai.OpenAI(base_url=f"{url}/v1", api_key=k, max_retries=0, timeout=REQUEST_TIMEOUT_S)
                   for k in (KEY_A, KEY_B)}
        # Without a key, the replica behind nginx refuses: the key travels through.
        assert httpx.get(f"{url}/v1/models", timeout=30).status_code == 401
        served_by = {KEY_A: set(), KEY_B: set()}
        for i in range(8):
            key = (KEY_A, KEY_B)[i % 2]
            before = [successes(s, KEY_A) for s in servers]
            chat(clients[key], i, stream=i % 4 >= 2)
            delta = counts_after(servers, before, 1, KEY_A)
            served_by[key].add(delta.index(1))
        assert len(served_by[KEY_A]) == 1 and len(served_by[KEY_B]) == 1, served_by

        # Kill key A's replica: nginx's connection to it is refused, and proxy_next_upstream
        # passes every request to the survivor.
        (dead,) = served_by[KEY_A]
        servers[dead].killed_by_test = True
        servers[dead].proc.kill()
        servers[dead].proc.wait()
        survivor = servers[1 - dead]
        before = successes(survivor, KEY_A)
        for i in range(4):
            chat(clients[(KEY_A, KEY_B)[i % 2]], 100 + i, stream=i >= 2)
        assert counts_after([survivor], [before], 4, KEY_A) == [4]


# --- systemd -------------------------------------------------------------------------------------

def _unit(name):
    text = (SYSTEMD / name).read_text()
    return text, dict(re.findall(r"^(\w+)=(.*)$", text.replace("\\\n", " "), re.M))


def test_systemd_units_verify_and_outlast_the_drain(tmp_path):
    for name, sub in (("nagare-serve@.service", "serve"), ("nagare-router.service", "router")):
        text, keys = _unit(name)
        exec_start = shlex.split(keys["ExecStart"])
        assert exec_start[:2] == ["/usr/local/bin/nagare", sub]
        assert float(keys["TimeoutStopSec"]) > float(_flag(exec_start, "--shutdown-timeout"))
        assert keys["Restart"] == "on-failure" and keys["KillSignal"] == "SIGTERM"
        if sub == "serve":
            assert _flag(exec_start, "--host") == "127.0.0.1" and _flag(exec_start, "--port") == "%i"
            for k in ("ProtectSystem", "ReadWritePaths", "NoNewPrivileges", "PrivateTmp"):
                assert k in keys, k
    assert shutil.which("systemd-analyze"), "systemd-analyze not found: scripts/install-deps installs Debian's systemd"
    # verify checks that ExecStart's binary exists: point it at the one under test.
    for name in ("nagare-serve@.service", "nagare-router.service"):
        (tmp_path / name).write_text((SYSTEMD / name).read_text().replace("/usr/local/bin/nagare", str(_binary())))
    (tmp_path / "nagare-serve@8081.service").symlink_to(tmp_path / "nagare-serve@.service")
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "nagare-serve@8081.service"),
                        str(tmp_path / "nagare-router.service")], capture_output=True, text=True)
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "nagare" in line]
    assert r.returncode == 0 and not ours, f"systemd-analyze verify:\n{r.stdout}{r.stderr}"


def test_router_flags_in_the_recipes_are_known_to_nagare_router():
    """The router recipes' flags, against `nagare router --help`."""
    r = subprocess.run([str(_binary()), "router", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--worker" in r.stdout, r.stdout + r.stderr
    used = set(_deployment("router")["spec"]["template"]["spec"]["containers"][0]["args"][1:])
    _, keys = _unit("nagare-router.service")
    used |= set(shlex.split(keys["ExecStart"])[2:])
    for flag in sorted(f for f in used if f.startswith("--")):
        assert re.search(rf"(^|[\s,]){re.escape(flag)}(?=[\s,=]|$)", r.stdout, re.M), f"`nagare router` does not know {flag}"
