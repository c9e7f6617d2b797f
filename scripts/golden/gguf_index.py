#!/usr/bin/env python3
"""Golden files for the GGUF reader and writer, made with the `gguf` Python package (gguf-py).

For each test model in models/ it writes tests/golden/gguf/<model>.json: every metadata key with
its type and value (arrays: element type, length, first 16 items and the sha256 of all items in
their GGUF encoding), and every tensor's name, type, shape, offsets, size and sha256 of its data.
It also records gguf-py's table of tensor types and file types, and writes two small GGUF files
with gguf-py's GGUFWriter that our writer must reproduce byte for byte.

Run with the reference virtualenv:  /tmp/refvenv/bin/python scripts/golden/gguf_index.py
"""
import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType, GGMLQuantizationType

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "gguf"
MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]
HEAD_ITEMS = 16
MAX_INLINE_STRING = 16384  # longer scalar strings are stored as length + sha256

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}


def json_string(raw: bytes):
    """A JSON string when the bytes are UTF-8, else {"hex": ...} so nothing is lost."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}


def scalar(part: np.ndarray, vtype: GGUFValueType):
    v = part.tolist()[0]
    if vtype == GGUFValueType.BOOL:
        return bool(v)
    return v  # ints stay exact; float32 widens exactly to a Python float


def field_entry(field) -> dict:
    vtype = field.types[0]
    entry = {"key": field.name, "type": TYPE_NAMES[vtype]}
    if vtype == GGUFValueType.STRING:
        raw = bytes(field.parts[-1])
        if len(raw) <= MAX_INLINE_STRING:
            entry["value"] = json_string(raw)
        else:
            entry["length"] = len(raw)
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
    elif vtype == GGUFValueType.ARRAY:
        elem = GGUFValueType(int(field.parts[3][0]))
        length = int(field.parts[4][0])
        # parts[5:] hold the items exactly as encoded in the file (nested arrays included).
        encoded = b"".join(p.tobytes() for p in field.parts[5:])
        entry.update({"elem_type": TYPE_NAMES[elem], "length": length,
                      "sha256": hashlib.sha256(encoded).hexdigest()})
        if elem == GGUFValueType.STRING:
            entry["head"] = [json_string(bytes(field.parts[i])) for i in field.data[:HEAD_ITEMS]]
        elif elem != GGUFValueType.ARRAY:
            entry["head"] = [scalar(field.parts[i], elem) for i in field.data[:HEAD_ITEMS]]
    else:
        entry["value"] = scalar(field.parts[-1], vtype)
    return entry


def index(path: Path) -> dict:
    r = GGUFReader(path)
    fields = [f for name, f in r.fields.items() if not name.startswith("GGUF.")]
    tensors = []
    for t in r.tensors:
        data = r.data[t.data_offset:t.data_offset + t.n_bytes]
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "type_id": int(t.tensor_type),
            "shape": [int(d) for d in t.shape],
            "offset": int(t.field.parts[5][0]),
            "data_offset": int(t.data_offset),
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "sha256": hashlib.sha256(data.tobytes()).hexdigest(),
        })
    return {
        "file": path.name,
        "file_size": path.stat().st_size,
        "version": int(r.fields["GGUF.version"].parts[0][0]),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "metadata": [field_entry(f) for f in fields],
        "tensors": tensors,
    }


def constants() -> dict:
    types = [{"id": int(t), "name": t.name, "block_elements": gguf.GGML_QUANT_SIZES[t][0],
              "block_bytes": gguf.GGML_QUANT_SIZES[t][1]} for t in GGMLQuantizationType]
    file_types = []
    for ft in gguf.LlamaFileType:
        if ft == gguf.LlamaFileType.GUESSED:
            continue
        name = ft.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        file_types.append({"id": int(ft), "name": name})
    return {"gguf_py_version": gguf_version(), "ggml_types": types, "file_types": file_types}


def gguf_version() -> str:
    from importlib.metadata import version
    return version("gguf")


# The same content is built by tests/unit/gguf/gguf_golden_test.cc with GgufWriter.
def write_reference_file(path: Path, alignment: int | None) -> None:
    w = gguf.GGUFWriter(path, "testarch")  # adds general.architecture first
    if alignment is not None:
        w.add_custom_alignment(alignment)
    w.add_key_value("t.u8", 200, GGUFValueType.UINT8)
    w.add_key_value("t.i8", -100, GGUFValueType.INT8)
    w.add_key_value("t.u16", 60000, GGUFValueType.UINT16)
    w.add_key_value("t.i16", -30000, GGUFValueType.INT16)
    w.add_key_value("t.u32", 4000000000, GGUFValueType.UINT32)
    w.add_key_value("t.i32", -2000000000, GGUFValueType.INT32)
    w.add_key_value("t.u64", 2**64 - 1, GGUFValueType.UINT64)
    w.add_key_value("t.i64", -2**63, GGUFValueType.INT64)
    w.add_key_value("t.f32", 0.1, GGUFValueType.FLOAT32)
    w.add_key_value("t.f64", 0.1, GGUFValueType.FLOAT64)
    w.add_key_value("t.bool", True, GGUFValueType.BOOL)
    w.add_key_value("t.string", "h\u00e9llo \u2581world\n", GGUFValueType.STRING)
    w.add_key_value("t.arr.i32", [1, -2, 3], GGUFValueType.ARRAY, GGUFValueType.INT32)
    w.add_key_value("t.arr.f32", [0.5, -1.25], GGUFValueType.ARRAY, GGUFValueType.FLOAT32)
    w.add_key_value("t.arr.string", ["<s>", "", "\u2581a"], GGUFValueType.ARRAY, GGUFValueType.STRING)
    w.add_key_value("t.arr.bool", [True, False, True], GGUFValueType.ARRAY, GGUFValueType.BOOL)
    w.add_key_value("t.arr.nested", [[1, 2], [3]], GGUFValueType.ARRAY, GGUFValueType.ARRAY)
    # Tensors: gguf-py takes numpy shapes (outermost first); GGUF stores them innermost first.
    w.add_tensor("a.f32", np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
    w.add_tensor("b.f16", np.arange(5, dtype=np.float16))
    w.add_tensor("c.q8_0", (np.arange(68) % 251).astype(np.uint8).reshape(2, 34),
                 raw_dtype=GGMLQuantizationType.Q8_0)  # 2 rows of 32 elements
    w.add_tensor("d.i32", np.array([7, -7, 70], dtype=np.int32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        path = ROOT / "models" / name
        if not path.exists():
            print(f"missing {path}; run scripts/fetch-models first", file=sys.stderr)
            return 1
        out = OUT / (Path(name).stem + ".json")
        out.write_text(json.dumps(index(path), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out} ({out.stat().st_size} bytes)")
    out = OUT / "gguf_py_constants.json"
    out.write_text(json.dumps(constants(), indent=1) + "\n")
    print(f"wrote {out}")
    write_reference_file(OUT / "gguf_py_writer.gguf", None)
    write_reference_file(OUT / "gguf_py_writer_align64.gguf", 64)
    print(f"wrote {OUT}/gguf_py_writer*.gguf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
