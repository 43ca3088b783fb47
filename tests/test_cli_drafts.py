"""The draft, summarize, drafts and customers commands, each in a fresh process (= restart)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run(data, kb, *args, stdin=None):
    env = dict(os.environ, COPILOT_DATA_DIR=str(data), COPILOT_KNOWLEDGE_DIR=str(kb), COPILOT_SECONDARY_EMBEDDER="")
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, env=env, timeout=300, input=stdin)


def js(p):
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_draft_approve_reject_export_across_restarts(tmp_path, small_kb):
    from conftest import ROOT

    d = tmp_path / "data"
    assert js(run(d, small_kb, "index", "--json"))["added"] == 4
    imp = js(run(d, small_kb, "customers", "import", str(ROOT / "samples" / "customers.jsonl"), "--json"))
    assert imp["customers"] >= 20 and imp["errors"] == []
    csv = js(run(d, small_kb, "customers", "import", str(ROOT / "samples" / "customers.csv"), "--json"))
    assert csv["customers"] == 3

    draft = js(run(d, small_kb, "draft", "--text", "送料はいくらですか？", "--customer", "C-1001", "--json"))
    keys = {"draft_id", "language", "reply", "citations", "escalate", "escalation_reason", "confidence", "prompt_version", "drafter"}
    assert keys <= draft.keys() and draft["language"] == "ja" and "660円" in draft["reply"]
    assert {"n", "chunk_id", "source", "text"} <= draft["citations"][0].keys()

    from_stdin = js(run(d, small_kb, "draft", "--file", "-", "--json", stdin="How do I cancel my subscription?"))
    assert from_stdin["language"] == "en"

    final = draft["reply"] + "\n担当：佐藤"
    ok = js(run(d, small_kb, "drafts", "approve", draft["draft_id"], "--final-text", final, "--agent", "sato", "--json"))
    assert ok["status"] == "approved" and ok["decided_by"] == "sato"
    shown = js(run(d, small_kb, "drafts", "show", draft["draft_id"], "--json"))
    assert shown["final_text"] == final and "+担当：佐藤" in shown["diff"]

    bad = run(d, small_kb, "drafts", "reject", draft["draft_id"], "--reason", "wrong", "--json")
    assert bad.returncode == 2 and "cannot be rejected" in bad.stderr and bad.stdout == ""

    js(run(d, small_kb, "drafts", "reject", from_stdin["draft_id"], "--reason", "knowledge_gap", "--note", "no article", "--json"))
    listed = js(run(d, small_kb, "drafts", "list", "--status", "rejected", "--json"))["drafts"]
    assert [x["draft_id"] for x in listed] == [from_stdin["draft_id"]]

    out = js(run(d, small_kb, "drafts", "export", "--out", str(tmp_path / "fb"), "--json"))
    assert (out["candidate_cases"], out["knowledge_gaps"]) == (1, 1)
    assert "How do I cancel" in (tmp_path / "fb" / "knowledge_gaps.md").read_text(encoding="utf-8")

    s = js(run(d, small_kb, "summarize", "C-1001", "--json"))
    assert {"customer_id", "summary", "open_issues", "timeline", "citations"} <= s.keys() and s["customer_id"] == "C-1001"
    missing = run(d, small_kb, "summarize", "C-404", "--json")
    assert missing.returncode == 2 and "C-404" in missing.stderr


def test_bad_import_files(tmp_path, small_kb):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "C-1", "name": "A", "tickets": []}\nnot json\n{"name": "no id"}\n', encoding="utf-8")
    out = js(run(tmp_path / "d", small_kb, "customers", "import", str(bad), "--json"))
    assert out["customers"] == 1 and [e["path"] for e in out["errors"]] == ["c.jsonl:2", "c.jsonl:3"]
    p = run(tmp_path / "d", small_kb, "customers", "import", str(tmp_path / "x.txt"))
    assert p.returncode == 2
