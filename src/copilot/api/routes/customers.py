from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ...domain import HELPDESK_STATUSES, MAX_ID_CHARS, MAX_TEXT_CHARS, PAGE_MAX, Message, Ticket
from ...domain import now_iso
from ..deps import Caller

router = APIRouter(prefix="/v1/customers", tags=["customers"])


class TicketCreate(BaseModel):
    ticket_id: str | None = Field(None, max_length=MAX_ID_CHARS, description="Default: a new id")
    subject: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The customer's message")
    channel: Literal["email", "chat", "phone", "web"] = "email"
    status: Literal[HELPDESK_STATUSES] = "open"
    tags: list[str] = Field(default_factory=list, max_length=20)


@router.get("")
async def list_customers(request: Request, caller: Caller, limit: int = Query(50, ge=1, le=PAGE_MAX),
                         offset: int = Query(0, ge=0, le=1_000_000)) -> dict:
    page, total = await run_in_threadpool(request.app.state.copilot.customers, limit, offset)
    return {"items": [{"customer_id": c.customer_id, "name": c.name, "lang": c.lang, "plan": c.plan} for c in page],
            "total": total, "limit": limit, "offset": offset}


@router.get("/{customer_id}/summary")
async def summary(customer_id: str, request: Request, caller: Caller) -> dict:
    return await run_in_threadpool(request.app.state.copilot.summarize, customer_id)


@router.post("/{customer_id}/tickets", status_code=201)
async def add_ticket(customer_id: str, body: TicketCreate, request: Request, caller: Caller) -> dict:
    at = now_iso()
    t = Ticket(body.ticket_id or f"T-{uuid.uuid4().hex[:10]}", customer_id, body.subject, body.status, body.channel, at,
               list(body.tags), [Message("customer", at, body.text)])
    await run_in_threadpool(request.app.state.copilot.add_ticket, t, caller.actor)
    return {"ticket_id": t.ticket_id, "customer_id": customer_id, "status": t.status, "created_at": at}
