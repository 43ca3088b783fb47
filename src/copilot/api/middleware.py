"""ASGI middleware: request body limit (413), structured access log, Prometheus metrics.

The access log has method, route template, status, duration and key id: never bodies, query
strings or customer data."""

from __future__ import annotations

import json
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

access_log = logging.getLogger("copilot.access")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("copilot_requests_total", "HTTP requests", ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("copilot_request_seconds", "HTTP request latency", ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.drafts = Counter("copilot_drafts_total", "Drafts made", ["escalated"], registry=self.registry)
        self.escalation_rate = Gauge("copilot_draft_escalation_rate", "Share of drafts that escalated", registry=self.registry)
        self.index_info = Gauge("copilot_index_info", "Served index version", ["version"], registry=self.registry)
        self.reindex_seconds = Gauge("copilot_reindex_seconds", "Duration of the last re-index", registry=self.registry)
        self._drafts = [0, 0]

    def draft_made(self, escalated: bool) -> None:
        self.drafts.labels(escalated=str(escalated).lower()).inc()
        self._drafts[0] += 1
        self._drafts[1] += int(escalated)
        self.escalation_rate.set(self._drafts[1] / self._drafts[0])


class BodyLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app, limit: int, upload_limit: int, upload_path: str = "/v1/knowledge/documents") -> None:
        self.app, self.limit, self.upload_limit, self.upload_path = app, limit, upload_limit, upload_path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"] == self.upload_path else self.limit
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await _too_large(send, limit)
        seen = 0

        class TooLarge(Exception):
            pass

        async def limited_receive():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return msg

        started = False

        async def tracking_send(msg):
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"error": {"code": "too_large", "message": f"request body is over the {limit} byte limit"}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install_observability(app, metrics: Metrics) -> None:
    @app.middleware("http")
    async def observe(request, call_next):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = getattr(request.scope.get("route"), "path", "unmatched")
            dt = time.perf_counter() - t0
            metrics.requests.labels(route=route, method=request.method, status=str(status)).inc()
            metrics.latency.labels(route=route).observe(dt)
            access_log.info(json.dumps({"method": request.method, "route": route, "status": status,
                                        "ms": round(dt * 1000, 1), "key": getattr(request.state, "key_id", None)}))
