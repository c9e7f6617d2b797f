#!/usr/bin/env python3
"""nagare's `bench-model` beside llama.cpp's `llama-bench` (pp512, tg128: one sequence) and
`llama-batched-bench` (16 sequences decoding together) on the same GGUF files, interleaved, for
the architectures and weight types of bench/shaped_models.py. Prints a Markdown table of
tokens/s and nagare / llama.cpp ratios.

llama.cpp's tools are a peer built outside this repository (e.g. from llama-cpp-python's sdist,
docs/benchmarks.md says how); point --llama-bin at their directory.

Run: python bench/archs_vs_llamacpp.py --llama-bin DIR MODEL.gguf ...
"""
import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def nagare(args, model):
    out = run([args.nagare, "bench-model", "-m", model, "-p", "512", "-n", "128", "-b", "16", "-r", str(args.reps),
               "-t", str(args.threads), "-o", "json", "--no-roofline"])
    rows = json.loads(out)
    rows = rows if isinstance(rows, list) else rows.get("results", rows)
    res = {}
    for r in rows:
        if r.get("n_prompt") == 512 and r.get("n_gen", 0) == 0:
            res["pp512"] = r["avg_ts"]
        elif r.get("n_gen") == 128 and r.get("n_prompt", 0) == 0:
            res["tg128"] = r["avg_ts"]
        elif r.get("n_batch") == 16 or r.get("batch") == 16:
            res["b16"] = r["avg_ts"]
    return res


def llama(args, model):
    out = run([f"{args.llama_bin}/llama-bench", "-m", model, "-p", "512", "-n", "128", "-r", str(args.reps),
               "-t", str(args.threads), "-o", "json"])
    res = {}
    for r in json.loads(out):
        res["pp512" if r["n_prompt"] else "tg128"] = r["avg_ts"]
    out = run([f"{args.llama_bin}/llama-batched-bench", "-m", model, "-c", "4096", "-b", "2048", "-ub", "512",
               "-npp", "16", "-ntg", "32", "-npl", "16", "-t", str(args.threads), "--output-format", "jsonl"])
    for line in out.splitlines():
        if line.startswith("{"):
            res["b16"] = json.loads(line)["speed_tg"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--nagare", default=str(ROOT / "build" / "nagare"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print("| model | test | nagare t/s | llama.cpp t/s | ratio |\n| --- | --- | ---: | ---: | ---: |")
    for model in args.models:
        ours, theirs = nagare(args, model), llama(args, model)
        for test in ("pp512", "tg128", "b16"):
            a, b = ours.get(test), theirs.get(test)
            ratio = f"{a / b:.2f}x" if a and b else "-"
            print(f"| {pathlib.Path(model).name} | {test} | {a or 0:.1f} | {b or 0:.1f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
