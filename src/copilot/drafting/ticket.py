"""Reading a ticket: what it asks (its questions) and what may steer a draft (the text without
quoted mail and without sentences that instruct the assistant)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..analysis import detect_language, lexical_tokens, split_sentences
from ..safety import escalation_triggers, is_angry, looks_like_injection, reports_a_problem

MAX_QUESTIONS = 6  # a ticket with more "questions" is read as one text

_GREETING_LINE = re.compile(
    r"^(お世話になっております|お世話になります|いつもお世話に|こんにちは|こんばんは|はじめまして|よろしくお願い|hi\b|hello\b|hey\b|dear\b|thanks?\b|thank you|best regards|regards)",
    re.IGNORECASE,
)
_SIGNOFF = re.compile(r"^[-–—]*\s*[A-Za-z\s.]{0,30}$")  # "Thanks", "- Tom"; a short Japanese question is no sign-off
_LEADING_GREETING = re.compile(r"^(hi|hello|hey|dear \w+|thanks|thank you)\b[\s,!.]*(?=\S.{8,})", re.IGNORECASE)


def answerable_text(ticket: str) -> str:
    """What the copilot answers: the ticket without quoted lines ("> ...", earlier mails) and
    without sentences that try to instruct the assistant. They stay in the stored ticket for
    the agent to read; they never steer retrieval or the reply."""
    kept = []
    for line in ticket.splitlines():
        if line.lstrip().startswith((">", "＞")):
            continue
        sents = [s for s in split_sentences(line) if not looks_like_injection(s)]
        if sents:
            kept.append(" ".join(sents) if line.isascii() else "".join(sents))
    return "\n".join(kept).strip()


_QUESTION = re.compile(
    r"[?？]\s*$|ですか|ますか|でしょうか|ませんか|かな[。]?$|教えて|知りたい|どうすれば|どうしたら|いくら|何日|何年|いつ|ください[。]?$|"
    r"^(how|what|when|where|why|which|who|can|could|do|does|is|are|will|would|should|may)\b|\b(please|let me know|tell me|i need|i want)\b",
    re.IGNORECASE,
)


_CLAUSE = re.compile(
    r"(?:,\s*|\s+)(?:and|also|plus)\s+(?=(?:how|what|when|where|which|who|why|can|could|do|does|is|are|will|would|should)\b)|"
    r"[:：]\s+(?=(?:how|what|when|where|which|who|why|can|could|do|does|is|are|will|would|should)\b)|"
    r"(?<=[?？])\s*(?:and\s+)?(?:also|separately|second(?:ly)?(?: question)?|another (?:thing|question))[,:]?\s+|"
    r"(?<=か)[、,]\s*(?:それと|あと|また|それから|さらに)[、,]?|(?<=[?？])\s*(?:それと|あと|また|それから)[、,]?",
    re.IGNORECASE)
_ENUM = re.compile(r"^\s*(?:[①-⑳]|\(?\d\)|\d[.．)）]|Q\d[:.：]?)\s*")


def ticket_questions(ticket: str) -> list[str]:
    """What the ticket asks. Sentences that ask something (a question mark, ですか, 教えて,
    "how", "please" ...) when there are any; otherwise every informative sentence. One
    sentence that joins two questions ("how long is the trial, and which plan has SSO?") is
    read as two. Greetings and sign-offs never count."""
    informative = []
    for s in split_sentences(ticket):
        for part in _CLAUSE.split(_LEADING_GREETING.sub("", _ENUM.sub("", s))):
            t = part.strip(" ,、")
            if len(t) < 4 or _GREETING_LINE.match(t) or (len(t) < 20 and _SIGNOFF.match(t) and not t.endswith(("?", "？"))):
                continue
            informative.append(t)
    asking = [t for t in informative if _QUESTION.search(t)]
    return asking or informative or [ticket.strip()]


# a question that points back to what the customer said before ("Can we use *that* for it?",
# 「それは使えますか」): read with the sentence before it
_POINTS_BACK = re.compile(r"\b(that|this|these|those|them|such)\b|(それ|これ|あれ|その|この|そちら|こちら)(は|を|が|も|で|に|って|の)", re.I)


def _with_context(ticket: str, asking: list[str]) -> list[str]:
    """A short question ("どうすればいいですか？", "and what hours is it open?") is read with
    the sentence it belongs to, or the one before it; a question that points back ("Can we
    use that for Learnwell?") with the sentence before its own, unless that one is a question
    of its own."""
    sents = split_sentences(ticket)
    out = []
    for q in asking:
        own = next((i for i, s in enumerate(sents) if q in s), None)
        if len(lexical_tokens(q)) <= 2:
            whole = sents[own] if own is not None and sents[own].strip(" ,、") != q else None  # a clause of a longer sentence
            if whole is not None:
                q = whole
            elif own is not None and own > 0:
                q = sents[own - 1] + " " + q
        elif own is not None and own > 0 and _POINTS_BACK.search(q) and not _QUESTION.search(sents[own - 1]):
            q = sents[own - 1] + " " + q
        out.append(q)
    return out



@dataclass(frozen=True)
class TicketAnalysis:
    """A ticket read once, passed to every stage of the pipeline."""

    text: str  # the message to answer, as sent (stored with the draft)
    asked: str  # what may steer retrieval and the reply (answerable_text)
    context: str | None  # the answerable part of the earlier conversation
    lang: str
    questions: list[str]
    triggers: list  # the playbook's escalation rules that fire, over the whole conversation
    angry: bool
    injection: bool  # the ticket tries to instruct the assistant
    reports_problem: bool

    @property
    def query(self) -> str:
        """The search text: the latest message first (a 2,000-character cut keeps it), then the context."""
        return f"{self.asked}\n{self.context}" if self.context else self.asked


def analyse(text: str, context: str | None = None) -> TicketAnalysis:
    asked = answerable_text(text) or text
    # what the conversation raised earlier (a burning smell, a cancellation) still calls for a person
    conversation = f"{context}\n{text}" if context else text
    return TicketAnalysis(
        text=text, asked=asked, context=(answerable_text(context) or None) if context else None,
        lang=detect_language(asked), questions=ticket_questions(asked), triggers=escalation_triggers(conversation),
        angry=is_angry(text), injection=looks_like_injection(text), reports_problem=reports_a_problem(text))
