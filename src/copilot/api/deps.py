"""Auth (API keys → roles, checked against the access policy, access.py) and per-key rate limiting."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from ..access import ACTIONS, allowed, route_action
from .errors import ApiError


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    name: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


class RateLimiter:
    """Token bucket per key: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


async def authorize(request: Request) -> Principal:
    route = request.scope.get("route")
    action = route_action(request.method, getattr(route, "path", ""))
    if action is None:  # a route without an entry is closed, never open by accident
        raise ApiError(403, "forbidden", "this route has no access rule")
    key = _presented_key(request)
    if not key:
        raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'",
                       {"WWW-Authenticate": "Bearer"})
    rec = await run_in_threadpool(request.app.state.copilot.api_key, key)
    if rec is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    request.state.key_id = rec["id"]
    if not allowed(rec["role"], action):
        raise ApiError(403, "forbidden", f"role {rec['role']} may not {ACTIONS[action][1]} ({request.method} {route.path})")
    wait = request.app.state.limiter.check(rec["id"])
    if wait:
        raise ApiError(429, "rate_limited", "too many requests for this API key", {"Retry-After": str(max(1, round(wait)))})
    return Principal(rec["id"], rec["role"], rec["name"])


Caller = Annotated[Principal, Depends(authorize)]
