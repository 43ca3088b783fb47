"""Draft decisions: the one place where state transitions are checked.

    pending --approve(final text)--> approved      (approving again with the same text: no-op)
    pending --reject(reason)-------> rejected      (rejecting again with the same reason: no-op)
    anything else is a ConflictError.
"""

from __future__ import annotations

import difflib

from .domain import REJECT_REASONS, Draft
from .errors import ConflictError, InputError

ACTIONS = ("approve", "reject")


def check_transition(draft: Draft, action: str, *, final_text: str | None = None, reason: str | None = None) -> bool:
    """Validate `action` on `draft`. Returns False when it is a repeat of the decision already
    made (idempotent no-op), True when the draft must change."""
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}")
    if action == "approve":
        if final_text is None or not final_text.strip():
            raise InputError("approve needs the final text the agent sends")
    if action == "reject" and reason not in REJECT_REASONS:
        raise InputError(f"reject reason must be one of {', '.join(REJECT_REASONS)}")
    if draft.status == "pending":
        return True
    if draft.status == "approved" and action == "approve":
        if (draft.final_text or "") == final_text:
            return False
        raise ConflictError(f"draft {draft.draft_id} is already approved with a different text")
    if draft.status == "rejected" and action == "reject":
        if draft.reject_reason == reason:
            return False
        raise ConflictError(f"draft {draft.draft_id} is already rejected ({draft.reject_reason})")
    raise ConflictError(f"draft {draft.draft_id} is {draft.status}; it cannot be {'approved' if action == 'approve' else 'rejected'}")


def text_diff(before: str, after: str) -> str:
    """Line diff between the draft and what the agent sent ('' when unchanged)."""
    if before == after:
        return ""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "draft", "final", n=1))
