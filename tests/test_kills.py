"""kill -9, many times, at random points (issue 7). Figures in docs/reliability.md.

1. A re-index killed anywhere: the index stays readable, search answers from one complete
   version (the old or the new, never a mix), the canary finds its passage, and the next
   re-index completes.
2. The API killed during a stream of approvals: every approval acknowledged with 2xx is in
   the store afterwards, and no draft is half-decided.

`RELIABILITY_KILLS` sets the number of kills (default 20).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import _free_port, wait_until_up

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]
KILLS = int(os.environ.get("RELIABILITY_KILLS", "20"))
ENTRIES = 24


def _env(data: Path, kb: Path) -> dict:
    return dict(os.environ, COPILOT_DATA_DIR=str(data), COPILOT_KNOWLEDGE_DIR=str(kb), COPILOT_SECONDARY_EMBEDDER="")


def _write_state(kb: Path, gen: int) -> None:
    """Generation `gen` of the knowledge: every entry carries the tag G<gen>, so a version made of
    two generations would show two tags."""
    lines = ["id,question,answer,lang"]
    for i in range(ENTRIES):
        lines.append(f"k-{i:03d},質問{i}について G{gen},回答{i}: 手順{i}を実行してください。世代タグ G{gen} です。,ja")
    lines.append(f"canary,送料はいくらですか G{gen},送料は全国一律660円です。世代タグ G{gen} です。,ja")
    (kb / "faq").mkdir(parents=True, exist_ok=True)
    (kb / "faq" / "faq.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


_VERIFY = r"""
import json, re, sys
from copilot import Copilot
c = Copilot()
info = c.check_index()                      # opens the served version and runs its canary query
snap = c.retriever.snapshot()
tags = sorted({m for ch in snap.chunks.values() for m in re.findall(r"G\d+", ch.text)})
hit = c.search("送料はいくらですか", 1)[0]
print(json.dumps({"version": info["index_version"], "tags": tags, "chunks": len(snap.chunks),
                  "top": hit.chunk.doc_id, "top_tag": sorted(set(re.findall(r"G\d+", hit.chunk.text)))}))
"""


def _verify(env: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", _VERIFY], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def _index(env: dict) -> dict:
    p = subprocess.run([sys.executable, "-m", "copilot", "index", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def test_reindex_killed_at_random_points(tmp_path):
    kb, data = tmp_path / "kb", tmp_path / "data"
    env = _env(data, kb)
    _write_state(kb, 0)
    t0 = time.time()
    _index(env)
    full = time.time() - t0  # process start, model load, embedding, writes, publish
    rng = random.Random(1207)
    outcomes = {"old": 0, "new": 0}
    log = []
    for gen in range(1, KILLS + 1):
        _write_state(kb, gen)
        proc = subprocess.Popen([sys.executable, "-m", "copilot", "index", "--json"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.2, full * 1.1)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        v = _verify(env)
        # one complete generation: the previous one (killed before publishing) or this one
        assert v["tags"] in ([f"G{gen - 1}"], [f"G{gen}"]), (gen, delay, v)
        assert v["chunks"] == ENTRIES + 1 and v["top"] == "canary" and v["top_tag"] == v["tags"]
        outcomes["old" if v["tags"] == [f"G{gen - 1}"] else "new"] += 1
        log.append(round(delay, 2))
        rep = _index(env)  # the next re-index completes
        assert rep["errors"] == []
        after = _verify(env)
        assert after["tags"] == [f"G{gen}"]
    leftovers = [p.name for p in (data / "index" / "versions").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
    print(f"\nreindex kills: {KILLS}, full run {full:.1f} s, kill delays {log}, served old {outcomes['old']} / new {outcomes['new']}")


def _seed_drafts(data: Path, n: int) -> list[str]:
    from copilot.config import Settings
    from copilot.domain import Draft
    from copilot.store import Store

    store = Store(Settings(data_dir=data).db_url)
    ids = []
    for i in range(n):
        d = Draft(draft_id=f"d-{i:04d}", language="ja", reply=f"下書き{i}です。", citations=[], escalate=False,
                  escalation_reason=None, confidence=0.9, prompt_name="extractive_reply", prompt_version="x", drafter="test",
                  created_at=f"2026-12-01T00:{i // 60:02d}:{i % 60:02d}Z")
        store.save_draft(d, actor="seed")
        ids.append(d.draft_id)
    store.close()
    return ids


def test_api_killed_during_approvals(tmp_path, small_kb):
    data = tmp_path / "data"
    env = _env(data, small_kb)
    _index(env)
    key = json.loads(subprocess.run([sys.executable, "-m", "copilot", "keys", "create", "--role", "agent", "--name", "k", "--json"],
                                    env=env, capture_output=True, text=True, check=True).stdout)["key"]
    per_round = 40
    ids = _seed_drafts(data, per_round * KILLS)
    acked: dict[str, str] = {}
    rng = random.Random(99)
    for rnd in range(KILLS):
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "copilot", "serve", "--port", str(port), "--no-ui"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/healthz", proc, "API did not start")
        todo = ids[rnd * per_round:(rnd + 1) * per_round]
        done = threading.Event()

        def stream(todo=todo, url=url):
            with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
                for i, draft_id in enumerate(todo):
                    text = f"承認済み {draft_id} 版{i}"
                    try:
                        r = client.post(f"{url}/v1/drafts/{draft_id}/approve", json={"final_text": text})
                    except httpx.HTTPError:
                        break  # the server died under us: not acknowledged
                    if 200 <= r.status_code < 300:
                        acked[draft_id] = text
            done.set()

        th = threading.Thread(target=stream)
        th.start()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        th.join(timeout=30)

    from copilot.config import Settings
    from copilot.store import Store

    store = Store(Settings(data_dir=data).db_url)
    decided = 0
    for draft_id in ids:
        d = store.get_draft(draft_id)
        if draft_id in acked:
            assert d.status == "approved" and d.final_text == acked[draft_id], draft_id
        # never half-decided: approved rows carry their text, decider and time, and an audit entry
        if d.status == "approved":
            decided += 1
            assert d.final_text and d.decided_by and d.decided_at
            assert [e for e in store.audit_log(draft_id) if e["action"] == "approve"], draft_id
        else:
            assert d.status == "pending" and d.final_text is None and d.decided_at is None
    assert acked, "no approval was acknowledged: the kills came too early to test anything"
    print(f"\napproval kills: {KILLS}, acknowledged {len(acked)}, approved in store {decided} (an approval may commit "
          "and the server die before answering), lost 0")
