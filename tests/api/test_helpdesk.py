"""The helpdesk integration end to end (issue 17), against a real `copilot serve` on loopback and a
real webhook receiver: create a ticket by REST, draft it, receive the signed `draft.ready`
callback, list pending drafts and drafted tickets, approve by REST, receive `draft.decided`, and
see the ticket leave the pending lists."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECRET = "whsec-test-2f6c"


class Receiver:
    """A helpdesk's webhook endpoint: records every delivery; `fail` makes it answer 500."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.fail = False
        self.open = threading.Event()  # cleared: deliveries wait at the door
        self.open.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.open.wait(30)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if outer.fail else 204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/copilot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event: str, draft_id: str, timeout: float = 15) -> tuple[dict, bytes]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for headers, body in list(self.received):
                doc = json.loads(body)
                if doc["event"] == event and doc["draft"]["draft_id"] == draft_id:
                    return headers, body
            time.sleep(0.05)
        raise AssertionError(f"no {event} for {draft_id}; got {[json.loads(b)['event'] for _, b in self.received]}")


@pytest.fixture
def desk(tmp_path, small_kb):
    """A webhook receiver and a data dir indexed over the small knowledge base: (receiver, env, cli)."""
    import subprocess

    hook = Receiver()
    env = dict(os.environ, COPILOT_DATA_DIR=str(tmp_path / "data"), COPILOT_KNOWLEDGE_DIR=str(small_kb),
               COPILOT_SECONDARY_EMBEDDER="", COPILOT_WEBHOOK_URL=hook.url, COPILOT_WEBHOOK_SECRET=SECRET)

    def cli(*a):
        return subprocess.run([sys.executable, "-m", "copilot", *a, "--json"], env=env, capture_output=True, text=True,
                              timeout=300, check=True)

    cli("index")
    yield hook, env, cli
    hook.server.shutdown()


def test_helpdesk_creates_a_ticket_gets_the_webhook_lists_and_approves(desk):
    import httpx

    from copilot.webhooks import verify

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_api import start_server

    hook, env, cli = desk
    cli("customers", "import", str(ROOT / "samples" / "customers.jsonl"))
    key = json.loads(cli("keys", "create", "--role", "helpdesk", "--name", "zendesk").stdout)["key"]
    proc, base = start_server(env)
    h = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=h, timeout=60) as api:
            t = api.post("/v1/customers/C-1001/tickets", json={"subject": "送料", "text": "送料はいくらですか？"})
            assert t.status_code == 201, t.text
            ticket = t.json()["ticket_id"]
            assert ticket in [x["ticket_id"] for x in api.get("/v1/tickets", params={"status": "open"}).json()["items"]]

            d = api.post("/v1/drafts", json={"text": "送料はいくらですか？", "customer_id": "C-1001", "ticket_id": ticket})
            assert d.status_code == 201, d.text
            draft = d.json()
            headers, body = hook.wait_for("draft.ready", draft["draft_id"])
            assert verify(SECRET, headers["x-copilot-signature"], body)
            assert not verify("another-secret", headers["x-copilot-signature"], body)
            assert not verify(SECRET, headers["x-copilot-signature"], body.replace(b"pending", b"approved"))
            assert headers["x-copilot-event"] == "draft.ready" and headers["x-copilot-delivery"].startswith("evt_")
            assert json.loads(body)["draft"]["reply"] == draft["reply"]

            pending = api.get("/v1/drafts", params={"status": "pending", "ticket_id": ticket}).json()
            assert pending["total"] == 1 and pending["items"][0]["draft_id"] == draft["draft_id"]
            drafted = api.get("/v1/tickets", params={"status": "drafted", "customer_id": "C-1001"}).json()["items"]
            assert [x["ticket_id"] for x in drafted] == [ticket] and drafted[0]["latest_draft_id"] == draft["draft_id"]

            a = api.post(f"/v1/drafts/{draft['draft_id']}/approve", json={"agent": "sato"})
            assert a.status_code == 200 and a.json()["status"] == "approved"
            headers, body = hook.wait_for("draft.decided", draft["draft_id"])
            assert verify(SECRET, headers["x-copilot-signature"], body) and json.loads(body)["draft"]["status"] == "approved"

            assert api.get("/v1/drafts", params={"status": "pending", "ticket_id": ticket}).json()["total"] == 0
            assert ticket in [x["ticket_id"] for x in api.get("/v1/tickets", params={"status": "approved"}).json()["items"]]
            assert ticket not in [x["ticket_id"] for x in api.get("/v1/tickets", params={"status": "drafted"}).json()["items"]]
            assert a.json()["decided_by"] == "sato"  # the person; the key is in the audit log

            def status_of(t):
                return next(x["status"] for x in api.get("/v1/tickets", params={"customer_id": "C-1001", "limit": 200}).json()["items"]
                            if x["ticket_id"] == t)

            # the helpdesk sends the approved reply and records it; the customer writes again
            sent = api.post(f"/v1/tickets/{ticket}/messages", json={"sender": "agent", "text": a.json()["final_text"]})
            assert sent.status_code == 201 and status_of(ticket) == "sent"
            again = api.post(f"/v1/tickets/{ticket}/messages", json={"sender": "customer", "text": "無料になる条件はありますか？"})
            assert again.status_code == 201 and status_of(ticket) == "open"
            follow = api.post(f"/v1/tickets/{ticket}/drafts", json={})
            assert follow.status_code == 201, follow.text
            f = follow.json()
            assert f["ticket_id"] == ticket and f["ticket_text"] == "無料になる条件はありますか？" and "5,500円" in f["reply"]
            hook.wait_for("draft.ready", f["draft_id"])
            assert status_of(ticket) == "drafted"
            assert api.post("/v1/tickets/T-missing/drafts", json={}).status_code == 404

            # the drafts list by customer, by page and by creation time (any offset; stored in UTC)
            mine = api.get("/v1/drafts", params={"customer_id": "C-1001"}).json()
            assert mine["total"] == 2 and [d["draft_id"] for d in mine["items"]] == [f["draft_id"], draft["draft_id"]]
            assert api.get("/v1/drafts", params={"customer_id": "C-404"}).json()["total"] == 0
            second = api.get("/v1/drafts", params={"customer_id": "C-1001", "limit": 1, "offset": 1}).json()["items"]
            assert [d["draft_id"] for d in second] == [draft["draft_id"]]
            from datetime import datetime, timedelta, timezone

            made = datetime.fromisoformat(f["created_at"])
            jst = timezone(timedelta(hours=9))
            since = api.get("/v1/drafts", params={"customer_id": "C-1001", "created_from": made.astimezone(jst).isoformat()}).json()
            assert [d["draft_id"] for d in since["items"]] == [f["draft_id"]]  # +09:00 means the same instant
            before = api.get("/v1/drafts", params={"customer_id": "C-1001", "created_to": made.astimezone(jst).isoformat()}).json()
            assert [d["draft_id"] for d in before["items"]] == [draft["draft_id"]]
            assert api.get("/v1/drafts", params={"created_from": "yesterday"}).status_code == 422

            # the helpdesk resolves the ticket: closed, out of every pending list, its conversation kept
            closed = api.post(f"/v1/tickets/{ticket}/status", json={"status": "resolved"})
            assert closed.status_code == 200 and status_of(ticket) == "closed"
            assert ticket in [x["ticket_id"] for x in api.get("/v1/tickets", params={"status": "closed"}).json()["items"]]
            again_draft = api.post(f"/v1/tickets/{ticket}/drafts", json={}).json()
            assert again_draft["ticket_text"] == "無料になる条件はありますか？"  # the messages are still there
            assert api.post("/v1/tickets/T-missing/status", json={"status": "resolved"}).status_code == 404
            assert api.post(f"/v1/tickets/{ticket}/messages", json={"sender": "bot", "text": "x"}).status_code == 422

            everyone = api.get("/v1/customers").json()
            assert "C-1001" in [c["customer_id"] for c in everyone["items"]] and everyone["total"] >= 2
            page = api.get("/v1/customers", params={"limit": 1, "offset": 1}).json()
            assert len(page["items"]) == 1 and page["items"][0]["customer_id"] == everyone["items"][1]["customer_id"]
            assert "email" not in page["items"][0]  # the list carries no contact details
            bad = api.get("/v1/drafts", params={"status": "sent"})
            assert bad.status_code == 422 and "error" in bad.json()
            assert "/v1/tickets" in api.get("/openapi.json").json()["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_failing_receiver_is_retried_and_never_fails_a_draft(monkeypatch):
    from copilot import webhooks

    monkeypatch.setattr(webhooks, "RETRY_DELAYS_S", (0.05, 0.05, 0.05))
    hook = Receiver()
    hook.fail = True
    w = webhooks.Webhooks(hook.url, SECRET)
    hook.open.clear()  # the receiver hangs: notify must return anyway
    delivery = w.notify("draft.ready", {"draft_id": "d_x", "status": "pending"})
    assert hook.received == []  # notify returned before any delivery was received
    hook.open.set()
    assert w.drain(10)
    attempts = [hd for hd, _ in hook.received]
    assert len(attempts) == 4 and {hd["x-copilot-delivery"] for hd in attempts} == {delivery}
    assert w.failed == 1 and w.delivered == 0
    hook.fail = False
    w.notify("draft.ready", {"draft_id": "d_y", "status": "pending"})
    assert w.drain(10) and w.delivered == 1
    hook.server.shutdown()


def test_a_webhook_url_without_a_secret_is_refused_at_start(tmp_path, small_kb):
    from conftest import make_settings

    from copilot import Copilot
    from copilot.api import create_app
    from copilot.errors import ConfigError

    c = Copilot(make_settings(tmp_path / "data", small_kb, secondary_embedder="", webhook_url="http://127.0.0.1:9/hook"))
    with pytest.raises(ConfigError, match="COPILOT_WEBHOOK_SECRET"):
        create_app(c)


def test_cli_decisions_are_delivered_before_the_command_exits(desk):
    """A one-shot `copilot draft` / `copilot drafts approve` queues its event and the process
    waits for the delivery at exit (before, the daemon thread died with the command)."""
    from copilot.webhooks import verify

    hook, _env, cli = desk
    draft = json.loads(cli("draft", "--text", "送料はいくらですか？").stdout)
    assert [json.loads(b)["event"] for _, b in hook.received] == ["draft.ready"]
    cli("drafts", "approve", draft["draft_id"])
    headers, body = hook.received[-1]
    assert json.loads(body)["event"] == "draft.decided" and json.loads(body)["draft"]["status"] == "approved"
    assert verify(SECRET, headers["x-copilot-signature"], body)
