"""Hybrid retrieval over one published index version.

Dense rankings (one per embedder) and the BM25 ranking are fused with weighted reciprocal rank
fusion; the weights depend on the query's language (lexical matching cannot bridge English to
Japanese, the multilingual embedders can). Queries with exact codes (E-203, MH-HUB2) lean on
the lexical ranking, where such tokens match exactly.

A Snapshot is immutable: searches keep using the version they started with, and the retriever
swaps to a newly published version by replacing one reference.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from .adapters.bm25 import Bm25Index
from .adapters.chroma import ChromaVectorIndex, ExactVectorIndex
from .adapters.embedders import family_of
from .analysis import detect_language, lexical_tokens, normalize
from .domain import Chunk, Hit
from .errors import IndexUnavailable, InputError
from .knowledge.catalog import Catalog
from .knowledge.glossary import Glossary
from .knowledge.indexer import STATED_DIR, canary_check
from .knowledge.versions import Layout

log = logging.getLogger(__name__)

RRF_K = 20
# up to this many chunks a version's vectors are held in memory and searched exactly (about
# 70 MB for both default embedders at the limit); above it, Chroma's HNSW index answers
EXACT_MAX = 20_000
# Weight of each ranking by query language; embedders not listed weigh 1.0. Chosen on
# evals/retrieval/questions.yaml and checked on the held-out set (docs/retrieval-quality.md):
# lexical matching is weaker than the embedders' agreement on casual Japanese, and for English
# questions the glossary's Japanese terms ("xlang") are what reaches Japanese articles.
WEIGHTS: dict[str, dict[str, float]] = {
    "ja": {"lexical": 0.5, "e5": 1.0, "use-multilingual": 1.0},
    "en": {"lexical": 0.35, "e5": 1.0, "use-multilingual": 1.0, "xlang": 1.0},
}
EXACT_CODE = re.compile(r"\b[A-Za-z]{1,4}-?\d{2,5}[A-Za-z]?\b")
EXACT_BOOST = 2.0


@dataclass
class Filters:
    lang: str | None = None
    sources: list[str] = field(default_factory=list)  # exact path or folder prefix ("faq/")
    tags: list[str] = field(default_factory=list)  # any of
    doc_types: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.lang not in (None, "ja", "en"):
            raise InputError(f"lang must be 'ja' or 'en', not {self.lang!r}")
        bad = [d for d in self.doc_types if d not in ("faq", "manual", "playbook")]
        if bad:
            raise InputError(f"unknown doc type {bad[0]!r}: use faq, manual or playbook")

    def chroma_where(self) -> dict | None:
        conds = []
        if self.lang:
            conds.append({"lang": self.lang})
        if len(self.doc_types) == 1:
            conds.append({"doc_type": self.doc_types[0]})
        elif self.doc_types:
            conds.append({"doc_type": {"$in": list(self.doc_types)}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    def accepts(self, c: Chunk) -> bool:
        if self.lang and c.lang != self.lang:
            return False
        if self.doc_types and c.doc_type not in self.doc_types:
            return False
        if self.sources and not any(c.source == s or c.source.startswith(s.rstrip("/") + "/") for s in self.sources):
            return False
        if self.tags and not set(self.tags) & set(c.tags):
            return False
        return True

    @property
    def empty(self) -> bool:
        return not (self.lang or self.sources or self.tags or self.doc_types)


FUSION = "rrf"
IMPUTE = True


def fuse(rankings: dict[str, list[tuple[str, float]]], weights: dict[str, float]) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """Weighted fusion of several rankings into one score per chunk.

    rrf: sum of w / (RRF_K + rank). A chunk that a ranking did not return counts as ranked
    just below that ranking's last entry, so one retriever's silence (typical for lexical
    matching on casual or kana-only Japanese) does not outweigh the others' agreement.
    zscore: sum of w * standardised score within each ranking.
    """
    fused: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    union = {cid for lst in rankings.values() for cid, _ in lst}
    for rname, lst in rankings.items():
        if not lst:
            continue
        w = weights.get(rname.split(":", 1)[-1], 1.0)  # "dense:e5" -> "e5"
        if FUSION == "zscore":
            sc = np.asarray([x[1] for x in lst], dtype=np.float64)
            z = (sc - sc.mean()) / (sc.std() + 1e-9) if len(sc) > 1 else np.ones(1)
            floor = float(z.min()) - 0.5
            for (cid, _), zz in zip(lst, z):
                fused[cid] = fused.get(cid, 0.0) + w * float(zz)
            for cid in union - {c for c, _ in lst}:
                fused[cid] = fused.get(cid, 0.0) + w * floor
        else:
            for r, (cid, _) in enumerate(lst, 1):
                fused[cid] = fused.get(cid, 0.0) + w / (RRF_K + r)
            if IMPUTE:
                missing = 1.0 / (RRF_K + len(lst) + 1)
                for cid in union - {c for c, _ in lst}:
                    fused[cid] = fused.get(cid, 0.0) + w * missing
        for r, (cid, _) in enumerate(lst, 1):
            ranks.setdefault(cid, {})[rname] = r
    for cid in union:
        ranks.setdefault(cid, {})
    return fused, ranks


class Snapshot:
    """Everything needed to answer searches from one index version."""

    def __init__(self, layout: Layout, catalog: Catalog, client, version: str) -> None:
        manifest = layout.read_manifest(version)
        if manifest is None:
            raise IndexUnavailable("no index yet: run `copilot index`")
        self.version = version
        self.manifest = manifest
        self.lexical = Bm25Index.load(layout.version_dir(version) / "lexical")
        rows = catalog.get_chunks(self.lexical.ids, tokens=False)
        missing = [i for i in self.lexical.ids if i not in rows]
        if missing:
            raise IndexUnavailable(f"index version {version} refers to {len(missing)} chunks missing from the catalog; run `copilot index --full`")
        self.chunks: dict[str, Chunk] = {}
        for doc_id, entry in manifest["documents"].items():
            for pos, cid in enumerate(entry["chunks"]):
                c = rows[cid][0]
                c.position = pos
                c.doc_version = entry["version"]
                self.chunks[cid] = c
        self.active = set(self.chunks)
        gpath = layout.version_dir(version) / "glossary.csv"
        self.glossary = Glossary.parse(gpath.read_text(encoding="utf-8"), "glossary.csv", []) if gpath.exists() else Glossary([])
        self.ja_mask = np.fromiter((self.chunks[i].lang == "ja" for i in self.lexical.ids), dtype=bool, count=len(self.lexical.ids))
        # what the knowledge states, without phrasings (the same index when there are none)
        sdir = layout.version_dir(version) / STATED_DIR
        self.stated = Bm25Index.load(sdir) if sdir.exists() else self.lexical
        self.collections = {name: ChromaVectorIndex(client, e["collection"]) for name, e in manifest["embedders"].items()}
        self._slack = {name: max(0, col.count() - len(self.active)) for name, col in self.collections.items()}
        # small indexes are searched in memory, exactly; Chroma's HNSW above EXACT_MAX chunks
        self.exact: dict[str, ExactVectorIndex] = {}
        if len(self.lexical.ids) <= EXACT_MAX:
            self.exact = {name: ExactVectorIndex(self.lexical.ids, col.matrix(self.lexical.ids))
                          for name, col in self.collections.items()}

    def check_canary(self) -> None:
        canary = self.manifest.get("canary") or {}
        primary = self.manifest.get("primary")
        if canary.get("vector") and primary in self.collections:
            canary_check(self.collections[primary], canary["chunk_id"], np.asarray(canary["vector"], dtype=np.float32), self.active)

    def coverage(self, text: str) -> tuple[float, int]:
        """Share of the text's content words that occur anywhere in this index, and how many
        words there were. A ticket about things the knowledge base never mentions scores low.
        Phrasings do not count: they are how customers ask, not what the knowledge says."""
        toks = set(lexical_tokens(text))
        if not toks or self.stated._model is None:
            return 0.0, len(toks)
        vocab = self.stated._model.vocab_dict
        return sum(t in vocab for t in toks) / len(toks), len(toks)

    def language_share(self, lang: str) -> float:
        """Share of the indexed chunks written in `lang`: word coverage means nothing for an
        English ticket on a Japanese knowledge base."""
        if not self.chunks:
            return 0.0
        return sum(c.lang == lang for c in self.chunks.values()) / len(self.chunks)

    def mask(self, filters: Filters) -> np.ndarray | None:
        if filters.empty:
            return None
        return np.fromiter((filters.accepts(self.chunks[i]) for i in self.lexical.ids), dtype=bool, count=len(self.lexical.ids))


class Retriever:
    def __init__(self, layout: Layout, catalog: Catalog, client, embedders: dict) -> None:
        self.layout = layout
        self.catalog = catalog
        self.client = client
        self.embedders = embedders  # name -> embedder
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()

    @property
    def serving(self) -> bool:
        """True once a version has been loaded for searches."""
        return self._snap is not None

    def snapshot(self) -> Snapshot:
        version = self.layout.current_version()
        if version is None:
            raise IndexUnavailable("no index yet: run `copilot index`")
        snap = self._snap
        if snap is not None and snap.version == version:
            return snap
        with self._lock:
            if self._snap is None or self._snap.version != version:
                new = Snapshot(self.layout, self.catalog, self.client, version)
                if self._snap is not None:
                    log.info("serving index version %s (was %s)", version, self._snap.version)
                self._snap = new
            return self._snap

    def search(self, query: str, k: int = 5, filters: Filters | None = None, pool: int | None = None,
               timings: dict[str, float] | None = None, query_vectors=None) -> list[Hit]:
        """Hybrid search. `timings`, when given, receives seconds per stage (benchmarks).
        `query_vectors` (an answers.VectorCache) embeds the query through that cache: a draft
        scores the same ticket text against its evidence sentences afterwards."""
        import time

        t = timings if timings is not None else {}
        mark = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            t[stage] = t.get(stage, 0.0) + now - mark
            mark = now

        return self._search(query, k, filters, pool, lap, query_vectors)

    def _search(self, query: str, k: int, filters: Filters | None, pool: int | None, lap, query_vectors=None) -> list[Hit]:
        filters = filters or Filters()
        filters.validate()
        query = normalize(query or "").strip()
        if not query:
            raise InputError("query is empty")
        if k < 1 or k > 100:
            raise InputError("k must be between 1 and 100")
        snap = self.snapshot()
        pool = pool or max(4 * k, 30)
        qlang = detect_language(query)
        weights = dict(WEIGHTS.get(qlang, {}))
        if EXACT_CODE.search(query):
            weights["lexical"] = weights.get("lexical", 1.0) * EXACT_BOOST

        rankings: dict[str, list[tuple[str, float]]] = {}
        where = filters.chroma_where()
        post = bool(filters.sources or filters.tags)
        fmask = snap.mask(filters)
        for name, col in snap.collections.items():
            emb = self.embedders.get(name)
            if emb is None:
                continue
            lap("other")
            vec = query_vectors.embed_queries(emb, [query])[0] if query_vectors is not None else emb.embed_query(query)
            lap(f"embed:{name}")
            exact = snap.exact.get(name)
            if exact is not None:
                ranked = exact.query(vec, pool, mask=fmask)
            else:
                n = (pool * (4 if post else 1)) + snap._slack.get(name, 0)
                ranked = [(cid, sc) for cid, sc in col.query(vec, n, where=where) if cid in snap.active and filters.accepts(snap.chunks[cid])]
            key = f"dense:{family_of(emb)}"  # signals and weights follow the model, not the engine
            rankings[key if key not in rankings else f"dense:{name}"] = ranked[:pool]
            lap(f"dense:{name}")
        rankings["lexical"] = snap.lexical.search(lexical_tokens(query), pool, mask=fmask)
        terms = snap.glossary.expand(query) if qlang == "en" and filters.lang != "en" else []
        if terms:
            # English question, Japanese articles: the glossary's Japanese terms for the
            # question's words rank Japanese text lexically, a vote of its own ("xlang"). It
            # reads what the articles state: matching the terms against customers' phrasings
            # ranked Japanese entries above their English twins (docs/retrieval-quality.md)
            mask = snap.ja_mask if fmask is None else snap.ja_mask & fmask
            rankings["lexical:xlang"] = snap.stated.search(lexical_tokens(" ".join(terms)), pool, mask=mask)

        lap("lexical")
        fused, ranks = fuse(rankings, weights)
        signals: dict[str, dict[str, float]] = {}
        for rname, lst in rankings.items():
            for cid, sc in lst:
                signals.setdefault(cid, {})[rname] = round(float(sc), 5)
        order = sorted(fused, key=lambda c: (-fused[c], c))[:k]
        lap("fusion")
        return [Hit(rank=i, chunk=snap.chunks[c], score=fused[c], ranks=ranks[c], signals=signals.get(c, {}))
                for i, c in enumerate(order, 1)]
