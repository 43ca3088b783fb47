"""Table definitions. Change the schema only by adding a migration in migrations.py."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

customers = Table(
    "customers", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("lang", String(8), nullable=False, default="ja"),
    Column("plan", String(32)),
    Column("products", Text, nullable=False, default="[]"),  # JSON list
    Column("created_at", String(40)),
)

tickets = Table(
    "tickets", metadata,
    Column("id", String(64), primary_key=True),
    Column("customer_id", String(64), ForeignKey("customers.id"), nullable=False, index=True),
    Column("subject", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False, default="email"),
    Column("created_at", String(40), nullable=False),
    Column("tags", Text, nullable=False, default="[]"),
)

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(64), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("sender", String(16), nullable=False),
    Column("at", String(40), nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("ticket_id", "seq", name="uq_messages_ticket_seq"),
)

drafts = Table(
    "drafts", metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(64), index=True),
    Column("ticket_id", String(64)),
    Column("ticket_text", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("reply", Text, nullable=False),
    Column("citations", Text, nullable=False),  # JSON
    Column("escalate", Boolean, nullable=False),
    Column("escalation_reason", Text),
    Column("confidence", Float, nullable=False),
    Column("prompt_name", String(64), nullable=False),
    Column("prompt_version", String(64), nullable=False),
    Column("drafter", String(128), nullable=False),
    Column("evidence_ids", Text, nullable=False),  # JSON
    Column("flags", Text, nullable=False, default="[]"),
    Column("notes", Text, nullable=False, default="[]"),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("final_text", Text),
    Column("decided_by", String(128)),
    Column("decided_at", String(40)),
    Column("reject_reason", String(32)),
    Column("reject_note", Text),
    Column("diff", Text),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", String(64)),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False, index=True),
    Column("detail", Text, nullable=False, default="{}"),
)

schema_migrations = Table(
    "schema_migrations", metadata,
    Column("name", String(128), primary_key=True),
    Column("applied_at", String(40), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(24), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)
