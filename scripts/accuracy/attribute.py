#!/usr/bin/env python3
"""Where an engine's error against the exact reference comes from (docs/accuracy.md, analysis).

The exact forward is rerun with the engines' deliberate roundings emulated in float64:
  act     every matmul input quantized into the weight type's activation format (Q8_0, Q8_1,
          Q8_K, F16) as both nagare and llama.cpp do;
  attn16  q, k, v and the attention weights rounded to half (the f16 KV cache; q and the
          weights meet f16 keys and values);
  gelu16  GELU through ggml's half-precision table (gemma; both engines use it);
  both    all of them together: what remains between it and an engine is that engine's own
          arithmetic (accumulation order, float32 sums, exp/tanh/rope approximations, tables).
Prints, per model, mean KL(exact || emulation) and mean KL(emulation "both" || engine), and
top-1 agreement of each engine with the "both" emulation.

Run: /work/refvenv/bin/python scripts/accuracy/attribute.py tiny-llama3 [model ...] [--cases N]
"""
import argparse
import sys
import tempfile

import numpy as np

from compare import ROOT, kl, llama_logits, load_golden, log_softmax, nagare_logits
from exact_forward import ExactModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--binary", default=str(ROOT / "build-acc" / "bench" / "dump_logits"))
    ap.add_argument("--cases", type=int, default=0, help="only the first N cases")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from llama_cpp import Llama
    print("| model | KL(exact‖act) | KL(exact‖attn16) | KL(exact‖gelu16) | KL(exact‖both) | KL(both‖nagare) | KL(both‖llama.cpp) | "
          "top-1 nagare = both | top-1 llama.cpp = both |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            path, all_cases = load_golden(name)
            variants = {v: ExactModel(path, emulate=e) for v, e in
                        (("exact", ()), ("act", ("act",)), ("attn16", ("attn16",)), ("gelu16", ("gelu16",)), ("both", ("act", "attn16", "gelu16")))}
            shared = variants["exact"]
            for m in variants.values():  # one copy of the dequantized weights
                m._cache = shared._cache
            llm = Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=args.threads, logits_all=True,
                        verbose=False, seed=0)
            acc = {k: [] for k in ("act", "attn16", "gelu16", "both", "nagare", "llama", "top_n", "top_l")}
            cases = all_cases[:args.cases] if args.cases else all_cases
            for case in cases:
                ids = case["prompt_ids"] + case["greedy_ids"]
                lp = {v: log_softmax(m.forward(ids)) for v, m in variants.items()}
                for v in ("act", "attn16", "gelu16", "both"):
                    acc[v].append(kl(lp["exact"], lp[v]))
                n = log_softmax(nagare_logits(args.binary, path, ids, args.threads, tmp))
                ll = log_softmax(llama_logits(llm, ids))
                acc["nagare"].append(kl(lp["both"], n))
                acc["llama"].append(kl(lp["both"], ll))
                top = lp["both"].argmax(-1)
                acc["top_n"].append(n.argmax(-1) == top)
                acc["top_l"].append(ll.argmax(-1) == top)
                print(name, case["name"], "done", file=sys.stderr, flush=True)
            m = {k: np.concatenate(v).mean() for k, v in acc.items()}
            print(f"| {name} | {m['act']:.2e} | {m['attn16']:.2e} | {m['gelu16']:.2e} | {m['both']:.2e} | {m['nagare']:.2e} | "
                  f"{m['llama']:.2e} | {100 * m['top_n']:.1f}% | {100 * m['top_l']:.1f}% |", flush=True)
            del variants, shared, llm


if __name__ == "__main__":
    main()
