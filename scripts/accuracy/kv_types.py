#!/usr/bin/env python3
"""What a quantized KV cache costs in accuracy: nagare's logits with q8_0 and q4_0 keys and values
against its own logits with the f16 cache, over the golden cases (tests/golden/model/<model>.json,
and Gemma 3's long cases: prompt and greedy continuation teacher-forced as one sequence).

At every position, over the full vocabulary: KL(f16 || quantized) in nats, and top-1 agreement
(the same argmax). Prints a Markdown table: per model and cache type, mean and max KL, and the
agreement. docs/accuracy.md has the results.

Run (from the repository root, after scripts/build):
  .venv/bin/python scripts/accuracy/kv_types.py [--binary build/bench/dump_logits] [--threads 2]
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "model"
# (golden file, model file) pairs; the long Gemma cases run up to 3,500 positions.
SETS = [("SmolLM2-135M-Instruct.Q4_1.json", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ("gemma-3-270m-q4_k_m.json", "gemma-3-270m-q4_k_m.gguf"),
        ("gemma-3-270m-q4_k_m.long.json", "gemma-3-270m-q4_k_m.gguf")]
TYPES = [("q8_0", "q8_0"), ("q8_0", "q4_0"), ("q4_0", "q4_0")]


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def dump(binary, model, ids, threads, types, out):
    """Runs dump_logits; returns its logits memory-mapped (Gemma's long cases: 3.7 GB each)."""
    ids_file = out.with_suffix(".txt")
    ids_file.write_text(" ".join(map(str, ids)))
    n_ctx = max(512, len(ids))
    subprocess.run([binary, model, str(ids_file), str(out), str(threads), str(n_ctx), *types], check=True,
                   stderr=subprocess.DEVNULL)
    return np.memmap(out, dtype=np.float32, mode="r").reshape(len(ids), -1)


def compare(ref, got, rows=128):
    """Per position: KL(ref || got) and whether the argmax agrees, a few rows at a time."""
    kls, same = [], []
    for i in range(0, ref.shape[0], rows):
        r, q = log_softmax(ref[i:i + rows]), log_softmax(got[i:i + rows])
        kls.append((np.exp(r) * (r - q)).sum(axis=-1))
        same.append(r.argmax(axis=-1) == q.argmax(axis=-1))
    return np.concatenate(kls), np.concatenate(same)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "bench" / "dump_logits"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print("| golden cases | K / V | positions | mean KL | max KL | top-1 agreement |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for golden, model in SETS:
            cases = json.loads((GOLDEN / golden).read_text())["cases"]
            path = str(ROOT / "models" / model)
            seqs = [c["prompt_ids"] + c["greedy_ids"] for c in cases]
            kls = {t: [] for t in TYPES}
            same = {t: [] for t in TYPES}
            for ids in seqs:  # a case at a time: only two logits files on disk
                ref = dump(args.binary, path, ids, args.threads, ("f16", "f16"), tmp / "f16.f32")
                for types in TYPES:
                    k, a = compare(ref, dump(args.binary, path, ids, args.threads, types, tmp / "q.f32"))
                    kls[types].append(k)
                    same[types].append(a)
            for types in TYPES:
                kl, agree = np.concatenate(kls[types]), np.concatenate(same[types])
                print(f"| {golden[:-5]} | {types[0]} / {types[1]} | {kl.size} | {kl.mean():.2e} | {kl.max():.3f} | "
                      f"{100 * agree.mean():.1f}% |", flush=True)


if __name__ == "__main__":
    main()
