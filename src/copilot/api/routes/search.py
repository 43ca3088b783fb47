from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from ...domain import MAX_QUERY_CHARS
from ..deps import Caller
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

router = APIRouter(prefix="/v1", tags=["search"])


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=100)
    lang: Literal["ja", "en"] | None = None
    sources: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    doc_types: list[Literal["faq", "manual", "playbook"]] = Field(default_factory=list)


class SearchResult(BaseModel):
    rank: int
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    lang: str
    text: str
    score: float
    url: str | None = None


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, request: Request, caller: Caller) -> SearchResponse:
    copilot = request.app.state.copilot
    hits = await run_in_threadpool(
        copilot.search, body.query, body.k, lang=body.lang, sources=body.sources, tags=body.tags, doc_types=body.doc_types
    )
    return SearchResponse(query=body.query, results=[SearchResult(**h.to_dict()) for h in hits])
