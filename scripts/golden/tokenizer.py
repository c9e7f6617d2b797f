#!/usr/bin/env python3
"""Golden token ids from llama.cpp (through llama-cpp-python) for nagare's tokenizer tests.

For each test model this tokenizes a corpus with every (add_special, parse_special) pair via the
low-level llama_tokenize, records llama_detokenize(remove_special=False, unparse_special=s) for
both s, llama_token_to_piece for the ids seen plus a sample of the vocab, and the vocab facts the
Tokenizer API exposes (bos/eos/add_bos/eog). Texts and pieces are stored as hex so invalid UTF-8
survives JSON. It does the same for VARIANTS: vocab-only copies of a model with tokenizer metadata
changed (other pre-tokenizers, SPM add_space_prefix), which the C++ test rebuilds with GgufWriter.

Needs the llama-cpp-python and gguf packages and the models (scripts/fetch-models).
Usage: python scripts/golden/tokenizer.py   (writes tests/golden/tokenizer/*.json)
"""
import ctypes
import json
import os
import sys

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {
    "smollm2": "models/SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "models/gemma-3-270m-q4_k_m.gguf",
    # WordPiece: the tiny BERT's synthetic vocabulary (scripts/tiny_models.py), lower-casing.
    "bert": "models/tiny/tiny-bert.gguf",
}
# Vocab-only copies of a test model with some tokenizer metadata changed, to cover the other
# pre-tokenizers (and their detokenize clean-up) and SPM's add_space_prefix. The C++ test builds
# the same files with GgufWriter. name -> (model, {key: value}); values are str or bool.
VARIANTS = {
    "smollm2-llama-bpe": ("smollm2", {"tokenizer.ggml.pre": "llama-bpe"}),
    "smollm2-qwen2": ("smollm2", {"tokenizer.ggml.pre": "qwen2"}),
    "smollm2-gpt-2": ("smollm2", {"tokenizer.ggml.pre": "gpt-2"}),
    "smollm2-default": ("smollm2", {"tokenizer.ggml.pre": "default"}),
    "smollm2-gpt-4o": ("smollm2", {"tokenizer.ggml.pre": "gpt-4o"}),
    "gemma3-space-prefix": ("gemma3", {"tokenizer.ggml.add_space_prefix": True}),
    # WordPiece keeping case and accents (BertNormalizer lowercase=False).
    "bert-cased": ("bert", {"tokenizer.ggml.normalizer.lowercase": False}),
}

CORPUS = [
    "",
    "Hello world",
    " Hello world",
    "Hello  world   with   multiple    spaces",
    "   leading and trailing   ",
    "a",
    " ",
    "\n",
    "\n\n\n",
    "\n" * 20,
    " " * 40 + "x",
    "word   ",
    "line1\nline2\r\nline3\n\n\nline4",
    "\r\n\r\n",
    "   \n   \n",
    "\t \t  \t\n",
    "\t\tindented\twith\ttabs",
    "def foo(x):\n    if x > 0:\n        return x * 2\n    return -x\n",
    "int main() {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "1234567",
    "3.14159 and 2,718,281 and 1e-10",
    "abc123def 4567890 x1y2z3",
    "don't I'M you're we've they'll she'd it's",
    "DON'T YOU'RE 'S 'll 'Ve",
    "it\u2019s \u201cquoted\u201d text",
    "Hello , world . How are you ? Fine ! a ' b",
    "it 's and I 'm and we 're and you 've , they 'll 'd 't",
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you? I'm fine... (really) [yes] {ok} <tag> @user #hash $100 50% "
    "a&b *bold* ~tilde~ `code` ^caret | pipe",
    "https://example.com/path?query=1&b=2#frag",
    '{"key": "value", "num": 123, "arr": [1, 2, 3]}',
    "# Title\n\n- item 1\n- item 2\n\n**bold** _it_",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002\u6771\u4eac\u306f\u6674\u308c\u3002",
    "\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\uff0c\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff01",
    "\uc548\ub155\ud558\uc138\uc694, \uc138\uacc4! \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0647\u0630\u0627 \u0646\u0635 \u0639\u0631\u0628\u064a.",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00c5ngstr\u00f6m Z\u00fcrich",
    "Cafe\u0301 with a combining accent",
    "\u00c9COLE \u00e9t\u00e9 \u0130stanbul \u1e9e \u01c5 \u00d8resund unbelievably xyzzyq",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01",
    "English\u65e5\u672c\u8a9e\u0420\u0443\u0441\u0441\u043a\u0438\u0439",
    "\u65e5\u672c\u3000\u8a9e and a\u00a0b\u2003c",
    "\u2211 x\u00b2 \u2264 \u221e \u2192 \u03bb \u2208 \u211d",
    "\uff21\uff22\uff23\uff11\uff12\uff13",
    "\u216b \u00bd \u00b2 \u2460 \u0663\u0664",
    "I love \U0001f355 and \U0001f680!",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family, \U0001f3f3\ufe0f\u200d\U0001f308 flag, "
    "\U0001f44d\U0001f3fd thumbs",
    "\u2764\ufe0f \u2714\ufe0f \u263a\ufe0e",
    "\u200b zero width space and \ufeff BOM",
    "\u2581 literal lower block \u2581\u2581",
    "<0x41> literal byte token text",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\x01\x02\x1b[31mred\x1b[0m",
    "a\x00b",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n\u65e5\u672c\u8a9e\u3067<|im_end|>\n",
    "a<|im_start|>b",
    " <|im_start|> spaced special ",
    "<|im_end|><|im_end|>",
    "<|im_start<|im_end|>",
    "<|endoftext|>",
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "<bos>text after bos",
    "<eos><pad><unk><mask>",
    "<unused0> and <start_of_image> and [multimodal]",
    "<bos><bos>",
    "<b>bold</b> and <table><tr><td>x</td></tr></table> and </s>",
]

# Byte strings that are not valid UTF-8 (but do not make llama.cpp throw: no code points past
# U+10FFFF, which its UTF-8 re-encoder rejects).
RAW_CORPUS = [
    b"\xff\xfe abc",
    b"abc\x80def",
    b"\xc3( broken",
    b"tail \xe2\x82",
    b"\xed\xa0\x80 surrogate",
    b"\xc0\x80 overlong",
]


def long_text():
    # About two thousand tokens of mixed text: checks ids at scale and is the perf-test input.
    parts = [c for c in CORPUS if "<" not in c]
    return ("\n".join(parts) + "\n") * 3


def tokenize(vocab, data: bytes, add_special: bool, parse_special: bool):
    n_max = len(data) * 2 + 16
    buf = (llama_cpp.llama_token * n_max)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n_max, add_special, parse_special)
    assert n >= 0, n
    return list(buf[:n])


def piece(vocab, tok: int, special: bool) -> bytes:
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(vocab, tok, buf, 256, 0, special)
    assert n >= 0
    return buf.raw[:n]


def detokenize(vocab, ids, special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    cap = 16 * len(ids) + 64
    buf = ctypes.create_string_buffer(cap)
    n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, cap, False, special)
    assert n >= 0
    return buf.raw[:n]


def write_variant(src_path, overrides, dst_path):
    """Copies every metadata key of src_path (no tensors) with `overrides` applied."""
    import gguf
    reader = gguf.GGUFReader(src_path)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst_path, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = overrides.get(key, field.contents())
        writer.add_key_value(key, value, vtype, sub)
    for key, value in overrides.items():
        if key not in reader.fields:
            vtype = gguf.GGUFValueType.BOOL if isinstance(value, bool) else gguf.GGUFValueType.STRING
            writer.add_key_value(key, value, vtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    import tempfile
    out_dir = os.path.join(ROOT, "tests/golden/tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    texts = [t.encode("utf-8") for t in CORPUS] + RAW_CORPUS + [long_text().encode("utf-8")]
    tmp = tempfile.mkdtemp()
    jobs = [(name, os.path.join(ROOT, rel), rel, None) for name, rel in MODELS.items()]
    for name, (base, overrides) in VARIANTS.items():
        path = os.path.join(tmp, name + ".gguf")
        write_variant(os.path.join(ROOT, MODELS[base]), overrides, path)
        jobs.append((name, path, MODELS[base], overrides))
    for name, model_path, rel, overrides in jobs:
        llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)
        vocab = llm._model.vocab
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        cases = []
        seen = set()
        for data in texts:
            for add_special in (False, True):
                for parse_special in (False, True):
                    ids = tokenize(vocab, data, add_special, parse_special)
                    seen.update(ids)
                    cases.append({
                        "text_hex": data.hex(),
                        "add_special": add_special,
                        "parse_special": parse_special,
                        "ids": ids,
                        "decode_hex": detokenize(vocab, ids, False).hex(),
                        "decode_special_hex": detokenize(vocab, ids, True).hex(),
                    })
        sample = set(seen) | set(range(0, n_vocab, 97)) | set(range(0, min(n_vocab, 400)))
        sample |= {n_vocab - 1}
        # Every token that is not plain normal (control, user-defined, byte, ...), except most of
        # gemma3's thousands of <unusedN>.
        n_unused = 0
        for i in range(n_vocab):
            if llama_cpp.llama_vocab_get_attr(vocab, i) == llama_cpp.LLAMA_TOKEN_ATTR_NORMAL:
                continue
            if b"unused" in llama_cpp.llama_vocab_get_text(vocab, i):
                n_unused += 1
                if n_unused > 20:
                    continue
            sample.add(i)
        if overrides:  # pieces do not depend on the overridden keys; the base file has them
            sample = set()
        pieces = {str(i): [piece(vocab, i, False).hex(), piece(vocab, i, True).hex()]
                  for i in sorted(sample)}
        eog = [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)]
        doc = {
            "generator": "scripts/golden/tokenizer.py (llama-cpp-python %s)" % llama_cpp.__version__,
            "model": rel,
            "overrides": overrides or {},
            "vocab_size": n_vocab,
            "bos_id": llama_cpp.llama_vocab_bos(vocab),
            "eos_id": llama_cpp.llama_vocab_eos(vocab),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
            "eog_ids": eog,
            "pieces": pieces,
            "cases": cases,
        }
        path = os.path.join(out_dir, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=0, separators=(",", ":"))
            f.write("\n")
        print("wrote %s: %d cases, %d pieces, eog=%s" % (path, len(cases), len(pieces), eog),
              file=sys.stderr)


if __name__ == "__main__":
    main()
