#!/usr/bin/env python3
"""Reference logits and greedy continuations from llama.cpp (the llama-cpp-python package).

For each test model and prompt it records the prompt's token ids, a 64-token greedy
continuation (EOS ignored), and for every position the reference's top-32 logits, the
log-sum-exp over the whole vocabulary and the gap between the two best logits. The C++ test
(tests/unit/model/test_model_golden.cc) compares nagare's forward pass with these.

Run: python scripts/golden/model_logits.py   (needs llama-cpp-python, numpy; models in models/)
"""
import json
import pathlib
import sys

import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "model"
N_GEN = 64
TOP = 32

PROMPTS = [
    ("en_story", "Once upon a time, in a small village by the sea, there lived"),
    ("en_facts", "The three primary colors are red, yellow and blue. Mixing red and blue gives"),
    ("ja_intro", "日本の首都は東京です。東京は"),
    ("ja_recipe", "おいしいカレーの作り方を説明します。まず、"),
    ("code_py", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("code_cpp", "#include <vector>\n\n// Returns the sum of all elements.\nint sum(const std::vector<int>& v) {\n"),
]

MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]


def logsumexp(x):
    m = float(np.max(x))
    return m + float(np.log(np.sum(np.exp(x.astype(np.float64) - m))))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        llm = Llama(model_path=str(ROOT / "models" / model), n_ctx=512, n_batch=512, n_threads=2,
                    logits_all=True, verbose=False, seed=0)
        cases = []
        for name, text in PROMPTS:
            prompt = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            llm.reset()
            llm.eval(prompt)
            gen = []
            for _ in range(N_GEN):
                tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
                gen.append(tok)
                llm.eval([tok])
            n = llm.n_tokens
            scores = np.array(llm.scores[:n], dtype=np.float32)
            positions = []
            for row in scores:
                top = np.argsort(-row, kind="stable")[:TOP]
                positions.append({
                    "top_ids": [int(i) for i in top],
                    "top_logits": [round(float(row[i]), 5) for i in top],
                    "logsumexp": round(logsumexp(row), 5),
                })
            cases.append({"name": name, "text": text, "prompt_ids": [int(t) for t in prompt],
                          "greedy_ids": gen, "positions": positions})
            print(model, name, len(prompt), "prompt tokens", file=sys.stderr)
        meta = {"reference": "llama-cpp-python " + __import__("llama_cpp").__version__,
                "settings": "n_ctx=512 n_batch=512 n_threads=2 logits_all, default KV type f16",
                "model": model, "n_gen": N_GEN, "top": TOP, "cases": cases}
        out = OUT / (model.replace(".gguf", "") + ".json")
        out.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
        print("wrote", out, out.stat().st_size, "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
