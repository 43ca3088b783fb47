"""Parse customer histories from JSONL (one customer with nested tickets per line) or CSV (one
message per row). Bad records are reported with file, line and reason; good ones are kept."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .domain import Customer, LoadIssue, Message, Ticket
from .errors import InputError

CSV_COLUMNS = ("customer_id", "customer_name", "email", "phone", "lang", "plan", "ticket_id", "subject", "status",
               "channel", "ticket_created_at", "tags", "message_from", "message_at", "message_text")
STATUSES = ("open", "pending", "resolved", "escalated")


def _ticket(d: dict, customer_id: str, where: str) -> Ticket:
    for key in ("id", "subject", "status", "created_at"):
        if not d.get(key):
            raise ValueError(f"ticket lacks {key!r}")
    if d["status"] not in STATUSES:
        raise ValueError(f"ticket {d['id']}: status {d['status']!r} is not one of {', '.join(STATUSES)}")
    msgs = []
    for i, m in enumerate(d.get("messages") or [], 1):
        if not isinstance(m, dict) or not str(m.get("text", "")).strip():
            raise ValueError(f"ticket {d['id']} message {i} has no text")
        sender = m.get("from") or m.get("sender") or "customer"
        if sender not in ("customer", "agent"):
            raise ValueError(f"ticket {d['id']} message {i}: from must be customer or agent")
        msgs.append(Message(sender, str(m.get("at") or d["created_at"]), str(m["text"])))
    return Ticket(str(d["id"]), customer_id, str(d["subject"]), d["status"], str(d.get("channel") or "email"),
                  str(d["created_at"]), list(d.get("tags") or []), msgs)


def parse_jsonl(text: str, name: str) -> tuple[list[tuple[Customer, list[Ticket]]], list[LoadIssue]]:
    out, issues = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            d = json.loads(line)
            if not isinstance(d, dict) or not d.get("id") or not d.get("name"):
                raise ValueError("a customer needs 'id' and 'name'")
            cust = Customer(str(d["id"]), str(d["name"]), d.get("email"), d.get("phone"), d.get("lang") or "ja",
                            d.get("plan"), list(d.get("products") or []), d.get("created_at"))
            tickets = [_ticket(t, cust.customer_id, where) for t in d.get("tickets") or []]
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            issues.append(LoadIssue(where, str(exc)))
            continue
        out.append((cust, tickets))
    return out, issues


def parse_csv(text: str, name: str) -> tuple[list[tuple[Customer, list[Ticket]]], list[LoadIssue]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("customer_id", "customer_name", "ticket_id", "message_text") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{name}: CSV lacks the columns {', '.join(missing)} (expected: {','.join(CSV_COLUMNS)})")
    customers: dict[str, Customer] = {}
    tickets: dict[str, dict] = {}
    issues: list[LoadIssue] = []
    for row in reader:
        where = f"{name}:{reader.line_num}"
        cid, tid = (row.get("customer_id") or "").strip(), (row.get("ticket_id") or "").strip()
        if not cid or not tid or not (row.get("message_text") or "").strip():
            issues.append(LoadIssue(where, "row needs customer_id, ticket_id and message_text"))
            continue
        customers.setdefault(cid, Customer(cid, row.get("customer_name") or cid, row.get("email") or None, row.get("phone") or None,
                                           row.get("lang") or "ja", row.get("plan") or None, []))
        t = tickets.setdefault(tid, {"id": tid, "customer_id": cid, "subject": row.get("subject") or "", "status": row.get("status") or "open",
                                     "channel": row.get("channel") or "email", "created_at": row.get("ticket_created_at") or row.get("message_at") or "",
                                     "tags": [x for x in (row.get("tags") or "").split(";") if x], "messages": []})
        if t["customer_id"] != cid:
            issues.append(LoadIssue(where, f"ticket {tid} already belongs to {t['customer_id']}"))
            continue
        t["messages"].append({"from": row.get("message_from") or "customer", "at": row.get("message_at") or t["created_at"], "text": row["message_text"]})
    out = []
    for cid, cust in customers.items():
        ts = []
        for t in (t for t in tickets.values() if t["customer_id"] == cid):
            try:
                ts.append(_ticket(t, cid, name))
            except ValueError as exc:
                issues.append(LoadIssue(f"{name}:{t['id']}", str(exc)))
        out.append((cust, ts))
    return out, issues


def parse_file(path: Path) -> tuple[list[tuple[Customer, list[Ticket]]], list[LoadIssue]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8") from exc
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return parse_jsonl(text, path.name)
    if path.suffix.lower() == ".csv":
        return parse_csv(text, path.name)
    raise InputError(f"{path}: use a .jsonl or .csv file")
