"""The CLI contract: one JSON document on stdout with --json, exit codes 0 / 2 / 3."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def run(args, env=None):
    e = dict(os.environ, COPILOT_SECONDARY_EMBEDDER="", **(env or {}))
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, env=e, timeout=300)


def test_index_search_status_json(tmp_path, small_kb):
    common = ["--data-dir", str(tmp_path / "d"), "--knowledge-dir", str(small_kb), "--json"]
    p = run(["index", *common])
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert {"added", "updated", "removed", "unchanged", "chunks", "seconds"} <= rep.keys() and rep["added"] == 4

    # global options are accepted before the command as well
    p = run(["--json", "--data-dir", str(tmp_path / "d"), "search", "送料はいくら", "--k", "2"])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["query"] == "送料はいくら" and len(out["results"]) == 2
    r = out["results"][0]
    assert {"rank", "chunk_id", "source", "title", "text", "score"} <= r.keys() and r["rank"] == 1 and "660円" in r["text"]

    p = run(["status", *common])
    st = json.loads(p.stdout)
    assert st["chunks"] == rep["chunks"] and st["embedder"] == "e5-onnx" and st["index_version"] == rep["version"]


def test_human_output_without_json(tmp_path, small_kb):
    p = run(["index", "--data-dir", str(tmp_path / "d"), "--knowledge-dir", str(small_kb)])
    assert p.returncode == 0 and "indexed" in p.stdout and "4 added" in p.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["search", "x", "--k", "0"], "k must be between"),
        (["search", "x", "--lang", "fr"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
        (["index", "--source", "/nonexistent/kb"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, small_kb, args, needle):
    p = run([*args, "--data-dir", str(tmp_path / "d"), "--knowledge-dir", str(small_kb), "--json"])
    assert p.returncode == 2
    assert p.stdout == ""
    assert needle in p.stderr.strip().splitlines()[-1]


def test_search_before_index_is_a_runtime_failure(tmp_path):
    p = run(["search", "hello", "--data-dir", str(tmp_path / "empty"), "--json"])
    assert p.returncode == 3 and "run `copilot index`" in p.stderr


def test_bad_setting_is_reported_by_name(tmp_path):
    p = run(["status", "--data-dir", str(tmp_path)], env={"COPILOT_CHUNK_TOKENS": "abc"})
    assert p.returncode == 2 and "chunk_tokens" in p.stderr
    p = run(["status", "--data-dir", str(tmp_path)], env={"COPILOT_ESCALATE_BELOW": "2"})
    assert p.returncode == 2 and "escalate_below" in p.stderr


def test_unknown_embedder_is_a_config_error(tmp_path, small_kb):
    p = run(["index", "--data-dir", str(tmp_path / "d"), "--knowledge-dir", str(small_kb)], env={"COPILOT_EMBEDDER": "word2vec"})
    assert p.returncode == 2 and "unknown embedder 'word2vec'" in p.stderr


def test_eval_writes_reports_and_exits_1_when_the_gate_fails(tmp_path, small_kb):
    d = ["--data-dir", str(tmp_path / "d"), "--knowledge-dir", str(small_kb)]
    assert run(["index", *d]).returncode == 0
    ds = tmp_path / "q.yaml"
    ds.write_text(
        "- {id: a, kind: ja-paraphrase, lang: ja, question: '配送料っていくら?', expected: [s-002]}\n"
        "- {id: b, kind: en-to-ja, lang: en, question: 'Where is the moon?', expected: [nothing-answers-this]}\n",
        encoding="utf-8",
    )
    (tmp_path / "thresholds.yaml").write_text("minimums:\n  overall: {hit@3: 0.9}\n", encoding="utf-8")
    p = run(["eval", *d, "--dataset", str(ds), "--out", str(tmp_path / "rep"), "--json"])
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["passed"] is False
    assert out["gate_failures"] == ["overall hit@3 = 0.5 is below the minimum 0.9"]
    assert out["metrics"]["by_kind"]["paraphrase"]["hit@1"] == 1.0
    assert out["metrics"]["by_kind"]["cross-lingual"]["hit@3"] == 0.0
    assert (tmp_path / "rep" / "report.md").read_text(encoding="utf-8").count("Where is the moon?") == 1
    bad = run(["eval", *d, "--dataset", str(tmp_path / "missing.yaml")])
    assert bad.returncode == 2 and "not found" in bad.stderr


def test_serve_limits_blas_threads_before_numpy_loads():
    # OpenBLAS reads its thread count once, when numpy loads; `import copilot` loads numpy, so
    # `copilot serve` must set it there (in cli.main() it came too late: drafts ran a third slower)
    import os
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['copilot', ARG]; import copilot, threadpoolctl; "
            "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

    def blas_threads(arg: str) -> int:
        out = subprocess.run([sys.executable, "-c", code.replace("ARG", repr(arg))], env=env, capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    assert blas_threads("serve") == 1
    if (os.cpu_count() or 1) > 1:
        assert blas_threads("index") > 1  # batch work keeps every core: the check above can fail
