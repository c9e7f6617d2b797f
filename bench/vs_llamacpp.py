#!/usr/bin/env python3
"""Side-by-side CPU speed: nagare vs llama.cpp (the llama-cpp-python package) on the same model,
threads and lengths, interleaved in one run so both see the same machine load.

  bench/vs_llamacpp.sh [--threads 2] [--reps 5] [--n-prompt 512] [--n-gen 128] [--depth 0] MODEL...

For each model and repetition it runs `nagare bench-model -o json` for pp/tg, then llama.cpp's
prompt processing (one llama_decode of n_prompt tokens, batch 512) and generation (n_gen single-
token llama_decode calls from an empty context), exactly as llama-bench defines pp and tg. With
--depth D both first hold D untimed context tokens (llama-bench's -d, nagare bench-model's -d).
Prints mean ± stddev tokens/s for each and the ratio nagare / llama.cpp.
"""
import argparse
import ctypes
import json
import pathlib
import statistics
import subprocess
import sys
import time

import llama_cpp

ROOT = pathlib.Path(__file__).resolve().parents[1]


@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):
    pass


def llamacpp_runner(model, threads, n_ctx):
    params = llama_cpp.llama_model_default_params()
    m = llama_cpp.llama_model_load_from_file(str(model).encode(), params)
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = 512
    cp.n_ubatch = 512
    cp.n_threads = threads
    cp.n_threads_batch = threads
    ctx = llama_cpp.llama_init_from_model(m, cp)
    vocab = llama_cpp.llama_model_get_vocab(m)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    def clear():
        mem = llama_cpp.llama_get_memory(ctx)
        llama_cpp.llama_memory_clear(mem, True)

    def decode(tokens):
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(tokens))) != 0:
            raise RuntimeError("llama_decode failed")
        llama_cpp.llama_synchronize(ctx)

    def token(i):
        return (i * 2654435761) % n_vocab

    def fill(depth):  # untimed context; later batches continue at the next position
        clear()
        toks = [token(i) for i in range(depth)]
        for s in range(0, depth, 512):
            decode(toks[s:s + 512])

    def pp(n, depth=0):
        fill(depth)
        toks = [token(depth + i) for i in range(n)]
        t0 = time.perf_counter()
        for s in range(0, n, 512):
            decode(toks[s:s + 512])
        return n / (time.perf_counter() - t0)

    def tg(n, depth=0):
        fill(depth)
        t0 = time.perf_counter()
        for i in range(n):
            decode([token(depth + i)])
        return n / (time.perf_counter() - t0)

    return pp, tg


def nagare_run(binary, model, threads, n_prompt, n_gen, depth):
    out = subprocess.run([binary, "bench-model", "-m", str(model), "-t", str(threads), "-p", str(n_prompt),
                          "-n", str(n_gen), "-d", str(depth), "-b", "", "-r", "1", "-o", "json", "--no-roofline"],
                         check=True, capture_output=True, text=True).stdout
    recs = json.loads(out)
    pp = next((r["avg_ts"] for r in recs if r["n_prompt"] > 0), None)
    tg = next((r["avg_ts"] for r in recs if r["n_gen"] > 0), None)
    return pp, tg


def fmt(xs):
    return f"{statistics.mean(xs):8.2f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:6.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n-prompt", type=int, default=512)
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--nagare", default=str(ROOT / "build" / "nagare"))
    a = ap.parse_args()
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    at = f" @ d{a.depth}" if a.depth else ""
    print(f"llama-cpp-python {llama_cpp.__version__}, threads {a.threads}, pp{a.n_prompt}, tg{a.n_gen}{at}, "
          f"{a.reps} interleaved repetitions after one warm-up each\n")
    print(f"| model | test | nagare t/s | llama.cpp t/s | ratio |\n| --- | --- | ---: | ---: | ---: |")
    for model in a.models:
        lpp, ltg = llamacpp_runner(model, a.threads, a.depth + max(a.n_prompt, a.n_gen) + 16)
        # -p 0 or -n 0 leaves that test out, as in llama-bench.
        if a.n_prompt:
            lpp(a.n_prompt)  # warm-up
        if a.n_gen:
            ltg(min(a.n_gen, 16))
        nagare_run(a.nagare, model, a.threads, a.n_prompt, min(a.n_gen, 16), 0)
        res = {"n_pp": [], "n_tg": [], "l_pp": [], "l_tg": []}
        for _ in range(a.reps):
            p, t = nagare_run(a.nagare, model, a.threads, a.n_prompt, a.n_gen, a.depth)
            if a.n_prompt:
                res["n_pp"].append(p)
                res["l_pp"].append(lpp(a.n_prompt, a.depth))
            if a.n_gen:
                res["n_tg"].append(t)
                res["l_tg"].append(ltg(a.n_gen, a.depth))
        name = pathlib.Path(model).name
        for test, n, l in (("pp%d%s" % (a.n_prompt, at), res["n_pp"], res["l_pp"]),
                           ("tg%d%s" % (a.n_gen, at), res["n_tg"], res["l_tg"])):
            if n:
                print(f"| {name} | {test} | {fmt(n)} | {fmt(l)} | {statistics.mean(n) / statistics.mean(l):.2f}x |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
