"""LLM drafter: any OpenAI-compatible server through LangChain's chat model.

Its reply must pass the same grounding check as everything else (drafting.check_grounded):
citations point to given passages, cited sentences are supported by them, no links from
nowhere. Unsupported sentences are removed and noted; when nothing grounded is left, or the
server fails, times out or answers garbage, the extractive draft is used and the draft says so.
"""

from __future__ import annotations

import logging

from ..drafting import DraftText, check_grounded, number_passages
from ..errors import ConfigError
from ..tokens import count_tokens

log = logging.getLogger(__name__)
LANG_NAMES = {"ja": "Japanese", "en": "English"}


def chat_messages(prompt, **values):
    """A prompt file's messages as LangChain chat messages (its ChatPromptTemplate does the
    formatting; our Prompt lists every missing variable first)."""
    from langchain_core.prompts import ChatPromptTemplate

    prompt.render_messages(**values)  # raises InputError naming every missing variable
    return ChatPromptTemplate.from_messages(list(prompt.messages)).format_messages(**values)


class LlmDrafter:
    def __init__(self, settings, prompt, fallback) -> None:
        spec = settings.llm.strip()
        self.model = spec.split(":", 1)[1] if ":" in spec else ""
        if not self.model:
            raise ConfigError("COPILOT_LLM=openai:MODEL needs a model name")
        self.name = f"openai:{self.model}"
        self.settings = settings
        self.prompt = prompt
        self.fallback = fallback
        self._chat = None

    def _client(self):
        if self._chat is None:
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as exc:  # pragma: no cover - pinned dependency
                raise ConfigError("the openai drafter needs langchain-openai: pip install langchain-openai") from exc
            secret = self.settings.llm_api_key
            key = (secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)) if secret else "not-needed"
            self._chat = ChatOpenAI(model=self.model, base_url=self.settings.llm_base_url, api_key=key,
                                    timeout=self.settings.llm_timeout, max_retries=0, temperature=0)
        return self._chat

    def _passages(self, hits) -> tuple[str, list]:
        """Numbered passages, best first, trimmed to the token budget."""
        budget = self.settings.llm_context_tokens
        kept, used = [], 0
        for h in hits:
            n = count_tokens(h.chunk.text)
            if kept and used + n > budget:
                break
            kept.append(h)
            used += n
        return number_passages(kept), kept

    def _outbound(self, text: str) -> str:
        """Customer text on its way to the external server: redacted when COPILOT_REDACT_LLM is on."""
        if getattr(self.settings, "redact_llm", False):
            from ..pii import redact

            return redact(text)
        return text

    def draft(self, ticket: str, language: str, hits, *, customer_name=None, apologise=False, context=None) -> DraftText:
        text, kept = self._passages(hits)
        shown = (f"Earlier in this conversation (context only):\n{context}\n\nLatest message (answer this one):\n{ticket}"
                 if context else ticket)
        messages = chat_messages(self.prompt, language=LANG_NAMES.get(language, language), passages=text,
                                 ticket=self._outbound(shown))
        client = self._client()  # a configuration mistake is an error, not a fallback
        try:
            resp = client.invoke(messages)
            content = resp.content if isinstance(resp.content, str) else str(resp.content)
        except Exception as exc:  # timeouts, HTTP errors, malformed bodies: never fail the draft
            log.warning("LLM call failed (%s); using the extractive draft", type(exc).__name__)
            return self._fallback(ticket, language, hits, customer_name, apologise, context, f"LLM call failed ({type(exc).__name__}); extractive fallback")
        result = check_grounded(content, kept)
        if not result.ok:
            return self._fallback(ticket, language, hits, customer_name, apologise, context, f"LLM draft failed the grounding check ({result.why}); extractive fallback")
        out = DraftText(result.reply, result.citations, [c.chunk_id for c in result.citations], result.notes)
        out.drafter = self.name
        return out

    def _fallback(self, ticket, language, hits, customer_name, apologise, context, note) -> DraftText:
        out = self.fallback.draft(ticket, language, hits, customer_name=customer_name, apologise=apologise, context=context)
        out.notes.insert(0, note)
        out.drafter = f"{self.name}->extractive"
        return out


class LlmSummarizer:
    """An LLM-written overview for `summarize`, kept only when every sentence cites tickets of
    this customer; otherwise the extractive summary stands and says why."""

    def __init__(self, drafter: LlmDrafter, prompt) -> None:
        self.drafter = drafter
        self.prompt = prompt
        self.name = drafter.name

    def overview(self, customer, tickets) -> tuple[str | None, str]:
        import re

        own = {t.ticket_id for t in tickets}
        history = "\n\n".join(
            f"[{t.ticket_id}] {t.created_at[:10]} {t.status} — {t.subject}\n"
            + "\n".join(f"  {m.sender}: {m.text[:400]}" for m in t.messages)
            for t in tickets
        )
        messages = chat_messages(self.prompt, language=LANG_NAMES.get(customer.lang, "Japanese"),
                                 history=self.drafter._outbound(history))
        try:
            resp = self.drafter._client().invoke(messages)
            text = resp.content if isinstance(resp.content, str) else str(resp.content)
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
