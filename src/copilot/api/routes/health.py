from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...errors import CopilotError
from ..errors import error_body

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    try:
        info = await run_in_threadpool(request.app.state.copilot.check_index)
    except CopilotError as exc:
        return JSONResponse(error_body("not_ready", str(exc)), status_code=503)
    return {"status": "ready", **info}
