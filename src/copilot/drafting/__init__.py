"""Grounded draft replies.

The pipeline (pipeline.DraftPipeline, built by the composition root) reads the ticket once
(ticket.py), retrieves evidence, checks the playbook's escalation rules and the retrieval
confidence (confidence.py), and asks a Drafter for the reply: the offline ExtractiveDrafter
(extractive.py) or the LLM policy over a ChatModel (llm.py). Every reply passes the grounding
check (grounding.py).
"""

from .extractive import ExtractiveDrafter
from .grounding import _COURTESY, _PROMISE, DraftText, Grounding, _attach_citations, check_grounded, number_passages
from .ticket import answerable_text, ticket_questions

__all__ = ["ExtractiveDrafter", "DraftText", "Grounding", "check_grounded", "number_passages", "answerable_text",
           "ticket_questions", "_attach_citations", "_COURTESY", "_PROMISE"]
