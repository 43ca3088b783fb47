"""Faults the index must survive: a full disk during a re-index, and a damaged vector file."""

import errno
import json
import os
import subprocess
import sys

import pytest

from copilot.errors import IndexUnavailable, IndexWriteError

pytestmark = [pytest.mark.integration]


def test_disk_full_during_reindex_is_a_clear_error_and_the_old_version_serves(counting_copilot, small_kb, monkeypatch):
    from copilot.adapters import bm25

    c = counting_copilot
    v1 = c.index().version
    faq = small_kb / "faq" / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("660円", "990円"), encoding="utf-8")

    real_save = bm25.Bm25Index.save

    def full_disk(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(bm25.Bm25Index, "save", full_disk)
    with pytest.raises(IndexWriteError) as info:
        c.index()
    msg = str(info.value)
    assert "No space left on device" in msg and f"version {v1} is still served" in msg
    assert c.layout.current_version() == v1
    hit = c.search("送料はいくらですか", 1)[0]
    assert "660円" in hit.chunk.text

    monkeypatch.setattr(bm25.Bm25Index, "save", real_save)
    rep = c.index()
    assert rep.version != v1 and rep.updated == 1
    assert "990円" in c.search("送料はいくらですか", 1)[0].chunk.text
    assert not [p for p in (c.layout.versions).iterdir() if p.name.startswith(".tmp")]


def test_other_os_errors_are_not_disguised_as_write_failures(counting_copilot, monkeypatch):
    from copilot.adapters import bm25

    c = counting_copilot

    def denied(self, path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(bm25.Bm25Index, "save", denied)
    with pytest.raises(PermissionError):
        c.index()


def _check(env) -> subprocess.CompletedProcess:
    code = "from copilot import Copilot; import json; print(json.dumps(Copilot().check_index()))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_damaged_vector_store_is_reported_at_start_up_and_rebuilt_by_a_full_index(tmp_path, small_kb):
    data = tmp_path / "data"
    env = dict(os.environ, COPILOT_DATA_DIR=str(data), COPILOT_KNOWLEDGE_DIR=str(small_kb), COPILOT_SECONDARY_EMBEDDER="")
    run = lambda *a: subprocess.run([sys.executable, "-m", "copilot", *a, "--json"], env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    assert run("index").returncode == 0
    ok = _check(env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["canary"] == "ok"

    store = data / "index" / "chroma" / "chroma.sqlite3"
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 2])  # a truncated file
    bad = _check(env)
    assert bad.returncode != 0
    assert "cannot be opened" in bad.stderr and "copilot index --full" in bad.stderr
    # searches still answer from the vectors published with the version (they never read the
    # store); the readiness check above is what reports the damage
    search = run("search", "送料はいくらですか")
    assert search.returncode == 0 and "660円" in json.loads(search.stdout)["results"][0]["text"]

    rep = run("index", "--full")
    assert rep.returncode == 0, rep.stderr
    assert "moved it to" in rep.stderr
    assert [p.name for p in (data / "index").iterdir() if p.name.startswith("chroma.damaged-")]  # kept for inspection
    again = _check(env)
    assert again.returncode == 0 and json.loads(again.stdout)["canary"] == "ok"
    hit = json.loads(run("search", "送料はいくらですか", "--k", "1").stdout)["results"][0]
    assert "660円" in hit["text"]


def test_a_wiped_vector_store_is_noticed_by_a_plain_reindex(counting_copilot):
    """Collections that lost their vectors are rebuilt even when no document changed."""
    c = counting_copilot
    c.index()
    snap = c.retriever.snapshot()
    for col in snap.collections.values():
        c.chroma.delete_collection(col.name)
    before = c.counter.documents_embedded
    c.index()
    assert c.counter.documents_embedded == before  # the vectors come back from the embedding cache
    fresh = c.retriever.snapshot()
    assert all(col.count() == len(fresh.active) for col in fresh.collections.values())
    assert c.check_index()["canary"] == "ok"


def test_canary_failure_is_index_unavailable(counting_copilot):
    """The canary is the one check that catches silent bad recall: give it a vector that
    cannot find its own chunk and it must refuse to serve."""
    import numpy as np

    from copilot.knowledge.versions import canary_check

    c = counting_copilot
    c.index()
    snap = c.retriever.snapshot()
    col = snap.collections[snap.manifest["primary"]]
    canary = snap.manifest["canary"]
    wrong = -np.asarray(canary["vector"], dtype=np.float32)  # points away from the canary chunk
    with pytest.raises(IndexUnavailable, match="copilot index --full"):
        canary_check(col, canary["chunk_id"], wrong, snap.active)
