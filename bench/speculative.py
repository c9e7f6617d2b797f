#!/usr/bin/env python3
"""Speculative decoding (prompt lookup) on vs off, with the same outputs on both sides.

Two `nagare serve` processes on loopback, same model and threads: one with --draft-max 0, one
with the default drafts. Each request goes to both, one after the other (the order alternates),
with the same seed, so both write the same tokens (speculation never changes output) and only the
time differs; the machine's load drifts alike for both. Workloads:

  extraction_en, extraction_ja  the chat requests of ../shared/workloads (temperature 0.1, answers
                                quote the article), max_tokens --max-tokens
  open                          open-ended prompts with nothing to quote (what drafting costs where
                                it cannot help), same settings

At concurrency 1 each request is timed alone: decode tokens/s = (completion tokens - 1) / (time
from first to last token). At concurrency C, C requests (seeds 0..C-1) go to one server at once,
then to the other: aggregate completion tokens / wall time. Ratios are on / off; the draft and
accept counts come from usage.completion_tokens_details.

  .venv/bin/python bench/speculative.py -m models/SmolLM2-135M-Instruct.Q4_1.gguf --rounds 8
  .venv/bin/python bench/speculative.py -m models/SmolLM2-135M-Instruct.F16.gguf \
      --model-draft models/SmolLM2-135M-Instruct.Q4_1.gguf --rounds 8   # the 'on' side with a draft model
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OPEN = ["Write a short story about a lighthouse keeper who finds a strange bird.",
        "Explain how a refrigerator works to a ten-year-old.",
        "List ideas for a weekend trip in the mountains, with a sentence on each.",
        "Describe the history of the bicycle in a few paragraphs."]


def start(binary, model, port, threads, draft, draft_model=None):
    p = subprocess.Popen([binary, "serve", "-m", model, "--port", str(port), "--threads", str(threads), "--ctx-size",
                          "4096", "--cache-size", "0", "--no-audit", "--draft-max", str(draft),
                          *(["--model-draft", draft_model] if draft_model else [])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return p
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    p.kill()
    sys.exit("server did not start")


def one(url, messages, seed, max_tokens, temperature):
    """Streams one chat request; returns (completion tokens, decode seconds, accepted, rejected)."""
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "seed": seed,
            "stream": True, "stream_options": {"include_usage": True}}
    first = last = None
    usage = None
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
    d = usage.get("completion_tokens_details") or {}
    return (usage["completion_tokens"], (last - first) if first else 0.0, d.get("accepted_prediction_tokens", 0),
            d.get("rejected_prediction_tokens", 0))


def together(url, requests, max_tokens, temperature):
    """All requests at once; returns (completion tokens, wall seconds)."""
    import concurrent.futures as cf
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(len(requests)) as ex:
        out = list(ex.map(lambda a: one(url, a[0], a[1], max_tokens, temperature), requests))
    return sum(o[0] for o in out), time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--binary", default=str(ROOT / "build/nagare"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draft-max", type=int, default=8)
    ap.add_argument("--model-draft", help="the 'on' server also drafts with this model")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workloads", default="extraction_en,extraction_ja,open")
    a = ap.parse_args()
    servers = {"off": start(a.binary, a.model, 8321, a.threads, 0), "on": start(a.binary, a.model, 8322, a.threads, a.draft_max, a.model_draft)}
    urls = {"off": "http://127.0.0.1:8321", "on": "http://127.0.0.1:8322"}
    try:
        print(f"model {Path(a.model).name}, {a.threads} threads, draft-max {a.draft_max}, "
              f"draft model {a.model_draft and Path(a.model_draft).name}, rounds {a.rounds}, "
              f"max_tokens {a.max_tokens}")
        print("| workload | conc. | off tok/s | on tok/s | on/off | drafts accepted |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for w in a.workloads.split(","):
            if w == "open":
                prompts = [[{"role": "user", "content": p}] for p in OPEN]
                temperature = 0.1
            else:
                spec = json.loads((ROOT.parent / "shared/workloads" / f"{w}.json").read_text())
                prompts, temperature = [spec["messages"]], spec.get("temperature", 0.1)
            for name in ("off", "on"):  # warm-up: the prompt's prefix cache, first-touch pages
                one(urls[name], prompts[0], 999, 8, temperature)
            rates = {"off": [], "on": []}
            acc = rej = 0
            for r in range(a.rounds):
                msgs = prompts[r % len(prompts)]
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                got = {}
                for name in order:
                    got[name] = one(urls[name], msgs, r, a.max_tokens, temperature)
                    n, secs, ac, rj = got[name]
                    if secs > 0:
                        rates[name].append((n - 1) / secs)
                    if name == "on":
                        acc, rej = acc + ac, rej + rj
                assert got["on"][0] == got["off"][0], f"different outputs: {got}"
            off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
            share = f"{acc}/{acc + rej}" if acc + rej else "0/0"
            print(f"| {w} | 1 | {off:.1f} | {on:.1f} | {on / off:.2f}x | {share} |", flush=True)
            if a.concurrency > 1:
                batch = [(prompts[i % len(prompts)], i) for i in range(a.concurrency)]
                agg = {"off": [], "on": []}
                for r in range(max(2, a.rounds // 3)):
                    for name in (("off", "on") if r % 2 == 0 else ("on", "off")):
                        n, secs = together(urls[name], batch, a.max_tokens, temperature)
                        agg[name].append(n / secs)
                off, on = statistics.median(agg["off"]), statistics.median(agg["on"])
                print(f"| {w} | {a.concurrency} | {off:.1f} | {on:.1f} | {on / off:.2f}x | |", flush=True)
    finally:
        for p in servers.values():
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
