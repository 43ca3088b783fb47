"""The composition root: one `Copilot` facade that the CLI, the API, the panel and the evals
share, so they cannot disagree. Backends are built lazily from Settings on first use."""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path

from .config import Settings
from .domain import Hit, IndexReport
from .errors import InputError
from .knowledge.catalog import Catalog
from .knowledge.versions import Layout
from .retrieval import Filters, Retriever

log = logging.getLogger(__name__)


class Copilot:
    def __init__(self, settings: Settings | None = None, *, embedders: list | None = None) -> None:
        self.settings = settings or Settings()
        self._embedders_override = embedders
        self._index_lock = threading.Lock()

    # --- backends (built on first use) ----------------------------------------------------
    @cached_property
    def layout(self) -> Layout:
        return Layout(self.settings.index_dir)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.layout.catalog)

    @cached_property
    def chroma(self):
        from .adapters.chroma import make_client

        return make_client(self.layout.chroma, self.settings.chroma_url)

    @cached_property
    def embedders(self) -> list:
        if self._embedders_override is not None:
            return list(self._embedders_override)
        from .adapters.embedders import make_embedder

        return [make_embedder(spec) for spec in self.settings.embedder_specs()]

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.layout, self.catalog, self.chroma, {e.name: e for e in self.embedders})

    def warm_up(self) -> None:
        for e in self.embedders:
            getattr(e, "warm_up", lambda: None)()

    # --- knowledge ------------------------------------------------------------------------
    def index(self, source: Path | None = None, full: bool = False, progress=None) -> IndexReport:
        from .knowledge.indexer import Indexer
        from .knowledge.splitter import Splitter

        s = self.settings
        indexer = Indexer(
            self.layout,
            self.catalog,
            self.chroma,
            self.embedders,
            Splitter(s.chunk_tokens, s.chunk_overlap, s.token_encoding),
            embed_batch=s.embed_batch,
            pause_before_publish=s.debug_pause_before_publish,
        )
        with self._index_lock:
            report = indexer.run(Path(source or s.knowledge_dir), full=full, progress=progress)
        self.retriever.snapshot()  # swap to the new version now, not on the next query
        return report

    def search(self, query: str, k: int | None = None, *, lang: str | None = None, sources: list[str] | None = None,
               tags: list[str] | None = None, doc_types: list[str] | None = None) -> list[Hit]:
        if query is not None and len(query) > self.settings.max_query_chars:
            raise InputError(f"query is {len(query)} characters; the limit is {self.settings.max_query_chars}")
        filters = Filters(lang=lang, sources=list(sources or []), tags=list(tags or []), doc_types=list(doc_types or []))
        return self.retriever.search(query, self.settings.search_k if k is None else k, filters)

    def status(self) -> dict:
        manifest = self.layout.read_manifest()
        base = {
            "embedder": self.settings.embedder,
            "embedders": self.settings.embedder_specs(),
            "vector_store": self.settings.chroma_url or "chroma-persistent",
            "data_dir": str(self.settings.data_dir),
        }
        if manifest is None:
            return {"documents": 0, "chunks": 0, "index_version": None, **base}
        return {
            "documents": len(manifest["documents"]),
            "chunks": manifest["chunks"],
            "index_version": manifest["version"],
            "indexed_at": manifest.get("created"),
            **base,
        }

    def check_index(self) -> dict:
        """Open the served version and run its canary query. Raises IndexUnavailable."""
        snap = self.retriever.snapshot()
        snap.check_canary()
        return {"index_version": snap.version, "chunks": len(snap.active), "canary": "ok"}
