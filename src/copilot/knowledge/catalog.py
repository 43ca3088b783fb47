"""The chunk catalog and the embedding cache, in one SQLite file beside the vector index.

Rows are content-addressed and never updated in place, so a reader using an older index
version never sees a row change under it. Embeddings are cached by (embedder, text hash):
re-indexing unchanged text costs no model calls, even after --full or a move.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..domain import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    tags TEXT NOT NULL,
    url TEXT,
    tokens TEXT NOT NULL,
    phrasings TEXT NOT NULL DEFAULT '[]',
    stated_tokens TEXT
);
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text_hash)
);
"""


# Lexical tokens are stored joined by a separator no token contains; rows written by older
# versions hold a JSON list and are still read. Splitting is ~10x faster than json.loads, and
# every re-index reads the tokens of every chunk to rebuild BM25.
_TOK_SEP = "\x1f"
_TOK_MARK = "\x1e"


def _pack_tokens(tokens) -> str:
    return _TOK_MARK + _TOK_SEP.join(t.replace(_TOK_SEP, "") for t in tokens)


def _unpack_tokens(raw: str) -> list[str]:
    if raw.startswith(_TOK_MARK):
        body = raw[1:]
        return body.split(_TOK_SEP) if body else []
    return json.loads(raw)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._conn() as c:
            c.executescript(_SCHEMA)
            cols = {r[1] for r in c.execute("PRAGMA table_info(chunks)")}
            # catalogs written before phrasings existed
            for col, decl in (("phrasings", "TEXT NOT NULL DEFAULT '[]'"), ("stated_tokens", "TEXT")):
                if col not in cols:
                    try:
                        c.execute(f"ALTER TABLE chunks ADD COLUMN {col} {decl}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- chunks ---------------------------------------------------------------------------
    def known_chunk_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        out: set[str] = set()
        conn = self._conn()
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            q = f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})"
            out.update(r[0] for r in conn.execute(q, part))
        return out

    def add_chunks(self, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]],
                   stated: Sequence[Sequence[str] | None] | None = None) -> None:
        """`tokens`: the lexical tokens of each chunk's embed_text; `stated`: those of its
        stated_text, for chunks with phrasings (None where they are the same)."""
        stated = stated if stated is not None else [None] * len(chunks)
        rows = [
            (c.chunk_id, c.doc_id, c.source, c.doc_type, c.title, c.section, c.lang, c.text,
             json.dumps(c.tags, ensure_ascii=False), c.url, _pack_tokens(t), json.dumps(c.phrasings, ensure_ascii=False),
             _pack_tokens(st) if st is not None else None)
            for c, t, st in zip(chunks, tokens, stated)
        ]
        with self._conn() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO chunks (chunk_id, doc_id, source, doc_type, title, section, lang, text, tags, url,"
                " tokens, phrasings, stated_tokens) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def get_chunks(self, ids: Sequence[str], *, tokens: bool = True) -> dict[str, tuple[Chunk, list[str]]]:
        """Chunks by id, with their lexical tokens (an empty list when tokens=False, which
        skips reading and decoding them: readers of an index version do not need them)."""
        out: dict[str, tuple[Chunk, list[str]]] = {}
        conn = self._conn()
        ids = list(ids)
        cols = "chunk_id, doc_id, source, doc_type, title, section, lang, text, tags, url, phrasings" + (", tokens" if tokens else "")
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            q = f"SELECT {cols} FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})"
            for r in conn.execute(q, part):
                chunk = Chunk(
                    chunk_id=r[0], doc_id=r[1], source=r[2], doc_type=r[3], title=r[4], section=r[5],
                    lang=r[6], text=r[7], position=0, tags=json.loads(r[8]) if r[8] != "[]" else [], url=r[9],
                    phrasings=json.loads(r[10]) if r[10] != "[]" else [],
                )
                out[r[0]] = (chunk, _unpack_tokens(r[11]) if tokens else [])
        return out

    def get_tokens(self, ids: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """What a BM25 rebuild needs, by chunk id: the lexical tokens, and for chunks with
        phrasings (FAQ entry or manual section) the tokens of their stated text."""
        tokens: dict[str, list[str]] = {}
        stated: dict[str, list[str]] = {}
        conn = self._conn()
        ids = list(ids)
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            q = f"SELECT chunk_id, tokens, stated_tokens FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})"
            for cid, raw, raw_stated in conn.execute(q, part):
                tokens[cid] = _unpack_tokens(raw)
                if raw_stated is not None:  # stored exactly for the chunks with phrasings
                    stated[cid] = _unpack_tokens(raw_stated)
        return tokens, stated

    def delete_chunks_except(self, keep: set[str]) -> int:
        conn = self._conn()
        all_ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks")]
        gone = [i for i in all_ids if i not in keep]
        with conn:
            for i in range(0, len(gone), 900):
                part = gone[i : i + 900]
                conn.execute(f"DELETE FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})", part)
        return len(gone)

    def count_chunks(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    # --- embedding cache ------------------------------------------------------------------
    def cached_vectors(self, embedder: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        conn = self._conn()
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 900):
            part = keys[i : i + 900]
            q = f"SELECT text_hash, vector FROM embeddings WHERE embedder = ? AND text_hash IN ({','.join('?' * len(part))})"
            for k, blob in conn.execute(q, [embedder, *part]):
                out[k] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_vectors(self, embedder: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(embedder, k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)]
        with self._conn() as conn:
            conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)", rows)
