#!/usr/bin/env python3
"""Reference embeddings from llama.cpp (the llama-cpp-python package) for nagare's embedding tests.

For each test model and text it records the token ids llama-cpp-python's embed() feeds the model
(tokenize(text, add_bos=True, special=False): BOS and EOS as the vocabulary asks) and the
normalized embedding for the pooling types mean, cls and last, each from its own
Llama(model_path, embedding=True, pooling_type=..., n_ctx=...).embed(text, normalize=True);
normalize=True divides by the Euclidean norm, as llama.cpp's common_embd_normalize(.., 2) does.
For mean pooling it also records the vector before normalization ("raw_mean"). Each text is
embedded alone (one sequence per decode). The C++ test (tests/unit/engine/test_embeddings.cc)
compares nagare's vectors with these.

It also records how far llama.cpp moves from its own vectors when only its arithmetic changes
("reference_noise", per pooling: the largest |diff| and the smallest cosine over the texts), with
an F32 instead of the F16 KV cache and with flash attention on. Differences of that size are
rounding, not a wrong pooling; the test's bounds are read against them.

Decoder models like the test models have no <arch>.pooling_type key, so llama.cpp would default
to no pooling; the pooling type is therefore always passed explicitly here.

Run: /work/refvenv/bin/python scripts/golden/embeddings.py   (needs llama-cpp-python 0.3.36,
numpy; models in models/). Writes tests/golden/embeddings/<model>.json.
"""
import json
import pathlib

import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "embeddings"
MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]
N_CTX = 1024

POOLINGS = {
    "mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
    "cls": llama_cpp.LLAMA_POOLING_TYPE_CLS,
    "last": llama_cpp.LLAMA_POOLING_TYPE_LAST,
}

# llama.cpp's own arithmetic variants (see reference_noise above). GGML type 0 is F32.
NOISE_VARIANTS = {
    "f32_kv_cache": {"type_k": 0, "type_v": 0},
    "flash_attn": {"flash_attn": True},
}


def long_text():
    # About 300 tokens of plain prose, built deterministically so the script needs no text file.
    topics = ["rivers", "mountains", "forests", "deserts", "oceans", "glaciers"]
    out = []
    for i in range(12):
        t = topics[i % len(topics)]
        out.append(f"Paragraph {i + 1} is about {t}: people have studied {t} for centuries, "
                   f"measuring how they change with the seasons and the years.")
    return " ".join(out)


TEXTS = [
    ("en_short", "The quick brown fox jumps over the lazy dog."),
    ("en_question", "What is the capital of France?"),
    ("ja", "日本の首都は東京です。東京は世界で最も人口の多い都市の一つです。"),
    ("code", "def add(a, b):\n    return a + b\n"),
    ("one_word", "Hello"),
    ("long", long_text()),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        path = str(ROOT / "models" / model)
        cases = [{"name": name, "text": text} for name, text in TEXTS]
        noise = {}
        for pooling, ptype in POOLINGS.items():
            llm = Llama(model_path=path, embedding=True, pooling_type=ptype, n_ctx=N_CTX, n_batch=512,
                        n_threads=2, verbose=False)
            assert llm.pooling_type() == ptype, (model, pooling, llm.pooling_type())
            for case in cases:
                ids = llm.tokenize(case["text"].encode("utf-8"), add_bos=True, special=False)
                if "ids" in case:
                    assert case["ids"] == ids
                case["ids"] = ids
                vec = llm.embed(case["text"], normalize=True)
                case[pooling] = [round(float(v), 8) for v in vec]  # far below the 1e-3 bound
                if pooling == "mean":
                    raw = llm.embed(case["text"], normalize=False)
                    case["raw_mean"] = [round(float(v), 6) for v in raw]
                    # embed's normalization is the Euclidean one
                    assert np.allclose(np.asarray(raw) / np.linalg.norm(raw), vec, atol=1e-6)
            n_embd = llm.n_embd()
            del llm
            for variant, kwargs in NOISE_VARIANTS.items():
                other = Llama(model_path=path, embedding=True, pooling_type=ptype, n_ctx=N_CTX, n_batch=512,
                              n_threads=2, verbose=False, **kwargs)
                max_abs, min_cos = 0.0, 1.0
                for case in cases:
                    a = np.asarray(case[pooling])
                    b = np.asarray(other.embed(case["text"], normalize=True))
                    max_abs = max(max_abs, float(np.abs(a - b).max()))
                    min_cos = min(min_cos, float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
                noise.setdefault(pooling, {})[variant] = {"max_abs": round(max_abs, 6), "min_cos": round(min_cos, 8)}
                del other
        meta = {
            "reference": "llama-cpp-python " + llama_cpp.__version__,
            "settings": f"n_ctx={N_CTX} n_batch=512 n_threads=2, embedding=True, embed(text, normalize=True) per pooling type",
            "model": model,
            "n_embd": n_embd,
            "reference_noise": noise,
            "cases": cases,
        }
        out = OUT / (pathlib.Path(model).stem + ".json")
        out.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{out}: {len(cases)} texts, {n_embd} dims, token counts {[len(c['ids']) for c in cases]}")
        print(f"  reference noise: {json.dumps(noise)}")


if __name__ == "__main__":
    main()
