"""Vectors of single words, cached per process (retrieval's unfamiliar-word check, the
knowledge's vocabulary vectors). A re-index reuses them: a word's vector does not depend on the
index version."""

from __future__ import annotations

import threading

import numpy as np

_WORD_CACHE_MAX = 200_000  # word vectors kept per process, across versions (a re-index reuses them)


class WordVectors:
    """Vectors of single words, by (embedder, word), shared by every version a process loads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vecs: dict[tuple[str, str], np.ndarray] = {}

    def get(self, embedder, words: list[str]) -> np.ndarray:
        with self._lock:
            missing = [w for w in dict.fromkeys(words) if (embedder.name, w) not in self._vecs]
        have: dict[str, np.ndarray] = {}
        if missing:
            new = np.asarray(embedder.embed_documents(missing), dtype=np.float32)
            have = dict(zip(missing, new))
            with self._lock:
                if len(self._vecs) + len(missing) <= _WORD_CACHE_MAX:  # past the bound: computed, not kept
                    self._vecs.update({(embedder.name, w): v for w, v in have.items()})
        with self._lock:  # nothing is ever removed, so what was cached above is still there
            return np.array([have[w] if w in have else self._vecs[(embedder.name, w)] for w in words],
                            dtype=np.float32).reshape(len(words), -1)


WORDS = WordVectors()
