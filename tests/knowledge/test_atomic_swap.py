"""A re-index killed at its worst moment (all writes done, not yet published) leaves search
answering from the previous version, and the next re-index completes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(data, kb, **extra):
    env = dict(os.environ, COPILOT_DATA_DIR=str(data), COPILOT_KNOWLEDGE_DIR=str(kb), COPILOT_SECONDARY_EMBEDDER="")
    env.update(extra)
    return env


def _cli(env, *args):
    p = subprocess.run([sys.executable, "-m", "copilot", *args, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_killed_reindex_leaves_old_version_serving(tmp_path, small_kb):
    data = tmp_path / "data"
    env = _env(data, small_kb)
    v1 = _cli(env, "index")["version"]
    faq = small_kb / "faq" / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("660円", "990円"), encoding="utf-8")

    proc = subprocess.Popen(
        [sys.executable, "-m", "copilot", "index", "--json"],
        env=_env(data, small_kb, COPILOT_DEBUG_PAUSE_BEFORE_PUBLISH="120"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    deadline = time.time() + 240
    seen = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "before publishing" in line:
            break
        assert proc.poll() is None, seen
    else:
        proc.kill()
        pytest.fail("indexer never reached the publish step:\n" + seen)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert (data / "index" / "CURRENT").read_text().strip() == v1
    res = _cli(env, "search", "送料はいくらですか", "--k", "1")["results"][0]
    assert "660円" in res["text"] and "990円" not in res["text"]
    assert _cli(env, "status")["index_version"] == v1

    rep = _cli(env, "index")
    assert rep["version"] != v1 and rep["updated"] == 1
    res = _cli(env, "search", "送料はいくらですか", "--k", "1")["results"][0]
    assert "990円" in res["text"]
    leftovers = [p.name for p in (data / "index" / "versions").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
