#!/usr/bin/env python3
"""Golden files for the quantization kernels (tests/unit/kernels/test_quant_golden.cc).

Run with the reference virtualenv:  /tmp/refvenv/bin/python scripts/golden/dequant.py

References:
  * the `gguf` package (gguf.quants.dequantize / quantize) for dequantization and for the
    quantizers it has (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, F16, BF16);
  * llama.cpp's own C code from the `llama-cpp-python` wheel, through ctypes: the exported
    quantize_row_*_ref / dequantize_row_* of libggml-base (the types gguf lacks: Q8_1, Q8_K
    and the K-quant quantizers; libggml-base is built without FMA, so these are the exact C
    semantics), its quantize_iq4_nl / quantize_iq4_xs without an importance matrix (what
    llama-quantize writes; not quantize_row_iq4_nl_ref, which skips the scale search), the same
    for Q2_K / Q3_K / MXFP4 (quantize_q2_K, quantize_q3_K, quantize_mxfp4 with a null imatrix,
    asserted equal to their quantize_row_*_ref) and
    ggml_vec_dot_* of libggml-cpu (the dot products llama.cpp runs: its SIMD build sums in
    another order than the scalar reference, so they match only to rounding).
    Where both references cover a case, this script asserts that they agree.

Everything is deterministic (fixed seeds). IQ4_NL / IQ4_XS records, then Q2_K / Q3_K / MXFP4
ones, come last, each group from a random stream of its own, so adding them left every earlier
file byte for byte as it was. Output goes
to tests/golden/kernels/: raw little-endian .bin / .f32 files and manifest.txt, one record per
line:
  dequant <TYPE> <n> <blocks.bin> <expected.f32>
  quant   <TYPE> <n> <input.f32> <expected.bin>
  vecdot  <WTYPE> <n> <weights.bin> <acts.bin> <expected float as 8 hex digits>
  model   <model file> <tensor> <TYPE> <row> <n> <expected.f32>
"""

import ctypes
import importlib.metadata
import importlib.util
import os
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "kernels"
MODELS = ROOT / "models"
QK_K = 256

manifest: list[str] = []


def write(name: str, data: np.ndarray) -> str:
    (OUT / name).write_bytes(np.ascontiguousarray(data).tobytes())
    return name


# ---------------------------------------------------------------- llama.cpp via ctypes

def load_ggml():
    spec = importlib.util.find_spec("llama_cpp")
    libdir = Path(spec.origin).parent / "lib"
    base = ctypes.CDLL(str(libdir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    cpu = ctypes.CDLL(str(libdir / "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
    cpu.ggml_cpu_init()  # fills the fp16 table the CPU kernels convert scales with
    return base, cpu


BASE, CPU = load_ggml()
TYPE_SIZE = {t: gguf.GGML_QUANT_SIZES[t] for t in T if t in gguf.GGML_QUANT_SIZES}
TYPE_SIZE[T.Q8_1] = (32, 36)  # gguf-py still lists the old float layout (40); ggml's block_q8_1 is 36
C_NAME = {T.Q4_0: "q4_0", T.Q4_1: "q4_1", T.Q5_0: "q5_0", T.Q5_1: "q5_1", T.Q8_0: "q8_0",
          T.Q8_1: "q8_1", T.Q4_K: "q4_K", T.Q5_K: "q5_K", T.Q6_K: "q6_K", T.Q8_K: "q8_K",
          T.IQ4_NL: "iq4_nl", T.IQ4_XS: "iq4_xs", T.Q2_K: "q2_K", T.Q3_K: "q3_K", T.MXFP4: "mxfp4"}


def row_bytes(t: T, n: int) -> int:
    block, size = TYPE_SIZE[t]
    assert n % block == 0
    return n // block * size


def ggml_quantize(t: T, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(row_bytes(t, x.size), dtype=np.uint8)
    fn = getattr(BASE, f"quantize_row_{C_NAME[t]}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn(x.ctypes.data, out.ctypes.data, x.size)
    return out


def ggml_dequantize(t: T, raw: np.ndarray, n: int) -> np.ndarray:
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    out = np.zeros(n, dtype=np.float32)
    fn = getattr(BASE, f"dequantize_row_{C_NAME[t]}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn(raw.ctypes.data, out.ctypes.data, n)
    return out


ACT = {T.Q4_0: T.Q8_0, T.Q5_0: T.Q8_0, T.Q8_0: T.Q8_0, T.Q4_1: T.Q8_1, T.Q5_1: T.Q8_1,
       T.Q4_K: T.Q8_K, T.Q5_K: T.Q8_K, T.Q6_K: T.Q8_K, T.IQ4_NL: T.Q8_0, T.IQ4_XS: T.Q8_K,
       T.Q2_K: T.Q8_K, T.Q3_K: T.Q8_K, T.MXFP4: T.Q8_0}


def ggml_quantize_no_imatrix(t: T, x: np.ndarray) -> np.ndarray:
    # quantize_<type>(src, dst, nrow, n_per_row, imatrix): one row, no importance matrix.
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(row_bytes(t, x.size), dtype=np.uint8)
    fn = getattr(BASE, f"quantize_{C_NAME[t]}")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    fn.restype = ctypes.c_size_t
    assert fn(x.ctypes.data, out.ctypes.data, 1, x.size, None) == out.size
    return out


def ggml_vec_dot(wt: T, w: np.ndarray, a: np.ndarray, n: int) -> np.float32:
    # The kernel llama.cpp runs on this machine (its SIMD build), not ggml_vec_dot_*_generic:
    # the wheel compiles the generic ones with FMA contraction, and its q5_0 generic returns
    # wrong sums (e.g. -135 for a block whose exact dot is 9), so they are no reference.
    fn = getattr(CPU, f"ggml_vec_dot_{C_NAME[wt]}_{C_NAME[ACT[wt]]}")
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                   ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    s = np.zeros(1, dtype=np.float32)
    w = np.ascontiguousarray(w)
    a = np.ascontiguousarray(a)
    fn(n, s.ctypes.data, 0, w.ctypes.data, 0, a.ctypes.data, 0, 1)
    return s[0]


def f32_hex(v: np.float32) -> str:
    return f"{int(np.float32(v).view(np.uint32)):08x}"


# ---------------------------------------------------------------- random blocks

def random_halves(rng, count: int, lo_exp=-12.0, hi_exp=2.0) -> np.ndarray:
    """Sane fp16 scales: magnitudes log-uniform in [2^lo, 2^hi], random sign."""
    mag = np.exp2(rng.uniform(lo_exp, hi_exp, count))
    sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    return (mag * sign).astype(np.float16)


# (byte offset, field kind) of every scale field inside a block, per type.
SCALE_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q8_1: [0, 2],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.IQ4_NL: [0], T.IQ4_XS: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.MXFP4: [],
}
# Edge-case fp16 scales placed in the first blocks: zero, smallest and largest subnormal,
# smallest normal, a large value, a negative one.
EDGE_HALVES = [0x0000, 0x0001, 0x03FF, 0x0400, 0x7800, 0xBC00]


def random_blocks(rng, t: T, n_blocks: int) -> np.ndarray:
    block, size = TYPE_SIZE[t]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if t == T.Q8_K:
        d = (np.exp2(rng.uniform(-12, 2, n_blocks)) * np.where(rng.random(n_blocks) < 0.5, -1, 1)).astype(np.float32)
        d[0] = 0.0
        raw[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
        return raw.reshape(-1)
    for off in SCALE_FIELDS[t]:
        h = random_halves(rng, n_blocks).view(np.uint16)
        h[: len(EDGE_HALVES)] = EDGE_HALVES
        raw[:, off:off + 2] = h.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1)


def gen_dequant(rng):
    for t, n_blocks in [(T.Q4_0, 64), (T.Q4_1, 64), (T.Q5_0, 64), (T.Q5_1, 64), (T.Q8_0, 64),
                        (T.Q8_1, 64), (T.Q4_K, 16), (T.Q5_K, 16), (T.Q6_K, 16), (T.Q8_K, 8)]:
        raw = random_blocks(rng, t, n_blocks)
        n = n_blocks * TYPE_SIZE[t][0]
        if t == T.Q8_1:
            # Neither gguf nor libggml dequantizes Q8_1 (an activation-only format): x = d * q.
            blocks = raw.reshape(n_blocks, 36)
            d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
            expected = (blocks[:, 4:].view(np.int8).astype(np.float32) * d).reshape(-1)
        elif t == T.Q8_K:
            expected = ggml_dequantize(t, raw, n)  # gguf has no Q8_K
        else:
            expected = dequantize(raw.reshape(n_blocks, -1), t).reshape(-1).astype(np.float32)
            assert np.array_equal(expected.view(np.uint32), ggml_dequantize(t, raw, n).view(np.uint32)), t.name
        name = t.name
        manifest.append(f"dequant {name} {n} {write(f'dequant_{name}.bin', raw)} "
                        f"{write(f'dequant_{name}.f32', expected)}")

    # Plain formats: every interesting bit pattern class (subnormals, inf, nan included).
    h = rng.integers(0, 65536, size=2048, dtype=np.uint16)
    h[:8] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x7E00]
    for t in (T.F16, T.BF16):
        if t == T.BF16:
            expected = (h.astype(np.uint32) << 16).view(np.float32)
            assert np.array_equal(expected.view(np.uint32), dequantize(h.view(np.uint8), t).view(np.uint32))
        else:
            expected = dequantize(h.view(np.uint8), t).astype(np.float32)
        manifest.append(f"dequant {t.name} {h.size} {write(f'dequant_{t.name}.bin', h)} "
                        f"{write(f'dequant_{t.name}.f32', expected)}")
    f = rng.standard_normal(256).astype(np.float32)
    manifest.append(f"dequant F32 256 {write('dequant_F32.bin', f)} {write('dequant_F32.f32', f)}")


# ---------------------------------------------------------------- quantization

def activation_like(rng, n: int) -> np.ndarray:
    """Rows with varied block magnitudes, plus blocks that probe the rounding rules."""
    x = rng.standard_normal(n).astype(np.float32)
    x *= np.repeat(np.exp2(rng.uniform(-6, 4, n // 32)), 32).astype(np.float32)
    x[0:32] = 0.0                                              # all-zero block
    x[32:64] = 0.0
    x[40] = -3.0                                               # one non-zero element
    # x * (127 / amax) lands on exact .5 ties: roundf rounds them away from zero.
    x[64:96] = (np.arange(32, dtype=np.float32) - 15.5) * 2.0
    x[64] = 127.0
    x[96:128] = np.float32(1.0)                                # constant block: d for Q4_1 is 0
    x[128:160] = np.abs(x[128:160])                            # positive-only block
    return x


def gen_quant(rng) -> tuple[np.ndarray, np.ndarray]:
    n = 8 * QK_K
    x = activation_like(rng, n)
    x[1024:1280] = 0.0                                         # an all-zero super-block
    manifest.append(f"# quantization input: quant_input.f32 ({n} floats)")
    write("quant_input.f32", x)
    for t in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q8_1, T.Q8_K, T.Q4_K, T.Q5_K, T.Q6_K]:
        q = ggml_quantize(t, x)
        if t in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
            g = quantize(x.reshape(1, -1), t).reshape(-1)
            assert np.array_equal(g, q), f"gguf and ggml disagree on {t.name}"
        manifest.append(f"quant {t.name} {n} quant_input.f32 {write(f'quant_{t.name}.bin', q)}")
    # F16 / BF16 on inputs that exercise rounding: ties, overflow, subnormals, inf, nan.
    special = np.array([0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e9, -1e9, 5.96e-8, 2.98e-8, 2.99e-8,
                        6.1e-5, 1.0 + 2**-11, 1.0 + 3 * 2**-11, np.inf, -np.inf, np.nan], dtype=np.float32)
    bits = rng.integers(0, 2**32, size=2048 - special.size, dtype=np.uint64).astype(np.uint32)
    bits = bits[(bits & 0x7F800000) != 0x7F800000]             # random finite floats of any exponent
    y = np.concatenate([special, bits.view(np.float32), rng.standard_normal(2048).astype(np.float32)])
    write("quant_float_input.f32", y)
    with np.errstate(over="ignore"):  # overflow to inf is one of the cases
        f16 = quantize(y, T.F16).view(np.uint16)
    bf16 = quantize(y, T.BF16).view(np.uint16)
    manifest.append(f"quant F16 {y.size} quant_float_input.f32 {write('quant_F16.bin', f16)}")
    manifest.append(f"quant BF16 {y.size} quant_float_input.f32 {write('quant_BF16.bin', bf16)}")
    return x


# ---------------------------------------------------------------- dot products

def gen_vecdot(rng, w_input: np.ndarray):
    n = w_input.size
    a_input = activation_like(rng, n)
    manifest.append("# vec_dot: weights quant_<W>.bin (of quant_input.f32), activations act_<A>.bin "
                    "(of act_input.f32); expected = llama.cpp's ggml_vec_dot_<w>_<a> (SIMD: other summation order)")
    write("act_input.f32", a_input)
    acts = {}
    for at in (T.Q8_0, T.Q8_1, T.Q8_K):
        acts[at] = ggml_quantize(at, a_input)
        write(f"act_{at.name}.bin", acts[at])
    for wt in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]:
        w = ggml_quantize(wt, w_input)
        for m in (QK_K, 4 * QK_K, n):
            v = ggml_vec_dot(wt, w, acts[ACT[wt]], m)
            manifest.append(f"vecdot {wt.name} {m} quant_{wt.name}.bin act_{ACT[wt].name}.bin {f32_hex(v)}")
    return acts


# ---------------------------------------------------------------- IQ4_NL / IQ4_XS

def gen_iq4(rng, w_input: np.ndarray, acts: dict):
    """Dequantization of random blocks, quantization of quant_input.f32 and dot products with
    the activations above; a separate rng so the records before these stay as they were."""
    manifest.append("# IQ4_NL / IQ4_XS: quant = llama.cpp's quantize_iq4_* without an imatrix")
    for t, n_blocks in [(T.IQ4_NL, 64), (T.IQ4_XS, 16)]:
        raw = random_blocks(rng, t, n_blocks)
        n = n_blocks * TYPE_SIZE[t][0]
        expected = dequantize(raw.reshape(n_blocks, -1), t).reshape(-1).astype(np.float32)
        assert np.array_equal(expected.view(np.uint32), ggml_dequantize(t, raw, n).view(np.uint32)), t.name
        manifest.append(f"dequant {t.name} {n} {write(f'dequant_{t.name}.bin', raw)} "
                        f"{write(f'dequant_{t.name}.f32', expected)}")
    n = w_input.size
    for wt in (T.IQ4_NL, T.IQ4_XS):
        w = ggml_quantize_no_imatrix(wt, w_input)
        manifest.append(f"quant {wt.name} {n} quant_input.f32 {write(f'quant_{wt.name}.bin', w)}")
        for m in (QK_K, 4 * QK_K, n):
            v = ggml_vec_dot(wt, w, acts[ACT[wt]], m)
            manifest.append(f"vecdot {wt.name} {m} quant_{wt.name}.bin act_{ACT[wt].name}.bin {f32_hex(v)}")


# ---------------------------------------------------------------- Q2_K / Q3_K / MXFP4

def mxfp4_edge_input(rng) -> np.ndarray:
    """Blocks for MXFP4's exponent and rounding rules: maxima at and just below powers of two,
    values halfway between two levels (the first level wins), tiny blocks whose exponent code
    wraps below 2^-125, the largest floats."""
    blocks = []
    for amax in (1.0, np.nextafter(np.float32(1.0), np.float32(0)), 2.0**-126, 2.0**-130, 3e-39, 1e-44,
                 2.0**127, 3e38, 6.0, 0.75):
        b = rng.standard_normal(32).astype(np.float32)
        b *= np.float32(amax) / np.abs(b).max()
        b[int(rng.integers(0, 32))] = np.float32(amax) * (1 if rng.random() < 0.5 else -1)
        blocks.append(b.astype(np.float32))
    # With max 7.99 the scale is 1 (levels 0, 0.5, 1, 1.5, 2, 3, 4, 6): ties at the midpoints.
    ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -0.25, -0.75, -1.25, -1.75, -2.5, -3.5, -5.0,
                     7.0, -7.0, 0.0, -0.0, 7.99] + [0.5] * 13, dtype=np.float32)
    blocks.append(ties)
    return np.concatenate(blocks)


def gen_low(rng, w_input: np.ndarray, acts: dict):
    """As gen_iq4 for Q2_K, Q3_K and MXFP4, plus MXFP4's edge blocks; a separate rng again."""
    manifest.append("# Q2_K / Q3_K / MXFP4: quant = llama.cpp's quantize_q2_K / quantize_q3_K / quantize_mxfp4 "
                    "without an imatrix (= quantize_row_*_ref)")
    for t, n_blocks in [(T.Q2_K, 16), (T.Q3_K, 16), (T.MXFP4, 64)]:
        raw = random_blocks(rng, t, n_blocks)
        if t == T.MXFP4:  # E8M0 extremes: the two subnormal scales, 1/2, the largest (12 * 2^127 is inf)
            raw.reshape(n_blocks, -1)[:6, 0] = [0, 1, 2, 127, 254, 255]
        n = n_blocks * TYPE_SIZE[t][0]
        with np.errstate(over="ignore"):
            expected = dequantize(raw.reshape(n_blocks, -1), t).reshape(-1).astype(np.float32)
        assert np.array_equal(expected.view(np.uint32), ggml_dequantize(t, raw, n).view(np.uint32)), t.name
        manifest.append(f"dequant {t.name} {n} {write(f'dequant_{t.name}.bin', raw)} "
                        f"{write(f'dequant_{t.name}.f32', expected)}")
    n = w_input.size
    for wt in (T.Q2_K, T.Q3_K, T.MXFP4):
        w = ggml_quantize_no_imatrix(wt, w_input)
        assert np.array_equal(w, ggml_quantize(wt, w_input)), wt.name
        if wt == T.MXFP4:
            assert np.array_equal(w, quantize(w_input.reshape(1, -1), wt).reshape(-1)), "gguf and ggml disagree on MXFP4"
        manifest.append(f"quant {wt.name} {n} quant_input.f32 {write(f'quant_{wt.name}.bin', w)}")
        for m in (QK_K, 4 * QK_K, n):
            v = ggml_vec_dot(wt, w, acts[ACT[wt]], m)
            manifest.append(f"vecdot {wt.name} {m} quant_{wt.name}.bin act_{ACT[wt].name}.bin {f32_hex(v)}")
    x = mxfp4_edge_input(rng)
    q = ggml_quantize_no_imatrix(T.MXFP4, x)
    manifest.append(f"quant MXFP4 {x.size} {write('quant_mxfp4_edges.f32', x)} {write('quant_MXFP4_edges.bin', q)}")


# ---------------------------------------------------------------- rows of the test models

def gen_model_rows():
    for model, short in [("SmolLM2-135M-Instruct.Q4_1.gguf", "smol"), ("gemma-3-270m-q4_k_m.gguf", "gemma")]:
        path = MODELS / model
        if not path.exists():
            raise SystemExit(f"{path} is missing: run scripts/fetch-models first")
        reader = gguf.GGUFReader(str(path))
        by_type: dict[T, list] = {}
        for t in reader.tensors:
            if len(t.shape) == 2:
                by_type.setdefault(t.tensor_type, []).append(t)
            elif t.tensor_type == T.F32:
                by_type.setdefault(T.F32, []).append(t)
        for qt in sorted(by_type, key=lambda q: q.value):
            tensors = sorted(by_type[qt], key=lambda t: t.name)
            for t in tensors[:2]:
                data = t.data.reshape(-1, t.data.shape[-1]) if t.data.ndim > 1 else t.data.reshape(1, -1)
                n_rows = data.shape[0]
                n = int(t.shape[0])
                for row in sorted({0, n_rows // 2, n_rows - 1}):
                    raw = np.ascontiguousarray(data[row])
                    if qt == T.F32:
                        expected = raw.view(np.float32)
                    else:
                        expected = dequantize(raw.view(np.uint8).reshape(1, -1), qt).reshape(-1)
                        assert np.array_equal(expected.view(np.uint32),
                                              ggml_dequantize(qt, raw.view(np.uint8), n).view(np.uint32))
                    assert expected.size == n
                    fname = f"model_{short}_{t.name}_r{row}.f32"
                    write(fname, expected.astype(np.float32))
                    manifest.append(f"model {model} {t.name} {qt.name} {row} {n} {fname}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.suffix in (".bin", ".f32", ".txt"):
            old.unlink()
    rng = np.random.default_rng(20240607)
    gen_dequant(rng)
    x = gen_quant(rng)
    acts = gen_vecdot(rng, x)
    gen_model_rows()
    gen_iq4(np.random.default_rng(20260101), x, acts)
    gen_low(np.random.default_rng(20260202), x, acts)
    header = ["# Generated by scripts/golden/dequant.py; do not edit.",
              f"# gguf {importlib.metadata.version('gguf')}, llama-cpp-python "
              f"{importlib.metadata.version('llama_cpp_python')}, numpy {np.__version__}"]
    (OUT / "manifest.txt").write_text("\n".join(header + manifest) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(manifest)} records, {total} bytes to {OUT}")


if __name__ == "__main__":
    main()
