"""API keys. Keys are random, shown once, and stored as sha256 hashes; what each role may do is
access.py."""

from __future__ import annotations

import hashlib
import secrets

from .access import ROLES
from .errors import InputError

def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(role: str) -> tuple[str, str, str]:
    """(key id, the key itself, its hash). The key starts with its role for humans' sake."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}")
    key_id = "k_" + secrets.token_hex(6)
    key = f"cp_{role}_{secrets.token_urlsafe(24)}"
    return key_id, key, hash_key(key)
