"""The browser playground served at / (web/, compiled into the binary), driven
in headless Chromium (Debian's chromium and chromium-driver) by Selenium:
load it offline, ask on the fast tier and watch the answer stream with its
readout, stop a long answer and go on, let glint-auto send a security question
to the smart tier, run an edit with a predicted output and accept its diff;
then, on servers of their own, give it an API key and watch it reconnect.
Each state is saved as a screenshot (in the test's tmp_path, and copied to
/tmp/playground-shots/)."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import GLINT_BIN, GlintServer, model_path, run_glint

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (requirements.txt)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (scripts/install-deps installs them)")

SHOTS_COPY = "/tmp/playground-shots"
CODE = "def add(a, b):\n    return a + b\n\n\nprint(add(2, 3))\n"


@pytest.fixture(scope="module")
def server(glint_bin):
    for tier in ("fast", "smart"):
        if not os.path.exists(model_path(tier)):
            pytest.fail(f"model {tier} missing; run scripts/fetch-models")
    s = GlintServer("--ctx", "2048", model=None)
    yield s
    assert s.stop() == 0, "".join(s.log)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """shot(name): a screenshot of the page now, numbered in order."""
    folder = tmp_path_factory.mktemp("playground-shots")
    shutil.rmtree(SHOTS_COPY, ignore_errors=True)
    os.makedirs(SHOTS_COPY, exist_ok=True)
    count = [0]

    def shot(driver, name):
        count[0] += 1
        path = folder / f"{count[0]:02d}-{name}.png"
        driver.save_screenshot(str(path))
        shutil.copy(path, SHOTS_COPY)
        return path

    return shot


@pytest.fixture(scope="module")
def page(server):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.get(server.base_url + "/")
    wait(driver, 30, lambda d: d.find_element(By.ID, "conn").get_attribute("data-state") == "ok")
    yield driver
    driver.quit()


def wait(driver, timeout, condition, message=""):
    # The page re-renders streamed text: an element found a moment ago may
    # be replaced before it is read; that is a retry, not a failure.
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=[StaleElementReferenceException]).until(condition,
                                                                                    message)


def by_id(driver, id_):
    return driver.find_element(By.ID, id_)


def last_answer(driver):
    return driver.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]


def answer_done(driver):
    return "streaming" not in last_answer(driver).get_attribute("class")


def set_max_tokens(driver, n):
    box = by_id(driver, "max-tokens")
    box.clear()
    box.send_keys(str(n))


def ask(driver, text, max_tokens):
    set_max_tokens(driver, max_tokens)
    wait(driver, 10, lambda d: not by_id(d, "stop").is_enabled(), "a turn is still running")
    n = len(driver.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
    by_id(driver, "prompt").send_keys(text, Keys.ENTER)
    wait(driver, 10, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg.assistant")) == n + 1)


def readout(driver):
    return {k: by_id(driver, f"stat-{k}").text for k in ("ttft", "rate", "tokens", "cached", "model")}


def severe_console_messages(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_static_files_are_served_with_a_strict_policy(server):
    for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"),
                        ("/style.css", "text/css"), ("/favicon.svg", "image/svg+xml")):
        with urllib.request.urlopen(server.base_url + path, timeout=10) as r:
            body = r.read()
            assert r.status == 200 and r.headers["content-type"].startswith(ctype), path
            assert r.headers["cache-control"] == "no-cache"
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "connect-src 'self';" in csp
            assert int(r.headers["content-length"]) == len(body) > 0
    req = urllib.request.Request(server.base_url + "/app.js", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and int(r.headers["content-length"]) > 1000
        assert r.read() == b""
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.base_url + "/nothing.js", timeout=10)
    assert e.value.code == 404


def test_the_page_loads_offline_without_errors(page, server, shots):
    origin = server.base_url
    # Nothing but this server: every resource the page loaded is ours.
    resources = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources, "the page loaded no resources"
    assert all(r.startswith(origin + "/") for r in resources), resources
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        for e in page.find_elements(By.TAG_NAME, tag):
            url = e.get_attribute(attr)
            assert url is None or url.startswith(origin + "/"), url
    assert severe_console_messages(page) == []
    assert by_id(page, "conn-text").text == "connected"
    # The tier switch lists the served tiers, fast first.
    tiers = page.find_elements(By.CSS_SELECTOR, "#tier button")
    assert [t.text for t in tiers] == ["fast", "smart", "auto"]
    assert all(t.is_enabled() for t in tiers)
    shots(page, "loaded")


def test_a_question_streams_with_a_readout(page, shots):
    page.find_element(By.CSS_SELECTOR, "#tier [data-tier=fast]").click()
    ask(page, "What does Python's enumerate() do? Answer in two sentences.", 48)
    # Text arrives while the turn is still running (streamed, not at once).
    wait(page, 60, lambda d: last_answer(d).find_element(By.CLASS_NAME, "body").text.strip()
         or answer_done(d))
    streamed_early = not answer_done(page)
    shots(page, "streaming")
    wait(page, 60, answer_done)
    shots(page, "answered")
    assert streamed_early, "the whole answer arrived before the first look"
    answer = last_answer(page)
    assert len(answer.find_element(By.CLASS_NAME, "body").text) > 20
    r = readout(page)
    assert re.fullmatch(r"\d+ ms|\d+\.\d\d s", r["ttft"]), r
    assert float(r["rate"]) > 0, r
    assert 0 < int(r["tokens"]) <= 48, r
    assert re.fullmatch(r"\d+ / \d+", r["cached"]), r
    assert r["model"] == "glint-fast"
    assert severe_console_messages(page) == []


def test_stop_ends_a_long_answer_and_the_session_goes_on(page, shots):
    ask(page, "Write a long essay about the history of programming languages, "
              "from Fortran to Rust, with many sections.", 1500)
    body = lambda d: last_answer(d).find_element(By.CLASS_NAME, "body").text  # noqa: E731
    wait(page, 60, lambda d: len(body(d)) > 200 or answer_done(d))
    assert not answer_done(page), "the long answer ended on its own"
    stop = by_id(page, "stop")
    assert stop.is_enabled() and "armed" in stop.get_attribute("class")
    shots(page, "long-answer-streaming")
    stop.click()
    wait(page, 10, answer_done)
    answer = last_answer(page)
    assert "status-cancelled" in answer.get_attribute("class")
    assert "stopped" in answer.find_element(By.CLASS_NAME, "meta").text
    length = len(body(page))
    time.sleep(1.0)
    assert len(body(page)) == length, "text kept coming after stop"
    assert not by_id(page, "stop").is_enabled()
    shots(page, "stopped")

    # The same session answers the next question, continuing the
    # conversation from the stopped response (its prompt is in the cache).
    ask(page, "Now name one sorting algorithm.", 24)
    wait(page, 60, answer_done)
    answer = last_answer(page)
    assert "status-completed" in answer.get_attribute("class") or \
        "status-incomplete" in answer.get_attribute("class")
    assert answer.find_element(By.CLASS_NAME, "body").text.strip()
    cached, total = map(int, readout(page)["cached"].split(" / "))
    assert cached > 50 and total > cached, (cached, total)
    shots(page, "answer-after-stop")


def test_auto_sends_a_security_question_to_smart(page, shots):
    page.find_element(By.CSS_SELECTOR, "#tier [data-tier=auto]").click()
    ask(page, "How do I stop SQL injection when I build a query from user input in Python?", 24)
    # Going to the other tier re-reads the conversation: a visible prefill.
    wait(page, 30, lambda d: by_id(d, "phase").get_attribute("data-phase") != "idle")
    phase = by_id(page, "phase").text
    shots(page, "auto-prefill")
    wait(page, 120, answer_done)
    assert phase.startswith("prefilling ~") or phase == "streaming", phase
    answer = last_answer(page)
    badge = answer.find_element(By.CLASS_NAME, "badge").text
    assert badge.startswith("auto → smart"), badge
    assert "security" in badge and "SQL" in badge, badge
    route = by_id(page, "route")
    assert route.is_displayed() and route.text == "auto → smart"
    assert readout(page)["model"] == "glint-smart"
    assert answer.find_element(By.CLASS_NAME, "body").text.strip()
    shots(page, "auto-routed-to-smart")


def test_an_edit_streams_and_is_accepted(page, shots):
    page.find_element(By.CSS_SELECTOR, "#tier [data-tier=smart]").click()
    # Paste the file (as a user would, with one input event).
    page.execute_script("""
        const code = document.getElementById('code');
        code.value = arguments[0];
        code.dispatchEvent(new Event('input'));""", CODE)
    file_name = by_id(page, "file-name")
    file_name.clear()
    file_name.send_keys("calc.py")
    by_id(page, "instruction").send_keys("rename the function add to sum")
    by_id(page, "edit").click()
    # The new text streams in over the old file (dimmed: the prediction).
    written = lambda d: d.find_elements(By.CSS_SELECTOR, "#preview .written")  # noqa: E731
    wait(page, 60, lambda d: (written(d) and written(d)[0].text) or
         by_id(d, "edit-result").get_attribute("data-state") != "running")
    shots(page, "edit-streaming")
    wait(page, 120, lambda d: by_id(d, "edit-result").get_attribute("data-state") != "running")
    assert by_id(page, "edit-result").get_attribute("data-state") == "review", \
        by_id(page, "edit-status").text
    diff = by_id(page, "diff").text
    assert re.search(r"-\s*def add\(a, b\):", diff) and re.search(r"\+\s*def sum\(a, b\):", diff), diff
    meta = by_id(page, "edit-meta").text
    m = re.search(r"prediction (\d+) accepted", meta)
    assert m and int(m.group(1)) > 0, meta
    shots(page, "edit-diff")
    by_id(page, "accept").click()
    wait(page, 5, lambda d: not by_id(d, "edit-result").is_displayed())
    code = page.execute_script("return document.getElementById('code').value")
    assert "def sum(a, b):" in code and "def add" not in code, code
    assert code.endswith("\n") and "return a + b" in code
    assert by_id(page, "edit-note").text == "Edit applied."
    shots(page, "edit-accepted")
    assert severe_console_messages(page) == []


def test_the_page_asks_for_a_key_and_sends_it_as_a_subprotocol(page, glint_bin, tmp_path, shots):
    keys_file = str(tmp_path / "keys.json")
    out = run_glint("keys", "new", "--name", "browser", "--file", keys_file).stdout
    key = re.findall(r"\bglint-[A-Za-z0-9_-]{20,}", out)[0]
    s = GlintServer("--keys", keys_file, "--ctx", "1024")
    try:
        page.get(s.base_url + "/")
        wait(page, 20, lambda d: by_id(d, "conn-text").text == "API key needed")
        assert by_id(page, "key-panel").is_displayed()
        shots(page, "key-needed")
        by_id(page, "key-input").send_keys("glint-wrong", Keys.ENTER)
        wait(page, 20, lambda d: by_id(d, "conn-text").text == "API key refused")
        key_input = by_id(page, "key-input")
        key_input.clear()
        key_input.send_keys(key, Keys.ENTER)
        wait(page, 20, lambda d: by_id(d, "conn").get_attribute("data-state") == "ok")
        # Kept for this tab only.
        assert page.execute_script("return sessionStorage.getItem('glint.key')") == key
        assert page.execute_script("return localStorage.length") == 0
        by_id(page, "key-button").click()  # fold the panel away
        ask(page, "Say hi.", 8)
        wait(page, 60, answer_done)
        assert last_answer(page).find_element(By.CLASS_NAME, "body").text.strip()
        shots(page, "key-accepted")
    finally:
        assert s.stop() == 0, "".join(s.log)


def serve_on(port):
    """`glint serve` (fast) on a fixed port, so that it can come back there."""
    proc = subprocess.Popen([GLINT_BIN, "serve", "--model", "fast", "--port", str(port),
                             "--threads", "2", "--ctx", "1024"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "serving on" in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc
    proc.wait(timeout=10)
    raise AssertionError("glint serve did not start")


def test_it_reconnects_and_resends_a_conversation_the_server_lost(page, glint_bin, shots):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = serve_on(port)
    try:
        page.get(f"http://127.0.0.1:{port}/")
        wait(page, 20, lambda d: by_id(d, "conn").get_attribute("data-state") == "ok")
        ask(page, "Say hi.", 8)
        wait(page, 60, answer_done)
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        wait(page, 10, lambda d: by_id(d, "conn-text").text.startswith("reconnecting"))
        shots(page, "reconnecting")
        # A new server knows nothing of the conversation: the page finds
        # out (previous_response_not_found) and sends all of it again.
        proc = serve_on(port)
        wait(page, 30, lambda d: by_id(d, "conn").get_attribute("data-state") == "ok")
        ask(page, "And now say bye.", 8)
        wait(page, 60, answer_done)
        answer = last_answer(page)
        assert answer.find_element(By.CLASS_NAME, "body").text.strip()
        assert "sent it again in full" in answer.find_element(By.CLASS_NAME, "meta").text
        shots(page, "reconnected")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
