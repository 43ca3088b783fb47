"""The Store: every read and write of the SQL database goes through here."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..domain import HELPDESK_STATUSES, SENDERS, Citation, Customer, Draft, Message, Ticket, now_iso
from ..errors import ConflictError, InputError, NotFoundError, RuntimeFailure
from ..workflow import check_transition, text_diff
from . import schema as s
from .migrations import migrate

log = logging.getLogger(__name__)



def _time(iso: str | None) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None
    return t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t


def ticket_status(r) -> str:
    """A ticket's place in the workflow, from the helpdesk's status, its latest draft and its
    latest message: `closed` (resolved in the helpdesk); `open` (no draft yet, or the customer
    wrote again after the latest draft); `sent` (the draft was approved and the helpdesk then
    added the agent's reply); else the latest draft's state: `approved`, `rejected`, `escalated`
    (a holding reply for a person), `drafted` (awaiting review)."""
    if r["helpdesk_status"] == "resolved":
        return "closed"
    if r["draft_status"] is None:
        return "open"
    last_at, drafted, decided = _time(r["last_message_at"]), _time(r["drafted_at"]), _time(r["decided_at"])
    if r["last_sender"] == "customer" and last_at and drafted and last_at > drafted:
        return "open"
    if r["draft_status"] == "approved":
        return "sent" if r["last_sender"] == "agent" and last_at and decided and last_at >= decided else "approved"
    if r["draft_status"] == "rejected":
        return "rejected"
    return "escalated" if r["escalate"] else "drafted"



def _j(v) -> str:
    return json.dumps(v, ensure_ascii=False)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        kw: dict = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        try:
            self.engine = create_engine(url, **kw)
            if self.engine.dialect.name == "sqlite":
                @event.listens_for(self.engine, "connect")
                def _pragmas(dbapi_conn, _rec):  # noqa: ANN001
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA foreign_keys=ON")
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged decision is on disk
                    cur.close()
            migrate(self.engine)
        except OperationalError as exc:
            raise RuntimeFailure(f"cannot open the database: {exc.orig}") from exc
        except ModuleNotFoundError as exc:  # a PostgreSQL URL without its driver
            from ..errors import ConfigError

            raise ConfigError(f"the database driver {exc.name!r} is not installed: pip install 'support-copilot[postgres]'") from exc

    def close(self) -> None:
        self.engine.dispose()

    # --- customers and tickets ------------------------------------------------------------
    def upsert_customer(self, c: Customer, conn) -> None:
        row = {"name": c.name, "email": c.email, "phone": c.phone, "lang": c.lang, "plan": c.plan,
               "products": _j(c.products), "created_at": c.created_at}
        if conn.execute(select(s.customers.c.id).where(s.customers.c.id == c.customer_id)).first():
            conn.execute(s.customers.update().where(s.customers.c.id == c.customer_id).values(**row))
        else:
            conn.execute(s.customers.insert().values(id=c.customer_id, **row))

    def upsert_ticket(self, t: Ticket, conn) -> None:
        if t.status not in HELPDESK_STATUSES:
            raise InputError(f"ticket {t.ticket_id}: status must be one of {', '.join(HELPDESK_STATUSES)}")
        row = {"customer_id": t.customer_id, "subject": t.subject, "status": t.status, "channel": t.channel,
               "created_at": t.created_at, "tags": _j(t.tags)}
        existing = conn.execute(select(s.tickets.c.customer_id).where(s.tickets.c.id == t.ticket_id)).first()
        if existing and existing[0] != t.customer_id:
            raise InputError(f"ticket {t.ticket_id} belongs to customer {existing[0]}, not {t.customer_id}")
        if existing:
            conn.execute(s.tickets.update().where(s.tickets.c.id == t.ticket_id).values(**row))
            conn.execute(s.messages.delete().where(s.messages.c.ticket_id == t.ticket_id))
        else:
            conn.execute(s.tickets.insert().values(id=t.ticket_id, **row))
        if t.messages:
            conn.execute(s.messages.insert(), [
                {"ticket_id": t.ticket_id, "seq": i, "sender": m.sender, "at": m.at, "text": m.text}
                for i, m in enumerate(t.messages)
            ])

    def import_records(self, customers: Iterable[tuple[Customer, list[Ticket]]], actor: str = "import") -> dict:
        """Insert or update customers with their tickets, each customer in one transaction."""
        counts = {"customers": 0, "tickets": 0, "messages": 0}
        for cust, tickets in customers:
            with self.engine.begin() as conn:
                self.upsert_customer(cust, conn)
                for t in tickets:
                    self.upsert_ticket(t, conn)
                    counts["tickets"] += 1
                    counts["messages"] += len(t.messages)
                self._audit(conn, actor, "import", "customer", cust.customer_id, {"tickets": len(tickets)})
            counts["customers"] += 1
        return counts

    def add_ticket(self, ticket: Ticket, actor: str) -> Ticket:
        with self.engine.begin() as conn:
            if not conn.execute(select(s.customers.c.id).where(s.customers.c.id == ticket.customer_id)).first():
                raise NotFoundError(f"customer {ticket.customer_id} not found")
            self.upsert_ticket(ticket, conn)
            self._audit(conn, actor, "add_ticket", "ticket", ticket.ticket_id, {"customer_id": ticket.customer_id})
        return ticket

    def get_customer(self, customer_id: str) -> Customer:
        with self.engine.connect() as conn:
            r = conn.execute(select(s.customers).where(s.customers.c.id == customer_id)).mappings().first()
        if r is None:
            raise NotFoundError(f"customer {customer_id} not found")
        return Customer(r["id"], r["name"], r["email"], r["phone"], r["lang"], r["plan"], json.loads(r["products"]), r["created_at"])

    def list_customers(self, limit: int | None = None, offset: int = 0) -> list[Customer]:
        q = select(s.customers).order_by(s.customers.c.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [Customer(r["id"], r["name"], r["email"], r["phone"], r["lang"], r["plan"], json.loads(r["products"]), r["created_at"]) for r in rows]

    def tickets_for(self, customer_id: str) -> list[Ticket]:
        """Only this customer's tickets, oldest first: the one query summaries read."""
        with self.engine.connect() as conn:
            trows = conn.execute(
                select(s.tickets).where(s.tickets.c.customer_id == customer_id).order_by(s.tickets.c.created_at, s.tickets.c.id)
            ).mappings().all()
            ids = [t["id"] for t in trows]
            mrows = conn.execute(
                select(s.messages).where(s.messages.c.ticket_id.in_(ids)).order_by(s.messages.c.ticket_id, s.messages.c.seq)
            ).mappings().all() if ids else []
        by_ticket: dict[str, list[Message]] = {}
        for m in mrows:
            by_ticket.setdefault(m["ticket_id"], []).append(Message(m["sender"], m["at"], m["text"]))
        return [
            Ticket(t["id"], t["customer_id"], t["subject"], t["status"], t["channel"], t["created_at"],
                   json.loads(t["tags"]), by_ticket.get(t["id"], []))
            for t in trows
        ]

    def get_ticket(self, ticket_id: str) -> Ticket:
        with self.engine.connect() as conn:
            r = conn.execute(select(s.tickets.c.customer_id).where(s.tickets.c.id == ticket_id)).first()
        if r is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        return next(t for t in self.tickets_for(r[0]) if t.ticket_id == ticket_id)

    def counts(self) -> dict:
        with self.engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for name, t in (("customers", s.customers), ("tickets", s.tickets), ("drafts", s.drafts))}

    # --- drafts ---------------------------------------------------------------------------
    @staticmethod
    def _draft_from(r) -> Draft:
        return Draft(
            draft_id=r["id"], language=r["language"], reply=r["reply"],
            citations=[Citation(**c) for c in json.loads(r["citations"])],
            escalate=bool(r["escalate"]), escalation_reason=r["escalation_reason"], confidence=r["confidence"],
            prompt_name=r["prompt_name"], prompt_version=r["prompt_version"], drafter=r["drafter"],
            evidence_ids=json.loads(r["evidence_ids"]), customer_id=r["customer_id"], ticket_id=r["ticket_id"],
            ticket_text=r["ticket_text"], flags=json.loads(r["flags"]), notes=json.loads(r["notes"]), status=r["status"],
            created_at=r["created_at"], final_text=r["final_text"], decided_by=r["decided_by"], decided_at=r["decided_at"],
            reject_reason=r["reject_reason"], reject_note=r["reject_note"], diff=r["diff"],
        )

    def find_by_idempotency_key(self, key: str, request_hash: str) -> Draft | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(s.drafts).where(s.drafts.c.idempotency_key == key)).mappings().first()
        if r is None:
            return None
        if r["request_hash"] != request_hash:
            raise ConflictError("this Idempotency-Key was used with a different request")
        return self._draft_from(r)

    def save_draft(self, d: Draft, actor: str, idempotency_key: str | None = None, request_hash: str | None = None) -> Draft:
        row = {
            "id": d.draft_id, "customer_id": d.customer_id, "ticket_id": d.ticket_id, "ticket_text": d.ticket_text,
            "language": d.language, "reply": d.reply, "citations": _j([c.to_dict() for c in d.citations]),
            "escalate": d.escalate, "escalation_reason": d.escalation_reason, "confidence": float(d.confidence),
            "prompt_name": d.prompt_name, "prompt_version": d.prompt_version, "drafter": d.drafter,
            "evidence_ids": _j(d.evidence_ids), "flags": _j(d.flags), "notes": _j(d.notes), "status": d.status,
            "created_at": d.created_at, "idempotency_key": idempotency_key, "request_hash": request_hash,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(s.drafts.insert().values(**row))
                self._audit(conn, actor, "draft", "draft", d.draft_id,
                            {"escalate": d.escalate, "drafter": d.drafter, "customer_id": d.customer_id})
        except IntegrityError:
            if idempotency_key:  # a concurrent request with the same key won the race
                existing = self.find_by_idempotency_key(idempotency_key, request_hash or "")
                if existing is not None:
                    return existing
            raise
        return d

    def get_draft(self, draft_id: str) -> Draft:
        with self.engine.connect() as conn:
            r = conn.execute(select(s.drafts).where(s.drafts.c.id == draft_id)).mappings().first()
        if r is None:
            raise NotFoundError(f"draft {draft_id} not found")
        return self._draft_from(r)

    def find_drafts(self, *, status: str | None = None, customer_id: str | None = None, ticket_id: str | None = None,
                    created_from: str | None = None, created_to: str | None = None, reject_reason: str | None = None,
                    limit: int = 50, offset: int = 0) -> tuple[list[Draft], int]:
        """Drafts matching every given filter, newest first, one page; and how many match in all.
        `created_from` / `created_to`: ISO times, inclusive / exclusive."""
        conds = []
        if status:
            conds.append(s.drafts.c.status == status)
        if customer_id:
            conds.append(s.drafts.c.customer_id == customer_id)
        if ticket_id:
            conds.append(s.drafts.c.ticket_id == ticket_id)
        if reject_reason:
            conds.append(s.drafts.c.reject_reason == reject_reason)
        if created_from:
            conds.append(s.drafts.c.created_at >= created_from)
        if created_to:
            conds.append(s.drafts.c.created_at < created_to)
        q = select(s.drafts).where(*conds).order_by(s.drafts.c.created_at.desc(), s.drafts.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(s.drafts).where(*conds)).scalar_one()
            return [self._draft_from(r) for r in conn.execute(q).mappings().all()], int(total)

    def find_tickets(self, *, status: str | None = None, customer_id: str | None = None, limit: int = 50,
                     offset: int = 0) -> tuple[list[dict], int]:
        """Tickets with their workflow status, newest first (`ticket_status`). Filtered by that
        status (one, or several comma-separated) and by customer."""
        latest = (select(s.drafts.c.ticket_id, func.max(s.drafts.c.created_at).label("at"))
                  .where(s.drafts.c.ticket_id.is_not(None)).group_by(s.drafts.c.ticket_id).subquery())
        last = (select(s.drafts.c.ticket_id, s.drafts.c.id, s.drafts.c.status, s.drafts.c.escalate, s.drafts.c.created_at,
                       s.drafts.c.decided_at)
                .join(latest, (s.drafts.c.ticket_id == latest.c.ticket_id) & (s.drafts.c.created_at == latest.c.at)).subquery())
        top = select(s.messages.c.ticket_id, func.max(s.messages.c.seq).label("seq")).group_by(s.messages.c.ticket_id).subquery()
        msg = (select(s.messages.c.ticket_id, s.messages.c.sender, s.messages.c.at)
               .join(top, (s.messages.c.ticket_id == top.c.ticket_id) & (s.messages.c.seq == top.c.seq)).subquery())
        q = (select(s.tickets.c.id, s.tickets.c.customer_id, s.tickets.c.subject, s.tickets.c.status.label("helpdesk_status"),
                    s.tickets.c.channel, s.tickets.c.created_at, last.c.id.label("draft_id"), last.c.status.label("draft_status"),
                    last.c.escalate, last.c.created_at.label("drafted_at"), last.c.decided_at, msg.c.sender.label("last_sender"),
                    msg.c.at.label("last_message_at"))
             .select_from(s.tickets.outerjoin(last, last.c.ticket_id == s.tickets.c.id).outerjoin(msg, msg.c.ticket_id == s.tickets.c.id)))
        wanted = set(status.split(",")) if status else None
        if customer_id:
            q = q.where(s.tickets.c.customer_id == customer_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(s.tickets.c.created_at.desc(), s.tickets.c.id)).mappings().all()
        out = []
        seen: set[str] = set()
        for r in rows:
            if r["id"] in seen:  # two drafts with the same time: keep one
                continue
            seen.add(r["id"])
            st = ticket_status(r)
            if wanted and st not in wanted:
                continue
            out.append({"ticket_id": r["id"], "customer_id": r["customer_id"], "subject": r["subject"], "status": st,
                        "helpdesk_status": r["helpdesk_status"], "channel": r["channel"], "created_at": r["created_at"],
                        "latest_draft_id": r["draft_id"]})
        return out[offset : offset + limit], len(out)

    def add_message(self, ticket_id: str, sender: str, text: str, actor: str) -> Message:
        """Append a message to a stored ticket (a customer's reply, or the reply the helpdesk
        sent), in one transaction with its audit entry."""
        if sender not in SENDERS:
            raise InputError("sender must be 'customer' or 'agent'")
        if not text.strip():
            raise InputError("message text is empty")
        m = Message(sender, now_iso(), text)
        with self.engine.begin() as conn:
            q = select(s.tickets.c.id).where(s.tickets.c.id == ticket_id)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()  # two messages at once get consecutive seq numbers
            if not conn.execute(q).first():
                raise NotFoundError(f"ticket {ticket_id} not found")
            seq = conn.execute(select(func.max(s.messages.c.seq)).where(s.messages.c.ticket_id == ticket_id)).scalar()
            conn.execute(s.messages.insert().values(ticket_id=ticket_id, seq=(-1 if seq is None else seq) + 1, sender=sender,
                                                    at=m.at, text=text))
            self._audit(conn, actor, "add_message", "ticket", ticket_id, {"sender": sender})
        return m

    def set_ticket_status(self, ticket_id: str, status: str, actor: str) -> None:
        if status not in HELPDESK_STATUSES:
            raise InputError(f"status must be one of {', '.join(HELPDESK_STATUSES)}")
        with self.engine.begin() as conn:
            if conn.execute(s.tickets.update().where(s.tickets.c.id == ticket_id).values(status=status)).rowcount != 1:
                raise NotFoundError(f"ticket {ticket_id} not found")
            self._audit(conn, actor, "ticket_status", "ticket", ticket_id, {"status": status})

    def list_drafts(self, status: str | None = None, limit: int = 50) -> list[Draft]:
        return self.find_drafts(status=status, limit=limit)[0]

    def decide(self, draft_id: str, action: str, actor: str, *, final_text: str | None = None,
               reason: str | None = None, note: str | None = None, decided_by: str | None = None) -> Draft:
        """Approve or reject in one transaction with its audit entry. `decided_by` is the person
        (default: the actor); the audit entry records the actor (the channel and API key)."""
        decided_by = decided_by or actor
        with self.engine.begin() as conn:
            q = select(s.drafts).where(s.drafts.c.id == draft_id)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            r = conn.execute(q).mappings().first()
            if r is None:
                raise NotFoundError(f"draft {draft_id} not found")
            d = self._draft_from(r)
            if not check_transition(d, action, final_text=final_text, reason=reason):
                return d
            at = now_iso()
            if action == "approve":
                values = {"status": "approved", "final_text": final_text, "diff": text_diff(d.reply, final_text or ""),
                          "decided_by": decided_by, "decided_at": at}
            else:
                values = {"status": "rejected", "reject_reason": reason, "reject_note": note, "decided_by": decided_by,
                          "decided_at": at}
            updated = conn.execute(
                s.drafts.update().where(s.drafts.c.id == draft_id, s.drafts.c.status == "pending").values(**values)
            )
            if updated.rowcount != 1:
                raise ConflictError(f"draft {draft_id} was decided by someone else meanwhile")
            self._audit(conn, actor, action, "draft", draft_id,
                        {"edited": bool(values.get("diff")), "reason": reason, "decided_by": decided_by})
        return self.get_draft(draft_id)

    # --- audit ----------------------------------------------------------------------------
    def _audit(self, conn, actor: str, action: str, entity: str, entity_id: str, detail: dict) -> None:
        conn.execute(s.audit.insert().values(at=now_iso(), actor=actor, action=action, entity=entity,
                                             entity_id=entity_id, detail=_j(detail)))

    def audit_log(self, entity_id: str | None = None, limit: int = 200) -> list[dict]:
        q = select(s.audit).order_by(s.audit.c.id.desc()).limit(limit)
        if entity_id:
            q = q.where(s.audit.c.entity_id == entity_id)
        with self.engine.connect() as conn:
            return [dict(r, detail=json.loads(r["detail"])) for r in conn.execute(q).mappings().all()]

    # --- API keys (stored as sha256 hashes; the key itself is shown once) ------------------
    def add_api_key(self, key_id: str, key_hash: str, role: str, name: str, actor: str) -> dict:
        row = {"id": key_id, "key_hash": key_hash, "role": role, "name": name, "created_at": now_iso(), "revoked_at": None}
        with self.engine.begin() as conn:
            conn.execute(s.api_keys.insert().values(**row))
            self._audit(conn, actor, "create_key", "api_key", key_id, {"role": role})
        return {k: v for k, v in row.items() if k != "key_hash"}

    def api_key_by_hash(self, key_hash: str) -> dict | None:
        return self._api_key(s.api_keys.c.key_hash == key_hash)

    def api_key_by_id(self, key_id: str) -> dict | None:
        return self._api_key(s.api_keys.c.id == key_id)

    def _api_key(self, where) -> dict | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(s.api_keys).where(where)).mappings().first()
        return dict(r) if r else None

    def list_api_keys(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.api_keys).order_by(s.api_keys.c.created_at)).mappings().all()
        return [{k: v for k, v in dict(r).items() if k != "key_hash"} for r in rows]

    def revoke_api_key(self, key_id: str, actor: str) -> dict:
        with self.engine.begin() as conn:
            r = conn.execute(s.api_keys.update().where(s.api_keys.c.id == key_id, s.api_keys.c.revoked_at.is_(None))
                             .values(revoked_at=now_iso()))
            if r.rowcount != 1:
                exists = conn.execute(select(s.api_keys.c.id).where(s.api_keys.c.id == key_id)).first()
                if not exists:
                    raise NotFoundError(f"API key {key_id} not found")
            else:
                self._audit(conn, actor, "revoke_key", "api_key", key_id, {})
        return next(k for k in self.list_api_keys() if k["id"] == key_id)
