#!/usr/bin/env python3
"""Checks that every word in word_list.cc is exactly one token, with and without a leading space
in a long run of words, in the test models' vocabularies (SmolLM2: GPT-2 BPE; Gemma 3: SPM).

Needs llama-cpp-python (the reference venv): /tmp/refvenv/bin/python src/bench/check_word_list.py
Prints the words that fail and exits 1 if any do; the bench tests do not need this script.
"""
import pathlib
import random
import re
import sys

import llama_cpp

root = pathlib.Path(__file__).resolve().parents[2]
words = re.findall(r'"([a-z]+)"', (root / "src/bench/word_list.cc").read_text())
models = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]
bad = set()
for m in models:
    llm = llama_cpp.Llama(str(root / "models" / m), vocab_only=True, verbose=False)
    for w in words:
        if len(llm.tokenize((" " + w).encode(), add_bos=False)) != 1:
            bad.add((m, w))
    rng = random.Random(1)
    for _ in range(20):
        sample = [rng.choice(words) for _ in range(300)]
        n = len(llm.tokenize(" ".join(sample).encode(), add_bos=False))
        if n != len(sample):
            print(f"{m}: 300 words gave {n} tokens")
            bad.add((m, "<sequence>"))
print(f"{len(words)} words, {len(bad)} failures")
for m, w in sorted(bad):
    print(f"  {m}: {w}")
sys.exit(1 if bad else 0)
