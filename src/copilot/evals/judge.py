"""Optional LLM judge: used by `copilot eval` only when an LLM is configured, and labelled so
in the report. Deterministic metrics stay the gate; the judge's scores are extra columns."""

from __future__ import annotations

import json
import logging
import re

log = logging.getLogger(__name__)


class LlmJudge:
    def __init__(self, chat, prompt) -> None:
        if chat is None:
            raise ValueError("the LLM judge needs COPILOT_LLM=openai:MODEL")
        self.chat = chat  # ports.ChatModel
        self.prompt = prompt
        self.name = f"LLM judge ({chat.name})"

    def grade(self, ticket: str, reply: str, passages: list[str]) -> dict:
        text = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1)) or "(none)"
        msgs = self.prompt.render_messages(ticket=ticket, reply=reply, passages=text)
        try:
            out = self.chat.reply(msgs)
            m = re.search(r"\{.*\}", out, re.S)
            data = json.loads(m.group(0)) if m else {}
            faithful, helpful = int(data["faithful"]), int(data["helpful"])
            if not (1 <= faithful <= 5 and 1 <= helpful <= 5):
                raise ValueError("score out of range")
        except Exception as exc:  # a judge that fails leaves the case ungraded, never the run
            log.warning("LLM judge gave no usable grade (%s)", type(exc).__name__)
            return {"judge_faithful": None, "judge_helpful": None, "judge_reason": f"no grade ({type(exc).__name__})"}
        return {"judge_faithful": (faithful - 1) / 4, "judge_helpful": (helpful - 1) / 4, "judge_reason": str(data.get("reason", ""))[:300]}
