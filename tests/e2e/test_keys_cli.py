"""glint keys new | list: the keys file keeps only hashes, the key is shown once."""
import hashlib
import json
import os
import stat

from conftest import run_glint


def new_key(path, name, *args, check=True):
    return run_glint("keys", "new", "--name", name, "--file", str(path), *args, check=check)


def test_new_then_list(tmp_path):
    path = tmp_path / "keys.json"
    proc = new_key(path, "alice", "--smart-rpm", "60", "--smart-tpm", "60000", "--fast-rpm", "600")
    key = proc.stdout.strip()
    assert key.startswith("glint-") and len(key) == 6 + 43
    assert proc.stdout == key + "\n"  # only the key, for scripts
    assert "cannot be shown again" in proc.stderr

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    entries = json.loads(path.read_text())["keys"]
    assert len(entries) == 1
    e = entries[0]
    assert e["name"] == "alice"
    assert e["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert e["tiers"] == ["fast", "smart"]
    assert e["limits"] == {"fast": {"requests_per_minute": 600},
                           "smart": {"requests_per_minute": 60, "tokens_per_minute": 60000}}
    assert key not in path.read_text()

    bob = new_key(path, "bob", "--tiers", "fast").stdout.strip()
    assert bob != key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    out = run_glint("keys", "list", "--file", str(path)).stdout
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert set(rows) == {"alice", "bob"}
    assert e["sha256"][:8] in rows["alice"]
    assert e["sha256"] not in out  # never the whole hash
    assert "fast,smart" in rows["alice"] and "60 rpm, 60000 tpm" in rows["alice"]
    assert "600 rpm" in rows["alice"]
    assert rows["bob"].split()[2] == "fast" and "unlimited" in rows["bob"]
    assert key not in out and bob not in out


def test_duplicate_name_is_refused(tmp_path):
    path = tmp_path / "keys.json"
    new_key(path, "alice")
    before = path.read_text()
    proc = new_key(path, "alice", check=False)
    assert proc.returncode != 0
    assert "already exists" in proc.stderr
    assert proc.stdout == ""  # no key printed
    assert path.read_text() == before


def test_bad_arguments_leave_no_file(tmp_path):
    path = tmp_path / "keys.json"
    for args in (["--tiers", "turbo"], ["--tiers", "smart", "--fast-rpm", "5"],
                 ["--smart-tpm", "0"]):
        proc = new_key(path, "alice", *args, check=False)
        assert proc.returncode != 0, args
        assert proc.stdout == ""
    assert new_key(path, "a b", check=False).returncode != 0
    assert not path.exists()


def test_list_reports_a_broken_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"name": "a", "sha256": "xyz"}]}')
    proc = run_glint("keys", "list", "--file", str(path), check=False)
    assert proc.returncode != 0
    assert "keys[0].sha256 must be 64 hex characters" in proc.stderr
    proc = run_glint("keys", "list", "--file", str(tmp_path / "missing.json"), check=False)
    assert proc.returncode != 0 and "cannot read" in proc.stderr
