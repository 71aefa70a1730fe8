"""The sandbox and the answer extraction of bench/e2e/tiers.py: a program that
spins, sleeps, allocates 4 GiB or forks without end is stopped and counted as
a failure, and a model's answer becomes the program the benchmark tests."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench", "e2e"))
from tiers import build_program, run_sandboxed  # noqa: E402


def test_passing_and_failing_programs():
    assert run_sandboxed("print('ok')\n") == (True, None)
    passed, error = run_sandboxed("assert 1 == 2\n")
    assert not passed and error.startswith("exit 1") and "AssertionError" in error


@pytest.mark.parametrize("program,expected", [
    ("while True:\n    pass\n", "killed by SIGXCPU"),  # the CPU limit
    ("import time\ntime.sleep(60)\n", "timed out"),    # the wall-clock limit
    ("x = bytearray(4 << 30)\n", "MemoryError"),      # the address-space limit
    # The process limit, then whichever comes first: the parent retrying
    # fork spends its CPU second in about as long as the wall-clock limit.
    ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     ("timed out", "killed by SIGXCPU")),
    # The file size limit: Python ignores SIGXFSZ, so writing fails with EFBIG.
    ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", "exit"),
])
def test_runaway_programs_are_stopped(program, expected):
    t0 = time.monotonic()
    passed, error = run_sandboxed(program, timeout_s=2, cpu_s=1)
    accepted = expected if isinstance(expected, tuple) else (expected,)
    assert not passed and any(e in error for e in accepted), error
    assert time.monotonic() - t0 < 5


def test_children_do_not_outlive_the_program():
    # The program exits at once; its child would sleep a minute.
    t0 = time.monotonic()
    assert run_sandboxed("import os, time\nif os.fork() == 0:\n    time.sleep(60)\n",
                         timeout_s=5) == (True, None)
    assert time.monotonic() - t0 < 3


def test_stdin_is_closed_and_the_environment_stripped():
    assert run_sandboxed("import os, sys\nassert sys.stdin.read() == ''\n"
                         "assert set(os.environ) <= {'PATH', 'LC_ALL'}, os.environ\n") == (True, None)


PROBLEM = {"entry_point": "add", "task_id": "t",
           "prompt": "import math\n\n\ndef helper():\n    return 1\n\n\n"
                     "def add(a, b):\n    \"\"\"Adds.\"\"\"\n"}


@pytest.mark.parametrize("answer,body", [
    # A whole function: the prompt's imports and helpers, then the answer's code.
    ("Sure:\n```python\ndef add(a, b):\n    return a + b\n```\nThat adds.",
     "import math\n\n\ndef helper():\n    return 1\n\n\ndef add(a, b):\n    return a + b\n"),
    # A body: the prompt continued; an unindented body is indented.
    ("```python\n    return a + b\n```", PROBLEM["prompt"] + "    return a + b\n"),
    ("```\nreturn a + b\n```", PROBLEM["prompt"] + "    return a + b\n"),
    # A fence cut off by max_tokens, and a demo under __main__ dropped.
    ("```python\ndef add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    print(add(1, 2))",
     "import math\n\n\ndef helper():\n    return 1\n\n\ndef add(a, b):\n    return a + b\n\n"),
])
def test_build_program(answer, body):
    assert build_program(PROBLEM, answer) == body
