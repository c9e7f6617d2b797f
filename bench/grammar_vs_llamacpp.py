"""The constrained-decoding cost in llama.cpp, for the ratio beside nagare's bench_constrained_decode.

Runs llama-cpp-python (the reference venv, /work/refvenv) on a model: N tokens generated from the
same prompt without a grammar and then with the JSON Schema's grammar (LlamaGrammar.from_json_schema,
llama.cpp's own converter), batch 1 (its high-level API decodes one sequence), and prints tokens/s
of both, their ratio, and the schema's conversion + grammar parse time.

    /work/refvenv/bin/python bench/grammar_vs_llamacpp.py MODEL bench/schemas/fruit_list.json [-n 128] [-r 3]
"""
import argparse
import json
import time

from llama_cpp import Llama, LlamaGrammar


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("schema")
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--temp", type=float, default=1.0)
    a = ap.parse_args()
    schema = json.load(open(a.schema))
    t0 = time.perf_counter()
    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    compile_ms = (time.perf_counter() - t0) * 1e3
    llm = Llama(a.model, n_ctx=1024, n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    prompt = "Write a long list of fruit names as JSON, request 0."

    def run(g, seed):
        t = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=a.n, temperature=a.temp, top_k=0, top_p=1.0, min_p=0.0,
                                    seed=seed, grammar=g)
        n = out["usage"]["completion_tokens"]
        return n / (time.perf_counter() - t), n

    run(None, 0)  # warm-up
    free = [run(None, s)[0] for s in range(1, a.r + 1)]
    constrained = [run(grammar, s) for s in range(1, a.r + 1)]
    f = sum(free) / len(free)
    c = sum(x for x, _ in constrained) / len(constrained)
    short = sum(1 for _, n in constrained if n < a.n)
    print(f"llama.cpp (llama-cpp-python) {a.model}: schema -> grammar {compile_ms:.2f} ms")
    print(f"| batch | free t/s | schema t/s | ratio | outputs shorter than {a.n} |")
    print(f"| 1 | {f:.1f} | {c:.1f} | {c / f:.3f} | {short} |")


if __name__ == "__main__":
    main()
