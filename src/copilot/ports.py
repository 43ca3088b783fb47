"""Small protocols the core depends on. Implementations live in copilot.adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit vectors. Queries and documents may be embedded differently."""

    name: str  # stable spec string, part of cache keys
    dim: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class VectorIndex(Protocol):
    """A store of (id, vector, metadata) with nearest-neighbour search."""

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def ids(self) -> set[str]: ...

    def drop(self) -> None: ...
