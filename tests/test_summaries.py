import json
import random
import re

import pytest

from copilot.domain import Customer, Message, Ticket
from copilot.store import Store
from copilot.summaries import summarize

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path):
    from conftest import ROOT

    from copilot.customers import parse_file

    s = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    records, issues = parse_file(ROOT / "samples" / "customers.jsonl")
    assert issues == []
    s.import_records(records)
    return s


def test_summary_cites_only_this_customers_tickets(store):
    for cust in store.list_customers():
        own = {t.ticket_id for t in store.tickets_for(cust.customer_id)}
        s = summarize(cust, store.tickets_for(cust.customer_id))
        cited = set(re.findall(r"\[(T-\d+)\]", json.dumps(s, ensure_ascii=False)))
        assert cited <= own, (cust.customer_id, cited - own)
        assert {c["ticket_id"] for c in s["citations"]} == own
        for issue in s["open_issues"]:
            assert f"[{issue['ticket_id']}]" in issue["statement"]


def test_canary_facts_never_cross_customers(store):
    customers = store.list_customers()
    rng = random.Random(7)
    for _ in range(40):
        a, b = rng.sample(customers, 2)
        canary = f"CANARY-{rng.randrange(10**8):08d}"
        t = Ticket(f"T-CAN-{canary}", a.customer_id, f"再起動を試しました {canary}", "open", "email", "2026-11-20T10:00:00+09:00", [],
                   [Message("customer", "2026-11-20T10:00:00+09:00", f"ルーターを再起動しましたが直りません。{canary}")])
        store.add_ticket(t, "test")
        sa = json.dumps(summarize(a, store.tickets_for(a.customer_id)), ensure_ascii=False)
        sb = json.dumps(summarize(b, store.tickets_for(b.customer_id)), ensure_ascii=False)
        assert canary in sa and canary not in sb


def test_summary_content(store):
    cust = store.get_customer("C-1001")
    s = summarize(cust, store.tickets_for("C-1001"))
    assert s["customer_id"] == "C-1001" and s["summary"].startswith("山田 花子様")
    assert [t["date"] for t in s["timeline"]] == sorted(t["date"] for t in s["timeline"])
    assert len(s["sentiment_trend"]) == len(s["timeline"])
    assert any("電池" in x["text"] for x in s["tried"])


def test_already_tried_is_what_the_customer_did_not_what_the_agents_said(store):
    for cust in store.list_customers():
        tickets = store.tickets_for(cust.customer_id)
        customer_text = " ".join(m.text for t in tickets for m in t.messages if m.sender == "customer")
        for x in summarize(cust, tickets)["tried"]:
            said = x["text"].rsplit(" [", 1)[0].rstrip("…")
            assert said[:30] in customer_text, (cust.customer_id, x)
    t = Ticket("T-1", "C-1", "hub offline", "open", "email", "2026-01-01T00:00:00+00:00", [], [
        Message("customer", "2026-01-01T00:00:00+00:00", "The hub is offline. I restarted the router twice."),
        Message("agent", "2026-01-01T00:05:00+00:00", "We have reset your account and checked the logs."),
    ])
    s = summarize(Customer("C-1", "Ann", None, None, "en", "basic", [], "2026-01-01"), [t])
    assert [x["text"] for x in s["tried"]] == ["I restarted the router twice. [T-1]"]


def test_angry_customer_shows_in_the_trend(store):
    s = summarize(store.get_customer("C-1002"), store.tickets_for("C-1002"))
    assert "angry" in s["sentiment_trend"]


def test_mixing_customers_is_refused():
    with pytest.raises(ValueError):
        summarize(Customer("A", "a"), [Ticket("T", "B", "s", "open", "email", "2026")])
