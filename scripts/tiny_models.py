#!/usr/bin/env python3
"""Writes tiny random-weight GGUF models, one per architecture nagare supports beyond the two
real test models, into models/tiny/.

Each is a few MB: 4 layers of width 256 with the real GPT-2 style vocabulary of the SmolLM2
test model (its tokenizer metadata is copied, so llama.cpp and nagare tokenize alike), weights
drawn from a fixed seed and quantized with `gguf` (PyPI). The architectures' distinguishing
parts are all present and sized so they matter: Q/K/V biases (qwen2), per-head Q/K norms and a
head width other than n_embd / n_head (qwen3), 16 experts of which 4 are used (qwen3moe; gpt-oss with
expert and router biases, attention sinks, YaRN and its clamped swiglu), logit soft-capping with small caps and a 16-token
sliding window on alternate layers (gemma2), fused QKV and gate-up matrices (phi3), Llama 3
rope frequency factors (llama); the encoders bert (absolute positions, biases, GELU, mean
pooling) and nomic-bert (fused QKV, rotary positions, SwiGLU, CLS pooling) with a WordPiece
vocabulary made by wordpiece_vocab(). Goldens of their logits come from llama.cpp
(scripts/golden/tiny_logits.py); tests/unit/model/test_model_golden.cc checks nagare with them.

The output is deterministic for a given `gguf` and numpy version; each golden records the sha256
of the model it was made from, and the test names a mismatch.

Run: python scripts/tiny_models.py   (needs gguf, numpy; models/SmolLM2-135M-Instruct.Q4_1.gguf)
"""
import hashlib
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ROOT = pathlib.Path(__file__).resolve().parents[1]
VOCAB_SOURCE = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "models" / "tiny"

N_EMBD, N_LAYER, N_FF, N_CTX = 256, 4, 512, 2048
ENC_EMBD, ENC_FF, ENC_CTX = 128, 512, 512  # the encoders (bert, nomic-bert)


def copy_tokenizer(writer):
    """The SmolLM2 model's tokenizer.* metadata, unchanged."""
    reader = gguf.GGUFReader(VOCAB_SOURCE)
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer.") or field.name == "tokenizer.chat_template":
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(field.name, field.contents(), vtype, sub_type=field.types[1])
        else:
            writer.add_key_value(field.name, field.contents(), vtype)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].contents())
    return n_vocab


class Tiny:
    """One model's tensors, drawn from its own seed."""

    def __init__(self, name, arch, seed, set_vocab=copy_tokenizer):
        self.name, self.arch = name, arch
        self.rng = np.random.default_rng(seed)
        self.writer = gguf.GGUFWriter(OUT / f"{name}.gguf", arch)
        # Not the file's name: llama.cpp changes special-token handling for a "phi3" in the name.
        self.writer.add_name("nagare random-weight test model")
        self.n_vocab = set_vocab(self.writer)

    def key(self, suffix, value):
        k = f"{self.arch}.{suffix}"
        if isinstance(value, float):
            self.writer.add_float32(k, value)
        else:
            self.writer.add_uint32(k, value)

    def matrix(self, name, rows, cols, qtype, gain=1.0):
        """rows x cols weights (GGUF dims [cols, rows]) with std gain / sqrt(cols)."""
        w = (self.rng.standard_normal((rows, cols)) * (gain / np.sqrt(cols))).astype(np.float32)
        self.add(name, w, qtype)

    def vector(self, name, n, mean, std):
        self.add(name, (mean + std * self.rng.standard_normal(n)).astype(np.float32), T.F32)

    def add(self, name, data, qtype):
        if qtype == T.F32:
            self.writer.add_tensor(name, data)
        else:
            self.writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    def finish(self):
        self.writer.write_header_to_file()
        self.writer.write_kv_data_to_file()
        self.writer.write_tensors_to_file()
        self.writer.close()


def hyperparameters(m, n_head, n_head_kv, head_dim):
    m.key("context_length", N_CTX)
    m.key("embedding_length", N_EMBD)
    m.key("block_count", N_LAYER)
    m.key("feed_forward_length", N_FF)
    m.key("attention.head_count", n_head)
    m.key("attention.head_count_kv", n_head_kv)
    m.key("attention.key_length", head_dim)
    m.key("attention.value_length", head_dim)
    m.key("attention.layer_norm_rms_epsilon", 1e-6)
    m.key("rope.freq_base", 10000.0)


def embedding(m, tied):
    # Embedding std 0.2: tied logits of about 3 nats' spread, so greedy picks are rarely near ties.
    m.add("token_embd.weight", (0.2 * m.rng.standard_normal((m.n_vocab, N_EMBD))).astype(np.float32), T.Q4_0)
    m.vector("output_norm.weight", N_EMBD, 1.0, 0.1)
    if not tied:
        m.matrix("output.weight", m.n_vocab, N_EMBD, T.Q4_1, gain=3.0)


def dense_layers(m, n_head, n_head_kv, head_dim, attn_type, ffn_type, *, fused=False, biases=False,
                 qk_norm=False, post_norms=False):
    q_dim, kv_dim = n_head * head_dim, n_head_kv * head_dim
    for il in range(N_LAYER):
        p = f"blk.{il}."
        m.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        if fused:
            m.matrix(p + "attn_qkv.weight", q_dim + 2 * kv_dim, N_EMBD, attn_type)
        else:
            m.matrix(p + "attn_q.weight", q_dim, N_EMBD, attn_type)
            m.matrix(p + "attn_k.weight", kv_dim, N_EMBD, attn_type)
            m.matrix(p + "attn_v.weight", kv_dim, N_EMBD, attn_type)
        if biases:
            m.vector(p + "attn_q.bias", q_dim, 0.0, 0.5)
            m.vector(p + "attn_k.bias", kv_dim, 0.0, 0.5)
            m.vector(p + "attn_v.bias", kv_dim, 0.0, 0.5)
        if qk_norm:
            m.vector(p + "attn_q_norm.weight", head_dim, 1.0, 0.2)
            m.vector(p + "attn_k_norm.weight", head_dim, 1.0, 0.2)
        m.matrix(p + "attn_output.weight", N_EMBD, q_dim, attn_type)
        if post_norms:
            m.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)
        m.vector(p + "ffn_norm.weight", N_EMBD, 1.0, 0.1)
        if fused:  # gate rows first, then up rows, as llama.cpp's fused SwiGLU splits them
            m.matrix(p + "ffn_up.weight", 2 * N_FF, N_EMBD, ffn_type)
        else:
            m.matrix(p + "ffn_gate.weight", N_FF, N_EMBD, ffn_type)
            m.matrix(p + "ffn_up.weight", N_FF, N_EMBD, ffn_type)
        m.matrix(p + "ffn_down.weight", N_EMBD, N_FF, ffn_type)
        if post_norms:
            m.vector(p + "post_ffw_norm.weight", N_EMBD, 1.0, 0.1)


def llama3():
    m = Tiny("tiny-llama3", "llama", 1)
    hyperparameters(m, 4, 2, 64)
    m.key("rope.dimension_count", 64)
    embedding(m, tied=False)
    # Llama 3's rope scaling: per-dimension divisors of the rotation frequencies, 1 for the fast
    # ones rising to the scale factor for the slow ones.
    m.add("rope_freqs.weight", np.linspace(1.0, 8.0, 32, dtype=np.float32), T.F32)
    dense_layers(m, 4, 2, 64, T.Q8_0, T.Q4_0)
    return m


def qwen2():
    m = Tiny("tiny-qwen2", "qwen2", 2)
    hyperparameters(m, 4, 2, 64)
    embedding(m, tied=True)
    dense_layers(m, 4, 2, 64, T.Q5_0, T.Q5_1, biases=True)
    return m


def qwen3():
    m = Tiny("tiny-qwen3", "qwen3", 3)
    hyperparameters(m, 8, 2, 64)  # 8 heads of 64: q is 512 wide on a 256-wide model, as Qwen3's
    embedding(m, tied=True)
    dense_layers(m, 8, 2, 64, T.Q8_0, T.Q4_1, qk_norm=True)
    return m


def qwen3moe():
    m = Tiny("tiny-qwen3moe", "qwen3moe", 6)
    hyperparameters(m, 8, 2, 64)
    n_expert, n_used, n_ff_exp = 16, 4, 128
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    embedding(m, tied=True)
    q_dim, kv_dim = 8 * 64, 2 * 64
    for il in range(N_LAYER):
        p = f"blk.{il}."
        m.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        m.matrix(p + "attn_q.weight", q_dim, N_EMBD, T.Q8_0)
        m.matrix(p + "attn_k.weight", kv_dim, N_EMBD, T.Q8_0)
        m.matrix(p + "attn_v.weight", kv_dim, N_EMBD, T.Q8_0)
        m.vector(p + "attn_q_norm.weight", 64, 1.0, 0.2)
        m.vector(p + "attn_k_norm.weight", 64, 1.0, 0.2)
        m.matrix(p + "attn_output.weight", N_EMBD, q_dim, T.Q8_0)
        m.vector(p + "ffn_norm.weight", N_EMBD, 1.0, 0.1)
        # The router in F32 as Qwen3-MoE files have it, with a spread that makes choices clear-cut
        # for most tokens; experts as 3-D tensors [n_embd, n_ff_exp, n_expert].
        m.matrix(p + "ffn_gate_inp.weight", n_expert, N_EMBD, T.F32, gain=4.0)
        for name, rows, cols in (("ffn_gate_exps", n_ff_exp, N_EMBD), ("ffn_up_exps", n_ff_exp, N_EMBD),
                                 ("ffn_down_exps", N_EMBD, n_ff_exp)):
            w = (m.rng.standard_normal((n_expert, rows, cols)) / np.sqrt(cols)).astype(np.float32)
            m.add(p + name + ".weight", w, T.Q4_0 if name != "ffn_down_exps" else T.Q8_0)
    return m


def gptoss():
    m = Tiny("tiny-gptoss", "gpt-oss", 7)
    hyperparameters(m, 8, 2, 64)
    n_expert, n_used, n_ff_exp = 16, 4, 128
    m.key("expert_count", n_expert)
    m.key("expert_used_count", n_used)
    m.key("expert_feed_forward_length", n_ff_exp)
    m.key("attention.sliding_window", 16)
    # YaRN as gpt-oss has it (factor 32 over a 4096-token original context), scaled down so the
    # ramp between interpolated and extrapolated dimensions falls inside the 64 rotated ones.
    m.writer.add_string("gpt-oss.rope.scaling.type", "yarn")
    m.key("rope.scaling.factor", 8.0)
    m.key("rope.scaling.original_context_length", 256)
    embedding(m, tied=False)
    q_dim, kv_dim = 8 * 64, 2 * 64
    for il in range(N_LAYER):
        p = f"blk.{il}."
        m.vector(p + "attn_norm.weight", N_EMBD, 1.0, 0.1)
        for name, rows in (("attn_q", q_dim), ("attn_k", kv_dim), ("attn_v", kv_dim)):
            m.matrix(p + name + ".weight", rows, N_EMBD, T.Q8_0)
            m.vector(p + name + ".bias", rows, 0.0, 0.5)
        m.matrix(p + "attn_output.weight", N_EMBD, q_dim, T.Q8_0)
        m.vector(p + "attn_output.bias", N_EMBD, 0.0, 0.2)
        m.vector(p + "attn_sinks.weight", 8, 1.0, 1.0)
        m.vector(p + "post_attention_norm.weight", N_EMBD, 1.0, 0.1)  # gpt-oss's FFN input norm
        m.matrix(p + "ffn_gate_inp.weight", n_expert, N_EMBD, T.F32, gain=4.0)
        m.vector(p + "ffn_gate_inp.bias", n_expert, 0.0, 0.5)
        for name, rows, cols in (("ffn_gate_exps", n_ff_exp, N_EMBD), ("ffn_up_exps", n_ff_exp, N_EMBD),
                                 ("ffn_down_exps", N_EMBD, n_ff_exp)):
            w = (m.rng.standard_normal((n_expert, rows, cols)) * (2.0 / np.sqrt(cols))).astype(np.float32)
            m.add(p + name + ".weight", w, T.Q8_0)
            m.add(p + name + ".bias", (0.3 * m.rng.standard_normal((n_expert, rows))).astype(np.float32), T.F32)
    return m


def gemma2():
    m = Tiny("tiny-gemma2", "gemma2", 4)
    hyperparameters(m, 4, 2, 64)
    m.key("attention.sliding_window", 16)
    # Caps far below Gemma 2's (50, 30), so that capping changes the results measurably.
    m.key("attn_logit_softcapping", 3.0)
    m.key("final_logit_softcapping", 8.0)
    embedding(m, tied=True)
    dense_layers(m, 4, 2, 64, T.F16, T.Q8_0, post_norms=True)
    return m


def phi3():
    m = Tiny("tiny-phi3", "phi3", 5)
    hyperparameters(m, 4, 2, 64)
    m.key("rope.dimension_count", 64)
    embedding(m, tied=False)
    dense_layers(m, 4, 2, 64, T.Q8_0, T.Q5_0, fused=True)
    return m


def phi3_long():
    # Phi-3-mini-128k's LongRoPE: short and long per-dimension factors, the long ones for contexts
    # past the original (64 here, so the goldens' 512-token context takes them), and the attention
    # factor that comes with them.
    m = Tiny("tiny-phi3-long", "phi3", 8)
    hyperparameters(m, 4, 2, 64)
    m.key("rope.dimension_count", 64)
    m.key("rope.scaling.original_context_length", 64)
    m.key("rope.scaling.attn_factor", 1.19)
    embedding(m, tied=False)
    m.add("rope_factors_short.weight", np.linspace(1.0, 1.5, 32, dtype=np.float32), T.F32)
    m.add("rope_factors_long.weight", np.linspace(1.0, 12.0, 32, dtype=np.float32), T.F32)
    dense_layers(m, 4, 2, 64, T.Q8_0, T.Q5_0, fused=True)
    return m


def wordpiece_vocab():
    """A BERT-style WordPiece vocabulary, made deterministically (no BERT vocabulary is
    published on PyPI in a form worth depending on): BERT's special-token layout ([PAD] 0,
    [unused*], [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), then every printable ASCII character,
    kana and some CJK characters as word starts and as continuations, SmolLM2's most frequent
    lower-case words and subwords. Stored as llama.cpp's converter stores it: a word-start piece
    with U+2581 in front, a "##" continuation bare."""
    import re
    specials = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    smol = gguf.GGUFReader(VOCAB_SOURCE).fields["tokenizer.ggml.tokens"].contents()
    words = [t[1:] for t in smol if t.startswith("\u0120") and re.fullmatch(r"[a-z]{2,}", t[1:])][:4000]
    subwords = [t for t in smol if re.fullmatch(r"[a-z]{2,}", t)][:2000]
    chars = [chr(c) for c in range(0x21, 0x7F) if not chr(c).isupper()]
    chars += [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)]
    chars += [chr(c) for c in range(0x4E00, 0x4F00)] + list("日本首都東京世界最人口多市一つ。、「」")
    tokens, seen = list(specials), set(specials)
    for t in ["\u2581" + c for c in chars] + chars + ["\u2581" + w for w in words] + subwords:
        if t not in seen:
            seen.add(t)
            tokens.append(t)
    types = [gguf.TokenType.CONTROL] * len(specials) + [gguf.TokenType.NORMAL] * (len(tokens) - len(specials))
    return tokens, types


def wordpiece_tokenizer(writer):
    """The tokenizer metadata of a converted BERT model (llama.cpp's convert_hf_to_gguf.py)."""
    tokens, types = wordpiece_vocab()
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(2)
    writer.add_unk_token_id(100)
    writer.add_sep_token_id(102)
    writer.add_pad_token_id(0)
    writer.add_key_value("tokenizer.ggml.cls_token_id", 101, gguf.GGUFValueType.UINT32)
    writer.add_mask_token_id(103)
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_key_value("tokenizer.ggml.normalizer.lowercase", True, gguf.GGUFValueType.BOOL)
    return len(tokens)


def encoder_common(m, pooling, n_head):
    m.key("context_length", ENC_CTX)
    m.key("embedding_length", ENC_EMBD)
    m.key("block_count", N_LAYER)
    m.key("feed_forward_length", ENC_FF)
    m.key("attention.head_count", n_head)
    m.key("attention.layer_norm_epsilon", 1e-12)
    m.writer.add_causal_attention(False)
    m.writer.add_pooling_type(pooling)
    m.add("token_embd.weight", (0.5 * m.rng.standard_normal((m.n_vocab, ENC_EMBD))).astype(np.float32), T.F16)
    m.add("token_types.weight", (0.2 * m.rng.standard_normal((2, ENC_EMBD))).astype(np.float32), T.F32)


def bert():
    # BERT (bge / MiniLM style): absolute position embeddings, LayerNorms with biases after
    # attention and after the FFN, biases everywhere, a GELU FFN; mean pooling.
    m = Tiny("tiny-bert", "bert", 9, set_vocab=wordpiece_tokenizer)
    encoder_common(m, gguf.PoolingType.MEAN, 4)
    m.add("position_embd.weight", (0.3 * m.rng.standard_normal((ENC_CTX, ENC_EMBD))).astype(np.float32), T.F32)
    m.vector("token_embd_norm.weight", ENC_EMBD, 1.0, 0.1)
    m.vector("token_embd_norm.bias", ENC_EMBD, 0.0, 0.1)
    for il in range(N_LAYER):
        p = f"blk.{il}."
        for name in ("attn_q", "attn_k", "attn_v"):
            m.matrix(p + name + ".weight", ENC_EMBD, ENC_EMBD, T.F16)
            m.vector(p + name + ".bias", ENC_EMBD, 0.0, 0.2)
        m.matrix(p + "attn_output.weight", ENC_EMBD, ENC_EMBD, T.F16)
        m.vector(p + "attn_output.bias", ENC_EMBD, 0.0, 0.1)
        m.vector(p + "attn_output_norm.weight", ENC_EMBD, 1.0, 0.1)
        m.vector(p + "attn_output_norm.bias", ENC_EMBD, 0.0, 0.1)
        m.matrix(p + "ffn_up.weight", ENC_FF, ENC_EMBD, T.Q8_0)
        m.vector(p + "ffn_up.bias", ENC_FF, 0.0, 0.2)
        m.matrix(p + "ffn_down.weight", ENC_EMBD, ENC_FF, T.Q8_0)
        m.vector(p + "ffn_down.bias", ENC_EMBD, 0.0, 0.1)
        m.vector(p + "layer_output_norm.weight", ENC_EMBD, 1.0, 0.1)
        m.vector(p + "layer_output_norm.bias", ENC_EMBD, 0.0, 0.1)
    return m


def nomic_bert():
    # nomic-embed-text style: fused QKV, NeoX rotary positions (base 1000), a SwiGLU FFN, no
    # biases on the matrices, post-LayerNorms with biases; CLS pooling.
    m = Tiny("tiny-nomic-bert", "nomic-bert", 10, set_vocab=wordpiece_tokenizer)
    encoder_common(m, gguf.PoolingType.CLS, 4)
    m.key("rope.freq_base", 1000.0)
    m.vector("token_embd_norm.weight", ENC_EMBD, 1.0, 0.1)
    m.vector("token_embd_norm.bias", ENC_EMBD, 0.0, 0.1)
    for il in range(N_LAYER):
        p = f"blk.{il}."
        m.matrix(p + "attn_qkv.weight", 3 * ENC_EMBD, ENC_EMBD, T.F16)
        m.matrix(p + "attn_output.weight", ENC_EMBD, ENC_EMBD, T.F16)
        m.vector(p + "attn_output_norm.weight", ENC_EMBD, 1.0, 0.1)
        m.vector(p + "attn_output_norm.bias", ENC_EMBD, 0.0, 0.1)
        m.matrix(p + "ffn_gate.weight", ENC_FF, ENC_EMBD, T.Q8_0)
        m.matrix(p + "ffn_up.weight", ENC_FF, ENC_EMBD, T.Q8_0)
        m.matrix(p + "ffn_down.weight", ENC_EMBD, ENC_FF, T.Q8_0)
        m.vector(p + "layer_output_norm.weight", ENC_EMBD, 1.0, 0.1)
        m.vector(p + "layer_output_norm.bias", ENC_EMBD, 0.0, 0.1)
    return m


MODELS = [llama3, qwen2, qwen3, qwen3moe, gemma2, phi3, gptoss, phi3_long, bert, nomic_bert]


def main():
    if not VOCAB_SOURCE.exists():
        sys.exit(f"missing {VOCAB_SOURCE}: run scripts/fetch-models first")
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[1:])
    for make in MODELS:
        if only and make.__name__ not in only:
            continue
        m = make()
        m.finish()
        path = OUT / f"{m.name}.gguf"
        print(f"{path.relative_to(ROOT)} {path.stat().st_size} bytes sha256 "
              f"{hashlib.sha256(path.read_bytes()).hexdigest()}", file=sys.stderr)


if __name__ == "__main__":
    main()
