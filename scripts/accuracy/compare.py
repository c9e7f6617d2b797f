#!/usr/bin/env python3
"""nagare's and llama.cpp's logits against the exact float64 reference (exact_forward.py).

For each test model and golden case (tests/golden/model/<model>.json: the prompt and its greedy
continuation, teacher-forced as one sequence) it computes at every position, over the full
vocabulary:
  - KL(exact || engine) = sum_i p_exact(i) * (log p_exact(i) - log p_engine(i)), in nats;
  - top-1 agreement: the engine's argmax equals the exact argmax;
for nagare (bench/dump_logits, built from this tree) and llama.cpp (llama-cpp-python, the same
settings as the goldens: n_ctx 512, n_batch 512, logits_all, f16 KV cache; the whole sequence in
one eval), and prints a Markdown table: per model, the mean and max of KL over all positions of
all cases and the top-1 agreement. docs/accuracy.md has the results.

Run (from the repository root):
  cmake -S . -B build-acc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C build-acc dump_logits
  /work/refvenv/bin/python scripts/accuracy/compare.py [--per-case] [--json OUT.json] [model ...]
Models are golden names (tiny-qwen2, SmolLM2-135M-Instruct.Q4_1, ...) or SmolLM2-135M-Instruct.F16
(see EXTRA); default: all of ORDER (every golden but the long Gemma ones, and the F16 SmolLM2).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from exact_forward import ExactModel  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "model"
ORDER = ["SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m", "tiny-llama3", "tiny-llama3.Q2_K",
         "tiny-llama3.Q3_K_M", "tiny-llama3.IQ4_NL", "tiny-llama3.IQ4_XS", "tiny-qwen2", "tiny-qwen3",
         "tiny-qwen3.Q4_K_M", "tiny-qwen3moe", "tiny-qwen3moe.MXFP4_MOE", "tiny-gemma2", "tiny-phi3",
         "tiny-phi3-long", "tiny-gptoss", "tiny-gptoss.MXFP4_MOE", "SmolLM2-135M-Instruct.F16"]
# Models without a golden of their own: (file under models/, the golden whose cases they run).
# The F16 SmolLM2 checks the reference itself: with half-precision weights, the engines'
# activations are rounded to half rather than quantized to 8 bits, so they must come much closer.
EXTRA = {"SmolLM2-135M-Instruct.F16": ("SmolLM2-135M-Instruct.F16.gguf", "SmolLM2-135M-Instruct.Q4_1")}


def load_golden(name):
    """(model path, cases) of a golden name or an EXTRA one."""
    file, golden = EXTRA.get(name, (None, name))
    g = json.loads((GOLDEN / f"{golden}.json").read_text())
    return str(ROOT / "models" / (file or g["model"])), g["cases"]


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def kl(ref_logp, logp):
    return (np.exp(ref_logp) * (ref_logp - logp)).sum(axis=-1)


def nagare_logits(binary, model, ids, threads, tmp):
    ids_file, out_file = os.path.join(tmp, "ids.txt"), os.path.join(tmp, "logits.f32")
    with open(ids_file, "w") as f:
        f.write(" ".join(str(i) for i in ids))
    subprocess.run([binary, model, ids_file, out_file, str(threads)], check=True, stderr=subprocess.DEVNULL)
    return np.fromfile(out_file, dtype=np.float32).reshape(len(ids), -1)


def llama_logits(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)], dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--binary", default=str(ROOT / "build-acc" / "bench" / "dump_logits"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-case", action="store_true", help="a row per case as well")
    ap.add_argument("--json", help="write every position's numbers here")
    ap.add_argument("--no-llama", action="store_true", help="nagare only")
    args = ap.parse_args()
    names = args.models or ORDER
    if not args.no_llama:
        from llama_cpp import Llama

    rows, dump = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path, cases = load_golden(name)
            exact = ExactModel(path)
            llm = None if args.no_llama else Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=args.threads,
                                                   logits_all=True, verbose=False, seed=0)
            agg = {"nagare": ([], []), "llama.cpp": ([], [])}
            nl_kl = []
            dump[name] = {}
            for case in cases:
                ids = case["prompt_ids"] + case["greedy_ids"]
                ref = log_softmax(exact.forward(ids))
                top = ref.argmax(axis=-1)
                engines = {"nagare": log_softmax(nagare_logits(args.binary, path, ids, args.threads, tmp))}
                if llm is not None:
                    engines["llama.cpp"] = log_softmax(llama_logits(llm, ids))
                    nl_kl.append(kl(engines["llama.cpp"], engines["nagare"]))
                case_row = {"model": name, "case": case["name"], "n": len(ids)}
                dump[name][case["name"]] = {}
                for eng, logp in engines.items():
                    k, agree = kl(ref, logp), logp.argmax(axis=-1) == top
                    agg[eng][0].append(k)
                    agg[eng][1].append(agree)
                    case_row[eng] = (k.mean(), k.max(), agree.mean(), int(agree.sum()))
                    dump[name][case["name"]][eng] = {"kl": k.tolist(), "top1": agree.astype(int).tolist()}
                if args.per_case:
                    rows.append(case_row)
                print(name, case["name"], {e: (f"{v[0]:.2e}", f"{v[1]:.2e}", f"{v[2]:.3f}") for e, v in case_row.items()
                                           if isinstance(v, tuple)}, file=sys.stderr, flush=True)
            row = {"model": name, "case": "all", "n": sum(len(a) for a in agg["nagare"][0]),
                   "arch": exact.arch, "nl_kl": float(np.concatenate(nl_kl).mean()) if nl_kl else float("nan")}
            for eng, (ks, agrees) in agg.items():
                if ks:
                    k, a = np.concatenate(ks), np.concatenate(agrees)
                    row[eng] = (k.mean(), k.max(), a.mean(), int(a.sum()))
            rows.append(row)
            del exact, llm

    def cell(row, eng, i):
        if eng not in row:
            return "-"
        v = row[eng]
        return f"{v[i]:.2e}" if i < 2 else f"{v[3]}/{row['n']} ({100 * v[2]:.1f}%)"

    print("| model | case | positions | KL mean nagare | KL mean llama.cpp | KL max nagare | KL max llama.cpp | "
          "top-1 nagare | top-1 llama.cpp | KL(llama.cpp‖nagare) mean |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        model = f"{r['model']} ({r['arch']})" if "arch" in r else r["model"]
        nl = f"{r['nl_kl']:.2e}" if "nl_kl" in r else ""
        print(f"| {model} | {r['case']} | {r['n']} | {cell(r, 'nagare', 0)} | {cell(r, 'llama.cpp', 0)} | "
              f"{cell(r, 'nagare', 1)} | {cell(r, 'llama.cpp', 1)} | {cell(r, 'nagare', 2)} | {cell(r, 'llama.cpp', 2)} | {nl} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(dump))


if __name__ == "__main__":
    main()
