"""Named, append-only migrations. Never edit or reorder one that has shipped: add a new one."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Connection, select, text

from . import schema

log = logging.getLogger(__name__)


def _m0001_initial(conn: Connection) -> None:
    schema.metadata.create_all(
        conn, tables=[schema.customers, schema.tickets, schema.messages, schema.drafts, schema.audit]
    )


def _m0002_audit_append_only(conn: Connection) -> None:
    """The audit log refuses UPDATE and DELETE at the database level."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.execute(text(
                f"CREATE TRIGGER audit_no_{op.lower()} BEFORE {op} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
            ))
    elif conn.dialect.name == "postgresql":
        conn.execute(text(
            "CREATE FUNCTION audit_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$ LANGUAGE plpgsql"
        ))
        conn.execute(text(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        ))


def _m0003_api_keys(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.api_keys])


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_audit_append_only", _m0002_audit_append_only),
    ("0003_api_keys", _m0003_api_keys),
]


def migrate(engine) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction."""
    schema.metadata.create_all(engine, tables=[schema.schema_migrations])
    applied: list[str] = []
    with engine.connect() as conn:
        done = {r[0] for r in conn.execute(select(schema.schema_migrations.c.name))}
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with engine.begin() as conn:
            fn(conn)
            conn.execute(schema.schema_migrations.insert().values(
                name=name, applied_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
