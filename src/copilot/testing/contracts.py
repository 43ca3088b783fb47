"""The contract of each port (copilot.ports), as checks any adapter must pass. tests/adapters/test_ports.py
runs them against every adapter this project ships; a new adapter (another vector store, another
chat server) is done when it passes the same checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..ports import ChatModel, Drafter, Embedder, ExactIndex, LexicalIndex, VectorIndex, VectorStore


def _unit(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def check_embedder(e) -> None:
    assert isinstance(e, Embedder) and e.name and e.dim > 0
    q = e.embed_query("How do I reset my password?")
    docs = e.embed_documents(["Reset your password from the login screen.", "Shipping is free over 5,500 yen."])
    assert q.shape == (e.dim,) and docs.shape == (2, e.dim) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3), "vectors are unit length"
    assert e.embed_documents([]).shape == (0, e.dim)
    assert np.allclose(e.embed_documents(["same text"]), e.embed_documents(["same text"]), atol=1e-5), "deterministic"
    s = e.embed_documents(["How to reset a forgotten password", "Delivery takes one to three days"]) @ e.embed_query("I forgot my password")
    assert s[0] > s[1], "related text scores higher"


def check_vector_index(ix) -> None:
    """Upsert, query (cosine, best first, metadata filter), replace, delete, matrix, drop."""
    assert isinstance(ix, VectorIndex)
    v = _unit(5)
    ids = [f"c{i}" for i in range(5)]
    ix.upsert(ids, v, [{"lang": "ja" if i % 2 else "en", "doc_type": "faq"} for i in range(5)])
    assert ix.count() == 5 and ix.ids() == set(ids)
    top = ix.query(v[3], 2)
    assert top[0][0] == "c3" and abs(top[0][1] - 1.0) < 1e-3 and top[0][1] >= top[1][1]
    assert {i for i, _ in ix.query(v[0], 5, where={"lang": "ja"})} == {"c1", "c3"}
    assert np.allclose(ix.matrix(["c4", "c2"]), v[[4, 2]], atol=1e-5)
    ix.upsert(["c3"], v[:1], [{"lang": "ja", "doc_type": "faq"}])  # upsert replaces
    assert ix.count() == 5 and ix.query(v[0], 2)[0][1] > 0.999
    ix.delete(["c0", "c1"])
    assert ix.ids() == {"c2", "c3", "c4"}
    ix.drop()


def check_vector_store(store) -> None:
    assert isinstance(store, VectorStore)
    a, b = store.collection_name("e5-onnx", "g1"), store.collection_name("use-multilingual", "g1")
    assert a != b and a != store.collection_name("e5-onnx", "g2"), "names differ per embedder and generation"
    for name in (a, b):
        store.collection(name).upsert(["x"], _unit(1), [{"lang": "en"}])
    dropped = store.drop_collections_except({a})
    assert b in dropped and a not in dropped and store.collection(a).count() == 1 and store.collection(b).count() == 0
    store.collection(a).drop()


def check_exact_index(make) -> None:
    v = _unit(6, seed=1)
    ix = make([f"c{i}" for i in range(6)], v)
    assert isinstance(ix, ExactIndex) and ix.count() == 6
    assert [i for i, _ in ix.query(v[2], 3)][0] == "c2"
    mask = np.array([i % 2 == 1 for i in range(6)])
    assert {i for i, _ in ix.query(v[2], 6, mask=mask)} == {"c1", "c3", "c5"}, "the mask filters"
    assert make([], np.zeros((0, 8), np.float32)).query(v[0], 3) == []


def check_lexical_index(build, load, tmp: Path) -> None:
    ids = ["a", "b", "c"]
    ix = build(ids, [["送料", "無料"], ["返品", "送料"], ["password", "reset"]])
    assert isinstance(ix, LexicalIndex) and ix.ids == ids
    hits = ix.search(["返品"], 3)
    assert hits[0][0] == "b" and all(sc > 0 for _, sc in hits)
    assert ix.search(["unknown-term"], 3) == [] and ix.search([], 3) == []
    assert [i for i, _ in ix.search(["送料"], 3, mask=[False, True, True])] == ["b"], "the mask filters"
    assert "password" in ix.vocabulary() and "unknown-term" not in ix.vocabulary()
    ix.save(tmp / "lex")
    again = load(tmp / "lex")
    assert again.ids == ids and again.search(["返品"], 1)[0][0] == "b"
    empty = build([], [])
    assert empty.search(["送料"], 3) == [] and not empty.vocabulary()


def check_chat_model(chat, requests: list[dict]) -> None:
    """`reply` sends the messages as given (roles kept) and returns the text; `requests` is
    what the server received (copilot.testing.FakeOpenAI records it)."""
    assert isinstance(chat, ChatModel) and chat.name
    n = len(requests)
    out = chat.reply([("system", "You are terse."), ("user", "Say hello {not a template}.")])
    assert isinstance(out, str) and out
    sent = requests[n]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"] and sent[1]["content"] == "Say hello {not a template}."


def check_drafter(drafter, hits: list, question: str, expected: str):
    """A grounded reply that answers from the passages, with citations into them."""
    assert isinstance(drafter, Drafter) and drafter.name
    out = drafter.draft(question, "ja", hits, customer_name=None, apologise=False, context=None)
    assert out.citations and expected in out.reply, out.reply
    given = {h.chunk.chunk_id for h in hits}
    assert {c.chunk_id for c in out.citations} <= given, "citations point into the given passages"
    return out
