#!/usr/bin/env python3
"""nagare's and llama.cpp's embeddings against the exact float64 reference (exact_forward.py).

For each test model (tests/golden/embeddings/<model>.json: texts, their token ids and
llama-cpp-python's embed(text, normalize=True) vectors per pooling) it computes the exact
final-normed hidden states of every token (ExactModel.hidden: after output_norm, before the output
projection, float64), pools them (mean: over all prompt tokens; cls: the first; last: the last)
and normalizes them (Euclidean, llama.cpp's common_embd_normalize(.., 2)). nagare's vectors come
from its server (build/nagare serve --pooling P, one server per pooling; POST /v1/embeddings with
the golden's token ids), llama.cpp's are the golden's. Per model and pooling it prints the largest
|engine - exact| over all elements of all texts and the smallest cosine(engine, exact), as a
Markdown table (docs/accuracy.md, "Embeddings").

Run (from the repository root, nagare built in build/):
  .venv/bin/python scripts/accuracy/embeddings.py [--skip-long gemma-3-270m-q4_k_m] [--json OUT.json]
                                                  [--port 18300] [model ...]
Models are golden names (SmolLM2-135M-Instruct.Q4_1, gemma-3-270m-q4_k_m, and the encoders
tiny-bert and tiny-nomic-bert, whose goldens hold the mean and cls poolings; default all) or
SmolLM2-135M-Instruct.F16, a check of the reference: the Q4_1 golden's texts on the unquantized
model, where the engines' 8-bit activation quantization is out, so both must come much closer;
its llama.cpp vectors are computed here with the golden's settings (needs llama-cpp-python:
run it with /work/refvenv/bin/python).
--skip-long MODEL leaves that model's longest text out (for engines and reference alike).
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from exact_forward import ExactModel  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "embeddings"
ORDER = ["SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m", "tiny-bert", "tiny-nomic-bert"]
POOLINGS = ["mean", "cls", "last"]
# Models without a golden of their own: (file under models/, the golden whose texts they run).
EXTRA = {"SmolLM2-135M-Instruct.F16": ("SmolLM2-135M-Instruct.F16.gguf", "SmolLM2-135M-Instruct.Q4_1")}


def llama_cpp_vectors(model_path, cases, pooling):
    """llama-cpp-python's embed(text, normalize=True), the settings of scripts/golden/embeddings.py."""
    import llama_cpp
    ptype = {"mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN, "cls": llama_cpp.LLAMA_POOLING_TYPE_CLS,
             "last": llama_cpp.LLAMA_POOLING_TYPE_LAST}[pooling]
    llm = llama_cpp.Llama(model_path=model_path, embedding=True, pooling_type=ptype, n_ctx=1024, n_batch=512,
                          n_threads=2, verbose=False)
    out = {}
    for c in cases:
        assert llm.tokenize(c["text"].encode("utf-8"), add_bos=True, special=False) == c["ids"]
        out[c["name"]] = np.asarray(llm.embed(c["text"], normalize=True), dtype=np.float64)
    del llm
    return out


def normalize(v):
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def pool(h, pooling):
    """h: [n_tokens, n_embd] final-normed hidden states -> the normalized pooled vector."""
    if pooling == "mean":
        return normalize(h.mean(axis=0))
    if pooling == "cls":
        return normalize(h[0])
    return normalize(h[-1])


def exact_vectors(model_path, cases):
    """{case name: {pooling: vector}} from the float64 forward."""
    m = ExactModel(model_path, n_ctx=1024)
    out = {}
    for c in cases:
        t0 = time.time()
        h = m.hidden(c["ids"])
        out[c["name"]] = {p: pool(h, p) for p in POOLINGS}  # (an encoder's h is its output)
        print(f"  exact {c['name']}: {len(c['ids'])} tokens, {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
    return out


def http_json(url, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def nagare_vectors(model_path, cases, pooling, port):
    """{case name: vector} from build/nagare serve --pooling POOLING, all texts in one request."""
    # 1,024 tokens, or the model's trained context where that is shorter (nagare refuses more).
    ctx = min(1024, ExactModel(model_path).n_ctx_train or 1024)
    cmd = [str(ROOT / "build" / "nagare"), "serve", "-m", model_path, "--port", str(port), "--no-audit",
           "--ctx-size", str(ctx), "--pooling", pooling]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"nagare exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                if http_json(base + "/health", timeout=5).get("status") == "ok":
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("nagare did not become ready")
        r = http_json(base + "/v1/embeddings", {"input": [c["ids"] for c in cases]})
        by_index = {d["index"]: d["embedding"] for d in r["data"]}
        return {c["name"]: np.asarray(by_index[i], dtype=np.float64) for i, c in enumerate(cases)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def errors(vecs, ref):
    """(max |diff| over all elements of all texts, min cosine over the texts, per-text details)."""
    max_abs, min_cos, per = 0.0, 1.0, {}
    for name, r in ref.items():
        v = np.asarray(vecs[name], dtype=np.float64)
        d = float(np.abs(v - r).max())
        cos = float(v @ r / np.linalg.norm(v) / np.linalg.norm(r))
        per[name] = {"max_abs": d, "cos": cos}
        max_abs, min_cos = max(max_abs, d), min(min_cos, cos)
    return max_abs, min_cos, per


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=ORDER)
    ap.add_argument("--skip-long", action="append", default=[], metavar="MODEL")
    ap.add_argument("--port", type=int, default=18300)
    ap.add_argument("--json", help="write all numbers, per text too, here")
    args = ap.parse_args()

    rows, dump = [], {}
    for name in args.models:
        file, golden = EXTRA.get(name, (None, name))
        g = json.loads((GOLDEN / f"{golden}.json").read_text())
        path = str(ROOT / "models" / (file or g["model"]))
        cases = g["cases"]
        skipped = None
        if name in args.skip_long:
            longest = max(cases, key=lambda c: len(c["ids"]))
            skipped = longest["name"]
            cases = [c for c in cases if c is not longest]
        print(f"{name}: {len(cases)} texts{f' ({skipped} left out)' if skipped else ''}", file=sys.stderr, flush=True)
        exact = exact_vectors(path, cases)
        dump[name] = {"skipped": skipped, "poolings": {}}
        for pooling in [p for p in POOLINGS if file or p in cases[0]]:
            ref = {c["name"]: exact[c["name"]][pooling] for c in cases}
            nag = nagare_vectors(path, cases, pooling, args.port)
            if file:
                lcp = llama_cpp_vectors(path, cases, pooling)
            else:
                lcp = {c["name"]: np.asarray(c[pooling], dtype=np.float64) for c in cases}
            n_abs, n_cos, n_per = errors(nag, ref)
            l_abs, l_cos, l_per = errors(lcp, ref)
            x_abs, x_cos, _ = errors(nag, lcp)  # nagare against llama.cpp, as the C++ test checks
            rows.append((name, None, len(cases), pooling, n_abs, l_abs, n_cos, l_cos, x_abs, x_cos))
            dump[name]["poolings"][pooling] = {"nagare": n_per, "llama.cpp": l_per,
                                               "nagare_vs_llama.cpp": {"max_abs": x_abs, "min_cos": x_cos}}
            print(f"  {pooling}: nagare {n_abs:.2e} {n_cos:.8f}  llama.cpp {l_abs:.2e} {l_cos:.8f}",
                  file=sys.stderr, flush=True)

    print("| model | texts | pooling | max abs nagare | max abs llama.cpp | min cos nagare | min cos llama.cpp "
          "| max abs nagare vs llama.cpp | min cos nagare vs llama.cpp |")
    print("|---|--:|---|--:|--:|--:|--:|--:|--:|")
    for name, _, n, pooling, n_abs, l_abs, n_cos, l_cos, x_abs, x_cos in rows:
        print(f"| {name} | {n} | {pooling} | {n_abs:.2e} | {l_abs:.2e} | {n_cos:.8f} | {l_cos:.8f} "
              f"| {x_abs:.2e} | {x_cos:.8f} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
