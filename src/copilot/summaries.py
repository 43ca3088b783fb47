"""Customer-history summaries, extractive and offline: every statement cites its ticket [T-id].

Only the tickets passed in are read (Store.tickets_for(customer_id) is the one query that
feeds this), so one customer's history cannot appear in another's summary.
"""

from __future__ import annotations

import re

from .analysis import normalize, split_sentences
from .domain import Customer, Ticket
from .safety import is_angry

_TRIED = re.compile(
    r"(再起動|リセット|初期化|再設定|再ペアリング|電池(を|の)交換|交換(しました|いただ)|お試し|試し(ました|て)|確認(しました|いただきました)|"
    r"更新(しました|いただ)|送付しました|手配しました|"
    r"restart|reboot|reset|re-?pair|replaced|tried|checked|updated|sent you|arranged)",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"(困って|困り|不便|不満|つながらない|繋がらない|動かない|届かない|壊れ|故障|エラー|最悪|ひどい|残念|怒|いい加減|解約|返金|"
    r"not working|doesn't work|broken|error|frustrat|annoy|disappoint|refund|cancel|angry|terrible|worst)",
    re.IGNORECASE,
)
_POSITIVE = re.compile(r"(ありがとう|助かりました|解決しました|直りました|thank|solved|works now|great|resolved)", re.IGNORECASE)


def _first_sentence(text: str, limit: int = 120) -> str:
    sents = split_sentences(text)
    s = sents[0] if sents else text
    return s if len(s) <= limit else s[: limit - 1] + "…"


def ticket_sentiment(t: Ticket) -> str:
    text = normalize(" ".join(m.text for m in t.messages if m.sender == "customer"))
    if is_angry(text):
        return "angry"
    neg, pos = len(_NEGATIVE.findall(text)), len(_POSITIVE.findall(text))
    if neg > pos:
        return "negative"
    if pos > neg:
        return "positive"
    return "neutral"


PLAN_NAMES = {"ja": {"free": "フリー", "plus": "プラス", "premium": "プレミアム"},
              "en": {"free": "Free", "plus": "Plus", "premium": "Premium"}}


def summarize(customer: Customer, tickets: list[Ticket]) -> dict:
    ja = customer.lang == "ja"
    plan = PLAN_NAMES["ja" if ja else "en"].get((customer.plan or "").lower(), customer.plan or ("不明" if ja else "unknown"))
    if any(t.customer_id != customer.customer_id for t in tickets):
        raise ValueError("summaries take one customer's tickets only")
    citations = [{"ticket_id": t.ticket_id, "subject": t.subject, "created_at": t.created_at} for t in tickets]
    timeline = [
        {"date": t.created_at[:10], "ticket_id": t.ticket_id, "subject": t.subject, "status": t.status,
         "channel": t.channel, "sentiment": ticket_sentiment(t), "tags": t.tags}
        for t in tickets
    ]
    open_issues = []
    for t in tickets:
        if t.status in ("open", "pending", "escalated"):
            last = next((m for m in reversed(t.messages) if m.sender == "customer"), None)
            open_issues.append({
                "ticket_id": t.ticket_id, "subject": t.subject, "status": t.status, "since": t.created_at[:10],
                "last_customer_message": _first_sentence(last.text) if last else "",
                "statement": (f"{t.subject}（{t.status}、{t.created_at[:10]}から）[{t.ticket_id}]" if ja
                              else f"{t.subject} ({t.status} since {t.created_at[:10]}) [{t.ticket_id}]"),
            })
    tried = []  # what the customer says they did; the agents' advice is not something they tried
    for t in tickets:
        for m in t.messages:
            if m.sender != "customer":
                continue
            for s in split_sentences(m.text):
                if _TRIED.search(s) and len(tried) < 8:
                    tried.append({"ticket_id": t.ticket_id, "text": f"{_first_sentence(s, 140)} [{t.ticket_id}]"})
    trend = [row["sentiment"] for row in timeline]
    n, first = len(tickets), (tickets[0].created_at[:10] if tickets else "")
    if ja:
        head = f"{customer.name}様（{plan}プラン、製品: {', '.join(customer.products) or '不明'}）。"
        head += f"{first}以降のお問い合わせは{n}件、うち未解決{len(open_issues)}件。" if n else "お問い合わせ履歴はありません。"
        if open_issues:
            head += "未解決: " + "、".join(o["statement"] for o in open_issues) + "。"
        if trend and trend[-1] in ("angry", "negative"):
            head += f"直近のお問い合わせではご不満が見られます [{tickets[-1].ticket_id}]。"
    else:
        head = f"{customer.name} ({plan} plan, products: {', '.join(customer.products) or 'unknown'}). "
        head += f"{n} tickets since {first}, {len(open_issues)} still open. " if n else "No tickets yet. "
        if open_issues:
            head += "Open: " + "; ".join(o["statement"] for o in open_issues) + ". "
        if trend and trend[-1] in ("angry", "negative"):
            head += f"The latest contact is unhappy [{tickets[-1].ticket_id}]."
    return {
        "customer_id": customer.customer_id,
        "summary": head.strip(),
        "plan": customer.plan,
        "products": customer.products,
        "open_issues": open_issues,
        "timeline": timeline,
        "sentiment_trend": trend,
        "tried": tried,
        "citations": citations,
        "summarizer": "extractive",
    }
