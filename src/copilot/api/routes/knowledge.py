from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ..deps import Caller

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


class Reindex(BaseModel):
    full: bool = False


@router.post("/reindex", status_code=202)
async def reindex(body: Reindex, request: Request, caller: Caller) -> dict:
    c, app = request.app.state.copilot, request.app

    def work(progress):
        report = c.index(full=body.full, progress=progress).to_dict()
        app.state.metrics.reindex_seconds.set(report["seconds"])
        app.state.metrics.index_info.clear()
        app.state.metrics.index_info.labels(version=report["version"]).set(1)
        return report

    return request.app.state.jobs.start("reindex", work)


@router.get("/status")
async def status(request: Request, caller: Caller) -> dict:
    st = await run_in_threadpool(request.app.state.copilot.status)
    return {**st, "reindex": request.app.state.jobs.latest("reindex")}


@router.get("/documents")
async def list_documents(request: Request, caller: Caller) -> dict:
    return await run_in_threadpool(request.app.state.copilot.documents)


@router.post("/documents", status_code=201)
async def upload(request: Request, caller: Caller, file: UploadFile = File(...),
                 folder: Literal["faq", "manuals", "playbook"] = Form("manuals")) -> dict:
    c = request.app.state.copilot
    data = await file.read(c.settings.max_upload_bytes + 1)
    return await run_in_threadpool(c.upload_document, file.filename or "", data, folder)


@router.delete("/documents")
async def delete(request: Request, caller: Caller, path: str = Query(..., max_length=300)) -> dict:
    return await run_in_threadpool(request.app.state.copilot.delete_document, path)
