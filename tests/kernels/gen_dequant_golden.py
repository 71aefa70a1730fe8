#!/usr/bin/env python3
"""Writes tests/kernels/data/dequant_golden.dat: random blocks of each GGUF
weight format and their dequantization by the `gguf` PyPI package
(gguf.quants.dequantize, an implementation independent of glint's).

glint's scalar dequantizers are checked against this file by
dequant_ref_test.cc. Rerun after changing the set of formats:

    .venv/bin/python tests/kernels/gen_dequant_golden.py

Record layout (little-endian): u32 type id, u32 n_elements, u32 n_bytes,
n_bytes of blocks, n_elements f32 values. The file starts with b"GLDQ" and
a u32 record count.
"""
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

# (type, elements per block, bytes per block, byte offsets of f16 fields, blocks)
FORMATS = [
    (T.Q4_0, 32, 18, [0], 24),
    (T.Q4_1, 32, 20, [0, 2], 24),
    (T.Q5_0, 32, 22, [0], 24),
    (T.Q5_1, 32, 24, [0, 2], 24),
    (T.Q8_0, 32, 34, [0], 24),
    (T.Q4_K, 256, 144, [0, 2], 6),
    (T.Q5_K, 256, 176, [0, 2], 6),
    (T.Q6_K, 256, 210, [208], 6),
    (T.F16, 1, 2, [0], 256),
    (T.BF16, 1, 2, [], 256),
]


def make_blocks(rng, block_bytes, half_offsets, n_blocks):
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for off in half_offsets:
        halves = rng.uniform(-2.0, 2.0, size=n_blocks).astype(np.float16)
        raw[:, off:off + 2] = halves.view(np.uint8).reshape(n_blocks, 2)
    return raw


def build(seed=1234):
    rng = np.random.default_rng(seed)
    records = []
    for qtype, block, block_bytes, halves, n_blocks in FORMATS:
        raw = make_blocks(rng, block_bytes, halves, n_blocks)
        if qtype == T.BF16:
            # Keep bf16 values finite: clear the top exponent bit pattern 0x7F80.
            v = raw.view(np.uint16)
            v &= np.uint16(0xBFFF)
        values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
        assert values.size == block * n_blocks, (qtype, values.size)
        records.append((int(qtype), raw.tobytes(), values))
    return records


def serialize(records):
    out = bytearray(b"GLDQ" + struct.pack("<I", len(records)))
    for type_id, raw, values in records:
        out += struct.pack("<III", type_id, values.size, len(raw))
        out += raw
        out += values.astype("<f4").tobytes()
    return bytes(out)


def main():
    path = Path(__file__).resolve().parent / "data" / "dequant_golden.dat"
    data = serialize(build())
    path.write_bytes(data)
    print(f"wrote {path} ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
