#!/usr/bin/env python3
"""`nagare quantize` beside llama.cpp's quantizer (llama_model_quantize through the
llama-cpp-python package) on the same input, interleaved: wall seconds per mix, best of --reps,
and the ratio llama.cpp / nagare (above 1: nagare is faster). Both use --threads threads.

Run: python bench/quantize_vs_llamacpp.py INPUT.gguf [--mixes Q4_K_M,IQ4_XS ...]
     (the python needs llama-cpp-python: e.g. bench/.venv from bench/vs_llamacpp.sh)
"""
import argparse
import ctypes
import pathlib
import subprocess
import tempfile
import time

import llama_cpp

ROOT = pathlib.Path(__file__).resolve().parents[1]
FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_M": 12, "Q4_K_M": 15,
          "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30, "MXFP4_MOE": 38}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--mixes", default="Q4_0,Q8_0,Q4_K_M,Q6_K,IQ4_XS")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--nagare", default=str(ROOT / "build" / "nagare"))
    args = ap.parse_args()
    print("| input | mix | nagare s | llama.cpp s | llama.cpp / nagare |\n| --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(pathlib.Path(tmp) / "out.gguf")
        for mix in args.mixes.split(","):
            ours, theirs = [], []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                subprocess.run([args.nagare, "quantize", args.input, out, mix, "-t", str(args.threads), "-f",
                                "--allow-requantize"], check=True, capture_output=True)
                ours.append(time.perf_counter() - t0)
                p = llama_cpp.llama_model_quantize_default_params()
                p.ftype, p.nthread, p.allow_requantize = FTYPES[mix], args.threads, True
                t0 = time.perf_counter()
                if llama_cpp.llama_model_quantize(args.input.encode(), out.encode(), ctypes.byref(p)) != 0:
                    raise SystemExit(f"llama.cpp failed on {mix}")
                theirs.append(time.perf_counter() - t0)
            a, b = min(ours), min(theirs)
            print(f"| {pathlib.Path(args.input).name} | {mix} | {a:.2f} | {b:.2f} | {b / a:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
