"""The committed golden file equals what the `gguf` package produces today:
guards against a silent change in the reference (or in the generator)."""
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")

import importlib.util

HERE = Path(__file__).resolve().parent


def load_generator():
    spec = importlib.util.spec_from_file_location("gen", HERE / "gen_dequant_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_golden_file_matches_gguf_package():
    gen = load_generator()
    expected = gen.serialize(gen.build())
    actual = (HERE / "data" / "dequant_golden.dat").read_bytes()
    assert actual == expected
