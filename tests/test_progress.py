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


def test_a_log_gets_a_line_per_stage_and_not_one_per_step(monkeypatch):
    out = io.StringIO()
    bar = progress.Bar(out)
    for i in range(1, 501):
        bar.update("eval sample", i, 500)
    bar.update("eval cold", 1, 10)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("eval sample [") and "1/500" in lines[0]
    assert any("500/500 (100%" in line for line in lines)
    assert lines[-1].startswith("eval cold [") and len(lines) <= 4  # not 501 lines


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
