#!/usr/bin/env python3
"""`nagare router` on a multi-tenant workload: cache-aware vs round-robin over two replicas, and
one replica vs two (issue 15's benchmark).

The workload: 8 tenants, each with its own system prompt of about 1,000 tokens (common English
words, one token each, seeded per tenant), 200 requests in a seeded random order, each the
tenant's system prompt and a short unique question, 32 tokens out (ignore_eos, temperature 0),
sent by `nagare bench` at concurrency 8 through the router. `--kv-cache-size MIB` sizes each
replica's KV cache (default: serve's own, room for 8,192 tokens, which holds every tenant's prompt
on every replica; 135 MiB is about 6,000 tokens of SmolLM2, where one replica holds only some of
the tenants, as when tenants outnumber what a replica's memory holds). Each configuration starts fresh
replicas (`nagare serve`, one thread each, response cache off), so every one begins with cold
prefix caches. Reported: TTFT p50/p99 and throughput from `nagare bench`, and the replicas'
prefix-cache hit rate (prompt tokens served from the cache over prompt tokens, from /metrics).

  .venv/bin/python bench/router.py -m models/SmolLM2-135M-Instruct.Q4_1.gguf
  .venv/bin/python bench/router.py -m models/SmolLM2-135M-Instruct.Q4_1.gguf --kv-cache-size 135
"""
import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("the of and to in is was for on that with as by at from his her they this which you are one all "
         "were have had not but what when there can out use other about many then them these some would "
         "time has look more write number way could people than first water been call who oil its now find "
         "long down day did get come made may part over new sound take only little work know place year live "
         "me back give most very after thing our just name good sentence man think say great where help through "
         "much before line right too mean old any same tell boy follow came want show also around form three "
         "small set put end does another well large must big even such because turn here why ask went men read "
         "need land different home us move try kind hand picture again change off play spell air away animal "
         "house point page letter mother answer found study still learn should world high").split()


def workload(path, tenants, requests, prompt_words, seed):
    rng = random.Random(seed)
    systems = []
    for t in range(tenants):
        r = random.Random(1000 + t)
        systems.append(f"You are the assistant of tenant {t}. " + " ".join(r.choice(WORDS) for _ in range(prompt_words)))
    order = [i % tenants for i in range(requests)]
    rng.shuffle(order)
    with open(path, "w") as f:
        for i, t in enumerate(order):
            f.write(json.dumps({"messages": [{"role": "system", "content": systems[t]},
                                             {"role": "user", "content": f"Question {i}: say something about {rng.choice(WORDS)}."}],
                                "max_tokens": 32, "temperature": 0, "ignore_eos": True}) + "\n")


def launch(cmd, pattern):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        m = re.search(pattern, line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, m.group(1)
    sys.exit("did not start: " + " ".join(cmd))


def prefix_counters(url):
    """Prompt tokens the prefix cache served, and prompt tokens, of the finished requests."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    def total(name):
        return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name + "{"))
    return total("nagare:cached_prompt_tokens_total"), total("nagare:prompt_tokens_total")


def run(args, replicas, policy, work, out_dir):
    binary = str(ROOT / "build" / "nagare")
    procs, urls = [], []
    try:
        for _ in range(replicas):
            p, url = launch([binary, "serve", "-m", args.model, "--alias", "m", "--host", "127.0.0.1", "--port", "0",
                             "--threads", "1", "--ctx-size", "2048", "--cache-size", "0", "--no-audit", "--no-webui",
                             *(["--kv-cache-size", str(args.kv_cache_size)] if args.kv_cache_size else [])],
                            r"listening on (http://\S+)")
            procs.append(p)
            urls.append(url)
        r, router_url = launch([binary, "router", "--host", "127.0.0.1", "--port", "0", "--policy", policy,
                                *args.router_arg,
                                *[a for u in urls for a in ("--worker", u)]], r"router listening on (http://\S+)")
        procs.append(r)
        label = f"{policy}-{replicas}"
        out = out_dir / f"{label}.json"
        subprocess.run([binary, "bench", "--url", router_url, "--model", "m", "--workload", str(work), "--concurrency",
                        str(args.concurrency), "--num-requests", str(args.requests), "--label", label, "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        routed = [float(l.rsplit(" ", 1)[1]) for l in httpx.get(f"{router_url}/metrics", timeout=30).text.splitlines()
                  if l.startswith("nagare:router_requests_total{")]
        hits = queries = 0.0
        for u in urls:
            h, q = prefix_counters(u)
            hits, queries = hits + h, queries + q
        level = json.loads(out.read_text())["levels"][0]
        return {"label": label, "ttft_p50_ms": level["ttft_ms"]["p50"], "ttft_p99_ms": level["ttft_ms"]["p99"],
                "request_throughput": level["request_throughput"], "output_throughput": level.get("output_throughput"),
                "prefix_hit_rate": hits / queries if queries else 0.0, "requests_per_replica": routed}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--tenants", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--prompt-words", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--router-arg", action="append", default=[], help="passed to `nagare router` (repeatable)")
    ap.add_argument("--only", help="run only this configuration: cache-aware-2, round-robin-2 or cache-aware-1")
    ap.add_argument("--kv-cache-size", type=int, default=0, help="MiB of KV cache per replica (0: serve's default)")
    args = ap.parse_args()
    out_dir = Path(tempfile.mkdtemp(prefix="nagare-router-bench-"))
    work = out_dir / "tenants.jsonl"
    workload(work, args.tenants, args.requests, args.prompt_words, args.seed)
    configs = [(2, "cache-aware"), (2, "round-robin"), (1, "cache-aware")]
    if args.only:
        r = run(args, int(args.only[-1]), args.only[:-2], work, out_dir)
        print(json.dumps(r, indent=2))
        return
    rows = [run(args, n, policy, work, out_dir) for n, policy in configs]
    print(f"{'configuration':<16} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'req/s':>8} {'prefix hits':>12}  per replica")
    for r in rows:
        print(f"{r['label']:<16} {r['ttft_p50_ms']:>12.1f} {r['ttft_p99_ms']:>12.1f} {r['request_throughput']:>8.2f} "
              f"{r['prefix_hit_rate']:>11.1%}  {'/'.join(str(int(n)) for n in r['requests_per_replica'])}")
    ca, rr, one = rows
    print(f"cache-aware vs round-robin: TTFT p50 {rr['ttft_p50_ms'] / ca['ttft_p50_ms']:.2f}x better, "
          f"p99 {rr['ttft_p99_ms'] / ca['ttft_p99_ms']:.2f}x, throughput {ca['request_throughput'] / rr['request_throughput']:.2f}x")
    print(f"two replicas vs one (cache-aware): throughput {ca['request_throughput'] / one['request_throughput']:.2f}x")
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=2))
    print(f"results: {out_dir}")


if __name__ == "__main__":
    main()
