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
import time
from dataclasses import dataclass, field

import numpy as np

from .analysis import detect_language, lexical_tokens, normalize, written_terms
from .domain import Chunk, Hit
from .errors import IndexUnavailable, InputError
from .knowledge.catalog import Catalog
from .knowledge.glossary import Glossary
from .knowledge.versions import EXACT_MAX, STATED_DIR, Layout, canary_check
from .ports import IndexBackends, VectorIndex
from .specs import E5, USE, family_of, revision_of
from .wordvectors import WORDS

log = logging.getLogger(__name__)

RRF_K = 20
# Weight of each ranking by query language; embedders not listed weigh 1.0. Chosen on
# evals/retrieval/questions.yaml and checked on the held-out set (docs/retrieval-quality.md):
# lexical matching is weaker than the embedders' agreement on casual Japanese, and for English
# questions the glossary's Japanese terms ("xlang") are what reaches Japanese articles.
WEIGHTS: dict[str, dict[str, float]] = {
    "ja": {"lexical": 0.5, E5: 1.0, USE: 1.0},
    "en": {"lexical": 0.35, E5: 1.0, USE: 1.0, "xlang": 1.0},
}
EXACT_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}-?\d{2,5}[A-Za-z]?(?![A-Za-z0-9])")  # ASCII boundaries: "E-203が出て"
EXACT_BOOST = 2.0
# A code the query names (E42, MH-HUB2) also ranks, on its own, the chunks that write it: BM25
# over the whole ticket let a long error-code table fall to sixth behind passages that share the
# ticket's everyday words. This ranking gives no credit to the chunks it does not return (fuse).
EXACT_RANKING = "exact"


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


def fuse(rankings: dict[str, list[tuple[str, float]]], weights: dict[str, float]) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """Weighted fusion of several rankings into one score per chunk.

    rrf: sum of w / (RRF_K + rank). A chunk that a ranking did not return counts as ranked
    just below that ranking's last entry, so one retriever's silence (typical for lexical
    matching on casual or kana-only Japanese) does not outweigh the others' agreement.
    """
    fused: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    union = {cid for lst in rankings.values() for cid, _ in lst}
    for rname, lst in rankings.items():
        if not lst:
            continue
        w = weights.get(rname.split(":", 1)[-1], 1.0)  # "dense:e5" -> "e5"
        for r, (cid, _) in enumerate(lst, 1):
            fused[cid] = fused.get(cid, 0.0) + w / (RRF_K + r)
        if rname != EXACT_RANKING:  # a chunk without the code is not "ranked just below" it
            missing = 1.0 / (RRF_K + len(lst) + 1)
            for cid in union - {c for c, _ in lst}:
                fused[cid] = fused.get(cid, 0.0) + w * missing
        for r, (cid, _) in enumerate(lst, 1):
            ranks.setdefault(cid, {})[rname] = r
    for cid in union:
        ranks.setdefault(cid, {})
    return fused, ranks


# A ticket word the knowledge never uses is *unfamiliar* when no word of the knowledge comes
# near it either (cosine of the two words' USE vectors below this): "tip pooling" in a
# scheduling app's FAQ, ふるさと納税 at a grocery's. Casual synonyms (タダ for 無料) have a near
# word and do not count. The cut-off was swept on four knowledge bases, each held out (docs/quality.md).
UNFAMILIAR_SIM = 0.70


class Snapshot:
    """Everything needed to answer searches from one index version."""

    def __init__(self, layout: Layout, catalog: Catalog, store, version: str, backends: IndexBackends) -> None:
        manifest = layout.read_manifest(version)
        if manifest is None:
            raise IndexUnavailable("no index yet: run `copilot index`")
        self.version = version
        self.manifest = manifest
        self.lexical = backends.load_lexical(layout.version_dir(version) / "lexical")
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
        self.stated = backends.load_lexical(sdir) if sdir.exists() else self.lexical
        self._masks: dict[tuple, np.ndarray] = {}
        self._lang_share: dict[str, float] = {}
        self._vocab_lock = threading.Lock()
        self._vocab_vectors: dict[str, np.ndarray] = {}  # embedder -> the stated vocabulary's word vectors
        self._surface: tuple[set[str], str] | None = None  # unknown_names: the knowledge's Latin words, katakana runs
        self._store = store  # a callable: the vector store is opened only if this version needs it
        self._collections: dict[str, VectorIndex] | None = None
        self._slack_counts: dict[str, int] | None = None
        # a version of up to EXACT_MAX chunks is searched in memory, exactly: from the vector
        # files published with it (shared read-only mappings across worker processes), or,
        # for a version written before those files existed, from the store; above the limit
        # Chroma's HNSW index answers
        self.exact: dict = {}  # embedder -> ports.ExactIndex
        files = manifest.get("vectors") or {}
        vdir = layout.version_dir(version)
        if files and all((vdir / f).exists() for f in files.values()):
            for name, rel in files.items():
                matrix = np.load(vdir / rel, mmap_mode="r")
                if matrix.shape[0] != len(self.lexical.ids):
                    raise IndexUnavailable(f"index version {version}: {rel} holds {matrix.shape[0]} vectors for "
                                           f"{len(self.lexical.ids)} chunks; run `copilot index --full`")
                self.exact[name] = backends.exact(self.lexical.ids, matrix)
        elif len(self.lexical.ids) <= EXACT_MAX:
            self.exact = {name: backends.exact(self.lexical.ids, col.matrix(self.lexical.ids))
                          for name, col in self.collections.items()}

    @property
    def embedder_names(self) -> list[str]:
        return list(self.manifest["embedders"])

    def revision(self, name: str) -> str:
        """The engine revision this version's `name` vectors were made by (specs.revision_of)."""
        return self.manifest["embedders"].get(name, {}).get("revision", "") or ""

    @property
    def collections(self) -> dict[str, VectorIndex]:
        """The version's vector-store collections, opened on first use."""
        if self._collections is None:
            store = self._store() if callable(self._store) else self._store
            self._collections = {name: store.collection(e["collection"]) for name, e in self.manifest["embedders"].items()}
        return self._collections

    @property
    def slack(self) -> dict[str, int]:
        """Per collection, how many vectors it holds beyond this version's chunks (retired ones
        not yet collected): a store query asks for that many more."""
        if self._slack_counts is None:
            self._slack_counts = {name: max(0, col.count() - len(self.active)) for name, col in self.collections.items()}
        return self._slack_counts

    def check_canary(self) -> None:
        """The canary chunk's vector must find the canary first in what this version is
        searched with: the in-memory matrix, or the store's index above the size limit."""
        canary = self.manifest.get("canary") or {}
        primary = self.manifest.get("primary")
        if not canary.get("vector"):
            return
        vec = np.asarray(canary["vector"], dtype=np.float32)
        if primary in self.exact:
            canary_check(self.exact[primary], canary["chunk_id"], vec, self.active)
        elif primary in self.manifest["embedders"]:
            canary_check(self.collections[primary], canary["chunk_id"], vec, self.active)

    def coverage(self, text: str) -> tuple[float, int]:
        """Share of the text's content words that occur anywhere in this index, and how many
        words there were. A ticket about things the knowledge base never mentions scores low.
        Phrasings do not count: they are how customers ask, not what the knowledge says."""
        toks = set(lexical_tokens(text))
        vocab = self.stated.vocabulary()
        if not toks or not vocab:
            return 0.0, len(toks)
        return sum(t in vocab for t in toks) / len(toks), len(toks)

    def vocabulary_vectors(self, embedder) -> np.ndarray:
        """The word vectors of everything this version states (computed on first use: about
        1 s per 1,000 new words with USE; a serving process warms them in `Retriever.follow`)."""
        with self._vocab_lock:
            found = self._vocab_vectors.get(embedder.name)
            if found is None:
                found = WORDS.get(embedder, sorted(self.stated.vocabulary()))
                found.flags.writeable = False
                self._vocab_vectors[embedder.name] = found
            return found

    def written(self) -> tuple[set[str], str]:
        """analysis.written_terms of every chunk, once per version (Retriever.warm_words)."""
        with self._vocab_lock:
            if self._surface is None:
                self._surface = written_terms("\n".join(c.text for c in self.chunks.values()))
            return self._surface

    def unknown_names(self, names: set[str]) -> int:
        """How many of the names (analysis.named_terms) the knowledge never writes: a Latin name
        as a word in any case (its plural too), a katakana term anywhere in a longer one
        (ランプ in インターネットランプ)."""
        if not names:
            return 0
        latin, katakana = self.written()

        def known(n: str) -> bool:
            return n.lower() in latin or n.lower().removesuffix("s") in latin if n.isascii() else n in katakana

        return sum(not known(n) for n in names)

    def unfamiliar(self, tokens: list[str], embedder) -> float:
        """Share of the words (numbers aside) that the knowledge neither uses nor has a near
        word for (UNFAMILIAR_SIM). 0.0 with no words."""
        toks = {t for t in tokens if not t.replace(",", "").replace(".", "").isdigit()}
        if not toks:
            return 0.0
        vocab = self.stated.vocabulary()
        unknown = sorted(t for t in toks if t not in vocab)
        if not unknown:
            return 0.0
        known = self.vocabulary_vectors(embedder)
        if known.shape[0] == 0:
            return len(unknown) / len(toks)
        near = (WORDS.get(embedder, unknown) @ known.T).max(axis=1)
        return float((near < UNFAMILIAR_SIM).sum()) / len(toks)

    def language_share(self, lang: str) -> float:
        """Share of the indexed chunks written in `lang`: word coverage means nothing for an
        English ticket on a Japanese knowledge base."""
        if lang not in self._lang_share:  # fixed per version: counted once, not per draft
            self._lang_share[lang] = sum(c.lang == lang for c in self.chunks.values()) / len(self.chunks) if self.chunks else 0.0
        return self._lang_share[lang]

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Which chunks (lexical order) a filter lets through; computed once per filter and
        version: every draft's searches filter by document type, and building it is a Python
        loop over all chunks (about 4 ms at 10,000)."""
        if filters.empty:
            return None
        key = (filters.lang, tuple(filters.sources), tuple(filters.tags), tuple(filters.doc_types))
        found = self._masks.get(key)
        if found is None:
            found = np.fromiter((filters.accepts(self.chunks[i]) for i in self.lexical.ids), dtype=bool, count=len(self.lexical.ids))
            found.flags.writeable = False  # shared by concurrent searches
            if len(self._masks) < 256:  # a bound: REST callers choose sources and tags freely
                self._masks[key] = found
        return found


class Retriever:
    """Answers searches from the published index version, and follows it: every search checks
    CURRENT (one small file read) and a new version is loaded by the first search that sees it,
    or by `follow()` from a serving process's background thread, while the previous one keeps
    answering. A version that cannot be loaded leaves the previous one serving; `load_error`
    says why, and /readyz reports it. A serving process (`leases=True`) records the version it
    uses, so that another process's re-index never collects it (knowledge/versions.py Leases)."""

    RETRY_S = 2.0  # a version that failed to load is tried again after this long

    def __init__(self, layout: Layout, catalog: Catalog, store, embedders: dict, backends: IndexBackends) -> None:
        self.layout = layout
        self.catalog = catalog
        self.store = store  # the vector store (ports.VectorStore), or a callable that opens it
        self.backends = backends
        self.embedders = embedders  # name -> embedder
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()
        self.leases = False
        self._beat = 0.0
        self.sync = None  # cluster mode: a callable that pulls the cluster's current version
        self.sync_error: tuple[str, float] | None = None  # (message, failing since)
        self.load_error: tuple[str, str, float] | None = None  # (version, message, last attempt)
        self._stale_warned: set[tuple[str, str]] = set()

    @property
    def serving(self) -> bool:
        """True once a version has been loaded for searches."""
        return self._snap is not None

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The published version, loaded. While another thread loads a new one, the previous one
        answers (`wait=True`: block until the new one is loaded)."""
        version = self.layout.current_version()
        if version is None:
            raise IndexUnavailable("no index yet: run `copilot index`")
        snap = self._snap
        if snap is not None and snap.version == version:
            self._heartbeat(version)
            return snap
        if not self._lock.acquire(blocking=wait or snap is None):
            return snap  # another thread is loading the new version: keep answering from this one
        try:
            snap = self._snap
            if snap is not None and snap.version == version:
                return snap
            failed = self.load_error
            if snap is not None and failed and failed[0] == version and time.time() - failed[2] < self.RETRY_S:
                return snap  # keep serving the previous version; not retried on every request
            try:
                try:
                    new = Snapshot(self.layout, self.catalog, self.store, version, self.backends)
                except (OSError, ValueError, KeyError) as exc:  # a missing or damaged file of the version
                    raise IndexUnavailable(f"index version {version} cannot be loaded ({type(exc).__name__}: {exc}); "
                                           "run `copilot index --full`") from exc
            except IndexUnavailable as exc:
                if snap is None or self.layout.current_version() != version:
                    raise  # nothing to fall back on, or already superseded: the caller sees why
                self.load_error = (version, str(exc), time.time())
                log.error("%s; still serving %s", exc, snap.version)
                return snap
            if snap is not None:
                log.info("serving index version %s (was %s)", version, snap.version)
            self._snap, self.load_error = new, None
            self._heartbeat(version, force=True)
            return new
        finally:
            self._lock.release()

    def _heartbeat(self, version: str, force: bool = False) -> None:
        if self.leases and (force or time.monotonic() - self._beat > self.layout.leases.HEARTBEAT_S):
            self._beat = time.monotonic()
            try:
                self.layout.leases.hold(version)
            except Exception as exc:  # a full disk or (cluster mode) a database hiccup must not fail searches
                log.warning("cannot record the lease on index version %s: %s", version, exc)

    def follow(self) -> None:
        """Load the published version if it changed and refresh this process's lease: run every
        second or two by a serving process, so a new version is picked up without traffic."""
        if self.sync is not None:
            try:
                self.sync()
                self.sync_error = None
            except Exception as exc:  # the database or a bundle: keep serving what is loaded
                since = self.sync_error[1] if self.sync_error else time.time()
                self.sync_error = (f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", since)
                log.warning("cannot follow the cluster's index version: %s", exc)
        try:
            snap = self.snapshot()
            self._heartbeat(snap.version)
            self.warm_words(snap)
        except IndexUnavailable:
            pass  # no index yet, or none loadable: /readyz says so

    @property
    def word_embedder(self):
        """The embedder that judges single words (USE: cheap, and what UNFAMILIAR_SIM was
        measured with), or None when it is not configured."""
        return next((e for e in self.embedders.values() if family_of(e) == USE), None)

    def warm_words(self, snap: Snapshot | None = None) -> None:
        """The vocabulary's word vectors for the drafts' unfamiliar-word check, computed before a
        draft needs them (about 1.6 s for the sample's 1,800 words; a draft would wait for it)."""
        snap = snap or self.snapshot()
        snap.written()  # and what it writes, for the drafts' unknown-name check
        if self.word_embedder is not None:
            snap.vocabulary_vectors(self.word_embedder)

    def release(self) -> None:
        if self.leases:
            self.layout.leases.release()

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

    def _same_engine(self, snap: Snapshot, name: str, emb) -> bool:
        """Whether the version's `name` vectors come from the engine revision that embeds queries
        now. An index built before an engine change (e5-onnx converter 2 -> 3) is searched without
        that ranking, with a warning, until `copilot index` re-embeds it: query and document
        vectors of two conversions are never compared."""
        have, want = snap.revision(name), revision_of(emb)
        if have == want:
            return True
        if (snap.version, name) not in self._stale_warned:
            self._stale_warned.add((snap.version, name))
            log.warning("index version %s holds %s vectors of engine revision %r, but queries embed with %r: "
                        "that ranking is left out until `copilot index` re-embeds it", snap.version, name, have or "none", want)
        return False

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
        named = [toks[0] for m in EXACT_CODE.finditer(query) if (toks := lexical_tokens(m.group(0)))]  # codes, as indexed
        if named:
            weights["lexical"] = weights.get("lexical", 1.0) * EXACT_BOOST

        rankings: dict[str, list[tuple[str, float]]] = {}
        where = filters.chroma_where()
        post = bool(filters.sources or filters.tags)
        fmask = snap.mask(filters)
        for name in snap.embedder_names:
            emb = self.embedders.get(name)
            if emb is None or not self._same_engine(snap, name, emb):
                continue
            lap("other")
            vec = query_vectors.embed_queries(emb, [query])[0] if query_vectors is not None else emb.embed_query(query)
            lap(f"embed:{name}")
            exact = snap.exact.get(name)
            if exact is not None:
                ranked = exact.query(vec, pool, mask=fmask)
            else:
                n = (pool * (4 if post else 1)) + snap.slack.get(name, 0)
                ranked = [(cid, sc) for cid, sc in snap.collections[name].query(vec, n, where=where) if cid in snap.active and filters.accepts(snap.chunks[cid])]
            key = f"dense:{family_of(emb)}"  # signals and weights follow the model, not the engine
            rankings[key if key not in rankings else f"dense:{name}"] = ranked[:pool]
            lap(f"dense:{name}")
        rankings["lexical"] = snap.lexical.search(lexical_tokens(query), pool, mask=fmask)
        if named:
            rankings[EXACT_RANKING] = snap.lexical.search(named, pool, mask=fmask)
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
