"""Bad model files and bad arguments give one clear error and a non-zero exit,
never a crash (a signal) or a hang."""
import os
import struct

import pytest

from conftest import model_path, run_glint

GGUF_MAGIC = b"GGUF"


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def header(n_tensors=0, n_kv=0, version=3):
    return GGUF_MAGIC + struct.pack("<IQQ", version, n_tensors, n_kv)


def kv_string(key, value):
    k, v = key.encode(), value.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v


def kv_u32(key, value):
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<II", 4, value)


def tensor_info(name, dims, dtype, offset):
    n = name.encode()
    return (struct.pack("<Q", len(n)) + n + struct.pack("<I", len(dims)) +
            b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", dtype, offset))


def expect_error(args, *needles):
    proc = run_glint(*args, check=False, timeout=60)
    assert proc.returncode not in (0,), f"expected failure, got success: {proc.stdout}"
    assert proc.returncode > 0, f"glint died from signal {-proc.returncode}: {proc.stderr}"
    err = proc.stderr
    assert err.startswith("glint: ") or "glint:" in err, err
    assert err.count("\n") <= 3, f"expected one clear error, got: {err}"
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"
    return err


def llama_metadata():
    return (kv_string("general.architecture", "llama") + kv_u32("llama.block_count", 1) +
            kv_u32("llama.embedding_length", 64) + kv_u32("llama.feed_forward_length", 128) +
            kv_u32("llama.attention.head_count", 4))


CASES = {
    "empty": (b"", ["truncated"]),
    "wrong_magic": (b"GGML" + b"\0" * 60, ["bad magic"]),
    "version_1": (header(version=1) + b"\0" * 32, ["version 1"]),
    "truncated_header": (header()[:10], ["truncated"]),
    "absurd_kv_count": (GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 1 << 60), ["metadata entries"]),
    "absurd_tensor_count": (GGUF_MAGIC + struct.pack("<IQQ", 3, 1 << 60, 0), ["tensors cannot fit"]),
    "string_past_end": (header(n_kv=1) + struct.pack("<Q", 1 << 40) + b"key" + b"\0" * 32,
                        ["claims"]),
    "unknown_architecture": (header(n_kv=1) + kv_string("general.architecture", "mamba9"),
                             ["architecture 'mamba9' is not supported"]),
    "missing_block_count": (header(n_kv=1) + kv_string("general.architecture", "llama"),
                            ["llama.block_count", "missing"]),
    "absurd_dimension": (header(n_kv=2) + kv_string("general.architecture", "llama") +
                         kv_u32("llama.block_count", 4000000000), ["block_count"]),
    "tensor_past_end": (header(n_tensors=1, n_kv=5) + llama_metadata() +
                        tensor_info("token_embd.weight", [64, 1000], 0, 0) + b"\0" * 64,
                        ["runs past the end"]),
    "unknown_tensor_type": (header(n_tensors=1, n_kv=5) + llama_metadata() +
                            tensor_info("token_embd.weight", [64, 10], 99, 0), ["unknown type id 99"]),
    "zero_dimension": (header(n_tensors=1, n_kv=5) + llama_metadata() +
                       tensor_info("token_embd.weight", [64, 0], 0, 0), ["dimension 1 is 0"]),
    "bad_block_multiple": (header(n_tensors=1, n_kv=5) + llama_metadata() +
                           tensor_info("token_embd.weight", [33, 10], 2, 0), ["block size"]),
    "missing_tokenizer": (header(n_kv=5) + llama_metadata() + b"\0" * 32,
                          ["tokenizer.ggml.tokens"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_model_file(tmp_path, case):
    data, needles = CASES[case]
    path = write(tmp_path, case + ".gguf", data)
    err = expect_error(["run", "-m", path, "-p", "hi", "-n", "1"], *needles)
    assert path in err, f"the error should name the file: {err}"


def test_missing_model_file(tmp_path):
    expect_error(["run", "-m", str(tmp_path / "nope.gguf"), "-p", "x"], "nope.gguf", "cannot open")


def test_directory_as_model(tmp_path):
    expect_error(["run", "-m", str(tmp_path), "-p", "x"], "not a regular file")


def test_truncated_real_model(tmp_path):
    with open(model_path("fast"), "rb") as f:
        data = f.read(3_000_000)
    path = write(tmp_path, "truncated.gguf", data)
    expect_error(["run", "-m", path, "-p", "x"], "past the end")


def test_unknown_model_name_missing(tmp_path):
    # A known tier name whose file is absent tells the user how to fetch it.
    env_home = tmp_path / "home"
    env_home.mkdir()
    import subprocess

    from conftest import GLINT_BIN

    proc = subprocess.run([GLINT_BIN, "run", "-m", "smart", "-p", "x"], capture_output=True,
                          text=True, env={**os.environ, "GLINT_HOME": str(env_home)}, timeout=30)
    assert proc.returncode == 1
    assert "scripts/fetch-models smart" in proc.stderr


def test_prompt_longer_than_context():
    expect_error(["run", "-m", "fast", "-p", "word " * 600, "--ctx", "256", "-n", "4"],
                 "context")


def test_bad_arguments():
    proc = run_glint("run", "-n", "-5", "-p", "x", check=False)
    assert proc.returncode > 0
    proc = run_glint("frobnicate", check=False)
    assert proc.returncode > 0


def test_tokenize_jsonl_rejects_non_string():
    proc = run_glint("tokenize", "-m", "fast", "--jsonl", input='"ok"\n{"a": 1}\n', check=False)
    assert proc.returncode == 1
    assert "line 2" in proc.stderr
