"""Split Documents into Chunks.

FAQ entries are one chunk each (question with its answer). Manuals are split on headings
(the loaders give Sections), then on sentence boundaries that know Japanese, packing whole
sentences up to a token limit counted with tiktoken, with a few sentences of overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..analysis import split_sentences
from ..domain import Chunk, Document, content_hash
from ..tokens import get_encoding

_JA_END = re.compile(r"[。！？!?」』）)]$")


@dataclass
class _Piece:
    text: str
    tokens: int
    line_end: bool


class Splitter:
    def __init__(self, max_tokens: int = 320, overlap: int = 48, encoding: str = "o200k_base") -> None:
        if overlap >= max_tokens:
            raise ValueError("overlap must be smaller than max_tokens")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.encoding = encoding

    def _count(self, text: str) -> int:
        return len(get_encoding(self.encoding).encode(text, disallowed_special=()))

    def _hard_split(self, text: str) -> list[str]:
        """A single sentence longer than the limit: cut on token boundaries."""
        enc = get_encoding(self.encoding)
        ids = enc.encode(text, disallowed_special=())
        step = self.max_tokens
        parts = []
        start = 0

        def clean(a: int, b: int) -> str | None:
            try:
                return enc.decode_bytes(ids[a:b]).decode("utf-8")
            except UnicodeDecodeError:
                return None

        while start < len(ids):
            # a token boundary can fall inside a multi-byte character (kanji, emoji): cut at the
            # nearest boundary that decodes, so no character is broken
            end = min(start + step, len(ids))
            cut = next((b for b in range(end, start, -1) if clean(start, b) is not None), None)
            if cut is None:  # not even one whole character within the step: take the next one
                cut = next((b for b in range(end + 1, len(ids) + 1) if clean(start, b) is not None), len(ids))
            part = clean(start, cut) or enc.decode_bytes(ids[start:cut]).decode("utf-8", errors="replace")
            if part.strip():
                parts.append(part.strip())
            start = cut
        return parts

    def _pieces(self, text: str) -> list[_Piece]:
        pieces: list[_Piece] = []
        for line in text.splitlines():
            sents = split_sentences(line)
            for j, s in enumerate(sents):
                last = j == len(sents) - 1
                n = self._count(s)
                if n > self.max_tokens:
                    parts = self._hard_split(s)
                    for k, p in enumerate(parts):
                        pieces.append(_Piece(p, self._count(p), last and k == len(parts) - 1))
                else:
                    pieces.append(_Piece(s, n, last))
        return pieces

    @staticmethod
    def _join(pieces: list[_Piece]) -> str:
        out = []
        for i, p in enumerate(pieces):
            if i:
                prev = pieces[i - 1]
                if prev.line_end:
                    out.append("\n")
                elif not (_JA_END.search(prev.text) and not prev.text[-1].isascii()):
                    out.append(" ")
            out.append(p.text)
        return "".join(out)

    def split_text(self, text: str) -> list[str]:
        pieces = self._pieces(text)
        chunks: list[list[_Piece]] = []
        cur: list[_Piece] = []
        size = 0
        for p in pieces:
            if cur and size + p.tokens > self.max_tokens:
                chunks.append(cur)
                # carry whole trailing sentences up to the overlap budget
                carry: list[_Piece] = []
                budget = self.overlap
                for q in reversed(cur):
                    if q.tokens > budget:
                        break
                    carry.insert(0, q)
                    budget -= q.tokens
                if sum(q.tokens for q in carry) + p.tokens > self.max_tokens:
                    carry = []
                cur, size = carry, sum(q.tokens for q in carry)
            cur.append(p)
            size += p.tokens
        if cur:
            chunks.append(cur)
        return [self._join(c) for c in chunks]

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        if doc.doc_type == "faq":
            sec = doc.sections[0]
            texts = [(sec.heading, f"{sec.heading}\n{sec.text}", list(doc.phrasings))]
        else:
            # every chunk of a section carries the section's phrasings
            texts = [(sec.heading, t, list(sec.phrasings)) for sec in doc.sections for t in self.split_text(sec.text)]
        for pos, (section, text, phrasings) in enumerate(texts):
            parts: list = [doc.doc_id, doc.source, doc.doc_type, doc.title, section, doc.lang, doc.tags, doc.url, text]
            if phrasings:  # not hashed when absent: ids of chunks without phrasings stay as they were
                parts.append(phrasings)
            base = content_hash(*parts)
            n = seen.get(base, 0)
            seen[base] = n + 1
            chunk_id = base if n == 0 else content_hash(base, n)
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    source=doc.source,
                    doc_type=doc.doc_type,
                    title=doc.title,
                    section=section,
                    lang=doc.lang,
                    text=text,
                    position=pos,
                    tags=list(doc.tags),
                    url=doc.url,
                    doc_version=doc.version,
                    phrasings=phrasings,
                )
            )
        return chunks
