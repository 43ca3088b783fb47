"""Who may do what: the one access policy of the REST API and the agent panel.

Every capability is an action with the roles allowed to take it (`ACTIONS`). Each REST route
(`ROUTES`) and each panel event (`PANEL`) names its action; a route or event missing from
these tables is refused, never open by accident. `tests/test_access.py` walks every role
through both surfaces from these tables.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

ROLES = ("agent", "helpdesk", "editor", "qa", "admin")
_ALL = frozenset(ROLES)
_DESK = frozenset({"agent", "helpdesk", "admin"})

# action -> (roles allowed, what it is, for messages)
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "search": (_ALL, "search the knowledge base"),
    "draft": (_DESK, "draft replies"),
    "read_drafts": (frozenset({"agent", "helpdesk", "qa", "admin"}), "read drafts"),
    "decide": (_DESK, "approve or reject drafts"),
    "customers": (_DESK, "read customers and tickets"),
    "write_tickets": (_DESK, "add tickets and messages"),
    "knowledge_status": (frozenset({"agent", "editor", "qa", "admin"}), "see the index status"),
    "list_documents": (frozenset({"editor", "qa", "admin"}), "list the knowledge files"),
    "edit_knowledge": (frozenset({"editor", "admin"}), "upload or delete knowledge files"),
    "reindex": (frozenset({"editor", "admin"}), "re-index the knowledge base"),
    # rejected drafts quote customers' tickets: only those who write the missing knowledge
    "knowledge_gaps": (frozenset({"editor", "admin"}), "read the knowledge-gap report"),
    "run_evals": (frozenset({"qa", "admin"}), "run the eval suite"),
    "read_evals": (frozenset({"qa", "admin"}), "read eval runs and reports"),
}

# REST: (method, route path) -> action
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/search"): "search",
    ("POST", "/v1/drafts"): "draft",
    ("GET", "/v1/drafts"): "read_drafts",
    ("GET", "/v1/drafts/{draft_id}"): "read_drafts",
    ("POST", "/v1/drafts/{draft_id}/approve"): "decide",
    ("POST", "/v1/drafts/{draft_id}/reject"): "decide",
    ("GET", "/v1/tickets"): "customers",
    ("POST", "/v1/tickets/{ticket_id}/messages"): "write_tickets",
    ("POST", "/v1/tickets/{ticket_id}/drafts"): "draft",
    ("POST", "/v1/tickets/{ticket_id}/status"): "write_tickets",
    ("GET", "/v1/customers"): "customers",
    ("GET", "/v1/customers/{customer_id}/summary"): "customers",
    ("POST", "/v1/customers/{customer_id}/tickets"): "write_tickets",
    ("POST", "/v1/knowledge/reindex"): "reindex",
    ("GET", "/v1/knowledge/status"): "knowledge_status",
    ("GET", "/v1/knowledge/documents"): "list_documents",
    ("POST", "/v1/knowledge/documents"): "edit_knowledge",
    ("DELETE", "/v1/knowledge/documents"): "edit_knowledge",
    ("POST", "/v1/evals/runs"): "run_evals",
    ("GET", "/v1/evals/runs"): "read_evals",
    ("GET", "/v1/evals/runs/{run_id}"): "read_evals",
}

# the panel: event name (its api_name) -> action
PANEL: dict[str, str] = {
    "inbox": "customers",
    "open_ticket": "customers",
    "draft": "draft",
    "approve": "decide",
    "reject": "decide",
    "documents": "list_documents",
    "upload": "edit_knowledge",
    "ask_delete": "edit_knowledge",
    "delete": "edit_knowledge",
    "reindex": "reindex",
    "gaps": "knowledge_gaps",
    "run_evals": "run_evals",
}

# the panel's tabs, shown to a role that may take any of their actions
TABS: dict[str, tuple[str, ...]] = {
    "agent": ("draft", "decide"),
    "knowledge": ("list_documents", "edit_knowledge", "reindex", "knowledge_gaps"),
    "qa": ("run_evals",),
}


class Forbidden(Exception):
    """A role may not take an action (REST answers 403; the panel shows the message)."""


def allowed(role: str | None, action: str) -> bool:
    roles, _ = ACTIONS[action]  # an unknown action is a bug: KeyError
    return role in roles


def check(role: str | None, action: str) -> None:
    if not allowed(role, action):
        raise Forbidden(f"role {role or 'none'} may not {ACTIONS[action][1]}")


def route_action(method: str, path: str) -> str | None:
    return ROUTES.get((method, path))


def tab_visible(role: str | None, tab: str) -> bool:
    return any(allowed(role, a) for a in TABS[tab])


def eval_dataset(path: str, evals_dir: Path) -> Path:
    """An eval dataset named by a REST or panel caller: a file inside the project's evals folder
    (no other path on the server is read on a caller's behalf)."""
    if not path or any(ord(ch) < 32 for ch in path):
        raise InputError("dataset path is empty or contains control characters")
    base = evals_dir.resolve()
    rel = path[len(evals_dir.name) + 1:] if path.startswith(f"{evals_dir.name}/") else path
    ds = (base / rel).resolve()  # an absolute path stays itself, and must still be inside
    if base not in ds.parents:
        raise InputError(f"dataset must be a file inside the {evals_dir.name}/ folder")
    if not ds.is_file():
        raise InputError(f"dataset {path} not found in {evals_dir.name}/")
    return ds
