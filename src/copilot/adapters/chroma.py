"""Chroma vector index: PersistentClient under the data dir, or HttpClient for a server.

We always pass our own embeddings: Chroma's default embedding function downloads a model and
fails offline, so collections are created with ``embedding_function=None``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..errors import ConfigError, IndexUnavailable

log = logging.getLogger(__name__)
MAX_BATCH = 5461  # Chroma's per-call record limit


class StoreDamaged(IndexUnavailable):
    """The embedded vector store cannot be opened; `copilot index --full` moves it aside."""


def make_client(persist_dir: Path | None, url: str | None):
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ConfigError(f"COPILOT_CHROMA_URL {url!r} is not a URL like http://127.0.0.1:8001")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        except Exception as exc:
            raise IndexUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc
    assert persist_dir is not None
    persist_dir.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(persist_dir), settings=settings)
    except Exception as exc:  # chromadb raises InternalError and others for a damaged store
        raise StoreDamaged(
            f"the vector store at {persist_dir} cannot be opened ({str(exc).splitlines()[0][:200]}); "
            "run `copilot index --full` to rebuild it") from exc


def quarantine(persist_dir: Path) -> Path:
    """Move a damaged store aside (kept for inspection) so a fresh one can be built."""
    import time

    from chromadb.api.client import SharedSystemClient

    dest = persist_dir.with_name(f"{persist_dir.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    persist_dir.rename(dest)
    SharedSystemClient.clear_system_cache()  # chromadb caches the failed system per path
    return dest


def collection_name(embedder: str, generation: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", embedder).strip("-._") or "emb"
    return f"chunks-{slug[:80]}-{generation}"


class ChromaVectorIndex:
    """One Chroma collection holding one embedder's vectors."""

    def __init__(self, client, name: str) -> None:
        self.client = client
        self.name = name
        self._col = client.get_or_create_collection(
            name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None:
        for i in range(0, len(ids), MAX_BATCH):
            self._col.upsert(
                ids=list(ids[i : i + MAX_BATCH]),
                embeddings=np.asarray(vectors[i : i + MAX_BATCH], dtype=np.float32),
                metadatas=list(metadatas[i : i + MAX_BATCH]),
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), MAX_BATCH):
            self._col.delete(ids=ids[i : i + MAX_BATCH])

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        # Chroma returns what it has when n exceeds the collection; no count() round trip per query
        n = max(1, n)
        res = self._col.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=n,
            where=where or None,
            include=["distances"],
        )
        ids = res["ids"][0] if res["ids"] else []
        dists = res["distances"][0] if res.get("distances") else [0.0] * len(ids)
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists)]

    def matrix(self, ids: Sequence[str]) -> np.ndarray:
        """The vectors of `ids`, in that order, as one (n, dim) float32 matrix; a missing id is
        an error (the version's manifest names it, so the store has lost it)."""
        ids = list(ids)
        rows: dict[str, np.ndarray] = {}
        for i in range(0, len(ids), MAX_BATCH):
            res = self._col.get(ids=ids[i : i + MAX_BATCH], include=["embeddings"])
            rows.update(zip(res["ids"], np.asarray(res["embeddings"], dtype=np.float32)))
        missing = [i for i in ids if i not in rows]
        if missing:
            raise IndexUnavailable(f"collection {self.name} lacks {len(missing)} vectors of this version (e.g. {missing[0]}); "
                                   "run `copilot index --full`")
        return np.vstack([rows[i] for i in ids]) if ids else np.zeros((0, 0), dtype=np.float32)

    def count(self) -> int:
        return int(self._col.count())

    def ids(self) -> set[str]:
        out: set[str] = set()
        total = self.count()
        for off in range(0, total, MAX_BATCH):
            out.update(self._col.get(include=[], limit=MAX_BATCH, offset=off)["ids"])
        return out

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as exc:  # already gone is fine
            log.debug("drop collection %s: %s", self.name, exc)


class ChromaStore:
    """The vector store port over a Chroma client (embedded or a server)."""

    def __init__(self, client) -> None:
        self.client = client

    def collection(self, name: str) -> ChromaVectorIndex:
        return ChromaVectorIndex(self.client, name)

    def collection_name(self, embedder: str, generation: str) -> str:
        return collection_name(embedder, generation)

    def drop_collections_except(self, keep: set[str]) -> list[str]:
        return drop_collections_except(self.client, keep)


class ExactVectorIndex:
    """A version's vectors held in memory and searched exactly (one matrix product).

    For the knowledge bases support teams have (thousands of chunks), a brute-force cosine
    over a float32 matrix takes 0.1 ms at 170 chunks and 0.6 ms at 10,000 here, where a Chroma
    query costs about 1.2 ms (docs/benchmarks.md), and it is exact where HNSW is approximate.
    Chroma stays the store of record; larger indexes are searched there. Rows follow `ids`;
    `mask` (same order) removes what a filter excludes.
    """

    name = "in-memory vectors"

    def __init__(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        self.ids = list(ids)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)

    def count(self) -> int:
        return len(self.ids)

    def query(self, vector: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        scores = self.matrix @ np.asarray(vector, dtype=np.float32)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        n = max(1, min(n, len(self.ids)))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > -np.inf]


def drop_collections_except(client, keep: set[str], prefix: str = "chunks-") -> list[str]:
    dropped = []
    for col in client.list_collections():
        name = col if isinstance(col, str) else col.name
        if name.startswith(prefix) and name not in keep:
            client.delete_collection(name)
            dropped.append(name)
    return dropped
