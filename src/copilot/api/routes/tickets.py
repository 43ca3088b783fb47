from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ...domain import HELPDESK_STATUSES, MAX_ID_CHARS, MAX_K, MAX_TEXT_CHARS, PAGE_MAX, SENDERS, TICKET_WORKFLOW
from ..deps import Caller

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


class MessageCreate(BaseModel):
    sender: Literal[SENDERS] = Field(description="customer: the customer wrote again; agent: the helpdesk sent a reply")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class TicketStatus(BaseModel):
    status: Literal[HELPDESK_STATUSES] = Field(description="The helpdesk's status; `resolved` closes the ticket")


class TicketDraft(BaseModel):
    k: int | None = Field(None, ge=1, le=MAX_K)


@router.get("")
async def list_tickets(request: Request, caller: Caller,
                       status: Literal[TICKET_WORKFLOW] | None = Query(None),
                       customer_id: str | None = Query(None, max_length=MAX_ID_CHARS),
                       limit: int = Query(50, ge=1, le=PAGE_MAX), offset: int = Query(0, ge=0, le=1_000_000)) -> dict:
    """Tickets with their workflow status: `open` (no draft yet, or the customer wrote again
    after the latest draft), `drafted` (a draft awaits review), `escalated` (the latest draft is
    a holding reply for a person), `approved`, `sent` (approved, and the helpdesk then added the
    agent's reply as a message), `rejected`, `closed` (resolved in the helpdesk). Support Copilot
    itself never sends anything: an approved draft is what the helpdesk sends."""
    items, total = await run_in_threadpool(lambda: request.app.state.copilot.find_tickets(
        status=status, customer_id=customer_id, limit=limit, offset=offset))
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.post("/{ticket_id}/messages", status_code=201)
async def add_message(ticket_id: str, body: MessageCreate, request: Request, caller: Caller) -> dict:
    """Append a message to a stored ticket: the customer's reply (the ticket is `open` again and
    the next draft reads the whole conversation) or the reply the helpdesk sent (`sent`)."""
    m = await run_in_threadpool(request.app.state.copilot.add_message, ticket_id, body.sender, body.text, caller.actor)
    return {"ticket_id": ticket_id, "sender": m.sender, "at": m.at}


@router.post("/{ticket_id}/status")
async def set_status(ticket_id: str, body: TicketStatus, request: Request, caller: Caller) -> dict:
    """Set the helpdesk's status of a ticket (its conversation is kept): `resolved` makes it
    `closed`, and it leaves the agents' inbox."""
    await run_in_threadpool(request.app.state.copilot.set_ticket_status, ticket_id, body.status, caller.actor)
    return {"ticket_id": ticket_id, "helpdesk_status": body.status}


@router.post("/{ticket_id}/drafts", status_code=201)
async def draft_ticket(ticket_id: str, request: Request, caller: Caller, body: TicketDraft | None = None,
                       idempotency_key: str | None = Header(None, max_length=200)) -> dict:
    """Draft a reply from the stored conversation: the customer's latest turn is the question,
    the subject and the customer's earlier messages are read as context. Same response as
    `POST /v1/drafts`."""
    c = request.app.state.copilot
    d = await run_in_threadpool(lambda: c.draft_ticket(ticket_id, k=body.k if body else None, actor=caller.actor,
                                                       idempotency_key=idempotency_key))
    request.app.state.metrics.draft_made(d.escalate)
    return d.to_dict()
