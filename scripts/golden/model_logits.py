#!/usr/bin/env python3
"""Reference logits and greedy continuations from llama.cpp (the llama-cpp-python package).

For each test model and prompt it records the prompt's token ids, a 64-token greedy
continuation (EOS ignored), and for every position the reference's top-32 logits and the
log-sum-exp over the whole vocabulary. The C++ test (tests/unit/model/test_model_golden.cc)
compares nagare's forward pass with these.

Gemma 3 also gets long cases (about 700 to 3,600 tokens: generated text, code and English and
Japanese prose), so its 512-token sliding window is exercised; they go to
gemma-3-270m-q4_k_m.long.json and record every 8th prompt position and every generated one,
each with its index "p", to keep the file small.

Run: python scripts/golden/model_logits.py [--long-only]   (needs llama-cpp-python, numpy; models
in models/)
"""
import json
import pathlib
import random
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
LONG_MODEL = "gemma-3-270m-q4_k_m.gguf"
LONG_STRIDE = 8


# Long prompts, generated deterministically (fixed seeds) so the script needs no text files.
SHIPS = ["Aurora", "Kestrel", "Meridian", "Halcyon"]
PORTS = ["Lisbon", "Porto", "Cadiz", "Tangier", "Madeira", "Tenerife", "Dakar", "Praia", "Recife", "Salvador"]
WEATHER = ["a steady wind from the north-west", "light airs and a long swell", "rain squalls from the south",
           "fog until noon, then clear skies", "a fresh breeze and a choppy sea", "calm water under heavy cloud"]
EVENTS = ["the cook found weevils in the second barrel of flour", "a pod of dolphins followed the bow for an hour",
          "the mainsail was patched where it had torn at the leech", "two crew were treated for sunburn",
          "the navigator took three star sights and agreed with the log", "a fishing boat passed close to starboard",
          "the bilge pump was cleaned and worked well again", "the captain read aloud from an old almanac"]


def ship_log(n_days, seed=7):
    rng = random.Random(seed)
    ship = SHIPS[0]
    out = [f"Log of the sailing ship {ship}, kept by the first mate.\n\n"]
    knots = 6.0
    for day in range(1, n_days + 1):
        port = PORTS[(day * 3) % len(PORTS)]
        knots = round(max(2.0, min(11.0, knots + rng.uniform(-1.5, 1.5))), 1)
        miles = int(knots * 24)
        out.append(f"Day {day}. {rng.choice(WEATHER).capitalize()}. We made {knots} knots, "
                   f"{miles} nautical miles in all, with {port} some {rng.randint(40, 900)} miles off. "
                   f"Today {rng.choice(EVENTS)}.\n")
    out.append(f"\nQuestion: what was the name of the ship whose log this is, and who kept it?\nAnswer: The ship was the")
    return "".join(out)


KINDS = ["area", "clamp", "mean", "count", "scale", "join"]


def python_module(n_funcs, seed=11):
    rng = random.Random(seed)
    out = ['"""Small numeric and text helpers, generated for a long-context test."""\n\nimport math\n\n\n']
    for i in range(n_funcs):
        kind = KINDS[i % len(KINDS)]
        k = rng.randint(2, 97)
        if kind == "area":
            out.append(f"def circle_area_{i}(radius):\n    \"\"\"Area of a circle of the given radius, times {k}.\"\"\"\n"
                       f"    return {k} * math.pi * radius ** 2\n\n\n")
        elif kind == "clamp":
            out.append(f"def clamp_{i}(x, low={-k}, high={k}):\n    \"\"\"Limits x to [low, high].\"\"\"\n"
                       f"    return max(low, min(high, x))\n\n\n")
        elif kind == "mean":
            out.append(f"def weighted_mean_{i}(values):\n    \"\"\"Mean of values, the first weighted {k} times.\"\"\"\n"
                       f"    if not values:\n        return 0.0\n    total = values[0] * {k} + sum(values[1:])\n"
                       f"    return total / (len(values) + {k - 1})\n\n\n")
        elif kind == "count":
            out.append(f"def count_multiples_{i}(items):\n    \"\"\"How many items are multiples of {k}.\"\"\"\n"
                       f"    return sum(1 for x in items if x % {k} == 0)\n\n\n")
        elif kind == "scale":
            out.append(f"def scale_all_{i}(items, factor={k}):\n    return [x * factor for x in items]\n\n\n")
        else:
            out.append(f"def join_words_{i}(words, sep=\"{'-' * (k % 3 + 1)}\"):\n    return sep.join(w.strip() for w in words)\n\n\n")
    out.append("def circle_area_0_twice(radius):\n    \"\"\"Twice circle_area_0.\"\"\"\n    return 2 *")
    return "".join(out)


CITIES = [("Asahikawa", "旭川", "Ishikari", "石狩"), ("Matsumoto", "松本", "Azusa", "梓"),
          ("Kurashiki", "倉敷", "Takahashi", "高梁"), ("Kumamoto", "熊本", "Shirakawa", "白"),
          ("Morioka", "盛岡", "Kitakami", "北上"), ("Kanazawa", "金沢", "Sai", "犀"),
          ("Tottori", "鳥取", "Sendai", "千代"), ("Kochi", "高知", "Kagami", "鏡")]


def cities_bilingual(n_paragraphs, seed=13):
    rng = random.Random(seed)
    out = ["A travel notebook, written in English and Japanese.\n英語と日本語で書いた旅のノート。\n\n"]
    for i in range(n_paragraphs):
        en, ja, river_en, river_ja = CITIES[i % len(CITIES)]
        pop = rng.randint(120, 990) * 1000
        year = rng.randint(1580, 1900)
        temp = rng.randint(5, 19)
        if i % 2 == 0:
            out.append(f"Visit {i + 1}: {en} has about {pop:,} people. The {river_en} river runs through it, "
                       f"the town grew after {year}, and the mean temperature is {temp} degrees. "
                       f"We stayed {rng.randint(1, 6)} nights and walked {rng.randint(3, 25)} kilometres.\n\n")
        else:
            out.append(f"訪問{i + 1}：{ja}の人口はおよそ{pop:,}人です。{river_ja}川が町を流れ、{year}年以降に"
                       f"発展しました。平均気温は{temp}度です。{rng.randint(1, 6)}泊して、{rng.randint(3, 25)}キロ歩きました。\n\n")
    out.append("Summary: the first city we visited was")
    return "".join(out)


LONG_PROMPTS = [
    ("long_ship_log", ship_log(13)),
    ("long_python", python_module(40)),
    ("long_bilingual", cities_bilingual(60)),
]


def logsumexp(x):
    m = float(np.max(x))
    return m + float(np.log(np.sum(np.exp(x.astype(np.float64) - m))))


def record(llm, name, text, long):
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
    for p, row in enumerate(scores):
        if long and p % LONG_STRIDE and p < len(prompt) - 1:
            continue
        top = np.argsort(-row, kind="stable")[:TOP]
        entry = {"p": p} if long else {}
        entry.update({
            "top_ids": [int(i) for i in top],
            "top_logits": [round(float(row[i]), 5) for i in top],
            "logsumexp": round(logsumexp(row), 5),
        })
        positions.append(entry)
    print(name, len(prompt), "prompt tokens", file=sys.stderr)
    return {"name": name, "text": text, "prompt_ids": [int(t) for t in prompt], "greedy_ids": gen,
            "positions": positions}


def write(model, n_ctx, cases, suffix=""):
    meta = {"reference": "llama-cpp-python " + __import__("llama_cpp").__version__,
            "settings": f"n_ctx={n_ctx} n_batch=512 n_threads=2 logits_all, default KV type f16",
            "model": model, "n_gen": N_GEN, "top": TOP, "cases": cases}
    out = OUT / (model.replace(".gguf", "") + suffix + ".json")
    out.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
    print("wrote", out, out.stat().st_size, "bytes", file=sys.stderr)


def load(model, n_ctx):
    return Llama(model_path=str(ROOT / "models" / model), n_ctx=n_ctx, n_batch=512, n_threads=2,
                 logits_all=True, verbose=False, seed=0)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    only_long = "--long-only" in sys.argv
    if not only_long:
        for model in MODELS:
            llm = load(model, 512)
            write(model, 512, [record(llm, name, text, False) for name, text in PROMPTS])
    n_ctx = 4096
    llm = load(LONG_MODEL, n_ctx)
    write(LONG_MODEL, n_ctx, [record(llm, name, text, True) for name, text in LONG_PROMPTS], ".long")


if __name__ == "__main__":
    main()
