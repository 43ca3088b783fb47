"""Plain data types shared by every layer. No behaviour beyond small helpers."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property


def content_hash(*parts: object, length: int = 24) -> str:
    """Stable hash of the given parts (JSON-encoded, so structure matters)."""
    raw = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Section:
    """A titled block of a manual: the unit the splitter cuts into chunks. `phrasings` are
    how customers ask for it (knowledge/phrasings/*.yaml): searched, never quoted."""

    heading: str
    text: str
    phrasings: tuple[str, ...] = ()


@dataclass
class Document:
    """One knowledge item: an FAQ entry or a whole manual.

    doc_id is stable across edits (the FAQ id, or the path of a manual), version changes
    whenever the content does.
    """

    doc_id: str
    source: str  # path relative to the knowledge dir, posix style
    doc_type: str  # faq | manual | playbook
    title: str
    lang: str
    sections: list[Section]
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    # FAQ only: how customers ask for this entry in their own words ("パスワード 忘れた",
    # "タダで試せる？"). Searched, never quoted in drafts.
    phrasings: list[str] = field(default_factory=list)

    @cached_property
    def version(self) -> str:
        # computed once: documents are not changed after loading, and a re-index asks for
        # the version of every document several times
        parts: list = [self.source, self.title, self.lang, self.tags, self.url,
                       [(s.heading, s.text) for s in self.sections]]
        if self.phrasings:  # absent from the hash when empty: older versions stay valid
            parts.append(self.phrasings)
        if any(s.phrasings for s in self.sections):  # likewise for manual sections
            parts.append([(s.heading, list(s.phrasings)) for s in self.sections])
        return content_hash(*parts, length=16)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    source: str
    doc_type: str
    title: str
    section: str
    lang: str
    text: str
    position: int
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    doc_version: str = ""
    phrasings: list[str] = field(default_factory=list)  # customers' wordings (FAQ entry or manual section)

    @property
    def stated_text(self) -> str:
        """The chunk as the knowledge states it: the heading path gives it its topic."""
        head = self.title if not self.section or self.section == self.title else f"{self.title} / {self.section}"
        return f"{head}\n{self.text}" if head else self.text

    @property
    def embed_text(self) -> str:
        """What the embedders and the lexical index see: the stated text, and the phrasings of
        its FAQ entry or manual section (the words customers use for it). Drafts quote `text` only."""
        return self.stated_text + "\n" + "\n".join(self.phrasings) if self.phrasings else self.stated_text

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Hit:
    rank: int
    chunk: Chunk
    score: float
    # Per-retriever ranks that fed the fused score, e.g. {"dense:e5": 1, "lexical": 3},
    # and the retrievers' own scores (cosine similarity for dense, BM25 for lexical).
    ranks: dict[str, int] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "source": c.source,
            "title": c.title,
            "section": c.section,
            "lang": c.lang,
            "text": c.text,
            "score": round(self.score, 6),
            "url": c.url,
        }


@dataclass
class LoadIssue:
    """A file (or part of one) that could not be loaded."""

    path: str
    reason: str

    def to_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason}


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0
    embedded: int = 0  # chunk texts sent to an embedder (all embedders together)
    version: str = ""
    errors: list[LoadIssue] = field(default_factory=list)
    # passages indexed but never used in drafts (they instruct the assistant, grant things
    # through a policy "update", or carry off-domain links): for a knowledge editor to review
    warnings: list[LoadIssue] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "embedded": self.embedded,
            "version": self.version,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [e.to_dict() for e in self.warnings],
        }


# --- drafts, customers, decisions -------------------------------------------------------

# the enumerations and limits every surface uses (API models, CLI choices, panel, store)
DRAFT_STATUSES = ("pending", "approved", "rejected")
REJECT_REASONS = ("wrong", "incomplete", "knowledge_gap", "tone", "other")
HELPDESK_STATUSES = ("open", "pending", "resolved", "escalated")  # a ticket's status in the helpdesk
TICKET_WORKFLOW = ("open", "drafted", "escalated", "approved", "sent", "rejected", "closed")  # store.repo.ticket_status
INBOX = ("open", "drafted", "escalated", "rejected")  # the workflow states that still need an agent
SENDERS = ("customer", "agent")
MAX_TEXT_CHARS = 20_000  # a ticket, a message or a final reply sent to the API (COPILOT_MAX_TICKET_CHARS may lower it)
MAX_K = 20  # passages a draft may retrieve
MAX_QUERY_CHARS = 4000  # a search query (COPILOT_MAX_QUERY_CHARS may lower it)
PAGE_MAX = 200  # items per page of a list
MAX_ID_CHARS = 64  # a customer, ticket or draft id


@dataclass
class Citation:
    n: int
    chunk_id: str
    source: str
    text: str
    title: str = ""
    url: str | None = None

    def to_dict(self) -> dict:
        return {"n": self.n, "chunk_id": self.chunk_id, "source": self.source, "title": self.title, "text": self.text, "url": self.url}


@dataclass
class Draft:
    draft_id: str
    language: str
    reply: str
    citations: list[Citation]
    escalate: bool
    escalation_reason: str | None
    confidence: float
    prompt_name: str
    prompt_version: str
    drafter: str
    evidence_ids: list[str] = field(default_factory=list)
    customer_id: str | None = None
    ticket_id: str | None = None
    ticket_text: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = "pending"
    created_at: str = ""
    final_text: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reject_reason: str | None = None
    reject_note: str | None = None
    diff: str | None = None

    def to_dict(self) -> dict:
        """The public shape (README: `copilot draft`), plus the decision fields."""
        return {
            "draft_id": self.draft_id,
            "language": self.language,
            "reply": self.reply,
            "citations": [c.to_dict() for c in self.citations],
            "escalate": self.escalate,
            "escalation_reason": self.escalation_reason,
            "confidence": round(self.confidence, 4),
            "prompt_version": self.prompt_version,
            "prompt_name": self.prompt_name,
            "drafter": self.drafter,
            "evidence_ids": list(self.evidence_ids),
            "customer_id": self.customer_id,
            "ticket_id": self.ticket_id,
            "ticket_text": self.ticket_text,
            "flags": list(self.flags),
            "notes": list(self.notes),
            "status": self.status,
            "created_at": self.created_at,
            "final_text": self.final_text,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "reject_reason": self.reject_reason,
            "reject_note": self.reject_note,
            "diff": self.diff,
        }


@dataclass
class Message:
    sender: str  # customer | agent
    at: str
    text: str


@dataclass
class Ticket:
    ticket_id: str
    customer_id: str
    subject: str
    status: str
    channel: str
    created_at: str
    tags: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


@dataclass
class Customer:
    customer_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    lang: str = "ja"
    plan: str | None = None
    products: list[str] = field(default_factory=list)
    created_at: str | None = None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")  # orders a draft and the next message


def utc_iso(t: _dt.datetime | None) -> str | None:
    """A time as stored (UTC ISO, milliseconds); a time without an offset is taken as UTC."""
    if t is None:
        return None
    t = t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)
    return t.isoformat(timespec="milliseconds")
