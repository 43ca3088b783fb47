"""The LLM drafting policy, over any ChatModel (ports.ChatModel; the OpenAI-compatible adapter
is adapters/llm.py).

Its reply must pass the same grounding check as everything else (grounding.check_grounded):
citations point to given passages, cited sentences are supported by them, no links from
nowhere. Unsupported sentences are removed and noted; when nothing grounded is left, or the
model fails, times out or answers garbage, the extractive draft is used and the draft says so.
Customer text sent to the model is redacted when COPILOT_REDACT_LLM is on.
"""

from __future__ import annotations

import logging
import re

from ..errors import ConfigError
from ..tokens import count_tokens
from .grounding import DraftText, check_grounded, number_passages

log = logging.getLogger(__name__)
LANG_NAMES = {"ja": "Japanese", "en": "English"}
# What the model answers, alone, when no passage answers the ticket (prompts/draft_reply.yaml):
# the draft then escalates like an extractive one whose evidence answers nothing.
NO_ANSWER = "NO_ANSWER"
NO_ANSWER_NOTE = "the LLM found no answer in the passages"


def outbound(text: str, redact: bool) -> str:
    """Customer text on its way to an external model: redacted when configured."""
    if redact:
        from ..pii import redact as redact_pii

        return redact_pii(text)
    return text


def _says_no_answer(content: str) -> bool:
    """The reply opens with NO_ANSWER (alone, or dressed: **NO_ANSWER**, "NO_ANSWER: ...")."""
    first = next((line for line in content.splitlines() if line.strip()), "")
    return first.strip().strip("\"'`*_.。「」 ").upper().startswith(NO_ANSWER)


class LlmDrafter:
    def __init__(self, chat, prompt, fallback, *, context_tokens: int, redact: bool = False, brand=None) -> None:
        self.chat = chat  # ports.ChatModel
        self.brand = brand or (lambda lang: "")  # lang -> company name (COPILOT_BRAND; '' = neutral)
        self.name = chat.name
        self.prompt = prompt
        self.fallback = fallback
        self.context_tokens = context_tokens
        self.redact = redact

    def _passages(self, hits) -> tuple[str, list]:
        """Numbered passages, best first, trimmed to the token budget."""
        kept, used = [], 0
        for h in hits:
            n = count_tokens(h.chunk.text)
            if kept and used + n > self.context_tokens:
                break
            kept.append(h)
            used += n
        return number_passages(kept), kept

    def draft(self, ticket: str, language: str, hits, *, customer_name=None, apologise=False, context=None,
              questions=None) -> DraftText:
        text, kept = self._passages(hits)
        shown = (f"Earlier in this conversation (context only):\n{context}\n\nLatest message (answer this one):\n{ticket}"
                 if context else ticket)
        messages = self.prompt.render_messages(company=self.brand(language) or "this company",
                                               language=LANG_NAMES.get(language, language), passages=text,
                                               ticket=outbound(shown, self.redact))
        try:
            content = self.chat.reply(messages)
        except ConfigError:
            raise  # a configuration mistake is an error, not a fallback
        except Exception as exc:  # timeouts, HTTP errors, malformed bodies: never fail the draft
            log.warning("LLM call failed (%s); using the extractive draft", type(exc).__name__)
            return self._fallback(ticket, language, hits, customer_name, apologise, context, questions,
                                  f"LLM call failed ({type(exc).__name__}); extractive fallback")
        if _says_no_answer(content):
            # no citations: the pipeline escalates with the holding reply
            return DraftText("", [], [], [NO_ANSWER_NOTE], drafter=self.name)
        result = check_grounded(content, kept)
        if not result.ok:
            return self._fallback(ticket, language, hits, customer_name, apologise, context, questions,
                                  f"LLM draft failed the grounding check ({result.why}); extractive fallback")
        out = DraftText(result.reply, result.citations, [c.chunk_id for c in result.citations], result.notes)
        out.drafter = self.name
        return out

    def _fallback(self, ticket, language, hits, customer_name, apologise, context, questions, note) -> DraftText:
        out = self.fallback.draft(ticket, language, hits, customer_name=customer_name, apologise=apologise, context=context,
                                  questions=questions)
        out.notes.insert(0, note)
        out.drafter = f"{self.name}->extractive"
        return out


class LlmSummarizer:
    """An LLM-written overview for `summarize`, kept only when every sentence cites tickets of
    this customer; otherwise the extractive summary stands and says why."""

    def __init__(self, chat, prompt, *, redact: bool = False) -> None:
        self.chat = chat
        self.prompt = prompt
        self.redact = redact
        self.name = chat.name

    def overview(self, customer, tickets) -> tuple[str | None, str]:
        own = {t.ticket_id for t in tickets}
        history = "\n\n".join(
            f"[{t.ticket_id}] {t.created_at[:10]} {t.status} — {t.subject}\n"
            + "\n".join(f"  {m.sender}: {m.text[:400]}" for m in t.messages)
            for t in tickets
        )
        messages = self.prompt.render_messages(language=LANG_NAMES.get(customer.lang, "Japanese"),
                                               history=outbound(history, self.redact))
        try:
            text = self.chat.reply(messages)
        except Exception as exc:
            return None, f"LLM summary failed ({type(exc).__name__}); extractive summary kept"
        from ..analysis import split_sentences

        sents = [x for line in text.splitlines() for x in split_sentences(line) if x.strip()]
        cited_ok = bool(sents) and all(
            (ids := re.findall(r"T-[\w-]+", x)) and set(ids) <= own for x in sents
        )
        if not cited_ok:
            return None, "LLM summary cited no ticket or another customer's ticket; extractive summary kept"
        return " ".join(sents), ""
