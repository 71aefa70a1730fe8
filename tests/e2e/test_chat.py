"""glint chat end to end: the interactive REPL driven in tmux (send-keys /
capture-pane) against a running server, piped input and output, and the
errors a user sees first."""
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import GLINT_BIN, GlintServer

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (scripts/install-deps installs it)")


@pytest.fixture(scope="module")
def server(glint_bin):
    s = GlintServer("--ctx", "2048", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log)


class Tmux:
    """One glint chat in a detached tmux session."""

    def __init__(self, *args, home):
        self.name = "glint-" + uuid.uuid4().hex[:8]
        env = f"HOME={home} TERM=xterm-256color"
        cmd = f"env {env} {GLINT_BIN} chat {' '.join(args)}; sleep 30"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "50",
                        cmd], check=True)

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-2000", "-t", self.name],
                              capture_output=True, text=True).stdout

    def send(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def line(self, text):
        self.send("-l", text)
        self.send("Enter")

    def wait_for(self, pattern, timeout=120, count=1):
        """Waits until the screen holds `pattern` (a regex) `count` times."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.screen()
            if len(re.findall(pattern, screen)) >= count:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} x{count} not on screen after {timeout} s:\n" + self.screen())

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def chat(server, tmp_path):
    sessions = []

    def start(*args):
        t = Tmux("--server", server.base_url, *args, home=tmp_path)
        sessions.append(t)
        t.wait_for(r"glint chat on http://")
        return t

    yield start
    for t in sessions:
        t.close()


STATUS = r"\[glint-(fast|smart)[^\]]*tok/s[^\]]*cached"


def test_two_turns_share_the_session(chat):
    t = chat("-m", "smart", "-n", "24")
    t.line("Remember the number 417. Reply with just OK.")
    t.wait_for(STATUS)
    t.line("Which number did I ask you to remember? Answer with the number only.")
    screen = t.wait_for(STATUS, count=2)
    answers = screen.split("Answer with the number only.")[-1]
    assert "417" in answers, screen
    # The second turn found the first in the session's cache.
    cached = [int(m) for m in re.findall(r"(\d+) of \d+ input tokens cached", screen)]
    assert len(cached) == 2 and cached[1] > 0, screen


def test_ctrl_c_stops_an_answer_and_the_conversation_goes_on(chat):
    # The smart model: slow enough that the answer is still running (the
    # fast one, with prompt-lookup drafts, can finish a repetitive story
    # in a few seconds).
    t = chat("-m", "smart", "-n", "3000")
    t.line("Write a very long story about a dragon who learns to program.")
    # Some of the answer is on screen, then Ctrl-C.
    t.wait_for(r"program\.\n.*\w+ \w+ \w+ \w+", timeout=120)
    t.send("C-c")
    screen = t.wait_for(r"\[interrupted\]", timeout=30)
    assert re.search(r"interrupted\]", screen)
    t.line("Say OK.")
    screen = t.wait_for(STATUS, count=2, timeout=60)
    assert screen.count("> Say OK.") == 1
    # Ctrl-C at the prompt drops the line; Ctrl-D quits.
    t.send("-l", "half a question")
    t.send("C-c")
    t.send("C-d")
    t.wait_for(r"\$ |\n\s*$", timeout=10)


def test_tier_commands_switch_the_model(chat):
    t = chat("-m", "fast", "-n", "8")
    t.line("Say hi.")
    t.wait_for(r"\[glint-fast")
    t.line("/smart")
    t.wait_for(r"next answers: glint-smart")
    t.line("Say hi again.")
    screen = t.wait_for(r"\[glint-smart")
    t.line("/auto")
    t.line("Fix the SQL injection in: query = 'SELECT * FROM t WHERE id=' + user_id")
    screen = t.wait_for(r"\[glint-smart \(auto: security-sensitive code", timeout=180)
    t.line("/stats")
    screen = t.wait_for(r"3 turns on http://")
    t.line("/help")
    t.wait_for(r"/edit FILE INSTRUCTION")


def test_edit_command_shows_the_diff_and_writes_when_confirmed(chat, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text("def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n")
    t = chat("-m", "smart")
    t.line(f"/edit {path} Rename the function add to plus")
    t.wait_for(r"Write these changes to .*\? \[y/N\]", timeout=180)
    screen = t.screen()
    assert "+++ " in screen and "(edited)" in screen
    t.line("y")
    t.wait_for(r"wrote '")
    text = path.read_text()
    assert "def plus(a, b):" in text and "print(plus(1, 2))" in text, text


def test_save_and_load_continue_a_conversation(chat, tmp_path):
    saved = tmp_path / "conv.json"
    t = chat("-m", "smart", "-n", "16")
    t.line("My cat is called Miso. Reply with just OK.")
    t.wait_for(STATUS)
    t.line(f"/save {saved}")
    t.wait_for(r"saved 2 messages")
    t.line("/clear")
    t.wait_for(r"new conversation")
    t.line(f"/load {saved}")
    t.wait_for(r"loaded 2 messages")
    t.line("What is my cat called? One word.")
    screen = t.wait_for(STATUS, count=2, timeout=180)
    assert "Miso" in screen.split("One word.")[-1], screen


def test_piped_input_prints_just_the_answer(server):
    proc = subprocess.run([GLINT_BIN, "chat", "--server", server.base_url, "-m", "fast", "-n",
                           "12"], input="Say hello.\n", capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), proc.stderr
    assert "\033[" not in proc.stdout and "tok/s" not in proc.stdout


def test_piped_input_with_an_in_process_engine(glint_bin):
    proc = subprocess.run([GLINT_BIN, "chat", "-m", "fast", "-n", "8"], input="Say hello.",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_errors_say_what_to_do(glint_bin):
    proc = subprocess.run([GLINT_BIN, "chat", "--server", "http://127.0.0.1:1"], input="hi",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "http://127.0.0.1:1" in proc.stderr and "glint serve" in proc.stderr, proc.stderr
    proc = subprocess.run([GLINT_BIN, "chat", "--server", "http://127.0.0.1:1"], input="",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "no question" in proc.stderr


def test_a_server_with_keys_needs_the_key(glint_bin, tmp_path):
    keys = tmp_path / "keys.json"
    out = subprocess.run([GLINT_BIN, "keys", "new", "--name", "me", "--file", str(keys)],
                         capture_output=True, text=True, check=True).stdout
    key = re.search(r"glint-[A-Za-z0-9_-]{20,}", out).group(0)
    s = GlintServer("--keys", str(keys))
    try:
        proc = subprocess.run([GLINT_BIN, "chat", "--server", s.base_url, "-m", "fast", "-n", "4"],
                              input="hi", capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and "401" in proc.stderr, proc.stderr
        env = dict(os.environ, GLINT_API_KEY=key)
        proc = subprocess.run([GLINT_BIN, "chat", "--server", s.base_url, "-m", "fast", "-n", "4"],
                              input="hi", capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
    finally:
        assert s.stop() == 0
