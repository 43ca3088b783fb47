"""Drafts from a ticket's whole conversation (issue 17): the customer's latest turn is the
question, the subject and their earlier messages are read as context, the agents' own replies
never are."""

import pytest

from copilot.domain import Customer, Message, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POWER = Ticket("T-9001", "C-9001", "Does the hub keep running in a power cut?", "open", "email", "2026-01-05T09:00:00+09:00", [], [
    Message("customer", "2026-01-05T09:00:00+09:00",
            "There's a typhoon warning for this weekend. If the power goes out, will the hub keep running on a battery? "
            "I have automations for the smart plug in my garage."),
    Message("agent", "2026-01-05T09:30:00+09:00",
            "Hello Tom, thank you for contacting us. We have passed your question to the team. I restarted your account sync."),
    Message("customer", "2026-01-05T10:00:00+09:00", "OK. Could I run it from a USB power bank during an outage, then?"),
])
FOLLOW_UPS = Ticket("T-9002", "C-9001", "ネットが止まっている間も除湿機は動く？", "open", "email", "2026-01-06T09:00:00+09:00", [], [
    Message("customer", "2026-01-06T09:00:00+09:00", "ハブの設定について質問です。"),
    Message("agent", "2026-01-06T09:10:00+09:00", "ご連絡ありがとうございます。担当よりご案内いたします。"),
    Message("customer", "2026-01-06T09:20:00+09:00", "インターネットが止まっている間も、オートメーションは動きますか？"),
    Message("customer", "2026-01-06T09:25:00+09:00", "追記です。除湿機はスマートプラグにつないでいます。"),
])


@pytest.fixture(scope="module")
def c(sample_copilot, tmp_path_factory):
    """The sample index with a store of its own: these tickets and drafts stay out of the shared one."""
    own = sample_copilot.derive(database_url=f"sqlite:///{tmp_path_factory.mktemp('conv') / 'store.sqlite3'}")
    tom = Customer("C-9001", "Tom Hughes", "tom@example.com", None, "en", "basic", [], "2026-01-01")
    own.store.import_records([(tom, [POWER, FOLLOW_UPS])], actor="test")
    return own


def test_the_latest_turn_is_the_question_and_agents_are_left_out(c):
    t, text, context = c.conversation("T-9002")
    assert text.startswith("インターネットが止まっている間も") and "追記です" in text  # both messages of the last turn
    assert context.splitlines() == ["ネットが止まっている間も除湿機は動く？", "ハブの設定について質問です。"]
    _, text, context = c.conversation("T-9001")
    assert text.startswith("OK. Could I run it") and "typhoon" in context and "restarted" not in context


def test_a_follow_up_is_answered_from_the_conversation(c):
    t, text, context = c.conversation("T-9001")
    alone = c.draft(text, customer_id=t.customer_id, persist=False)
    assert alone.escalate, "the follow-up alone names no topic: without the conversation it must not be answered"
    d = c.draft_ticket("T-9001", actor="test")
    assert not d.escalate, d.escalation_reason
    assert d.ticket_id == "T-9001" and d.ticket_text == text
    assert d.confidence > alone.confidence
    quoted = " ".join(ct.text for ct in d.citations)
    assert "停電" in quoted, quoted  # the power-cut passage, found through the earlier message
    assert "restarted your account" not in d.reply  # the agent's earlier words are never quoted back


def test_an_earlier_safety_report_still_escalates(c):
    t = Ticket("T-9003", "C-9001", "Hub smells", "open", "email", "2026-01-07T09:00:00+09:00", [], [
        Message("customer", "2026-01-07T09:00:00+09:00", "The hub is very hot and there is a burning smell and smoke."),
        Message("agent", "2026-01-07T09:05:00+09:00", "Please unplug it now."),
        Message("customer", "2026-01-07T09:10:00+09:00", "Unplugged. How do I set it up again?"),
    ])
    c.store.add_ticket(t, "test")
    d = c.draft_ticket("T-9003", actor="test")
    assert d.escalate and "safety" in (d.escalation_reason or "").lower(), d.escalation_reason


def test_a_ticket_without_a_customer_message_is_refused(c):
    from copilot.errors import InputError

    t = Ticket("T-9004", "C-9001", "outbound", "open", "email", "2026-01-08T09:00:00+09:00", [], [
        Message("agent", "2026-01-08T09:00:00+09:00", "We are contacting you about your order.")])
    c.store.add_ticket(t, "test")
    with pytest.raises(InputError, match="no message from the customer"):
        c.draft_ticket("T-9004")
