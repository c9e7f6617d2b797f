#!/usr/bin/env python3
"""Writes a copy of a GGUF model with every matrix dequantized to F16 (vectors stay F32) and
general.file_type set to F16: the unquantized input that `nagare quantize` and llama.cpp's
quantizer are compared on (tests/unit/quantize/). gguf-py's dequantization is exact, and with the
pinned `gguf` the output bytes are reproducible (the quantize goldens record its sha256).

Run: python scripts/dequantize_model.py IN.gguf OUT.gguf   (scripts/fetch-models makes
models/SmolLM2-135M-Instruct.F16.gguf this way)
"""
import sys

import numpy as np
import gguf

LLAMA_FTYPE_MOSTLY_F16 = 1


def main(src, dst):
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst + ".tmp", arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value = field.contents()
        if field.name == "general.file_type":
            value = LLAMA_FTYPE_MOSTLY_F16
        vtype = field.types[0]
        sub_type = field.types[1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    for t in reader.tensors:
        rows = gguf.quants.dequantize(t.data, t.tensor_type)
        if len(t.shape) >= 2:
            writer.add_tensor(t.name, rows.astype(np.float16))
        else:
            writer.add_tensor(t.name, rows.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    import os
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: dequantize_model.py IN.gguf OUT.gguf")
    main(sys.argv[1], sys.argv[2])
