"""bench/e2e/load.py, shrunk to a few seconds so that it cannot rot: it starts
its own server, runs a little load with every kind of fault, and its JSON
says the well-behaved clients saw no error and the faults were injected."""
import json
import os
import subprocess
import sys

from conftest import GLINT_BIN, ROOT, model_path

SCRIPT = os.path.join(ROOT, "bench", "e2e", "load.py")


def test_load_bench_small(glint_bin):
    assert os.path.exists(model_path("fast")), "run scripts/fetch-models fast"
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--json", "--duration", "20", "--ws-clients", "4",
         "--http-clients", "2", "--vanishing", "50", "--burst", "50", "--malformed", "4",
         "--warmup-turns", "2", "--warmup-http", "2"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "GLINT_BIN": GLINT_BIN})
    assert proc.stdout.strip(), proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["turns"] > 0 and result["errors"] == 0, proc.stdout
    assert result["faults_injected"] > 0
    # Every kind of fault ran, and the server gave each its expected answer.
    assert set(result["faults"]) == {"vanishing", "slow_reader", "slowloris", "oversized_ws_message",
                                     "oversized_http_body", "invalid_utf8", "nested_json", "burst"}
    assert result["fault_errors"] == 0, proc.stdout
    assert result["idle_after_load"] and not result["server_died"]
    assert result["server_exit_code"] == 0
    for key in ("ttft_p50_ms", "ttft_p99_ms", "itl_p99_ms", "rss_baseline_mb", "rss_peak_mb",
                "rss_after_mb", "duration_s"):
        assert result[key] is not None and result[key] > 0, key
    # The median gap between tokens can be (next to) nothing: an accepted
    # draft's tokens are sampled in one step and arrive together.
    assert result["itl_p50_ms"] is not None and result["itl_p50_ms"] >= 0
