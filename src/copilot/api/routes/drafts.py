from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ...domain import DRAFT_STATUSES, MAX_ID_CHARS, MAX_K, MAX_TEXT_CHARS, PAGE_MAX, REJECT_REASONS, utc_iso
from ..deps import Caller

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])


class DraftCreate(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The customer's ticket")
    customer_id: str | None = Field(None, max_length=MAX_ID_CHARS)
    ticket_id: str | None = Field(None, max_length=MAX_ID_CHARS)
    k: int | None = Field(None, ge=1, le=MAX_K)


class Approve(BaseModel):
    final_text: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="What the agent sent; default: the draft")
    agent: str | None = Field(None, max_length=128, description="The person deciding (decided_by); default: the API key's role:name")


class Reject(BaseModel):
    reason: Literal[REJECT_REASONS]
    note: str | None = Field(None, max_length=2000)
    agent: str | None = Field(None, max_length=128, description="The person deciding (decided_by); default: the API key's role:name")


@router.post("", status_code=201)
async def create_draft(body: DraftCreate, request: Request, caller: Caller,
                       idempotency_key: str | None = Header(None, max_length=200)) -> dict:
    c = request.app.state.copilot
    d = await run_in_threadpool(lambda: c.draft(body.text, customer_id=body.customer_id, ticket_id=body.ticket_id, k=body.k,
                                                actor=caller.actor, idempotency_key=idempotency_key))
    request.app.state.metrics.draft_made(d.escalate)
    return d.to_dict()


@router.get("")
async def list_drafts(request: Request, caller: Caller,
                      status: Literal[DRAFT_STATUSES] | None = Query(None),
                      customer_id: str | None = Query(None, max_length=MAX_ID_CHARS),
                      ticket_id: str | None = Query(None, max_length=MAX_ID_CHARS),
                      created_from: datetime | None = Query(None, description="ISO time, inclusive (no offset: UTC)"),
                      created_to: datetime | None = Query(None, description="ISO time, exclusive (no offset: UTC)"),
                      limit: int = Query(50, ge=1, le=PAGE_MAX), offset: int = Query(0, ge=0, le=1_000_000)) -> dict:
    """Drafts, newest first, filtered; a helpdesk lists `status=pending` to find what awaits review."""
    items, total = await run_in_threadpool(lambda: request.app.state.copilot.find_drafts(
        status=status, customer_id=customer_id, ticket_id=ticket_id, created_from=utc_iso(created_from), created_to=utc_iso(created_to),
        limit=limit, offset=offset))
    return {"items": [d.to_dict() for d in items], "total": total, "limit": limit, "offset": offset}


@router.get("/{draft_id}")
async def get_draft(draft_id: str, request: Request, caller: Caller) -> dict:
    return (await run_in_threadpool(request.app.state.copilot.get_draft, draft_id)).to_dict()


@router.post("/{draft_id}/approve")
async def approve(draft_id: str, body: Approve, request: Request, caller: Caller) -> dict:
    c = request.app.state.copilot
    return (await run_in_threadpool(lambda: c.approve(draft_id, body.final_text, actor=caller.actor, agent=body.agent))).to_dict()


@router.post("/{draft_id}/reject")
async def reject(draft_id: str, body: Reject, request: Request, caller: Caller) -> dict:
    c = request.app.state.copilot
    return (await run_in_threadpool(lambda: c.reject(draft_id, body.reason, body.note, actor=caller.actor,
                                                     agent=body.agent))).to_dict()
