"""API keys and roles. Keys are random, shown once, and stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from .errors import InputError

ROLES = ("agent", "helpdesk", "editor", "qa", "admin")

# Which roles may call each route (method, path template). The one place access is decided;
# a test walks the whole matrix.
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/search"): frozenset(ROLES),
    ("POST", "/v1/drafts"): frozenset({"agent", "helpdesk", "admin"}),
    ("GET", "/v1/drafts"): frozenset({"agent", "helpdesk", "qa", "admin"}),
    ("GET", "/v1/drafts/{draft_id}"): frozenset({"agent", "helpdesk", "qa", "admin"}),
    ("GET", "/v1/tickets"): frozenset({"agent", "helpdesk", "admin"}),
    ("GET", "/v1/customers"): frozenset({"agent", "helpdesk", "admin"}),
    ("POST", "/v1/drafts/{draft_id}/approve"): frozenset({"agent", "helpdesk", "admin"}),
    ("POST", "/v1/drafts/{draft_id}/reject"): frozenset({"agent", "helpdesk", "admin"}),
    ("GET", "/v1/customers/{customer_id}/summary"): frozenset({"agent", "helpdesk", "admin"}),
    ("POST", "/v1/customers/{customer_id}/tickets"): frozenset({"agent", "helpdesk", "admin"}),
    ("POST", "/v1/knowledge/reindex"): frozenset({"editor", "admin"}),
    ("GET", "/v1/knowledge/status"): frozenset({"agent", "editor", "qa", "admin"}),
    ("GET", "/v1/knowledge/documents"): frozenset({"editor", "qa", "admin"}),
    ("POST", "/v1/knowledge/documents"): frozenset({"editor", "admin"}),
    ("DELETE", "/v1/knowledge/documents"): frozenset({"editor", "admin"}),
    ("POST", "/v1/evals/runs"): frozenset({"qa", "admin"}),
    ("GET", "/v1/evals/runs"): frozenset({"qa", "admin"}),
    ("GET", "/v1/evals/runs/{run_id}"): frozenset({"qa", "admin"}),
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(role: str) -> tuple[str, str, str]:
    """(key id, the key itself, its hash). The key starts with its role for humans' sake."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}")
    key_id = "k_" + secrets.token_hex(6)
    key = f"cp_{role}_{secrets.token_urlsafe(24)}"
    return key_id, key, hash_key(key)
