"""glint edit end to end: against `glint serve` on the fast model (with and
without speculation), in-process, and its errors. The fast model's edits
are not predictable, so the tests check what glint edit does with them: the
printed diff turns the old file into the new one, --dry-run and errors
never touch the file, --yes writes atomically and keeps the permission
bits, and the answer is the same with speculation on and off."""
import json
import os
import re
import socket
import stat
import subprocess

import pytest

from conftest import GlintServer, model_path

SMALL = "def add(a, b):\n    return a + b\n"

# A ~30-line file for the speculation test.
INVENTORY = '''"""A tiny inventory of items with quantities and prices."""


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, quantity, price):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        entry = self.items.setdefault(name, {"quantity": 0, "price": price})
        entry["quantity"] += quantity
        entry["price"] = price

    def remove(self, name, quantity):
        entry = self.items[name]
        if quantity > entry["quantity"]:
            raise ValueError("not enough items")
        entry["quantity"] -= quantity
        if entry["quantity"] == 0:
            del self.items[name]

    def total_value(self):
        total = 0
        for entry in self.items.values():
            total += entry["quantity"] * entry["price"]
        return total

    def names(self):
        return sorted(self.items)
'''

# Instructions tried in order on SMALL until the fast model changes the file
# (greedy decoding: the same one every run).
CHANGING = ["Add a function sub(a, b) that returns a - b",
            "Make add return the product a * b",
            "Rename the function add to plus",
            "Rewrite this file in JavaScript"]


def edit(glint_bin, *args, timeout=300):
    """glint edit with stdin not a terminal (nor anything to read)."""
    return subprocess.run([glint_bin, "edit", *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def snapshot(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_mtime_ns, st.st_ino, stat.S_IMODE(st.st_mode)


def leftovers(directory):
    return [n for n in os.listdir(directory) if ".glint-" in n]


def summary(proc):
    """The --json object (the one line of stdout that is JSON)."""
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return json.loads(lines[0])


def apply_diff(old, diff):
    """Applies a unified diff as glint edit prints it to old; checks its
    context and deleted lines against old on the way."""
    lines = diff.split("\n")
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ "), diff
    assert lines[-1] == "", "a diff ends with a newline"
    src = old.splitlines(keepends=True)
    out, pos, last = [], 0, None
    for line in lines[2:-1]:
        m = re.match(r"@@ -(\d+),(\d+) \+(\d+),(\d+) @@$", line)
        if m:
            start = int(m.group(1)) - (0 if int(m.group(2)) else -1) - 1
            start = max(start, 0)
            assert start >= pos, diff
            out += src[pos:start]
            pos = start
            continue
        if line == "\\ No newline at end of file":
            if last is not None and last[0] == "out":
                out[-1] = out[-1][:-1]
            continue
        op, text = line[:1], line[1:] + "\n"
        if op in (" ", "-"):
            want = src[pos] if src[pos].endswith("\n") else src[pos] + "\n"
            assert text == want, f"line {pos + 1}: {text!r} vs {want!r}\n{diff}"
            pos += 1
        if op in (" ", "+"):
            out.append(text)
            last = ("out",)
        elif op == "-":
            last = ("dropped",)
        else:
            raise AssertionError(f"unexpected diff line {line!r}")
    return "".join(out + src[pos:])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def nospec_server(glint_bin):
    if not os.path.exists(model_path("fast")):
        pytest.fail("model fast missing; run scripts/fetch-models fast")
    server = GlintServer("--no-speculation")
    yield server
    code = server.stop()
    assert code == 0, "".join(server.log)


@pytest.fixture(scope="module")
def changing(glint_bin, fast_server, tmp_path_factory):
    """(instruction, --json summary) of the first instruction in CHANGING
    with which the fast model changes SMALL."""
    path = write(tmp_path_factory.mktemp("probe") / "calc.py", SMALL)
    for instruction in CHANGING:
        p = edit(glint_bin, path, instruction, "--server", fast_server.base_url, "--dry-run",
                 "--json")
        s = summary(p)
        if p.returncode == 0 and s["complete"] and s["changed"]:
            # The diff names the file: make it a template.
            s["diff"] = s["diff"].replace(path, "{path}")
            return instruction, s
    pytest.fail("the fast model changed the file for none of the instructions")


def test_dry_run_prints_the_diff_and_never_writes(glint_bin, fast_server, changing, tmp_path):
    instruction, expected = changing
    path = write(tmp_path / "calc.py", SMALL)
    before = snapshot(path)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url, "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "dry run" in p.stderr and "not written" in p.stderr
    assert re.search(r"\d+ tokens in [\d.]+ s", p.stderr), p.stderr
    # The diff (no colours: stdout is not a terminal) is the one --json gives,
    # and it turns the old file into the model's file.
    assert "\033[" not in p.stdout
    assert p.stdout == expected["diff"].replace("{path}", path)
    assert p.stdout.startswith(f"--- {path}\n+++ {path} (edited)\n@@ -")
    assert apply_diff(SMALL, p.stdout) == expected["new_text"]
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("instruction", ["Do not change anything", CHANGING[2],
                                         "Add a docstring to the function"])
def test_dry_run_prints_a_diff_or_no_changes(glint_bin, fast_server, tmp_path, instruction):
    path = write(tmp_path / "calc.py", SMALL)
    before = snapshot(path)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url, "--dry-run")
    assert p.returncode in (0, 1), p.stderr
    if p.returncode == 1:
        # Only an answer cut off at max_tokens is an error here.
        assert "cut off" in p.stderr, p.stderr
        assert p.stdout == ""
    elif "no changes" in p.stderr:
        assert p.stdout == ""
    else:
        assert "dry run" in p.stderr, p.stderr
        assert p.stdout.startswith(f"--- {path}\n+++ ")
        assert "\n@@ -" in p.stdout
        apply_diff(SMALL, p.stdout)
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


def test_yes_writes_atomically_and_keeps_the_mode(glint_bin, fast_server, changing, tmp_path):
    instruction, expected = changing
    path = write(tmp_path / "calc.py", SMALL, mode=0o640)
    before = snapshot(path)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url, "--yes")
    assert p.returncode == 0, p.stderr
    assert f"wrote '{path}'" in p.stderr
    with open(path) as f:
        new = f.read()
    assert new == expected["new_text"] != SMALL
    assert apply_diff(SMALL, p.stdout) == new
    after = snapshot(path)
    assert after[3] == 0o640, oct(after[3])
    assert after[2] != before[2], "the file was written in place, not renamed over"
    assert leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["calc.py"]


def test_yes_with_json_reports_the_write(glint_bin, fast_server, changing, tmp_path):
    instruction, expected = changing
    path = write(tmp_path / "calc.py", SMALL, mode=0o600)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url, "--yes", "--json")
    assert p.returncode == 0, p.stderr
    s = summary(p)
    assert s["written"] is True and s["changed"] is True and s["complete"] is True
    assert s["file"] == path
    assert s["new_text"] == expected["new_text"]
    assert isinstance(s["accepted_prediction_tokens"], int)
    assert isinstance(s["rejected_prediction_tokens"], int)
    with open(path) as f:
        assert f.read() == s["new_text"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_without_yes_and_no_terminal_nothing_is_written(glint_bin, fast_server, changing,
                                                        tmp_path):
    instruction, expected = changing
    path = write(tmp_path / "calc.py", SMALL, mode=0o640)
    before = snapshot(path)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url)
    assert p.returncode == 1, p.stderr
    assert "--yes" in p.stderr and "not written" in p.stderr
    assert p.stdout == expected["diff"].replace("{path}", path)  # shown all the same
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


def test_default_model_of_the_server(glint_bin, fast_server, changing, tmp_path):
    # Without --model, --server uses the server's (first) model: here fast.
    instruction, expected = changing
    path = write(tmp_path / "calc.py", SMALL)
    p = edit(glint_bin, path, instruction, "--server", fast_server.base_url + "/", "--dry-run",
             "--json")
    assert p.returncode == 0, p.stderr
    assert summary(p)["new_text"] == expected["new_text"]


# --- errors: exit 1, a message that says what is wrong, the file untouched ---


def expect_failure(p, *needles):
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stdout == ""
    for n in needles:
        assert n in p.stderr, p.stderr
    assert p.stderr.startswith("glint edit: "), p.stderr


def test_missing_file(glint_bin, fast_server, tmp_path):
    path = str(tmp_path / "no-such-file.py")
    p = edit(glint_bin, path, "anything", "--server", fast_server.base_url)
    expect_failure(p, path, "No such file")
    assert os.listdir(tmp_path) == []


def test_directory(glint_bin, fast_server, tmp_path):
    p = edit(glint_bin, tmp_path, "anything", "--server", fast_server.base_url)
    expect_failure(p, str(tmp_path), "not a regular file")


@pytest.mark.parametrize("content", [b"\x7fELF\x02\x01\x01\x00\x00\x00binary\n",
                                     b"caf\xe9 latin-1\n", b"overlong \xc0\xaf\n"],
                         ids=["nul", "latin1", "overlong"])
def test_binary_file(glint_bin, fast_server, tmp_path, content):
    path = tmp_path / "blob.py"
    path.write_bytes(content)
    before = snapshot(path)
    p = edit(glint_bin, path, "anything", "--server", fast_server.base_url, "--yes")
    expect_failure(p, str(path), "not a text file")
    assert snapshot(path) == before


def test_file_too_large(glint_bin, fast_server, tmp_path):
    line = "x = 1  # padding to make the file large\n"
    text = line * (256 * 1024 // len(line) + 1)
    assert len(text) > 256 * 1024
    path = write(tmp_path / "big.py", text)
    before = snapshot(path)
    p = edit(glint_bin, path, "anything", "--server", fast_server.base_url, "--yes")
    expect_failure(p, path, f"{len(text)} bytes", f"{256 * 1024} bytes")
    assert snapshot(path) == before


def test_server_not_reachable(glint_bin, tmp_path):
    port = free_port()  # nothing listens there any more
    path = write(tmp_path / "calc.py", SMALL)
    before = snapshot(path)
    p = edit(glint_bin, path, "anything", "--server", f"http://127.0.0.1:{port}", "--yes",
             timeout=60)
    expect_failure(p, f"http://127.0.0.1:{port}", "glint serve")
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


def test_bad_server_urls(glint_bin, tmp_path):
    path = write(tmp_path / "calc.py", SMALL)
    for url, needle in [("https://127.0.0.1:1", "https://127.0.0.1:1"),
                        ("http://127.0.0.1:99999", "port"), ("http://:8080", "host")]:
        p = edit(glint_bin, path, "anything", "--server", url, timeout=60)
        expect_failure(p, needle)


def test_unknown_model_on_the_server(glint_bin, fast_server, tmp_path):
    path = write(tmp_path / "calc.py", SMALL)
    before = snapshot(path)
    p = edit(glint_bin, path, "anything", "--server", fast_server.base_url, "-m", "no-such-model",
             "--yes")
    # The server's own message (a 404 with a Content-Length body).
    assert p.returncode == 1
    assert "no-such-model" in p.stderr and "does not exist" in p.stderr, p.stderr
    assert "unchanged" in p.stderr
    assert snapshot(path) == before


def test_usage_errors(glint_bin, tmp_path):
    path = write(tmp_path / "calc.py", SMALL)
    p = edit(glint_bin, path)  # no instruction
    assert p.returncode != 0
    assert "instruction" in (p.stderr + p.stdout).lower()
    p = edit(glint_bin, path, "x", "-t", "0")
    assert p.returncode != 0


# --- speculation changes the speed, never the edit ---


@pytest.mark.parametrize("name,text,instruction", [
    pytest.param("inventory.py", INVENTORY, "Rename the method total_value to value",
                 id="30-lines"),
    pytest.param("calc.py", SMALL, CHANGING[0], id="2-lines"),
])
def test_speculation_on_and_off_give_the_same_edit(glint_bin, fast_server, nospec_server,
                                                   tmp_path, name, text, instruction):
    path = write(tmp_path / name, text)
    before = snapshot(path)
    runs = {}
    for label, server in (("spec", fast_server), ("plain", nospec_server)):
        printed = edit(glint_bin, path, instruction, "--server", server.base_url, "-m", "fast",
                       "--dry-run")
        js = edit(glint_bin, path, instruction, "--server", server.base_url, "-m", "fast",
                  "--dry-run", "--json")
        runs[label] = printed, summary(js)
    (p_spec, s_spec), (p_plain, s_plain) = runs["spec"], runs["plain"]
    assert p_spec.returncode == p_plain.returncode, (p_spec.stderr, p_plain.stderr)
    assert p_spec.stdout == p_plain.stdout
    assert s_spec["new_text"] == s_plain["new_text"]
    assert s_spec["finish_reason"] == s_plain["finish_reason"]
    assert s_spec["diff"] == s_plain["diff"]
    # The drafts came from the prediction (the old file) on one server only.
    assert s_plain["accepted_prediction_tokens"] == 0
    assert s_plain["rejected_prediction_tokens"] == 0
    assert s_spec["accepted_prediction_tokens"] > 0, s_spec
    assert "0 from the prediction" in p_plain.stderr
    assert snapshot(path) == before


# --- in-process ---


def test_in_process_fast_dry_run(glint_bin, tmp_path):
    if not os.path.exists(model_path("fast")):
        pytest.fail("model fast missing; run scripts/fetch-models fast")
    path = write(tmp_path / "calc.py", SMALL)
    before = snapshot(path)
    p = edit(glint_bin, path, CHANGING[0], "-m", "fast", "-t", "2", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "dry run" in p.stderr or "no changes" in p.stderr, p.stderr
    if "dry run" in p.stderr:
        apply_diff(SMALL, p.stdout)
    assert snapshot(path) == before
    assert leftovers(tmp_path) == []


def test_in_process_smart_renames_a_function(glint_bin, tmp_path):
    # The one test on the smart model: a real edit, written with --yes.
    if not os.path.exists(model_path("smart")):
        pytest.skip("model smart missing; run scripts/fetch-models smart")
    path = write(tmp_path / "calc.py", SMALL + "\n\nprint(add(2, 3))\n", mode=0o640)
    p = edit(glint_bin, path, "Rename the function add to plus, and its call", "-m", "smart",
             "-t", "2", "--yes")
    assert p.returncode == 0, p.stderr
    with open(path) as f:
        new = f.read()
    assert new == "def plus(a, b):\n    return a + b\n\n\nprint(plus(2, 3))\n", new
    assert apply_diff(SMALL + "\n\nprint(add(2, 3))\n", p.stdout) == new
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert leftovers(tmp_path) == []
