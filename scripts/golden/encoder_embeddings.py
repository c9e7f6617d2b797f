#!/usr/bin/env python3
"""Reference embeddings of the tiny encoder models (tiny-bert, tiny-nomic-bert from
scripts/tiny_models.py) from llama.cpp, through llama-cpp-python, for
tests/unit/engine/test_encoder_embeddings.cc.

For each model and text (the same texts as scripts/golden/embeddings.py) it records the token ids
embed() feeds the model (tokenize(text, add_bos=True, special=False): [CLS] ... [SEP]) and the
normalized embedding for mean and cls pooling, each from its own
Llama(model_path, embedding=True, pooling_type=..., n_ctx=512).embed(text, normalize=True). The
model's own pooling (its <arch>.pooling_type: mean for tiny-bert, cls for tiny-nomic-bert) is
recorded too. Encoders attend in both directions, so llama.cpp embeds each text whole in one
batch, as nagare does.

Run: python scripts/tiny_models.py bert nomic_bert && /work/refvenv/bin/python scripts/golden/encoder_embeddings.py
     (needs llama-cpp-python 0.3.36, numpy). Writes tests/golden/embeddings/tiny-*.json.
"""
import hashlib
import json

import llama_cpp
import numpy as np
from llama_cpp import Llama

from embeddings import OUT, ROOT, TEXTS

MODELS = ["tiny-bert", "tiny-nomic-bert"]
N_CTX = 512
POOLINGS = {"mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN, "cls": llama_cpp.LLAMA_POOLING_TYPE_CLS}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        path = ROOT / "models" / "tiny" / f"{name}.gguf"
        cases = [{"name": n, "text": t} for n, t in TEXTS]
        default = Llama(model_path=str(path), embedding=True, n_ctx=N_CTX, n_batch=N_CTX, n_ubatch=N_CTX, n_threads=2,
                        verbose=False)
        own = {v: k for k, v in POOLINGS.items()}[default.pooling_type()]
        del default
        for pooling, ptype in POOLINGS.items():
            llm = Llama(model_path=str(path), embedding=True, pooling_type=ptype, n_ctx=N_CTX, n_batch=N_CTX,
                        n_ubatch=N_CTX, n_threads=2, verbose=False)
            for case in cases:
                ids = llm.tokenize(case["text"].encode("utf-8"), add_bos=True, special=False)
                assert case.setdefault("ids", ids) == ids
                vec = np.asarray(llm.embed(case["text"], normalize=True))
                assert abs(np.linalg.norm(vec) - 1) < 1e-5
                case[pooling] = [round(float(v), 8) for v in vec]
            n_embd = llm.n_embd()
            del llm
        meta = {
            "reference": "llama-cpp-python " + llama_cpp.__version__,
            "settings": f"n_ctx={N_CTX} n_batch={N_CTX} n_ubatch={N_CTX} n_threads=2, embedding=True, "
                        "embed(text, normalize=True) per pooling type",
            "model": f"tiny/{name}.gguf",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "pooling": own,
            "n_embd": n_embd,
            "cases": cases,
        }
        out = OUT / f"{name}.json"
        out.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{out}: {len(cases)} texts, {n_embd} dims, own pooling {own}, token counts {[len(c['ids']) for c in cases]}")


if __name__ == "__main__":
    main()
