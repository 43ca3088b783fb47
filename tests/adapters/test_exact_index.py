"""The in-memory exact vector search a small index version is served from, against Chroma's
own query over the same collection, and the fallback to Chroma above the size limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot.adapters.chroma import ExactVectorIndex

pytestmark = [pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def test_exact_search_ranks_like_chroma_on_the_sample(sample_copilot):
    from copilot.evals.retrieval import load_questions

    snap = sample_copilot.retriever.snapshot()
    assert set(snap.exact) == set(snap.collections)  # 170 chunks: served from memory
    questions = [q.question for q in load_questions(ROOT / "evals" / "retrieval" / "heldout.yaml")]
    for name, exact in snap.exact.items():
        emb = sample_copilot.retriever.embedders[name]
        for q in questions:
            vec = emb.embed_query(q)
            ours = exact.query(vec, 10)
            chroma = snap.collections[name].query(vec, 10)
            assert [c for c, _ in ours[:5]] == [c for c, _ in chroma[:5]], q
            assert np.allclose([s for _, s in ours], [s for _, s in chroma], atol=1e-4)


def test_mask_and_sizes():
    ids = ["a", "b", "c", "d"]
    m = np.eye(4, dtype=np.float32)
    idx = ExactVectorIndex(ids, m)
    q = np.array([0.9, 0.1, 0.5, 0.0], dtype=np.float32)
    assert [c for c, _ in idx.query(q, 3)] == ["a", "c", "b"]
    assert [c for c, _ in idx.query(q, 10, mask=np.array([False, True, True, False]))] == ["c", "b"]
    assert idx.query(q, 2, mask=np.zeros(4, dtype=bool)) == []
    assert ExactVectorIndex([], np.zeros((0, 4), dtype=np.float32)).query(q, 3) == []


def test_filters_apply_to_the_exact_search(sample_copilot):
    hits = sample_copilot.search("How do I reset my password?", k=5, lang="en")
    assert hits and all(h.chunk.lang == "en" for h in hits)
    faq = sample_copilot.search("パスワードを忘れた", k=8, doc_types=["manual"])
    assert faq and all(h.chunk.doc_type == "manual" for h in faq)


def test_large_versions_are_searched_in_chroma(tmp_path, small_kb, monkeypatch):
    from conftest import make_settings

    from copilot import Copilot, retrieval
    from copilot.knowledge import indexer

    monkeypatch.setattr(retrieval, "EXACT_MAX", 2)
    monkeypatch.setattr(indexer, "EXACT_MAX", 2)
    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder=""))
    c.index()
    snap = c.retriever.snapshot()
    assert snap.exact == {} and len(snap.chunks) > 2 and not snap.manifest["vectors"]
    assert c.search("送料はいくらですか", k=1)[0].chunk.doc_id == "s-002"
