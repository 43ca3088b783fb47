"""Signed callbacks to the helpdesk when a draft is ready or decided, so it need not poll.

Set COPILOT_WEBHOOK_URL (and COPILOT_WEBHOOK_SECRET). Each event is one POST with a JSON body
{"event", "id", "at", "draft"} where `draft` is the draft as `GET /v1/drafts/{id}` returns it.
Headers: `X-Copilot-Event`, `X-Copilot-Delivery` (the event id, stable across retries) and

    X-Copilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

The receiver recomputes the HMAC over the raw body and rejects old timestamps (replays).
Delivery runs on a background thread, never in the request: a slow or failing receiver never
delays or fails a draft. Failures are retried (1, 4, 16 s); after the last one the event is
dropped and logged with its id (never the ticket's text). Events: `draft.ready`,
`draft.decided` (approved or rejected: see `draft.status`).

The queue lives in memory: a process that exits waits up to EXIT_DRAIN_S for it (so a CLI
`copilot drafts approve` still delivers), but a process killed outright loses what was queued.
Webhooks save polling, they are not the record: a helpdesk reconciles with
`GET /v1/drafts?status=pending` (and `created_from`) after its own restarts or ours.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
import weakref

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (1.0, 4.0, 16.0)
EXIT_DRAIN_S = 10.0
_ALL: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    for w in list(_ALL):
        if not w.drain(EXIT_DRAIN_S):
            log.error("webhooks: %d event(s) not delivered before exit", w._q.unfinished_tasks)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_s: float = 300) -> bool:
    """What a receiver does (and what the tests use): the signature matches and is recent."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header)


class Webhooks:
    def __init__(self, url: str, secret: str, timeout: float = 5.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._q: queue.Queue = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()
        _ALL.add(self)

    def notify(self, event: str, draft: dict) -> str:
        """Queue one event; returns its delivery id. Never raises, never blocks the caller."""
        delivery = f"evt_{uuid.uuid4().hex[:16]}"
        body = {"event": event, "id": delivery, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "draft": draft}
        try:
            self._q.put_nowait((event, delivery, json.dumps(body, ensure_ascii=False).encode("utf-8")))
        except queue.Full:
            self.failed += 1
            log.error("webhook queue full: event %s %s dropped", event, delivery)
        return delivery

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout) as client:
            while True:
                event, delivery, body = self._q.get()
                for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S)):
                    if delay:
                        time.sleep(delay)
                    ts = int(time.time())
                    headers = {"Content-Type": "application/json", "X-Copilot-Event": event,
                               "X-Copilot-Delivery": delivery, "X-Copilot-Signature": sign(self.secret, ts, body)}
                    try:
                        r = client.post(self.url, content=body, headers=headers)
                        if r.status_code < 300:
                            self.delivered += 1
                            break
                        why = f"HTTP {r.status_code}"
                    except Exception as exc:  # any failure of one attempt (bad URL too): never the thread
                        why = type(exc).__name__
                    log.warning("webhook %s %s attempt %d failed: %s", event, delivery, attempt + 1, why)
                else:
                    self.failed += 1
                    log.error("webhook %s %s dropped after %d attempts", event, delivery, len(RETRY_DELAYS_S) + 1)
                self._q.task_done()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is delivered or dropped (tests, shutdown)."""
        end = time.monotonic() + timeout
        while self._q.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.02)
        return not self._q.unfinished_tasks
