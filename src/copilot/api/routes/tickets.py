from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..deps import Caller

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


@router.get("")
async def list_tickets(request: Request, caller: Caller,
                       status: Literal["open", "drafted", "escalated", "approved", "rejected", "closed"] | None = Query(None),
                       customer_id: str | None = Query(None, max_length=64),
                       limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000)) -> dict:
    """Tickets with their workflow status: `open` (no draft yet), `drafted` (a draft awaits
    review), `escalated` (the latest draft is a holding reply for a person), `approved`,
    `rejected`, `closed` (resolved in the helpdesk). Nothing is ever sent by Support Copilot:
    an approved draft is what the helpdesk sends."""
    items, total = await run_in_threadpool(lambda: request.app.state.copilot.store.find_tickets(
        status=status, customer_id=customer_id, limit=limit, offset=offset))
    return {"items": items, "total": total, "limit": limit, "offset": offset}
