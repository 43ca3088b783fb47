"""The ports the core depends on. Retrieval, the indexer and the drafting pipeline are written
against these protocols; the adapters (copilot/adapters/) implement them and only the
composition root (service.py) puts the two together. `copilot.testing.contracts` holds the
contract every adapter of a port must pass."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    """One embedder's vectors in the vector store: (id, vector, metadata) with nearest-neighbour
    search. Scores are cosine similarities, best first."""

    name: str

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]: ...

    def matrix(self, ids: Sequence[str]) -> np.ndarray: ...

    def count(self) -> int: ...

    def ids(self) -> set[str]: ...

    def drop(self) -> None: ...


@runtime_checkable
class VectorStore(Protocol):
    """Where the collections live (an embedded store or a server)."""

    def collection(self, name: str) -> VectorIndex: ...

    def collection_name(self, embedder: str, generation: str) -> str: ...

    def drop_collections_except(self, keep: set[str]) -> list[str]: ...


@runtime_checkable
class ExactIndex(Protocol):
    """A version's vectors searched exactly in memory; `mask` (row order) filters."""

    def count(self) -> int: ...

    def query(self, vector: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]: ...


@runtime_checkable
class LexicalIndex(Protocol):
    """Keyword search over a fixed, ordered list of chunk ids (analysis.lexical_tokens)."""

    ids: list[str]

    def search(self, query_tokens: Sequence[str], n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]: ...

    def vocabulary(self) -> Container[str]: ...

    def save(self, directory: Path) -> None: ...


@runtime_checkable
class ChatModel(Protocol):
    """A chat LLM: role/content messages in, the reply's text out."""

    name: str

    def reply(self, messages: list[tuple[str, str]]) -> str: ...


@runtime_checkable
class Drafter(Protocol):
    """Writes a reply from evidence passages (drafting.ExtractiveDrafter, drafting.LlmDrafter)."""

    name: str

    def draft(self, ticket: str, language: str, hits: list, *, customer_name: str | None = None,
              apologise: bool = False, context: str | None = None, questions: list[str] | None = None): ...


@dataclass(frozen=True)
class IndexBackends:
    """How the core builds and opens its indexes, handed in by the composition root."""

    build_lexical: Callable[[Sequence[str], Sequence[Sequence[str]]], LexicalIndex]
    load_lexical: Callable[[Path], LexicalIndex]
    exact: Callable[[Sequence[str], np.ndarray], ExactIndex]
