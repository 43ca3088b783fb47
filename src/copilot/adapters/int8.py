"""Integer matrix products that give the same numbers on every x86 processor.

ONNX Runtime's dynamic int8 quantization multiplies uint8 activations by int8 weights (u8×s8).
Its CPU library (MLAS) picks a kernel by processor: with AVX-512 VNNI (or AVX-VNNI, or AMX) the
products are summed in 32 bits, exactly; with AVX2 only (AMD EPYC here), or AVX-512BW without
VNNI, pairs of products are first summed by VPMADDUBSW into a *saturating* 16-bit lane. 255 × 127
× 2 = 64,770 does not fit in 32,767, so on those machines some sums are clipped and the vectors
differ from the ones a VNNI machine computes (measured on the sample's 170 chunks against the
float32 graph: worst cosine 0.99893 on AVX2 against 0.99973 on AVX-512; a few rankings moved).

`exact_integer_products` rewrites each int8 weight w as the uint8 w + 128 with zero point 128:
(w + 128) − 128 = w, so the model computes the same integers. Weights that are uint8 send MLAS to
its u8×u8 kernels, which widen both operands to 16 bits and sum pairs with VPMADDWD into 32 bits
(255 × 255 × 2 = 130,050 fits): exact on AVX2, AVX-512 and AMX alike. The result is what a VNNI
machine computed for the int8 model, on every processor, at about the same speed here.
`saturating_pair_sums` is a numpy reference of the AVX2 u8×s8 arithmetic, for tests that must
show the difference on a machine that has VNNI.
"""

from __future__ import annotations

import numpy as np

# the integer-product operators of dynamic quantization: (weight input, weight zero-point input)
WEIGHT_INPUTS = {"MatMulInteger": (1, 3), "QAttention": (1, 7)}
INT16_MAX = 32767


def exact_integer_products(model) -> int:
    """Rewrite, in place, every int8 weight of an integer product as uint8 with its zero point
    moved by 128 (module docstring). Returns the number of products rewritten."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    widened: set[str] = set()
    count = 0
    for node in model.graph.node:
        slots = WEIGHT_INPUTS.get(node.op_type)
        if slots is None or len(node.input) <= slots[0] or node.input[slots[0]] not in inits:
            continue
        w_in, zp_in = slots
        name = node.input[w_in]
        weights = numpy_helper.to_array(inits[name])
        if name not in widened:
            if weights.dtype != np.int8:
                continue
            inits[name].CopyFrom(numpy_helper.from_array((weights.astype(np.int16) + 128).astype(np.uint8), name))
            widened.add(name)
        while len(node.input) <= zp_in:
            node.input.append("")
        old_zp = node.input[zp_in]
        zp = numpy_helper.to_array(inits[old_zp]) if old_zp else np.zeros((), dtype=np.int8)
        if zp.dtype == np.uint8:
            continue  # this node already reads the rewritten zero point
        new_zp = f"{old_zp or name}.u8"
        if new_zp not in inits:
            tensor = numpy_helper.from_array((zp.astype(np.int16) + 128).astype(np.uint8), new_zp)
            model.graph.initializer.append(tensor)
            inits[new_zp] = tensor
        node.input[zp_in] = new_zp
        count += 1
    return count


def integer_weight_types(model) -> dict[str, int]:
    """How many integer products read weights of each type (``{"uint8": 36}`` once rewritten)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    out: dict[str, int] = {}
    for node in model.graph.node:
        slots = WEIGHT_INPUTS.get(node.op_type)
        if slots and node.input[slots[0]] in inits:
            dtype = numpy_helper.to_array(inits[node.input[slots[0]]]).dtype.name
            out[dtype] = out.get(dtype, 0) + 1
    return out


def saturating_pair_sums(a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The u8×s8 product of AVX2's VPMADDUBSW kernel and the exact one, for uint8 activations
    `a` (M, K) and int8 weights `w` (K, N): adjacent products along K are summed in pairs and
    clipped to int16 before the 32-bit sum. Returns (saturating, exact) int64 arrays."""
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    if a.shape[1] % 2:
        a = np.pad(a, ((0, 0), (0, 1)))
        w = np.pad(w, ((0, 1), (0, 0)))
    sat = np.empty((a.shape[0], w.shape[1]), dtype=np.int64)
    exact = np.empty_like(sat)
    for j in range(0, w.shape[1], 64):  # 64 output columns at a time: (M, K/2, 64) stays small
        cols = slice(j, j + 64)
        pairs = a[:, 0::2, None] * w[None, 0::2, cols] + a[:, 1::2, None] * w[None, 1::2, cols]
        sat[:, cols] = np.clip(pairs, -INT16_MAX - 1, INT16_MAX).sum(axis=1)
        exact[:, cols] = pairs.sum(axis=1)
    return sat, exact
