"""Lexical index: bm25s over pre-computed tokens (see copilot.analysis.lexical_tokens)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class Bm25Index:
    """BM25 over a fixed, ordered list of chunk ids. Rebuilt per index version (it is cheap:
    tokens are cached per chunk), saved beside the version's manifest."""

    def __init__(self, ids: list[str], model) -> None:
        self.ids = ids
        self._model = model

    @classmethod
    def build(cls, ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> Bm25Index:
        import bm25s

        model = bm25s.BM25()
        if ids:
            # an empty document would break bm25s; give it a token nothing matches
            model.index([list(t) or ["\u0000"] for t in tokens], show_progress=False)
        return cls(list(ids), model if ids else None)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        if self._model is not None:
            self._model.save(str(directory / "bm25"))

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        import bm25s

        ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        model = bm25s.BM25.load(str(directory / "bm25")) if ids else None
        return cls(ids, model)

    def vocabulary(self):
        """The indexed terms (a mapping: `in` is what callers use)."""
        return self._model.vocab_dict if self._model is not None else {}

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        if self._model is None or not query_tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self._model.vocab_dict
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def search(self, query_tokens: Sequence[str], n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        s = self.scores(query_tokens)
        if mask is not None:
            s = np.where(mask, s, 0.0)
        if not len(s):
            return []
        n = min(n, len(s))
        top = np.argpartition(-s, n - 1)[:n]
        top = top[np.argsort(-s[top], kind="stable")]
        return [(self.ids[i], float(s[i])) for i in top if s[i] > 0]
