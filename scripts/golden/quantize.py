#!/usr/bin/env python3
"""Reference outputs of llama.cpp's quantizer (llama_model_quantize, through llama-cpp-python)
for `nagare quantize` (tests/unit/quantize/): for every mix without an importance matrix, the
sha256 and size of the file llama.cpp writes from the SmolLM2 test model dequantized to F16
(scripts/dequantize_model.py), and the type it gives each tensor, plus a few option variants
(--pure, --output-tensor-type, --token-embedding-type, --allow-requantize from the Q4_1 model).
Also records how long llama.cpp took (2 threads), for docs/benchmarks.md.

Run: python scripts/golden/quantize.py   (needs llama-cpp-python, gguf; models/ as
scripts/fetch-models leaves it)
"""
import ctypes
import hashlib
import json
import pathlib
import sys
import tempfile
import time

import gguf
import llama_cpp

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "quantize" / "SmolLM2-135M-Instruct.json"
F16 = ROOT / "models" / "SmolLM2-135M-Instruct.F16.gguf"
Q4_1 = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# llama.cpp's llama_ftype values, by llama-quantize's names.
MIXES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12,
         "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25,
         "IQ4_XS": 30}
# (name, input, mix, options): options as `nagare quantize` flags take them.
CASES = [(mix, F16, mix, {}) for mix in MIXES] + [
    ("Q4_K_M-pure", F16, "Q4_K_M", {"pure": True}),
    ("Q5_K_M-output-Q8_0-embd-Q5_0", F16, "Q5_K_M", {"output_tensor_type": "Q8_0", "token_embedding_type": "Q5_0"}),
    ("Q4_K_M-from-Q4_1", Q4_1, "Q4_K_M", {"allow_requantize": True}),
]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(src, mix, options, dst):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = MIXES[mix]
    p.nthread = 2
    p.pure = bool(options.get("pure"))
    p.allow_requantize = bool(options.get("allow_requantize"))
    for key in ("output_tensor_type", "token_embedding_type"):
        if key in options:
            setattr(p, key, int(gguf.GGMLQuantizationType[options[key]]))
    t0 = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed for {mix}")
    return time.perf_counter() - t0


def main():
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, src, mix, options in CASES:
            dst = pathlib.Path(tmp) / f"{name}.gguf"
            seconds = run(src, mix, options, dst)
            reader = gguf.GGUFReader(dst)
            cases.append({"name": name, "input": src.name, "input_sha256": sha256(src), "mix": mix,
                          "options": options, "sha256": sha256(dst), "size": dst.stat().st_size,
                          "seconds": round(seconds, 2),
                          "tensor_types": {t.name: t.tensor_type.name for t in reader.tensors}})
            print(f"{name}: {dst.stat().st_size} bytes in {seconds:.2f} s", file=sys.stderr)
            dst.unlink()
    OUT.write_text(json.dumps({"reference": "llama-cpp-python " + llama_cpp.__version__,
                               "cases": cases}, indent=1) + "\n")
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
