"""SQL store (SQLAlchemy Core): customers, tickets, messages, drafts and decisions, and an
append-only audit log. SQLite under the data dir by default; PostgreSQL via
COPILOT_DATABASE_URL. The schema is built by named, append-only migrations."""

from .repo import Store

__all__ = ["Store"]
