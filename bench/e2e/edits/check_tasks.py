#!/usr/bin/env python3
"""Sanity checks for the code-edit benchmark tasks under ./tasks.

For every task directory this verifies that:
  * it holds exactly original.<ext>, expected.<ext> and task.json;
  * task.json has the required keys and a known language;
  * both sources are 50..400 lines and under 10,000 bytes;
  * original and expected differ (non-empty diff);
  * Python sources compile (py_compile, in a temp dir);
  * other sources have balanced (), [] and {} outside strings/comments.

With --parse it also runs cheap, parse-only external checkers when they are
installed (gofmt -e, rustfmt --check, node --check). Nothing is built.

Exit status is 1 if any task fails.
"""

import argparse
import difflib
import json
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = HERE / "tasks"

LANG_EXTS = {
    "python": {"py"},
    "cpp": {"cpp", "cc", "h", "hpp"},
    "javascript": {"js", "mjs", "cjs"},
    "typescript": {"ts"},
    "go": {"go"},
    "rust": {"rs"},
}
REQUIRED_KEYS = ("instruction", "language", "kind", "description")
MIN_LINES, MAX_LINES, MAX_BYTES = 50, 400, 10_000

_CHAR_LIT = re.compile(r"'(?:\\.|[^\\'\n])'")
_PAIRS = {")": "(", "]": "[", "}": "{"}


def strip_code(src: str, language: str) -> str:
    """Blank out comments and string/char literals (roughly) for bracket checks."""
    out = []
    i, n = 0, len(src)
    quotes = {'"', "`"} if language in ("rust", "go", "cpp") else {'"', "'", "`"}
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j == -1 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j == -1 else j + 2
            continue
        if c == "'" and "'" not in quotes:
            m = _CHAR_LIT.match(src, i)
            if m:  # char literal; otherwise a Rust lifetime, keep going
                i = m.end()
                continue
        if c in quotes:
            escapes = not (c == "`" and language == "go")  # Go raw strings
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if escapes and src[j] == "\\" else 1
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def bracket_error(src: str, language: str):
    stack = []
    for ch in strip_code(src, language):
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS:
            if not stack or stack[-1] != _PAIRS[ch]:
                return f"unbalanced '{ch}'"
            stack.pop()
    return f"unclosed '{stack[-1]}'" if stack else None


def parse_check(path: Path, language: str):
    """Run an installed parse-only checker; returns an error string or None."""
    cmd = None
    if language == "go" and shutil.which("gofmt"):
        cmd = ["gofmt", "-e", "-l", str(path)]
    elif language == "rust" and shutil.which("rustfmt"):
        cmd = ["rustfmt", "--edition", "2021", "--check", str(path)]
    elif language == "javascript" and shutil.which("node"):
        cmd = ["node", "--check", str(path)]
    if cmd is None:
        return None
    res = subprocess.run(cmd, capture_output=True, text=True)
    # gofmt -l prints the file name when formatting differs; treat as failure.
    if res.returncode != 0 or (language == "go" and res.stdout.strip()):
        return f"{cmd[0]}: {(res.stderr or res.stdout).strip()[:200]}"
    return None


def check_task(d: Path, do_parse: bool):
    errors = []
    files = sorted(p.name for p in d.iterdir())
    originals = [f for f in files if f.startswith("original.")]
    expecteds = [f for f in files if f.startswith("expected.")]
    if len(files) != 3 or len(originals) != 1 or len(expecteds) != 1 \
            or "task.json" not in files:
        return {"task": d.name, "errors": [f"unexpected files: {files}"]}
    ext = originals[0].split(".", 1)[1]
    if expecteds[0] != f"expected.{ext}":
        errors.append(f"extension mismatch: {originals[0]} vs {expecteds[0]}")

    try:
        meta = json.loads((d / "task.json").read_text())
    except json.JSONDecodeError as exc:
        return {"task": d.name, "errors": [f"task.json: {exc}"]}
    for key in REQUIRED_KEYS:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            errors.append(f"task.json: missing or empty {key!r}")
    language = meta.get("language", "")
    if language not in LANG_EXTS:
        errors.append(f"unknown language {language!r}")
    elif ext not in LANG_EXTS[language]:
        errors.append(f".{ext} does not match language {language}")

    orig_path, exp_path = d / originals[0], d / expecteds[0]
    orig, exp = orig_path.read_text(), exp_path.read_text()
    for name, text, path in (("original", orig, orig_path),
                             ("expected", exp, exp_path)):
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if not MIN_LINES <= lines <= MAX_LINES:
            errors.append(f"{name}: {lines} lines outside {MIN_LINES}..{MAX_LINES}")
        if path.stat().st_size >= MAX_BYTES:
            errors.append(f"{name}: {path.stat().st_size} bytes >= {MAX_BYTES}")
        if not text.endswith("\n"):
            errors.append(f"{name}: no trailing newline")
    if orig == exp:
        errors.append("original and expected are identical")

    diff = [l for l in difflib.unified_diff(orig.splitlines(), exp.splitlines(),
                                            lineterm="", n=0)
            if not l.startswith(("---", "+++", "@@"))]
    added = sum(1 for l in diff if l.startswith("+"))
    removed = sum(1 for l in diff if l.startswith("-"))
    if not diff:
        errors.append("empty diff")

    if language == "python":
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (("original", orig), ("expected", exp)):
                src = Path(tmp) / f"{name}.py"
                src.write_text(text)
                try:
                    py_compile.compile(str(src), cfile=str(Path(tmp) / f"{name}.pyc"),
                                       doraise=True)
                except py_compile.PyCompileError as exc:
                    errors.append(f"{name}: py_compile failed: {exc.msg.strip()[:200]}")
    elif language in LANG_EXTS:
        for name, text, path in (("original", orig, orig_path),
                                 ("expected", exp, exp_path)):
            err = bracket_error(text, language)
            if err:
                errors.append(f"{name}: {err}")
            if do_parse:
                err = parse_check(path, language)
                if err:
                    errors.append(f"{name}: {err}")

    total = max(1, len(orig.splitlines()))
    similarity = difflib.SequenceMatcher(None, orig.splitlines(),
                                         exp.splitlines()).ratio()
    return {
        "task": d.name,
        "language": language,
        "kind": meta.get("kind", ""),
        "lines": len(orig.splitlines()),
        "bytes": orig_path.stat().st_size,
        "added": added,
        "removed": removed,
        "unchanged_pct": 100.0 * (total - removed) / total,
        "similarity": similarity,
        "errors": errors,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parse", action="store_true",
                    help="also run parse-only external checkers if installed")
    args = ap.parse_args()

    dirs = sorted(p for p in TASKS.iterdir() if p.is_dir())
    results = [check_task(d, args.parse) for d in dirs]

    print(f"{'task':<34} {'language':<11} {'kind':<22} {'lines':>5} "
          f"{'bytes':>6} {'+':>3} {'-':>3} {'same%':>6}  status")
    failed = 0
    for r in results:
        status = "ok" if not r["errors"] else "FAIL: " + "; ".join(r["errors"])
        failed += bool(r["errors"])
        if "lines" not in r:
            print(f"{r['task']:<34} {status}")
            continue
        print(f"{r['task']:<34} {r['language']:<11} {r['kind']:<22} "
              f"{r['lines']:>5} {r['bytes']:>6} {r['added']:>3} {r['removed']:>3} "
              f"{r['unchanged_pct']:>6.1f}  {status}")

    by_lang, by_kind = {}, {}
    for r in results:
        by_lang[r.get("language", "?")] = by_lang.get(r.get("language", "?"), 0) + 1
        by_kind[r.get("kind", "?")] = by_kind.get(r.get("kind", "?"), 0) + 1
    print()
    print(f"{len(results)} tasks, {failed} failed")
    print("by language:", ", ".join(f"{k}={v}" for k, v in sorted(by_lang.items())))
    print("by kind:    ", ", ".join(f"{k}={v}" for k, v in sorted(by_kind.items())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
