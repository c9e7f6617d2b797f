#!/usr/bin/env python3
"""An exact reference forward pass: the model's mathematics in float64 NumPy.

Weights are dequantized from the GGUF file exactly as the file defines them (gguf-py's
`gguf.quants.dequantize`, float32 values held in float64); nothing else is rounded: no
activation quantization, no half-precision KV cache, no fp16 query or attention weights, every
sum, norm, softmax and rotation in float64. What an engine's logits differ from these by is its
own numerical error (docs/accuracy.md).

Architectures: llama (rope_freqs factors, pairwise "NORM" rope), qwen2 (q/k/v biases), qwen3
(per-head q/k RMSNorm), qwen3moe (softmax router, top-k, renormalized weights), phi3 (fused qkv,
fused gate/up with the gate rows first, LongRoPE factors), gemma2 (attention and final
logit soft-capping, sliding window on even layers, post norms, GELU-tanh, embeddings times
sqrt(n_embd)), gemma3 (q/k norms, 5 local : 1 global layers, local rope base 10000), gpt-oss
(YaRN rope, q/k/v and output biases, per-head attention sinks, sliding window on even layers,
biased softmax-of-top-k router, biased experts with the clamped SwiGLU). phi3 with LongRoPE takes
rope_factors_long when the context (n_ctx, 512 as in the goldens) exceeds the original context
length, and scales q and k by rope.scaling.attn_factor. Every family but llama rotates the two
halves of a head (NeoX). Encoders: bert (token type 0 and learned absolute positions added to
the embeddings, LayerNorm, then per layer bidirectional attention with biases, output projection,
residual and LayerNorm, GELU FFN with biases, residual and LayerNorm; GELU is the exact erf form
of BERT, where both engines take ggml's tanh form) and nomic-bert (fused qkv, NeoX rope, SwiGLU
FFN without biases).

Use as a module (ExactModel(path).forward(ids) -> float64 [n_tokens, n_vocab]; .hidden(ids) -> the
final-normed hidden states [n_tokens, n_embd], for embeddings) or:
  python scripts/accuracy/exact_forward.py MODEL.gguf ID ID ID ...   (prints each position's argmax)
"""
import math
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


# The activation format an engine quantizes a matmul's input into, by weight type (ggml's
# vec_dot_type; nagare's activation_type_for).
ACT_TYPE = {"Q4_0": "Q8_0", "Q5_0": "Q8_0", "Q8_0": "Q8_0", "IQ4_NL": "Q8_0", "MXFP4": "Q8_0",
            "Q4_1": "Q8_1", "Q5_1": "Q8_1", "Q2_K": "Q8_K", "Q3_K": "Q8_K", "Q4_K": "Q8_K", "Q5_K": "Q8_K",
            "Q6_K": "Q8_K", "IQ4_XS": "Q8_K", "F16": "F16", "BF16": "BF16"}


def fp16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


def quantize_activations(x, act):
    """x's rows as the engines' activation format holds them (dequantized), for the diagnostics."""
    if act in ("F32", None):
        return x
    if act == "F16":
        return fp16(x)
    if act == "BF16":
        b = np.asarray(x, dtype=np.float32).view(np.uint32)
        b = ((b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
        return b.view(np.float32).astype(np.float64)
    shape = x.shape
    bs = 256 if act == "Q8_K" else 32
    v = np.asarray(x, dtype=np.float32).reshape(-1, bs)
    if act == "Q8_K":  # ggml: iscale = -127 / (the element of largest magnitude), d = 1 / iscale
        imax = np.abs(v).argmax(axis=1)
        mx = v[np.arange(len(v)), imax]
        with np.errstate(divide="ignore"):
            iscale = np.where(mx != 0, np.float32(-127.0) / mx, np.float32(0)).astype(np.float32)
        q = np.minimum(np.rint(iscale[:, None] * v), 127)
        d = np.where(iscale != 0, np.float32(1.0) / iscale, 0).astype(np.float32)
        return (q * d[:, None]).astype(np.float64).reshape(shape)
    amax = np.abs(v).max(axis=1)  # Q8_0 / Q8_1: d = amax / 127 kept in half precision
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1.0) / d, 0).astype(np.float32)
    q = np.rint(v * idv[:, None])
    return (q * fp16(d)[:, None]).reshape(shape)


class ExactModel:
    def __init__(self, path, emulate=(), n_ctx=512):
        """emulate (diagnostics only; the reference is emulate=()): "act" quantizes every matmul's
        input as the engines do; "attn16" rounds q, k, v and the attention weights to half; "gelu16" evaluates GELU
        through ggml's half-precision table (gemma). n_ctx: the engines' context size, which picks
        phi3's LongRoPE factors."""
        self.emulate = set(emulate)
        self.path = str(path)
        self.reader = GGUFReader(self.path)
        self.tensors = {t.name: t for t in self.reader.tensors}
        self._cache = {}
        a = self.arch = self._meta("general.architecture")
        supported = ("llama", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma2", "gemma3", "gpt-oss", "bert", "nomic-bert")
        if a not in supported:
            raise ValueError(f"unsupported architecture {a}")
        m = lambda k, d=None: self._meta(f"{a}.{k}", d)
        self.n_embd = int(m("embedding_length"))
        self.n_ctx_train = int(m("context_length", 0))
        self.n_layer = int(m("block_count"))
        self.n_head = int(m("attention.head_count"))
        self.n_head_kv = int(m("attention.head_count_kv", self.n_head))
        self.head_dim_k = int(m("attention.key_length", self.n_embd // self.n_head))
        self.head_dim_v = int(m("attention.value_length", self.n_embd // self.n_head))
        self.n_ff = int(m("expert_feed_forward_length" if a == "gpt-oss" else "feed_forward_length"))
        self.rope_dims = int(m("rope.dimension_count", self.head_dim_k))
        self.encoder = a in ("bert", "nomic-bert")
        self.eps = float(m("attention.layer_norm_epsilon" if self.encoder else "attention.layer_norm_rms_epsilon", 1e-5))
        self.rope_base = float(m("rope.freq_base", 10000.0))
        self.rope_scale = 1.0
        self.yarn = None
        scaling = m("rope.scaling.type", "none")
        if scaling == "linear":
            self.rope_scale = 1.0 / float(m("rope.scaling.factor", 1.0))
        elif scaling == "yarn":  # (factor, original context, beta_fast, beta_slow); ext_factor 1
            self.yarn = (float(m("rope.scaling.factor")), float(m("rope.scaling.original_context_length")),
                         float(m("rope.scaling.yarn_beta_fast", 32.0)), float(m("rope.scaling.yarn_beta_slow", 1.0)))
        elif scaling not in ("none", "longrope"):
            raise ValueError(f"unsupported rope scaling {scaling}")
        self.neox = a != "llama"
        self.qk_norm = a in ("qwen3", "qwen3moe", "gemma3")
        self.gemma = a in ("gemma2", "gemma3")
        self.gptoss = a == "gpt-oss"
        self.embed_scale = math.sqrt(self.n_embd) if self.gemma else 1.0
        self.attn_scale = 1.0 / math.sqrt(self.head_dim_k)
        self.attn_softcap = self.final_softcap = 0.0
        self.sliding_window = 0
        self.swa = [False] * self.n_layer
        self.rope_base_swa, self.rope_scale_swa = self.rope_base, self.rope_scale
        if self.gemma:
            self.sliding_window = int(m("attention.sliding_window", 4096 if a == "gemma2" else 0))
            pattern = int(m("attention.sliding_window_pattern", 2 if a == "gemma2" else 6))
            self.swa = [self.sliding_window > 0 and il % pattern < pattern - 1 for il in range(self.n_layer)]
            if a == "gemma3":
                self.rope_base_swa, self.rope_scale_swa = 10000.0, 1.0
        if self.gptoss:  # sliding window on the even layers, the same rope on all
            self.sliding_window = int(m("attention.sliding_window"))
            self.swa = [il % 2 == 0 for il in range(self.n_layer)]
        if a == "gemma2":
            self.attn_softcap = float(m("attn_logit_softcapping", 50.0))
            self.final_softcap = float(m("final_logit_softcapping", 30.0))
            if self.n_layer == 46:
                self.attn_scale = 1.0 / math.sqrt(self.n_embd // self.n_head)
        attn_factor = float(m("rope.scaling.attn_factor", 1.0))
        self.attn_scale *= attn_factor * attn_factor
        self.n_expert = int(m("expert_count", 0)) if a in ("qwen3moe", "gpt-oss") else 0
        if self.n_expert:
            self.n_expert_used = int(m("expert_used_count"))
            gating = 1 if self.gptoss else int(m("expert_gating_func", 1))
            if gating not in (1, 2):
                raise ValueError(f"unsupported expert_gating_func {gating}")
            self.sigmoid_gating = gating == 2
            self.expert_weights_norm = bool(m("expert_weights_norm", True))
            self.expert_weights_scale = float(m("expert_weights_scale", 1.0)) or 1.0
        factors = "rope_freqs.weight" if "rope_freqs.weight" in self.tensors else "rope_factors_short.weight"
        if "rope_factors_long.weight" in self.tensors and n_ctx > int(m("rope.scaling.original_context_length", n_ctx)):
            factors = "rope_factors_long.weight"
        self.freq_factors = self.W(factors) if factors in self.tensors else None
        self.n_vocab = int(self.tensors["token_embd.weight"].shape[1])

    def _meta(self, key, default=None):
        f = self.reader.fields.get(key)
        return default if f is None else f.contents()

    def W(self, name):
        """A tensor dequantized, float64, in NumPy order (rows, cols) for a matrix."""
        if name not in self._cache:
            t = self.tensors[name]
            w = dequantize(t.data, t.tensor_type).astype(np.float64)
            shape = tuple(int(d) for d in reversed(t.shape))
            self._cache[name] = w.reshape(shape)
        return self._cache[name]

    def mm(self, x, name):
        """x @ W(name).T, the input first quantized as an engine would when emulating "act"."""
        if "act" in self.emulate:
            x = quantize_activations(x, ACT_TYPE.get(self.tensors[name].tensor_type.name))
        return x @ self.W(name).T

    def has(self, name):
        return name in self.tensors

    def rms_norm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos, base, scale, factors):
        """Rotates the first rope_dims dimensions of each head of x [n, heads, dim]."""
        nd = self.rope_dims
        half = nd // 2
        inv = base ** (-2.0 * np.arange(half, dtype=np.float64) / nd)
        if factors is not None:
            inv = inv / factors
        theta = (pos.astype(np.float64) * scale)[:, None] * inv[None, :]  # [n, half]
        mscale = 1.0
        if self.yarn is not None:  # ggml's rope_yarn with ext_factor 1
            f, orig, beta_fast, beta_slow = self.yarn
            corr = lambda b: nd * math.log(orig / (b * 2 * math.pi)) / (2 * math.log(base))
            low, high = max(0.0, math.floor(corr(beta_fast))), min(nd - 1.0, math.ceil(corr(beta_slow)))
            ramp = 1.0 - np.clip((np.arange(half) - low) / max(0.001, high - low), 0.0, 1.0)
            theta = theta / f * (1.0 - ramp) + theta * ramp
            mscale = 1.0 + 0.1 * math.log(f)
        c, s = mscale * np.cos(theta)[:, None, :], mscale * np.sin(theta)[:, None, :]
        y = x.copy()
        if self.neox:
            a, b = x[..., :half], x[..., half:nd]
            y[..., :half] = a * c - b * s
            y[..., half:nd] = a * s + b * c
        else:
            a, b = x[..., 0:nd:2], x[..., 1:nd:2]
            y[..., 0:nd:2] = a * c - b * s
            y[..., 1:nd:2] = a * s + b * c
        return y

    def act(self, g):
        if self.gemma:
            if "gelu16" in self.emulate:  # ggml's table: GELU of the half-rounded input, rounded to half
                h = fp16(g)
                y = fp16(0.5 * h * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3))))
                return np.where(g <= -10, 0.0, np.where(g >= 10, g, y))
            return 0.5 * g * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (g + 0.044715 * g ** 3)))
        return g / (1.0 + np.exp(-g))

    def attention(self, il, h, pos):
        p = f"blk.{il}."
        n = h.shape[0]
        H, Hkv, Dk, Dv = self.n_head, self.n_head_kv, self.head_dim_k, self.head_dim_v
        qd, kd, vd = H * Dk, Hkv * Dk, Hkv * Dv
        if self.has(p + "attn_qkv.weight"):
            qkv = self.mm(h, p + "attn_qkv.weight")
            if self.has(p + "attn_qkv.bias"):
                qkv = qkv + self.W(p + "attn_qkv.bias")
            q, k, v = qkv[:, :qd], qkv[:, qd:qd + kd], qkv[:, qd + kd:qd + kd + vd]
        else:
            q, k, v = (self.mm(h, p + f"attn_{x}.weight") for x in "qkv")
            for name, t in (("q", q), ("k", k), ("v", v)):
                if self.has(p + f"attn_{name}.bias"):
                    t += self.W(p + f"attn_{name}.bias")
        q, k, v = q.reshape(n, H, Dk), k.reshape(n, Hkv, Dk), v.reshape(n, Hkv, Dv)
        if self.qk_norm:
            q = self.rms_norm(q, self.W(p + "attn_q_norm.weight"))
            k = self.rms_norm(k, self.W(p + "attn_k_norm.weight"))
        if self.swa[il]:
            base, scale, factors = self.rope_base_swa, self.rope_scale_swa, None
        else:
            base, scale, factors = self.rope_base, self.rope_scale, self.freq_factors
        q = self.rope(q, pos, base, scale, factors)
        k = self.rope(k, pos, base, scale, factors)
        if "attn16" in self.emulate:
            q, k, v = fp16(q), fp16(k), fp16(v)
        group = H // Hkv
        kh = np.repeat(k, group, axis=1)  # [n, H, Dk]
        vh = np.repeat(v, group, axis=1)
        s = np.einsum("qhd,khd->hqk", q, kh) * self.attn_scale
        if self.attn_softcap > 0:
            s = self.attn_softcap * np.tanh(s / self.attn_softcap)
        i, j = pos[:, None], pos[None, :]
        mask = j <= i
        if self.swa[il]:
            mask &= i - j < self.sliding_window
        s = np.where(mask[None], s, -np.inf)
        if self.has(p + "attn_sinks.weight"):  # a per-head logit in the denominator only
            sink = self.W(p + "attn_sinks.weight")[:, None, None]  # [H, 1, 1]
            mx = np.maximum(s.max(axis=-1, keepdims=True), sink)
            w = np.exp(s - mx)
            w /= w.sum(axis=-1, keepdims=True) + np.exp(sink - mx)
        else:
            s = s - s.max(axis=-1, keepdims=True)
            w = np.exp(s)
            w /= w.sum(axis=-1, keepdims=True)
        if "attn16" in self.emulate:
            w = fp16(w)
        out = np.einsum("hqk,khd->qhd", w, vh).reshape(n, H * Dv)
        out = self.mm(out, p + "attn_output.weight")
        if self.has(p + "attn_output.bias"):
            out = out + self.W(p + "attn_output.bias")
        return out

    def ffn(self, il, h):
        p = f"blk.{il}."
        if self.n_expert:
            logits = self.mm(h, p + "ffn_gate_inp.weight")  # [n, E]
            if self.has(p + "ffn_gate_inp.bias"):
                logits = logits + self.W(p + "ffn_gate_inp.bias")
            K = self.n_expert_used
            if self.gptoss:  # top-k by logit, then the softmax of the chosen logits
                chosen = np.argsort(-logits, axis=-1, kind="stable")[:, :K]
                cl = np.take_along_axis(logits, chosen, axis=-1)
                e = np.exp(cl - cl.max(axis=-1, keepdims=True))
                return self.experts(il, h, chosen, e / e.sum(axis=-1, keepdims=True))
            if self.sigmoid_gating:
                probs = 1.0 / (1.0 + np.exp(-logits))
            else:
                e = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs = e / e.sum(axis=-1, keepdims=True)
            # best first, the lower id on a tie
            chosen = np.argsort(-probs, axis=-1, kind="stable")[:, :K]
            weights = np.take_along_axis(probs, chosen, axis=-1)
            if self.expert_weights_norm:
                weights = weights / weights.sum(axis=-1, keepdims=True)
            weights = weights * self.expert_weights_scale
            return self.experts(il, h, chosen, weights)
        if self.has(p + "ffn_gate.weight"):
            g = self.mm(h, p + "ffn_gate.weight")
            u = self.mm(h, p + "ffn_up.weight")
        else:  # phi3: one fused matrix, gate rows first
            gu = self.mm(h, p + "ffn_up.weight")
            g, u = gu[:, :self.n_ff], gu[:, self.n_ff:]
        return self.mm(self.act(g) * u, p + "ffn_down.weight")

    def experts(self, il, h, chosen, weights):
        """sum over k of weights[:, k] times expert chosen[:, k]'s output."""
        p = f"blk.{il}."
        G, U, D = (self.W(p + f"ffn_{x}_exps.weight") for x in ("gate", "up", "down"))
        bias = lambda x: self.W(p + f"ffn_{x}_exps.bias") if self.has(p + f"ffn_{x}_exps.bias") else None
        Gb, Ub, Db = bias("gate"), bias("up"), bias("down")
        q = lambda x, w: quantize_activations(x, ACT_TYPE.get(self.tensors[p + f"ffn_{w}_exps.weight"].tensor_type.name)) \
            if "act" in self.emulate else x
        hg, hu = q(h, "gate"), q(h, "up")
        out = np.zeros_like(h)
        for t in range(h.shape[0]):
            for kk in range(chosen.shape[1]):
                ex = chosen[t, kk]
                g, u = G[ex] @ hg[t], U[ex] @ hu[t]
                if Gb is not None:
                    g, u = g + Gb[ex], u + Ub[ex]
                if self.gptoss:  # SwiGLU-OAI: alpha 1.702, limit 7
                    g = np.minimum(g, 7.0)
                    a = g / (1.0 + np.exp(-1.702 * g)) * (np.clip(u, -7.0, 7.0) + 1.0)
                else:
                    a = self.act(g) * u
                y = D[ex] @ q(a, "down")
                if Db is not None:
                    y = y + Db[ex]
                out[t] += weights[t, kk] * y
        return out

    def layer_norm(self, x, name):
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.W(name + ".weight") + self.W(name + ".bias")

    def bias(self, name):
        return self.W(name) if self.has(name) else 0.0

    def encoder_hidden(self, ids):
        """An encoder's output (the last layer's, after its LayerNorm: what llama.cpp pools),
        float64 [n, n_embd], of one whole sequence."""
        ids = np.asarray(ids, dtype=np.int64)
        n, H, D = len(ids), self.n_head, self.head_dim_k
        pos = np.arange(n)
        x = self.W("token_embd.weight")[ids]
        if self.has("token_types.weight"):
            x = x + self.W("token_types.weight")[0]
        if self.arch == "bert":
            x = x + self.W("position_embd.weight")[pos]
        x = self.layer_norm(x, "token_embd_norm")
        for il in range(self.n_layer):
            p = f"blk.{il}."
            if self.has(p + "attn_qkv.weight"):
                qkv = x @ self.W(p + "attn_qkv.weight").T + self.bias(p + "attn_qkv.bias")
                q, k, v = qkv[:, :H * D], qkv[:, H * D:2 * H * D], qkv[:, 2 * H * D:]
            else:
                q, k, v = (x @ self.W(p + f"attn_{w}.weight").T + self.bias(p + f"attn_{w}.bias") for w in "qkv")
            q, k, v = q.reshape(n, H, D), k.reshape(n, H, D), v.reshape(n, H, D)
            if self.arch == "nomic-bert":
                q = self.rope(q, pos, self.rope_base, 1.0, None)
                k = self.rope(k, pos, self.rope_base, 1.0, None)
            s = np.einsum("qhd,khd->hqk", q, k) * self.attn_scale
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            w = s / s.sum(axis=-1, keepdims=True)
            a = np.einsum("hqk,khd->qhd", w, v).reshape(n, H * D)
            a = a @ self.W(p + "attn_output.weight").T + self.bias(p + "attn_output.bias")
            x = self.layer_norm(x + a, p + "attn_output_norm")
            up = x @ self.W(p + "ffn_up.weight").T + self.bias(p + "ffn_up.bias")
            if self.has(p + "ffn_gate.weight"):  # SwiGLU
                g = x @ self.W(p + "ffn_gate.weight").T
                f = g / (1.0 + np.exp(-g)) * up
            else:  # BERT's GELU, the exact erf form
                f = 0.5 * up * (1.0 + np.vectorize(math.erf)(up / math.sqrt(2.0)))
            f = f @ self.W(p + "ffn_down.weight").T + self.bias(p + "ffn_down.bias")
            x = self.layer_norm(x + f, p + "layer_output_norm")
        return x

    def hidden(self, ids, want=None):
        """The final-normed hidden states (after output_norm, before the output projection; what
        llama.cpp's embeddings pool for a decoder model), float64 [len(want) or n, n_embd], of one
        sequence from position 0. An encoder's: its output (encoder_hidden)."""
        if self.encoder:
            x = self.encoder_hidden(ids)
            return x if want is None else x[np.asarray(want)]
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.arange(len(ids))
        x = self.W("token_embd.weight")[ids] * self.embed_scale
        for il in range(self.n_layer):
            p = f"blk.{il}."
            a = self.attention(il, self.rms_norm(x, self.W(p + "attn_norm.weight")), pos)
            if self.gemma:
                a = self.rms_norm(a, self.W(p + "post_attention_norm.weight"))
            x = x + a
            f = self.ffn(il, self.rms_norm(x, self.W(p + ("post_attention_norm.weight" if self.gptoss else "ffn_norm.weight"))))
            if self.gemma:
                f = self.rms_norm(f, self.W(p + "post_ffw_norm.weight"))
            x = x + f
        if want is not None:
            x = x[np.asarray(want)]
        return self.rms_norm(x, self.W("output_norm.weight"))

    def forward(self, ids, want=None):
        """Logits (float64, [len(want) or n, n_vocab]) of one sequence from position 0."""
        x = self.hidden(ids, want)
        logits = self.mm(x, "output.weight" if self.has("output.weight") else "token_embd.weight")
        if self.final_softcap > 0:
            logits = self.final_softcap * np.tanh(logits / self.final_softcap)
        return logits


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model = ExactModel(sys.argv[1])
    logits = model.forward([int(t) for t in sys.argv[2:]])
    print(" ".join(str(int(i)) for i in logits.argmax(axis=-1)))


if __name__ == "__main__":
    main()
