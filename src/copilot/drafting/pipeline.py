"""The drafting pipeline: one ticket in, one stored draft out.

validate → read the ticket once (ticket.analyse) → gather evidence (search, per-question
searches, screening) → confidence → the playbook's escalation order (safety/security rules,
anger, low confidence, unknown subject) → the drafter → the reply guard → the record. Built by
the composition root (service.py) with its collaborators handed in; it imports no adapter.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Callable

from ..analysis import lexical_tokens, named_terms
from ..answers import codes, passage_units
from ..domain import MAX_K, Draft, Hit, Ticket
from ..errors import CopilotError, IndexUnavailable, InputError
from ..retrieval import Filters
from ..safety import guard_reply, screen_passage
from ..domain import now_iso
from .confidence import COVERAGE_LANG_SHARE, COVERAGE_MIN_WORDS, Evidence
from .confidence import score as confidence_score
from .llm import NO_ANSWER_NOTE
from .ticket import MAX_QUESTIONS, TicketAnalysis, analyse

log = logging.getLogger(__name__)
EVIDENCE_PASSAGES = 3  # the drafter reads the best few passages ...
PER_QUESTION = 3  # ... and each question's best three (two missed a price FAQ ranked third for "how much is Plus monthly?")
MAX_CONTEXT_CHARS = 4000  # the conversation read before the latest message (its most recent part)
MAX_QUERY_CHARS = 2000
# sentences embedded ahead of the first drafts: one cache entry per embedder each, so 5,000
# fill half of the drafter's 20,000-entry vector cache and leave the rest to tickets
WARM_UNITS = 5000


@dataclass
class Gathered:
    """What a draft is made from (scripts/fit_confidence.py fits the confidence model on it)."""

    ticket: TicketAnalysis
    hits: list[Hit]  # ranked
    evidence: list[Hit]  # screened passages the drafter reads
    screened: list[str]  # notes on what screening removed
    evidence_score: Evidence


class DraftPipeline:
    def __init__(self, *, retriever, drafter, prompt: Callable, store, settings, families: tuple[str, ...],
                 notify: Callable[[str, dict], None] | None = None) -> None:
        self.retriever = retriever
        self.drafter = drafter  # ports.Drafter
        # the offline drafter: the default, and the LLM drafter's fallback and evidence judge
        self.extractive = getattr(drafter, "fallback", None) or drafter
        self.prompt = prompt  # name -> prompts.Prompt
        self.store = store
        self.settings = settings
        self.families = families  # the embedders' model families (the confidence model is keyed by them)
        self.notify = notify  # webhooks: (event, draft) after a draft is stored

    # --- evidence -------------------------------------------------------------------------
    def gather(self, ticket: TicketAnalysis, k: int | None = None) -> Gathered:
        evidence_only = Filters(doc_types=["faq", "manual"])
        cache = self.extractive.vectors  # the ticket's vectors serve the search and the drafter's scoring

        def search(q: str, n: int) -> list[Hit]:
            return self.retriever.search(q, n, evidence_only, query_vectors=cache)

        snap = self.retriever.snapshot()
        hits = search(ticket.query[:MAX_QUERY_CHARS], self.settings.draft_k if k is None else k)
        # other_language: the knowledge is (almost) all in another language; cross: so are the
        # passages that answer. Word overlap means nothing in either case; whether the words
        # have a counterpart in the knowledge still does where it writes the ticket's language.
        other_language = snap.language_share(ticket.lang) < COVERAGE_LANG_SHARE
        cross = other_language or answered_elsewhere(hits, ticket.lang)
        use = self.retriever.word_embedder
        unfamiliar = 0.0
        if use is not None and not other_language:
            unfamiliar = snap.unfamiliar(lexical_tokens(" ".join(ticket.questions)) or lexical_tokens(ticket.query), use)
        unknown = snap.unknown_names(named_terms(ticket.query, codes_only=other_language))
        evidence = list(hits[:EVIDENCE_PASSAGES])
        if 1 < len(ticket.questions) <= MAX_QUESTIONS:
            seen = {h.chunk.chunk_id for h in evidence}
            for q in ticket.questions:
                for h in search(q[:500], PER_QUESTION):
                    if h.chunk.chunk_id not in seen:
                        seen.add(h.chunk.chunk_id)
                        evidence.append(h)
        evidence, screened = self._screen(evidence)
        coverage, n_words = snap.coverage(ticket.query)
        ev = Evidence(hits, self.extractive.support(ticket.asked, evidence, ticket.context, ticket.questions),
                      coverage if n_words >= COVERAGE_MIN_WORDS else None, cross, words=n_words, unfamiliar=unfamiliar,
                      unknown_names=unknown)
        return Gathered(ticket, hits, evidence, screened, ev)

    def warm_evidence(self, limit: int = WARM_UNITS) -> int:
        """Embed the sentences of the served version's FAQ and manual passages, as a draft meets
        them, so that the first drafts that quote a passage do not pay for it (about 8 ms a
        sentence for both embedders here; `copilot serve` runs this in the background at start).
        Stops after `limit` sentences (WARM_UNITS); returns how many."""
        hosts = self.settings.allowed_link_hosts()
        done = 0
        for chunk in list(self.retriever.snapshot().chunks.values()):
            if done >= limit:
                break
            if chunk.doc_type not in ("faq", "manual"):
                continue
            texts = [u.text for u in passage_units(0, screen_passage(chunk.text, hosts)[0], chunk.doc_type, chunk.lang)]
            if texts:
                for e in self.extractive.embedders:
                    self.extractive.vectors.embed(e, texts)
                done += len(texts)
        return done

    def warm_in_background(self) -> threading.Thread:
        """warm_evidence in a daemon thread: the first drafts that meet a passage skip that work."""

        def run() -> None:
            t0 = time.perf_counter()
            try:
                n = self.warm_evidence()
            except IndexUnavailable:  # no index yet: nothing to warm
                return
            except Exception as exc:  # a warm-up only saves time: drafts embed what they meet
                log.warning("evidence warm-up stopped: %s", exc)
                return
            log.info("embedded %d evidence sentences ahead of the first drafts in %.1f s", n, time.perf_counter() - t0)

        thread = threading.Thread(target=run, name="warm-evidence", daemon=True)
        thread.start()
        return thread

    def _screen(self, evidence: list[Hit]) -> tuple[list[Hit], list[str]]:
        """Evidence without the sentences that are not knowledge (text that instructs the
        assistant, fake role tags, links off the company's domains); the notes say what went."""
        hosts = self.settings.allowed_link_hosts()
        out, notes = [], []
        for h in evidence:
            clean, dropped = screen_passage(h.chunk.text, hosts)
            if dropped:
                log.warning("dropped %d instruction-like or off-domain sentence(s) from %s", len(dropped), h.chunk.source)
                notes.append(f"ignored {len(dropped)} sentence(s) of {h.chunk.source} that instruct the assistant or link "
                             "outside the company's domains: tell a knowledge editor")
                if not clean.strip():
                    continue
                h = replace(h, chunk=replace(h.chunk, text=clean))
            out.append(h)
        return out, notes

    # --- the draft ------------------------------------------------------------------------
    def draft(self, text: str, *, customer_id: str | None = None, ticket_id: str | None = None, k: int | None = None,
              actor: str = "cli", idempotency_key: str | None = None, persist: bool = True, context: str | None = None) -> Draft:
        """Draft a reply and store it as pending. Nothing is sent. `text` is the message to
        answer; `context` the conversation before it."""
        text, k, context = self._validate(text, k, idempotency_key, context)
        request_hash = hashlib.sha256(f"{customer_id}\x00{ticket_id}\x00{k}\x00{text}\x00{context or ''}".encode()).hexdigest()
        if idempotency_key:
            existing = self.store.find_by_idempotency_key(idempotency_key, request_hash)
            if existing is not None:
                return existing
        customer = self.store.get_customer(customer_id) if customer_id else None
        ticket = analyse(text, context)
        g = self.gather(ticket, k)
        conf, threshold = confidence_score(g.evidence_score, self.families)
        if self.settings.escalate_below is not None:  # the team's own trade-off (COPILOT_ESCALATE_BELOW)
            threshold = self.settings.escalate_below
        code_match = bool(codes(ticket.asked) & codes("\n".join(h.chunk.text for h in g.evidence)))
        if code_match:
            # an error code or product code the ticket names, found in the evidence: the
            # knowledge has the answer whatever the similarities say
            conf = max(conf, (1 + threshold) / 2)
        flags = (["prompt_injection"] if ticket.injection else []) + (["angry"] if ticket.angry else [])
        record = dict(ticket=ticket, conf=conf, hits=g.hits, customer_id=customer_id, ticket_id=ticket_id, flags=flags,
                      actor=actor, idempotency_key=idempotency_key, request_hash=request_hash, persist=persist)
        why = self._escalation(ticket, g, conf, threshold, code_match)
        if why is not None:
            return self._save_escalated(reason=why[0], kind=why[1], **record)
        if g.screened:
            flags.append("knowledge_injection")
        out = self.drafter.draft(ticket.asked, ticket.lang, g.evidence, customer_name=customer.name if customer else None,
                                 apologise=ticket.reports_problem, context=ticket.context, questions=ticket.questions)
        out.reply, removed = self._guard(out.reply)
        out.notes = [*g.screened, *(f"removed from the reply: {x[:80]}" for x in removed), *out.notes]
        if not out.citations:  # the passages are related but none answers the question
            judged = f" ({NO_ANSWER_NOTE})" if NO_ANSWER_NOTE in out.notes else ""
            return self._save_escalated(reason=f"no passage in the knowledge base answers the question{judged}", kind="standard",
                                        **record)
        fell_back = (out.drafter or "").endswith("->extractive")
        prompt = self.drafter.fallback.frame if fell_back else (getattr(self.drafter, "prompt", None) or self.drafter.frame)
        d = Draft(
            draft_id="d_" + uuid.uuid4().hex[:20], language=ticket.lang, reply=out.reply, citations=out.citations, escalate=False,
            escalation_reason=None, confidence=conf, prompt_name=prompt.name, prompt_version=prompt.version,
            drafter=out.drafter or getattr(self.drafter, "name", "extractive"), evidence_ids=[h.chunk.chunk_id for h in g.hits],
            customer_id=customer_id, ticket_id=ticket_id, ticket_text=text, flags=flags, notes=out.notes, created_at=now_iso(),
        )
        if not persist:  # evals: the same pipeline, nothing written
            return d
        return self._save(d, actor, idempotency_key, request_hash if idempotency_key else None)

    def _validate(self, text: str, k: int | None, idempotency_key: str | None, context: str | None):
        text = (text or "").strip()
        if not text:
            raise InputError("ticket text is empty")
        if len(text) > self.settings.max_ticket_chars:
            raise InputError(f"ticket is {len(text)} characters; the limit is {self.settings.max_ticket_chars}")
        k = self.settings.draft_k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be between 1 and {MAX_K}")
        if idempotency_key is not None and not idempotency_key.strip():
            raise InputError("Idempotency-Key is empty: send a unique key per request, or no header")
        return text, k, (context or "").strip()[-MAX_CONTEXT_CHARS:] or None

    @staticmethod
    def _escalation(ticket: TicketAnalysis, g: Gathered, conf: float, threshold: float, code_match: bool):
        """(reason, holding reply kind) when a person must answer, in the playbook's order; else None."""
        if ticket.triggers:
            return "; ".join(f"{t.reason} ({t.code})" for t in ticket.triggers), ticket.triggers[0].holding
        if ticket.angry:
            return "the customer is angry: a person should answer (playbook section 5)", "standard"
        if conf < threshold:
            return f"the knowledge base does not cover this ticket (confidence {conf:.2f} < {threshold:.2f})", "standard"
        return None

    def _guard(self, reply: str) -> tuple[str, list[str]]:
        try:  # the LLM drafter's own rules must never come back in a reply
            prompts = [t for role, t in self.prompt("draft_reply").messages if role == "system"]
        except CopilotError:
            prompts = []
        return guard_reply(reply, self.settings.allowed_link_hosts(), prompts)

    def _save_escalated(self, *, ticket: TicketAnalysis, conf, hits, customer_id, ticket_id, flags, reason, kind,
                        actor, idempotency_key, request_hash, persist=True) -> Draft:
        """An escalated draft: the playbook's holding reply, no facts, no citations."""
        holding = self.prompt("holding_reply")
        lang = ticket.lang
        d = Draft(
            draft_id="d_" + uuid.uuid4().hex[:20], language=lang, reply=holding.phrase(lang, kind), citations=[],
            escalate=True, escalation_reason=reason, confidence=conf, prompt_name=holding.name,
            prompt_version=holding.version, drafter=f"{getattr(self.drafter, 'name', 'extractive')}+holding",
            evidence_ids=[h.chunk.chunk_id for h in hits], customer_id=customer_id, ticket_id=ticket_id,
            ticket_text=ticket.text, flags=flags, created_at=now_iso(),
        )
        if not persist:
            return d
        return self._save(d, actor, idempotency_key, request_hash if idempotency_key else None)

    def _save(self, d: Draft, actor: str, idempotency_key: str | None, request_hash: str | None) -> Draft:
        saved = self.store.save_draft(d, actor, idempotency_key, request_hash)
        if saved.draft_id == d.draft_id and self.notify is not None:  # not for an idempotent replay
            self.notify("draft.ready", saved.to_dict())
        return saved


def answered_elsewhere(hits: list[Hit], lang: str) -> bool:
    """The best passages are written in another language than the ticket (an English ticket
    whose answer a mixed knowledge base holds only in Japanese): word overlap with the
    knowledge then says nothing, and the ticket is read as cross-lingual."""
    top = hits[:EVIDENCE_PASSAGES]
    other = sum(h.chunk.lang != lang for h in top)
    return bool(top) and top[0].chunk.lang != lang and other * 2 > len(top)


def conversation(ticket: Ticket) -> tuple[str, str | None]:
    """(the message to answer, the context) of a stored ticket. The message is the customer's
    latest turn: every customer message after the last agent message ("追記です" follow-ups
    included). The context is the subject and the customer's earlier messages; the agents' own
    replies are left out, so the draft never quotes the team back to the customer."""
    turns = [m for m in ticket.messages if m.sender in ("customer", "agent")]
    last_agent = max((i for i, m in enumerate(turns) if m.sender == "agent"), default=-1)
    latest = [m.text for m in turns[last_agent + 1:] if m.sender == "customer"]
    if not latest:  # the agent spoke last: answer the customer's last turn again
        last_customer = max((i for i, m in enumerate(turns) if m.sender == "customer"), default=-1)
        if last_customer < 0:
            raise InputError(f"ticket {ticket.ticket_id} has no message from the customer to answer")
        first = last_customer
        while first > 0 and turns[first - 1].sender == "customer":
            first -= 1
        latest = [m.text for m in turns[first:last_customer + 1]]
        earlier = turns[:first]
    else:
        earlier = turns[:last_agent + 1]
    context = "\n".join([ticket.subject, *(m.text for m in earlier if m.sender == "customer")]).strip()
    return "\n".join(latest), context or None
