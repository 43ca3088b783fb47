"""The SQL store on SQLite and on a real PostgreSQL server."""

import pytest
from sqlalchemy import text

from copilot.domain import Citation, Customer, Draft, Message, Ticket
from copilot.errors import ConflictError, InputError, NotFoundError
from copilot.store import Store
from copilot.store.migrations import MIGRATIONS, migrate

pytestmark = pytest.mark.integration


def _draft(i="d_1", **kw):
    base = dict(draft_id=i, language="ja", reply="送料は660円です。[1]", citations=[Citation(1, "c1", "faq/a.csv", "送料は660円です。")],
                escalate=False, escalation_reason=None, confidence=0.9, prompt_name="extractive_reply", prompt_version="1-abc",
                drafter="extractive", evidence_ids=["c1"], customer_id="C-1", ticket_text="送料は？", created_at="2026-11-23T00:00:00+00:00")
    base.update(kw)
    return Draft(**base)


def _seed(store):
    rec = [
        (Customer("C-1", "山田 花子", lang="ja", plan="plus"),
         [Ticket("T-1", "C-1", "E-203", "open", "email", "2026-01-01T10:00:00+09:00", ["wifi"],
                 [Message("customer", "2026-01-01T10:00:00+09:00", "E-203が出ます")])]),
        (Customer("C-2", "Tom", lang="en"),
         [Ticket("T-2", "C-2", "Refund", "resolved", "chat", "2026-02-01T10:00:00+09:00", [],
                 [Message("customer", "2026-02-01T10:00:00+09:00", "Refund please")])]),
    ]
    return store.import_records(rec)


def test_migrations_are_recorded_and_not_reapplied(store_url):
    store = Store(store_url)
    with store.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM schema_migrations ORDER BY name"))]
    assert names == [m[0] for m in MIGRATIONS]
    assert migrate(store.engine) == []


def test_import_is_idempotent_and_tickets_stay_with_their_customer(store_url):
    store = Store(store_url)
    assert _seed(store) == {"customers": 2, "tickets": 2, "messages": 2}
    _seed(store)
    assert store.counts()["tickets"] == 2
    assert [t.ticket_id for t in store.tickets_for("C-1")] == ["T-1"]
    with pytest.raises(InputError, match="belongs to customer C-1"):
        store.import_records([(Customer("C-2", "Tom"), [Ticket("T-1", "C-2", "x", "open", "email", "2026")])])
    with pytest.raises(NotFoundError):
        store.get_customer("C-404")


def test_approve_edit_reject_and_transitions(store_url):
    store = Store(store_url)
    _seed(store)
    store.save_draft(_draft("d_a"), "agent-1")
    store.save_draft(_draft("d_b"), "agent-1")
    d = store.decide("d_a", "approve", "agent-1", final_text="送料は660円です。[1]\nよろしくお願いいたします。")
    assert d.status == "approved" and d.decided_by == "agent-1" and "+よろしくお願いいたします。" in d.diff
    again = store.decide("d_a", "approve", "agent-2", final_text=d.final_text)  # idempotent
    assert again.decided_by == "agent-1" and again.decided_at == d.decided_at
    with pytest.raises(ConflictError, match="different text"):
        store.decide("d_a", "approve", "agent-1", final_text="別の文面")
    with pytest.raises(ConflictError, match="cannot be rejected"):
        store.decide("d_a", "reject", "agent-1", reason="wrong")
    r = store.decide("d_b", "reject", "agent-1", reason="knowledge_gap", note="延長保証の記事がない")
    assert (r.status, r.reject_reason, r.reject_note) == ("rejected", "knowledge_gap", "延長保証の記事がない")
    with pytest.raises(InputError, match="reject reason"):
        store.decide("d_b", "reject", "agent-1", reason="because")
    with pytest.raises(NotFoundError):
        store.decide("d_zzz", "approve", "a", final_text="x")
    actions = [a["action"] for a in store.audit_log("d_a")]
    assert actions.count("approve") == 1 and "draft" in actions


def test_decisions_survive_a_restart(store_url):
    store = Store(store_url)
    store.save_draft(_draft("d_r", customer_id=None), "a")
    store.decide("d_r", "approve", "a", final_text="final")
    store.close()
    reopened = Store(store_url)
    assert reopened.get_draft("d_r").final_text == "final"


def test_audit_log_is_append_only(store_url):
    store = Store(store_url)
    store.save_draft(_draft("d_x", customer_id=None), "a")
    with pytest.raises(Exception, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit SET actor = 'mallory'"))
    with pytest.raises(Exception, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit"))
    assert store.audit_log("d_x")[0]["actor"] == "a"


def test_idempotency_key(store_url):
    store = Store(store_url)
    store.save_draft(_draft("d_i", customer_id=None), "a", idempotency_key="k1", request_hash="h1")
    assert store.find_by_idempotency_key("k1", "h1").draft_id == "d_i"
    assert store.find_by_idempotency_key("k2", "h1") is None
    with pytest.raises(ConflictError, match="different request"):
        store.find_by_idempotency_key("k1", "h2")
