"""The composition root: one `Copilot` facade that the CLI, the API, the panel and the evals
share, so they cannot disagree. Backends are built lazily from Settings on first use."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from functools import cached_property
from pathlib import Path

from .config import Settings
from .domain import Draft, Hit, IndexReport, Ticket
from .errors import ConfigError, IndexUnavailable, InputError
from .knowledge.catalog import Catalog
from .knowledge.versions import Layout
from .retrieval import Filters, Retriever
from .specs import family_of, llm_spec

log = logging.getLogger(__name__)
# a host that cannot follow the cluster's index version for longer than this is not ready
STALE_AFTER_S = 10.0


class Copilot:
    def __init__(self, settings: Settings | None = None, *, embedders: list | None = None) -> None:
        self.settings = settings or Settings()
        self._embedders_override = embedders
        self._index_lock = threading.Lock()
        self._prompts: dict[str, tuple] = {}
        # set by start_serving (the API): this process serves requests for a long time, so its
        # re-indexes embed in a child process (see _embed_offload)
        self.serving_process = False

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

        self._store_seen = self.layout.current_version()
        return make_client(self.layout.chroma, self.settings.chroma_url)

    def vector_store(self):
        """The vector store port over the (lazily opened) Chroma client."""
        from .adapters.chroma import ChromaStore

        return ChromaStore(self.chroma)

    @cached_property
    def backends(self):
        """The index adapters retrieval and the indexer are built with (ports.IndexBackends)."""
        from .adapters.bm25 import Bm25Index
        from .adapters.chroma import ExactVectorIndex
        from .ports import IndexBackends

        return IndexBackends(build_lexical=Bm25Index.build, load_lexical=Bm25Index.load, exact=ExactVectorIndex)

    def _refresh_store(self) -> None:
        """Before a serving process re-indexes: if another process published since this one opened
        the embedded store, reopen it (writing through Chroma's stale view of the files is how
        "Error finding id" began, issue 16). A Chroma server needs none of this."""
        if self.settings.chroma_url or "chroma" not in self.__dict__:
            return
        if self.layout.current_version() == getattr(self, "_store_seen", None):
            return
        old = self.__dict__.pop("chroma")
        try:
            old.close()
        except Exception as exc:  # closing a stale client must not stop the re-index
            log.debug("closing the previous vector store client: %s", exc)
        log.info("the index was re-published by another process; reopened the vector store")

    @cached_property
    def embedders(self) -> list:
        if self._embedders_override is not None:
            return list(self._embedders_override)
        from .adapters.embedders import make_embedder

        return [make_embedder(spec, query_engines=self.settings.query_engines, model_dir=self.settings.models_dir)
                for spec in self.settings.embedder_specs()]

    @cached_property
    def retriever(self) -> Retriever:
        # the vector store is opened only when a version needs it: a serving process searches
        # the vectors published with each version and never reads a store another process writes
        r = Retriever(self.layout, self.catalog, self.vector_store, {e.name: e for e in self.embedders}, self.backends)
        if self.cluster is not None:
            r.sync = self.cluster.sync  # the follower pulls what another host published
        return r

    @cached_property
    def cluster(self):
        """Index versions shared through PostgreSQL (COPILOT_CLUSTER_URL), or None on one host."""
        if not self.settings.cluster_url:
            return None
        if not self.settings.chroma_url:
            raise ConfigError("COPILOT_CLUSTER_URL needs COPILOT_CHROMA_URL: hosts without a shared filesystem "
                              "share their vectors through a Chroma server")
        from .knowledge.cluster import Cluster

        c = Cluster(self.settings.cluster_url, self.layout, self.catalog)
        self.layout.leases = c.leases  # leases are cluster-wide: GC on any host keeps what any host serves
        return c

    # --- serving (the API's lifespan) -------------------------------------------------------
    def start_serving(self) -> None:
        """Long-lived: re-indexes embed in a child, GC keeps the served version, webhook misconfig fails now."""
        self.serving_process = True
        self.retriever.leases = True
        self.webhooks  # noqa: B018

    def follow_index(self) -> None:
        self.retriever.follow()

    def stop_serving(self) -> None:
        self.retriever.release()

    def warm_up(self) -> None:
        """Models loaded, and the served version's word vectors computed (if there is one)."""
        for e in self.embedders:
            getattr(e, "warm_up", lambda: None)()
        with contextlib.suppress(IndexUnavailable):  # no index yet: the follower warms the first version
            self.retriever.warm_words()

    # --- knowledge ------------------------------------------------------------------------
    def index(self, source: Path | None = None, full: bool = False, progress=None) -> IndexReport:
        from .knowledge.indexer import Indexer
        from .knowledge.splitter import Splitter

        s = self.settings
        with self._index_lock, (self.cluster.lock() if self.cluster is not None else contextlib.nullcontext()):
            if self.cluster is not None:
                self.cluster.sync()  # build on the cluster's current version, not this host's last
            self._refresh_store()
            if full and not s.chroma_url:
                self._open_or_quarantine_store()
            indexer = Indexer(
                self.layout,
                self.catalog,
                self.vector_store(),
                self.embedders,
                Splitter(s.chunk_tokens, s.chunk_overlap, s.token_encoding),
                self.backends,
                embed_batch=s.embed_batch,
                pause_before_publish=s.debug_pause_before_publish,
                link_hosts=s.allowed_link_hosts(),
                offload=self._embed_offload(),
            )
            before = self.layout.current_version()
            report = indexer.run(Path(source or s.knowledge_dir), full=full, progress=progress)
            self._store_seen = self.layout.current_version()
            if self.cluster is not None and report.version and report.version != before:
                self.cluster.publish(report.version)
        if self.retriever.serving:
            # a serving process swaps to the new version now, not on its next query; a
            # one-shot `copilot index` has nothing to swap and skips the load
            self.retriever.snapshot(wait=True)
        return report

    def _embed_offload(self):
        """How a re-index embeds documents: in a child process for a serving process (or when
        COPILOT_EMBED_WORKER=always), so batch memory never stays in the server."""
        mode = self.settings.embed_worker
        if mode == "never" or (mode == "auto" and not self.serving_process):
            return None
        from .adapters.embed_worker import WorkerEmbedder, offloadable

        def offload(embedder):
            return WorkerEmbedder(embedder) if offloadable(embedder) else contextlib.nullcontext(embedder)

        return offload

    def _open_or_quarantine_store(self) -> None:
        """For a full rebuild: a store that cannot be opened is moved aside, not fatal."""
        from .adapters.chroma import StoreDamaged, quarantine

        try:
            self.chroma  # noqa: B018 - opening it is the check
        except StoreDamaged as exc:
            dest = quarantine(self.layout.chroma)
            log.warning("%s; moved it to %s and building a new one", exc, dest)

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
        """Open the served version, run its canary, open the vector store (a damaged one is reported
        here, at start-up). IndexUnavailable also when a newer published version cannot be loaded."""
        snap = self.retriever.snapshot()
        failed = self.retriever.load_error
        if failed is not None:
            raise IndexUnavailable(f"serving index version {snap.version}, but the published version {failed[0]} "
                                   f"cannot be loaded: {failed[1]}")
        lost = self.retriever.sync_error
        if lost is not None and time.time() - lost[1] > STALE_AFTER_S:
            raise IndexUnavailable(f"serving index version {snap.version}, but the cluster's current version cannot be "
                                   f"followed for {time.time() - lost[1]:.0f} s: {lost[0]}")
        snap.check_canary()
        self.chroma  # noqa: B018 - opened once per process, read-only here; re-indexes reopen it (_refresh_store)
        return {"index_version": snap.version, "chunks": len(snap.active), "canary": "ok"}

    # --- store, drafts, summaries ---------------------------------------------------------
    @cached_property
    def store(self):
        from .store import Store

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return Store(self.settings.db_url)

    def prompt(self, name: str):
        """A prompt file, parsed once per process and again only when the file changes."""
        from .prompts import load_prompt

        path = Path(self.settings.prompts_dir) / f"{name}.yaml"
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None  # load_prompt raises the clear error
        cached = self._prompts.get(name)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_prompt(self.settings.prompts_dir, name))
            self._prompts[name] = cached
        return cached[1]

    @cached_property
    def drafter(self):
        from .drafting import ExtractiveDrafter

        extractive = ExtractiveDrafter(self.embedders, self.prompt("extractive_reply"), brand=self.settings.brand_for)
        if self.chat_model is None:
            return extractive
        from .drafting.llm import LlmDrafter
        s = self.settings
        return LlmDrafter(self.chat_model, self.prompt("draft_reply"), extractive, context_tokens=s.llm_context_tokens,
                          redact=s.redact_llm, brand=s.brand_for)

    @cached_property
    def chat_model(self):
        """The configured ChatModel (ports.ChatModel), or None for the offline drafter."""
        spec = llm_spec(self.settings.llm)
        if spec is None:
            return None
        from .adapters.llm import OpenAIChat

        s = self.settings
        return OpenAIChat(spec[1], base_url=s.llm_base_url, api_key=s.llm_api_key, timeout=s.llm_timeout)

    @cached_property
    def pipeline(self):
        from .drafting.pipeline import DraftPipeline

        notify = self.webhooks.notify if self.webhooks is not None else None
        return DraftPipeline(retriever=self.retriever, drafter=self.drafter, prompt=self.prompt, store=self.store,
                             settings=self.settings, families=tuple(family_of(e) for e in self.embedders), notify=notify)

    @property
    def extractive(self):  # the offline drafter: the default, and the LLM drafter's fallback and evidence judge
        return self.pipeline.extractive

    def gather(self, text: str, k: int | None = None, context: str | None = None):
        """What a draft is made from (drafting.pipeline.Gathered); scripts/fit_confidence.py reads it."""
        from .drafting.ticket import analyse

        return self.pipeline.gather(analyse(text, context), k)

    def draft(self, text: str, *, customer_id: str | None = None, ticket_id: str | None = None, k: int | None = None,
              actor: str = "cli", idempotency_key: str | None = None, persist: bool = True, context: str | None = None) -> Draft:
        """Draft a reply to a ticket and store it as pending. Nothing is sent. `text` is the
        message to answer; `context` the conversation before it (see `draft_ticket`)."""
        return self.pipeline.draft(text, customer_id=customer_id, ticket_id=ticket_id, k=k, actor=actor,
                                   idempotency_key=idempotency_key, persist=persist, context=context)

    def conversation(self, ticket_id: str) -> tuple[Ticket, str, str | None]:
        """(the ticket, the message to answer, the context): drafting.pipeline.conversation."""
        from .drafting.pipeline import conversation

        t = self.store.get_ticket(ticket_id)
        return (t, *conversation(t))

    def draft_ticket(self, ticket_id: str, *, k: int | None = None, actor: str = "cli",
                     idempotency_key: str | None = None) -> Draft:
        """Draft a reply to a stored ticket from its whole conversation: the customer's latest
        turn is the question, the subject and earlier messages the context."""
        t, text, context = self.conversation(ticket_id)
        return self.draft(text, customer_id=t.customer_id, ticket_id=t.ticket_id, k=k, actor=actor,
                          idempotency_key=idempotency_key, context=context)

    def inbox(self, limit: int = 200) -> list[dict]:
        """Tickets that still need an agent (domain.INBOX), newest first."""
        from .domain import INBOX

        return self.store.find_tickets(status=",".join(INBOX), limit=limit)[0]

    @cached_property
    def webhooks(self):
        """Signed callbacks to the helpdesk (COPILOT_WEBHOOK_URL), or None."""
        if not self.settings.webhook_url:
            return None
        from .webhooks import Webhooks

        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        if not secret:
            raise ConfigError("COPILOT_WEBHOOK_URL needs COPILOT_WEBHOOK_SECRET: callbacks are signed")
        return Webhooks(self.settings.webhook_url, secret, timeout=self.settings.webhook_timeout)

    def approve(self, draft_id: str, final_text: str | None = None, actor: str = "cli", agent: str | None = None) -> Draft:
        """Mark a draft approved (with the agent's final text). Nothing is sent: the helpdesk
        sends it. `agent` is the person (decided_by); `actor` the channel and key (audit)."""
        d = self.store.get_draft(draft_id)
        out = self.store.decide(draft_id, "approve", actor, final_text=final_text if final_text is not None else d.reply,
                                decided_by=agent)
        if self.webhooks is not None:
            self.webhooks.notify("draft.decided", out.to_dict())
        return out

    def reject(self, draft_id: str, reason: str, note: str | None = None, actor: str = "cli", agent: str | None = None) -> Draft:
        out = self.store.decide(draft_id, "reject", actor, reason=reason, note=note, decided_by=agent)
        if self.webhooks is not None:
            self.webhooks.notify("draft.decided", out.to_dict())
        return out

    def summarize(self, customer_id: str) -> dict:
        """Extractive by default; with an LLM configured, its overview replaces the extractive
        one when every sentence cites this customer's tickets."""
        from .summaries import summarize

        customer = self.store.get_customer(customer_id)
        tickets = self.store.tickets_for(customer_id)
        out = summarize(customer, tickets)
        if llm_spec(self.settings.llm) is not None and tickets:
            from .drafting.llm import LlmSummarizer

            summarizer = LlmSummarizer(self.chat_model, self.prompt("summarize_customer"), redact=self.settings.redact_llm)
            text, note = summarizer.overview(customer, tickets)
            if text:
                out["extractive_summary"] = out["summary"]
                out["summary"], out["summarizer"] = text, self.drafter.name
            else:
                out["notes"] = [note]
        return out

    def import_customers(self, path: Path, actor: str = "cli") -> dict:
        from .customers import parse_file

        records, issues = parse_file(Path(path))
        counts = self.store.import_records(records, actor=actor)
        return {**counts, "errors": [i.to_dict() for i in issues]}

    # --- evals ----------------------------------------------------------------------------
    def run_eval(self, dataset: Path, out: Path | None = None, *, thresholds: Path | None = None,
                 baseline: Path | None = None, update_baseline: bool = False, progress=None) -> dict:
        """Score the pipeline on a dataset, write the reports, apply the gate (evals/suites.py):
        the one entry point for the CLI, the panel's QA tab and the REST API."""
        from .evals.suites import run_dataset

        return run_dataset(self, Path(dataset), out, thresholds=thresholds, baseline=baseline,
                           update_baseline=update_baseline, progress=progress)

    def eval_views(self, result: dict) -> tuple[dict, str]:
        """An eval result's charts (name -> base64 PNG) and Markdown report, for the panel."""
        from .evals.report import charts, markdown

        return charts(result), markdown(result)

    def run_eval_all(self, evals_dir: Path | None = None, out: Path | None = None, *, update_baseline: bool = False,
                     progress=None) -> dict:
        """The sample set and every cold suite, each gated; the cold suites also pooled
        (evals/suites.py)."""
        from .evals.suites import run_all

        return run_all(self, Path(evals_dir or self.settings.evals_dir), out, update_baseline=update_baseline, progress=progress)

    def _scratch_copilot(self, data_dir: Path, knowledge_dir: Path, **settings) -> "Copilot":
        """A copilot over other knowledge in its own data dir, sharing this one's embedders."""
        return self.derive(data_dir=data_dir, knowledge_dir=knowledge_dir, database_url=None, **settings)

    def red_team(self, drafters: tuple[str, ...] = ("extractive", "obedient"), progress=None) -> dict:
        """The prompt-injection red team (evals/injection.py) over a planted copy of the knowledge."""
        from .evals import injection

        s = self.settings
        prompt = Path(s.prompts_dir) / "draft_reply.yaml"
        return injection.run(self._scratch_copilot, injection.load_attacks(Path(s.evals_dir) / injection.ATTACKS),
                             knowledge_dir=Path(s.knowledge_dir),
                             known=injection.known_text(s.knowledge_dir),
                             system_prompt=prompt.read_text(encoding="utf-8") if prompt.exists() else "",
                             drafters=drafters, progress=progress)

    def derive(self, **settings) -> "Copilot":
        """Another copilot with some settings changed, sharing embedders (and the store client): evals, red team."""
        # no webhooks: a derived copilot's drafts are evaluations, never the helpdesk's
        c = Copilot(self.settings.model_copy(update={"webhook_url": None, **settings}), embedders=self.embedders)
        if "data_dir" not in settings and "chroma" in self.__dict__:
            c.chroma = self.chroma
        return c

    # --- records, for the surfaces (REST, panel, CLI) -------------------------------------
    def get_draft(self, draft_id: str) -> Draft:
        return self.store.get_draft(draft_id)

    def find_drafts(self, **filters) -> tuple[list[Draft], int]:
        return self.store.find_drafts(**filters)

    def find_tickets(self, **filters) -> tuple[list[dict], int]:
        return self.store.find_tickets(**filters)

    def add_ticket(self, ticket: Ticket, actor: str) -> Ticket:
        return self.store.add_ticket(ticket, actor)

    def add_message(self, ticket_id: str, sender: str, text: str, actor: str):
        return self.store.add_message(ticket_id, sender, text, actor)

    def set_ticket_status(self, ticket_id: str, status: str, actor: str) -> None:
        self.store.set_ticket_status(ticket_id, status, actor)

    def customers(self, limit: int | None = None, offset: int = 0) -> tuple[list, int]:
        return self.store.list_customers(limit, offset), self.store.counts()["customers"]

    def knowledge_gaps(self, limit: int = 500) -> list[Draft]:
        """Drafts rejected because the knowledge base lacks the answer: what editors should write."""
        return self.store.find_drafts(status="rejected", reject_reason="knowledge_gap", limit=limit)[0]

    def export_feedback(self, out: Path) -> dict:
        from .feedback import export_feedback

        return export_feedback(self.store, out)

    def check_database(self) -> dict:
        return self.store.counts()

    def api_key(self, key: str) -> dict | None:
        """The live record of a presented key (None when unknown or revoked)."""
        from .auth import hash_key

        rec = self.store.api_key_by_hash(hash_key(key or ""))
        return None if rec is None or rec["revoked_at"] else rec

    def create_api_key(self, role: str, name: str, actor: str) -> tuple[dict, str]:
        """(the stored record, the key itself: shown once, stored hashed)."""
        from .auth import new_key

        key_id, key, key_hash = new_key(role)
        return self.store.add_api_key(key_id, key_hash, role, name, actor=actor), key

    def key_role(self, key_id: str) -> str | None:  # None: unknown or revoked
        rec = self.store.api_key_by_id(key_id)  # one indexed lookup per panel event
        return None if rec is None or rec["revoked_at"] else rec["role"]

    def api_keys(self) -> list[dict]:
        return self.store.list_api_keys()

    def revoke_api_key(self, key_id: str, actor: str) -> dict:
        return self.store.revoke_api_key(key_id, actor=actor)

    # --- knowledge files (shared by the REST API and the panel): knowledge/files.py ----------
    @cached_property
    def files(self):
        from .knowledge.files import KnowledgeFiles

        return KnowledgeFiles(Path(self.settings.knowledge_dir), self.settings.max_upload_bytes, self.layout)

    def upload_document(self, name: str, data: bytes, folder: str = "manuals") -> dict:
        return self.files.upload(name, data, folder)

    def delete_document(self, rel: str) -> dict:
        return self.files.delete(rel)

    def documents(self) -> dict:
        return self.files.listing()
