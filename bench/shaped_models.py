#!/usr/bin/env python3
"""Random-weight F16 GGUF models with real models' dimensions and fewer layers, for speed
comparisons of the architectures and weight types the test models lack (docs/benchmarks.md):
the shapes of Qwen3-0.6B, Qwen2.5-0.5B, Phi-3-mini, Gemma-2-2B, Qwen3-30B-A3B and gpt-oss-20B,
with SmolLM2's vocabulary (49,152 tokens) so every file tokenizes; and two embedding encoders
whole (all their layers), nomic-embed-text-v1.5 (nomic-bert) and bge-small-en-v1.5 (bert), with
the WordPiece vocabulary of the tiny test encoders (F16, as these models are shipped). Quantize
them with `nagare quantize` (the mixes llama.cpp writes) and time both engines on the same files.

Run: python bench/shaped_models.py OUT_DIR [NAME ...]   (needs gguf, numpy; models/ as
scripts/fetch-models leaves it)
"""
import pathlib
import sys

import numpy as np
import gguf

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from tiny_models import copy_tokenizer, wordpiece_tokenizer  # noqa: E402

# name: (arch, layers, n_embd, n_ff, heads, kv heads, head dim, extras)
SHAPES = {
    "qwen3-0.6b-shape": ("qwen3", 8, 1024, 3072, 16, 8, 128, {"qk_norm": True}),
    "qwen2.5-0.5b-shape": ("qwen2", 8, 896, 4864, 14, 2, 64, {"biases": True}),
    "phi3-mini-shape": ("phi3", 2, 3072, 8192, 32, 32, 96, {"fused": True}),
    "gemma2-2b-shape": ("gemma2", 3, 2304, 9216, 8, 4, 256, {"post_norms": True}),
    "qwen3-30b-a3b-shape": ("qwen3moe", 2, 2048, 6144, 32, 4, 128,
                            {"qk_norm": True, "experts": (128, 8, 768)}),
    "gpt-oss-20b-shape": ("gpt-oss", 2, 2880, 2880, 64, 8, 64, {"biases": True, "experts": (32, 4, 2880)}),
}

# name: (arch, layers, n_embd, n_ff, heads, context)
ENCODERS = {
    "nomic-embed-text-v1.5-shape": ("nomic-bert", 12, 768, 3072, 12, 2048),
    "bge-small-en-v1.5-shape": ("bert", 12, 384, 1536, 12, 512),
}


def write_encoder(name, out_dir):
    """The tensors and keys tiny_models.py's bert / nomic_bert write, at a real model's size."""
    arch, n_layer, d, n_ff, n_head, n_ctx = ENCODERS[name]
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(out_dir / f"{name}.F16.gguf", arch)
    w.add_name("nagare random-weight benchmark model")
    n_vocab = wordpiece_tokenizer(w)
    for k, v in (("context_length", n_ctx), ("embedding_length", d), ("block_count", n_layer),
                 ("feed_forward_length", n_ff), ("attention.head_count", n_head),
                 ("attention.layer_norm_epsilon", 1e-12)):
        (w.add_float32 if isinstance(v, float) else w.add_uint32)(f"{arch}.{k}", v)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN if arch == "bert" else gguf.PoolingType.CLS)
    if arch == "nomic-bert":
        w.add_float32(f"{arch}.rope.freq_base", 1000.0)

    def mat(tname, rows, cols):
        w.add_tensor(tname, (rng.standard_normal((rows, cols), dtype=np.float32) / np.sqrt(cols)).astype(np.float16))

    def vec(tname, n, mean):
        w.add_tensor(tname, (mean + 0.1 * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", n_vocab, d)
    w.add_tensor("token_types.weight", (0.2 * rng.standard_normal((2, d))).astype(np.float32))
    if arch == "bert":
        w.add_tensor("position_embd.weight", (0.3 * rng.standard_normal((n_ctx, d))).astype(np.float32))
    vec("token_embd_norm.weight", d, 1.0)
    vec("token_embd_norm.bias", d, 0.0)
    for il in range(n_layer):
        p = f"blk.{il}."
        if arch == "bert":
            for t in ("attn_q", "attn_k", "attn_v"):
                mat(p + t + ".weight", d, d)
                vec(p + t + ".bias", d, 0.0)
        else:
            mat(p + "attn_qkv.weight", 3 * d, d)
        mat(p + "attn_output.weight", d, d)
        if arch == "bert":
            vec(p + "attn_output.bias", d, 0.0)
        vec(p + "attn_output_norm.weight", d, 1.0)
        vec(p + "attn_output_norm.bias", d, 0.0)
        if arch == "nomic-bert":
            mat(p + "ffn_gate.weight", n_ff, d)
        mat(p + "ffn_up.weight", n_ff, d)
        mat(p + "ffn_down.weight", d, n_ff)
        if arch == "bert":
            vec(p + "ffn_up.bias", n_ff, 0.0)
            vec(p + "ffn_down.bias", d, 0.0)
        vec(p + "layer_output_norm.weight", d, 1.0)
        vec(p + "layer_output_norm.bias", d, 0.0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out_dir / f"{name}.F16.gguf", file=sys.stderr)


def write(name, out_dir):
    if name in ENCODERS:
        return write_encoder(name, out_dir)
    arch, n_layer, d, n_ff, n_head, n_kv, hd, x = SHAPES[name]
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(out_dir / f"{name}.F16.gguf", arch)
    w.add_name("nagare random-weight benchmark model")
    n_vocab = copy_tokenizer(w)

    def key(k, v):
        (w.add_float32 if isinstance(v, float) else w.add_uint32)(f"{arch}.{k}", v)

    def mat(tname, *shape):  # numpy shape, last axis the row
        w.add_tensor(tname, (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[-1])).astype(np.float16))

    def vec(tname, n, mean=1.0):
        w.add_tensor(tname, (mean + 0.1 * rng.standard_normal(n)).astype(np.float32))

    for k, v in (("context_length", 8192), ("embedding_length", d), ("block_count", n_layer),
                 ("feed_forward_length", n_ff), ("attention.head_count", n_head),
                 ("attention.head_count_kv", n_kv), ("attention.key_length", hd), ("attention.value_length", hd),
                 ("attention.layer_norm_rms_epsilon", 1e-6), ("rope.freq_base", 10000.0)):
        key(k, v)
    if "experts" in x:
        n_exp, n_used, n_ff_exp = x["experts"]
        key("expert_count", n_exp)
        key("expert_used_count", n_used)
        key("expert_feed_forward_length", n_ff_exp)
    if arch == "gpt-oss":
        key("attention.sliding_window", 128)
    if arch == "gemma2":
        key("attention.sliding_window", 4096)
    mat("token_embd.weight", n_vocab, d)
    vec("output_norm.weight", d)
    if arch in ("phi3", "gpt-oss"):
        mat("output.weight", n_vocab, d)
    q, kv = n_head * hd, n_kv * hd
    for il in range(n_layer):
        p = f"blk.{il}."
        vec(p + "attn_norm.weight", d)
        if x.get("fused"):
            mat(p + "attn_qkv.weight", q + 2 * kv, d)
        else:
            mat(p + "attn_q.weight", q, d)
            mat(p + "attn_k.weight", kv, d)
            mat(p + "attn_v.weight", kv, d)
        if x.get("biases"):
            for t, n in (("attn_q", q), ("attn_k", kv), ("attn_v", kv)):
                vec(p + t + ".bias", n, 0.0)
        if x.get("qk_norm"):
            vec(p + "attn_q_norm.weight", hd)
            vec(p + "attn_k_norm.weight", hd)
        mat(p + "attn_output.weight", d, q)
        if arch == "gpt-oss":
            vec(p + "attn_output.bias", d, 0.0)
            vec(p + "attn_sinks.weight", n_head, 0.0)
        if x.get("post_norms"):
            vec(p + "post_attention_norm.weight", d)
            vec(p + "post_ffw_norm.weight", d)
        vec(p + ("post_attention_norm.weight" if arch == "gpt-oss" else "ffn_norm.weight"), d)
        if "experts" in x:
            w.add_tensor(p + "ffn_gate_inp.weight", (rng.standard_normal((n_exp, d)) / np.sqrt(d)).astype(np.float32))
            mat(p + "ffn_gate_exps.weight", n_exp, n_ff_exp, d)
            mat(p + "ffn_up_exps.weight", n_exp, n_ff_exp, d)
            mat(p + "ffn_down_exps.weight", n_exp, d, n_ff_exp)
            if arch == "gpt-oss":
                vec(p + "ffn_gate_inp.bias", n_exp, 0.0)
                for t, n in (("ffn_gate_exps", n_ff_exp), ("ffn_up_exps", n_ff_exp), ("ffn_down_exps", d)):
                    w.add_tensor(p + t + ".bias", (0.1 * rng.standard_normal((n_exp, n))).astype(np.float32))
        elif x.get("fused"):
            mat(p + "ffn_up.weight", 2 * n_ff, d)
            mat(p + "ffn_down.weight", d, n_ff)
        else:
            mat(p + "ffn_gate.weight", n_ff, d)
            mat(p + "ffn_up.weight", n_ff, d)
            mat(p + "ffn_down.weight", d, n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out_dir / f"{name}.F16.gguf", file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[2:] or [*SHAPES, *ENCODERS]:
        write(name, out_dir)


if __name__ == "__main__":
    main()
