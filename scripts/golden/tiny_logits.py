#!/usr/bin/env python3
"""Reference logits and greedy continuations of the tiny random-weight models
(scripts/tiny_models.py) from llama.cpp, through the llama-cpp-python package.

Also the tiny models requantized by llama.cpp's quantizer into the mixes whose weight types the
plain tiny models do not have (Q2_K, Q3_K, Q4_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4): each such golden
names its source model and mix, and the test makes the same file with `nagare quantize` (byte
for byte llama.cpp's, tests/unit/quantize) before comparing logits.

The same record as scripts/golden/model_logits.py writes for the real test models (prompt ids,
greedy ids fed back, top-32 logits and the log-sum-exp at every position), 32 generated tokens
per prompt, plus the sha256 of the model file the golden belongs to. One prompt is long enough
(about 150 tokens) to cross the tiny Gemma 2's 16-token sliding window many times.

Run: python scripts/tiny_models.py && python scripts/golden/tiny_logits.py
     (needs llama-cpp-python and numpy; writes tests/golden/model/tiny-*.json)
"""
import ctypes
import hashlib
import json
import sys

import llama_cpp

import model_logits as ml

ml.N_GEN = 32
PROMPTS = [
    ("en_story", "Once upon a time, in a small village by the sea, there lived"),
    ("ja_intro", "日本の首都は東京です。東京は"),
    ("code_py", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("long_log", ml.ship_log(4)),
]
MODELS = ["tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-qwen3moe", "tiny-gemma2", "tiny-phi3", "tiny-gptoss",
          "tiny-phi3-long"]
# (source model, llama-quantize mix, llama.cpp's llama_ftype of it)
QUANTIZED = [("tiny-llama3", "Q2_K", 10), ("tiny-llama3", "Q3_K_M", 12), ("tiny-llama3", "IQ4_NL", 25),
             ("tiny-llama3", "IQ4_XS", 30), ("tiny-qwen3", "Q4_K_M", 15), ("tiny-qwen3moe", "MXFP4_MOE", 38),
             ("tiny-gptoss", "MXFP4_MOE", 38)]


def quantize(base, mix, ftype):
    src = ml.ROOT / "models" / "tiny" / f"{base}.gguf"
    dst = ml.ROOT / "models" / "tiny" / f"{base}.{mix}.gguf"
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    p.allow_requantize = True
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)) != 0:
        sys.exit(f"llama_model_quantize failed for {base} {mix}")
    return {"model": f"tiny/{base}.gguf", "mix": mix}


def main():
    names = sys.argv[1:] or MODELS + [f"{base}.{mix}" for base, mix, _ in QUANTIZED]
    for name in names:
        source = None
        for base, mix, ftype in QUANTIZED:
            if name == f"{base}.{mix}":
                source = quantize(base, mix, ftype)
        path = ml.ROOT / "models" / "tiny" / f"{name}.gguf"
        llm = ml.Llama(model_path=str(path), n_ctx=512, n_batch=512, n_threads=2, logits_all=True,
                       verbose=False, seed=0)
        cases = [ml.record(llm, case, text, False) for case, text in PROMPTS]
        meta = {"reference": "llama-cpp-python " + __import__("llama_cpp").__version__,
                "settings": "n_ctx=512 n_batch=512 n_threads=2 logits_all, default KV type f16",
                "model": f"tiny/{name}.gguf", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "n_gen": ml.N_GEN, "top": ml.TOP, "cases": cases}
        if source:
            meta["quantized_from"] = source
        out = ml.OUT / f"{name}.json"
        out.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
        print("wrote", out, out.stat().st_size, "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
