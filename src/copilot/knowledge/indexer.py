"""Incremental indexer: only new or changed chunks reach an embedder, and a new index version
becomes visible in one atomic step.

Order of work (a kill at any point leaves the previous version serving):
1. load and split every file; diff against the served manifest by document id and version;
2. add chunk rows to the catalog (content-addressed, insert-only);
3. per embedder: vectors from the cache, the rest embedded in batches and cached at once;
   upsert into the Chroma collection (ids not in the served manifest are invisible to readers);
4. build the lexical index, check a canary query, write versions/<v>/ (via a temp dir);
5. replace CURRENT; then garbage-collect what neither this nor the previous version uses.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis import lexical_tokens
from ..domain import Chunk, Document, IndexReport, LoadIssue, content_hash
from ..errors import IndexUnavailable, IndexWriteError, InputError
from .catalog import Catalog, text_key
from .glossary import Glossary
from .loaders import load_directory
from .splitter import Splitter
from ..ports import IndexBackends, VectorStore
from ..specs import revision_of, vector_key
from .versions import EXACT_MAX, STATED_DIR, Layout, canary_check, write_json_atomic

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
MANIFEST_FORMAT = 1


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG}


def _chroma_meta(c: Chunk) -> dict:
    return {"doc_id": c.doc_id, "source": c.source, "lang": c.lang, "doc_type": c.doc_type}


@dataclass
class _Plan:
    """What one run builds (Indexer._plan)."""

    source: Path
    full: bool
    served: dict | None
    prev: dict | None
    glossary_csv: str
    glossary_hash: str
    split_cfg: dict
    new_docs: dict[str, dict] = field(default_factory=dict)
    new_chunks: dict[str, Chunk] = field(default_factory=dict)
    prev_active: set[str] = field(default_factory=set)
    active: list[str] = field(default_factory=list)  # the new version's chunks, in document order
    active_set: set[str] = field(default_factory=set)
    unchanged: bool = False

    @property
    def served_docs(self) -> dict:
        return (self.served or {}).get("documents", {})



@dataclass
class _Vectors:
    """What the embed step produced (Indexer._embed_all)."""

    version: str
    canary_id: str
    collections: dict[str, dict] = field(default_factory=dict)
    fresh: dict[str, dict] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    canary_vec: np.ndarray | None = None


class Indexer:
    def __init__(self, layout: Layout, catalog: Catalog, store: VectorStore, embedders: list, splitter: Splitter,
                 backends: IndexBackends, *, embed_batch: int = 32, pause_before_publish: float = 0.0,
                 link_hosts: tuple[str, ...] = (), offload: Callable | None = None) -> None:
        self.link_hosts = link_hosts
        # offload(embedder) -> context manager yielding an embedder whose embed_documents runs
        # in a child process (adapters.embed_worker); used when more than one batch is new
        self.offload = offload
        self.layout = layout
        self.catalog = catalog
        self.store = store
        self.backends = backends
        self.embedders = embedders
        self.splitter = splitter
        self.embed_batch = embed_batch
        self.pause_before_publish = pause_before_publish

    # --- helpers --------------------------------------------------------------------------
    def _embed(self, embedder, chunks: list[Chunk], use_cache: bool, report: IndexReport,
               progress: ProgressFn | None) -> np.ndarray:
        keys = [text_key(c.embed_text) for c in chunks]
        cached = self.catalog.cached_vectors(vector_key(embedder), keys) if use_cache else {}
        todo: list[int] = []
        seen: set[str] = set()
        for i, k in enumerate(keys):
            if k not in cached and k not in seen:
                todo.append(i)
                seen.add(k)
        if todo:
            log.info("embedding %d chunks with %s", len(todo), embedder.name)
            # more than one batch of new text: embed in a child process, so that a serving
            # process does not keep the embedders' batch memory (adapters/embed_worker.py)
            offload = self.offload is not None and len(todo) > self.embed_batch
            with contextlib.ExitStack() as stack:
                embed = stack.enter_context(self.offload(embedder)) if offload else embedder
                for start in range(0, len(todo), self.embed_batch):
                    batch = todo[start : start + self.embed_batch]
                    vecs = embed.embed_documents([chunks[i].embed_text for i in batch])
                    bkeys = [keys[i] for i in batch]
                    self.catalog.put_vectors(vector_key(embedder), bkeys, vecs)  # kept even if we die later
                    for k, v in zip(bkeys, vecs):
                        cached[k] = v
                    report.embedded += len(batch)
                    if progress:
                        progress(f"embed:{embedder.name}", min(start + len(batch), len(todo)), len(todo))
        dim = len(next(iter(cached.values()))) if cached else getattr(embedder, "dim", 0)
        return np.vstack([cached[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)

    # --- the run --------------------------------------------------------------------------
    def run(self, source: Path, full: bool = False, progress: ProgressFn | None = None) -> IndexReport:
        """Build and publish a new index version. A write failure (disk full, I/O error) is
        reported as IndexWriteError; nothing is published, so the previous version keeps serving."""
        try:
            return self._run(source, full, progress)
        except (OSError, sqlite3.OperationalError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _WRITE_ERRNOS:
                raise
            if isinstance(exc, sqlite3.OperationalError) and "full" not in str(exc) and "I/O" not in str(exc):
                raise
            served = self.layout.current_version()
            why = getattr(exc, "strerror", None) or str(exc)
            raise IndexWriteError(
                f"re-index failed while writing ({why}); "
                + (f"version {served} is still served" if served else "no version was published")
                + "; free disk space and run `copilot index` again") from exc

    def _run(self, source: Path, full: bool, progress: ProgressFn | None) -> IndexReport:
        """plan → catalog rows → embed → lexical (+ vectors, canary) → publish → GC."""
        started = time.perf_counter()
        report = IndexReport()
        note = progress or (lambda stage, done, total: None)
        with self.layout.writer_lock():
            self._clean_temp()
            plan = self._plan(source, full, note, report)
            if plan.unchanged:  # nothing changed: keep serving the same version, touch nothing
                report.chunks, report.version = len(plan.active), plan.prev["version"]
                report.seconds = time.perf_counter() - started
                return report
            self._catalog_rows(plan, note)
            report.warnings = self._screen(plan.new_chunks.values())
            vectors = self._embed_all(plan, note, report)
            tmp = self._lexical(plan, vectors, note)
            manifest = self._publish(plan, vectors, tmp)
            # keep what this and the previously served version use
            served_active = {cid for e in plan.served_docs.values() for cid in e["chunks"]}
            self._collect_garbage(manifest, plan.served, plan.active_set | served_active)
            report.chunks, report.version = len(plan.active), vectors.version
            report.seconds = time.perf_counter() - started
            note("done", 1, 1)
            return report

    def _plan(self, source: Path, full: bool, note: ProgressFn, report: IndexReport) -> _Plan:
        """What the new version holds: its documents (unchanged ones keep their chunks), and
        whether anything changed at all."""
        # `served`: the version readers use now, protected from GC until the next run, even by
        # a full rebuild (searches in flight still query its collections). `prev`: what this
        # run may reuse; nothing when rebuilding in full.
        served = None
        try:
            served = self.layout.read_manifest()
        except IndexUnavailable as exc:
            if not full:
                log.warning("served index is unreadable (%s); rebuilding in full", exc)
            full = True
        prev = None if full else served
        note("load", 0, 1)
        docs, issues, failed = load_directory(source)
        _glossary, glossary_csv = Glossary.load_dir(source, issues)
        report.errors = issues
        plan = _Plan(source=source, full=full, served=served, prev=prev, glossary_csv=glossary_csv,
                     glossary_hash=content_hash(glossary_csv, length=16),
                     split_cfg={"max_tokens": self.splitter.max_tokens, "overlap": self.splitter.overlap,
                                "encoding": self.splitter.encoding})
        prev_docs: dict = (prev or {}).get("documents", {})
        # a file that fails to load keeps its previous version (a full rebuild too, with its
        # chunks embedded again): never lose served knowledge
        carried = {d: e for d, e in plan.served_docs.items() if e["source"] in failed}
        if not docs and not carried:
            raise InputError(f"no loadable documents in {source}" + (f" ({len(issues)} files failed)" if issues else ""))
        same_split = prev is not None and prev.get("splitter") == plan.split_cfg
        for doc in docs:
            old = prev_docs.get(doc.doc_id) if same_split else None
            if old is not None and old["version"] == doc.version and old["source"] == doc.source and old["chunks"]:
                plan.new_docs[doc.doc_id] = dict(old)  # unchanged document, same splitter: same chunks
                continue
            chunks = self.splitter.split(doc)
            if chunks:
                plan.new_docs[doc.doc_id] = self._doc_entry(doc, chunks)
                plan.new_chunks.update((c.chunk_id, c) for c in chunks)
        for doc_id, entry in carried.items():
            plan.new_docs.setdefault(doc_id, entry)
        carried_ids = [cid for e in carried.values() for cid in e["chunks"] if cid not in plan.new_chunks]
        if carried_ids:
            for cid, (chunk, _tok) in self.catalog.get_chunks(carried_ids).items():
                plan.new_chunks[cid] = chunk
        plan.active = [cid for e in plan.new_docs.values() for cid in e["chunks"]]
        plan.active_set = set(plan.active)
        self._count_changes(plan, report)
        plan.prev_active = {cid for e in prev_docs.values() for cid in e["chunks"]}
        same_backends = prev is not None and {n: r.get("revision", "") for n, r in prev.get("embedders", {}).items()} == {
            e.name: revision_of(e) for e in self.embedders}
        intact = same_backends and all(
            self.store.collection(e["collection"]).count() >= len(plan.active) for e in prev["embedders"].values())
        plan.unchanged = (same_backends and prev.get("glossary") == plan.glossary_hash and intact
                          and not (report.added or report.updated or report.removed))
        return plan

    @staticmethod
    def _count_changes(plan: _Plan, report: IndexReport) -> None:
        for doc_id, entry in plan.new_docs.items():
            old = plan.served_docs.get(doc_id)
            if old is None:
                report.added += 1
            elif old["version"] != entry["version"]:
                report.updated += 1
            else:
                report.unchanged += 1
        report.removed = sum(1 for d in plan.served_docs if d not in plan.new_docs)

    def _catalog_rows(self, plan: _Plan, note: ProgressFn) -> None:
        """New chunks into the catalog, with their lexical tokens computed once per chunk."""
        missing = [plan.new_chunks[c] for c in plan.active if c in plan.new_chunks]
        known = self.catalog.known_chunk_ids(c.chunk_id for c in missing)
        fresh = [c for c in missing if c.chunk_id not in known]
        if fresh:
            note("tokenize", 0, len(fresh))
            stated = [lexical_tokens(c.stated_text) for c in fresh]
            extra = [lexical_tokens("\n".join(c.phrasings)) if c.phrasings else [] for c in fresh]
            self.catalog.add_chunks(fresh, [s + x for s, x in zip(stated, extra)],
                                    [s if c.phrasings else None for s, c in zip(stated, fresh)])

    def _embed_all(self, plan: _Plan, note: ProgressFn, report: IndexReport) -> _Vectors:
        """Each embedder's vectors for what is new, into its collection (reused unless rebuilding)."""
        version = self.layout.new_version_name()
        out = _Vectors(version=version, canary_id=min(plan.active_set))
        generation = content_hash(version, length=8)
        prev_cols = (plan.prev or {}).get("embedders", {})
        for e in self.embedders:
            # a collection is reused only by the same engine revision: never two conversions' vectors in one
            reuse = (not plan.full) and e.name in prev_cols and prev_cols[e.name].get("revision", "") == revision_of(e)
            name = prev_cols[e.name]["collection"] if reuse else self.store.collection_name(e.name, generation)
            col = self.store.collection(name)
            if reuse and col.count() < len(plan.prev_active):
                # the collection lost vectors (wiped or damaged store): rebuild this one
                log.warning("collection %s holds fewer vectors than the served index; rebuilding it", name)
                reuse = False
                name = self.store.collection_name(e.name, generation)
                col = self.store.collection(name)
            need_ids = [c for c in plan.active if (not reuse or c not in plan.prev_active)]
            absent = [c for c in need_ids if c not in plan.new_chunks]
            if absent:  # chunks of unchanged documents, needed when a collection is rebuilt
                for cid, (chunk, _tok) in self.catalog.get_chunks(absent, tokens=False).items():
                    plan.new_chunks[cid] = chunk
            need = [plan.new_chunks[c] for c in need_ids]
            vecs = self._embed(e, need, use_cache=not plan.full, report=report, progress=note)
            out.fresh[e.name] = dict(zip(need_ids, vecs))
            if need:
                note(f"write:{e.name}", 0, len(need))
                col.upsert([c.chunk_id for c in need], vecs, [_chroma_meta(c) for c in need])
            out.collections[e.name] = {"collection": name, "revision": revision_of(e),
                                       "dim": int(vecs.shape[1]) if len(need) else prev_cols.get(e.name, {}).get("dim", 0)}
            if e is self.embedders[0]:
                key = text_key(self._chunk_for(out.canary_id, plan.new_chunks).embed_text)
                out.canary_vec = next(iter(self.catalog.cached_vectors(vector_key(e), [key]).values()), None)
        return out

    def _lexical(self, plan: _Plan, vectors: _Vectors, note: ProgressFn) -> Path:
        """The version's files in a temp dir: lexical index(es), glossary, vector files; then the canary."""
        note("lexical", 0, 1)
        active = plan.active
        toks, stated = self.catalog.get_tokens(active)
        tmp = self.layout.versions / f".tmp-{vectors.version}"
        self.backends.build_lexical(active, [toks[c] for c in active]).save(tmp / "lexical")
        if stated:  # phrasings present: a second index over what the knowledge states
            self.backends.build_lexical(active, [stated[c] if c in stated else toks[c] for c in active]).save(tmp / STATED_DIR)
        (tmp / "glossary.csv").write_text(plan.glossary_csv, encoding="utf-8")
        vectors.files = (self._write_vectors(tmp, active, vectors.collections, vectors.fresh, plan.served if not plan.full else None)
                         if len(active) <= EXACT_MAX else {})
        if vectors.canary_vec is not None:
            primary = self.store.collection(vectors.collections[self.embedders[0].name]["collection"])
            canary_check(primary, vectors.canary_id, vectors.canary_vec, plan.active_set)
        return tmp

    def _publish(self, plan: _Plan, vectors: _Vectors, tmp: Path) -> dict:
        """The manifest, the version dir renamed into place, CURRENT switched."""
        version = vectors.version
        canary = vectors.canary_vec
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": version,
            "parent": (plan.served or {}).get("version"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": str(plan.source),
            "splitter": plan.split_cfg,
            "embedders": vectors.collections,
            "vectors": vectors.files,  # embedder -> file in the version dir (rows: lexical order)
            "primary": self.embedders[0].name,
            "canary": {"chunk_id": vectors.canary_id, "vector": [float(x) for x in canary] if canary is not None else None},
            "glossary": plan.glossary_hash,
            "documents": plan.new_docs,
            "chunks": len(plan.active),
            # chunks the previous version served and this one does not: the next run's GC
            # deletes them from the vector store without scanning it
            "retired": sorted(plan.prev_active - plan.active_set),
        }
        write_json_atomic(tmp / "manifest.json", manifest)
        os.replace(tmp, self.layout.version_dir(version))
        if self.pause_before_publish:
            log.warning("pausing %.1fs before publishing version %s (debug setting)", self.pause_before_publish, version)
            time.sleep(self.pause_before_publish)
        self.layout.publish(version)
        log.info("published index version %s (%d chunks)", version, len(plan.active))
        return manifest

    def _write_vectors(self, tmp: Path, active: list[str], collections: dict[str, dict],
                       fresh: dict[str, dict[str, np.ndarray]], prev: dict | None) -> dict[str, str]:
        """Each embedder's vectors of this version, in `active` order, as one .npy file: what
        serving processes search (retrieval.Snapshot). Rows come from this run's new vectors and
        the previous version's file; only what neither has is read back from the store (reading
        10,000 vectors from Chroma took 0.3 s per embedder, more than the rest of an edit)."""
        out = {}
        (tmp / "vectors").mkdir(parents=True, exist_ok=True)
        prev_ids: list[str] = [cid for d in (prev or {}).get("documents", {}).values() for cid in d["chunks"]]
        for e in self.embedders:
            rows = fresh.get(e.name, {})
            prev_matrix = None
            rel_prev = ((prev or {}).get("vectors") or {}).get(e.name)
            if rel_prev and prev.get("embedders", {}).get(e.name, {}).get("collection") == collections[e.name]["collection"]:
                path = self.layout.version_dir(prev["version"]) / rel_prev
                try:
                    prev_matrix = np.load(path, mmap_mode="r")
                    if prev_matrix.shape[0] != len(prev_ids):
                        prev_matrix = None
                except (OSError, ValueError):
                    prev_matrix = None
            at = {cid: i for i, cid in enumerate(prev_ids)} if prev_matrix is not None else {}
            missing = [cid for cid in active if cid not in rows and cid not in at]
            if missing:
                rows = {**rows, **dict(zip(missing, self.store.collection(collections[e.name]["collection"]).matrix(missing)))}
            dim = int(collections[e.name].get("dim") or (prev_matrix.shape[1] if prev_matrix is not None else 0))
            matrix = np.empty((len(active), dim), dtype=np.float32)
            from_prev = [(i, at[cid]) for i, cid in enumerate(active) if cid not in rows]
            if from_prev:
                dst, src = zip(*from_prev)
                matrix[list(dst)] = prev_matrix[list(src)]
            for i, cid in enumerate(active):
                if cid in rows:
                    matrix[i] = rows[cid]
            rel = f"vectors/{re.sub(r'[^A-Za-z0-9._-]+', '-', e.name)}.npy"
            with open(tmp / rel, "wb") as fh:
                np.save(fh, np.ascontiguousarray(matrix, dtype=np.float32))
                fh.flush()
                os.fsync(fh.fileno())
            out[e.name] = rel
        return out

    def _screen(self, chunks) -> list[LoadIssue]:
        """Passages of added or changed documents that drafts will hold back (safety.screen_passage
        runs again at draft time; this tells the editor now)."""
        from ..safety import screen_passage

        out = []
        for c in chunks:
            if c.doc_type == "playbook":
                continue  # instructions to agents by design, and never evidence for a draft
            clean, dropped = screen_passage(c.text, self.link_hosts)
            where = f"{c.source}#{c.doc_id}" if c.doc_type == "faq" else c.source
            if not clean:
                out.append(LoadIssue(where, f"never used in drafts: it instructs the assistant or changes a policy ({dropped[0][:80]!r})"))
            elif dropped:
                out.append(LoadIssue(where, f"{len(dropped)} sentence(s) with links outside the allowed domains are left out of drafts"))
        return out

    def _chunk_for(self, cid: str, chunks: dict[str, Chunk]) -> Chunk:
        if cid in chunks:
            return chunks[cid]
        return self.catalog.get_chunks([cid])[cid][0]

    @staticmethod
    def _doc_entry(doc: Document, chunks: list[Chunk]) -> dict:
        return {
            "source": doc.source,
            "doc_type": doc.doc_type,
            "title": doc.title,
            "lang": doc.lang,
            "version": doc.version,
            "chunks": [c.chunk_id for c in chunks],
        }

    def _clean_temp(self) -> None:
        if self.layout.versions.exists():
            for d in self.layout.versions.glob(".tmp-*"):
                shutil.rmtree(d, ignore_errors=True)

    def _collect_garbage(self, manifest: dict, prev: dict | None, keep_ids: set[str]) -> None:
        keep_versions = {manifest["version"]} | ({prev["version"]} if prev else set())
        keep_cols = {v["collection"] for v in manifest["embedders"].values()}
        if prev:
            keep_cols |= {v["collection"] for v in prev.get("embedders", {}).values()}
        # versions a live serving process still uses (leases): their directory, chunks and vectors stay
        for v in self.layout.leases.live_versions() - keep_versions:
            try:
                held = self.layout.read_manifest(v)
            except IndexUnavailable:
                continue
            if held:
                keep_versions.add(v)
                keep_cols |= {e["collection"] for e in held.get("embedders", {}).values()}
                keep_ids = keep_ids | {cid for d in held["documents"].values() for cid in d["chunks"]}
        try:
            self.store.drop_collections_except(keep_cols)
            retired = set((prev or {}).get("retired", [])) - keep_ids
            for entry in manifest["embedders"].values():
                col = self.store.collection(entry["collection"])
                if retired:
                    col.delete(sorted(retired))
                if col.count() > len(keep_ids):
                    # more than expected (an older manifest, or a run killed before its GC): scan
                    orphans = col.ids() - keep_ids
                    if orphans:
                        col.delete(sorted(orphans))
                        log.info("removed %d stale vectors from %s", len(orphans), col.name)
            self.catalog.delete_chunks_except(keep_ids)
            self.layout.prune(keep_versions)
        except Exception:  # GC failing must never undo a published version
            log.exception("garbage collection after publishing failed; it will be retried next run")
