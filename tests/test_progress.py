"""The CLI's progress bar: a log gets a line per stage and at most one per LOG_EVERY_S, a
terminal gets one redrawn line; `copilot index` and `copilot eval` are never silent."""

import io
import json
import os
import subprocess
import sys

import pytest

from copilot import progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_per_stage_and_one_per_interval(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    bar = progress.Bar(out)
    for i in range(1, 501):  # 500 steps, 0.1 s apart: 50 s in all
        clock[0] += 0.1
        bar.update("eval sample", i, 500)
    bar.update("eval cold", 1, 10)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("eval sample [") and "1/500" in lines[0]
    sample = [x for x in lines if x.startswith("eval sample")]
    # the first step, one line per LOG_EVERY_S (10 s) of the 50 s, and the last step
    assert len(sample) == 1 + int(50 / progress.LOG_EVERY_S) and "500/500 (100%" in sample[-1], sample
    assert lines[-1].startswith("eval cold [")


def test_a_terminal_gets_one_redrawn_line_per_stage():
    out = Tty()
    bar = progress.Bar(out)
    bar.index("embed", 0, 3)
    for i in range(1, 4):
        bar.index("embed", i, 3)
    bar.index("lexical", 1, 1)
    bar.close()
    text = out.getvalue()
    assert text.count("\n") == 2 and "\rindex: embed [" in text and "3/3 (100%" in text and "index: lexical" in text


@pytest.mark.integration
def test_copilot_index_shows_progress_on_stderr_and_json_on_stdout(tmp_path, small_kb):
    env = dict(os.environ, COPILOT_DATA_DIR=str(tmp_path / "data"), COPILOT_KNOWLEDGE_DIR=str(small_kb), COPILOT_SECONDARY_EMBEDDER="")
    p = subprocess.run([sys.executable, "-m", "copilot", "index", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["added"] == 4
    assert "index: embed:e5-onnx [" in p.stderr and "100%" in p.stderr


@pytest.mark.integration
def test_copilot_eval_shows_progress_on_stderr(tmp_path, small_kb):
    """`make eval` runs `copilot eval`: each case moves the bar; stdout stays the JSON result."""
    cases = tmp_path / "evals" / "cases.yaml"
    cases.parent.mkdir()
    cases.write_text(json.dumps({"cases": [
        {"id": "a", "kind": "fact", "lang": "ja", "ticket": "送料はいくらですか？", "facts": [["660円"]]},
        {"id": "b", "kind": "fact", "lang": "en", "ticket": "How do I cancel my subscription?", "facts": [["Cancel"]]},
    ]}, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    env = dict(os.environ, COPILOT_DATA_DIR=str(tmp_path / "data"), COPILOT_KNOWLEDGE_DIR=str(small_kb), COPILOT_SECONDARY_EMBEDDER="")
    run = lambda *a: subprocess.run([sys.executable, "-m", "copilot", *a, "--json"], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=300)
    assert run("index").returncode == 0
    p = run("eval", "--dataset", str(cases), "--out", str(tmp_path / "report"))
    assert p.returncode in (0, 1), p.stderr  # 1: a gate failure, still a result
    assert json.loads(p.stdout)["metrics"]["overall"]["n"] == 2
    assert f"eval {cases.as_posix()} [" in p.stderr and "2/2 (100%" in p.stderr, p.stderr[-500:]
