from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...errors import CopilotError
from ..errors import error_body

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    c = request.app.state.copilot
    try:
        info = await run_in_threadpool(c.check_index)
        await run_in_threadpool(c.check_database)  # the database answers
    except CopilotError as exc:
        return JSONResponse(error_body("not_ready", str(exc)), status_code=503)
    except Exception as exc:  # a database driver error
        return JSONResponse(error_body("not_ready", f"database unavailable: {type(exc).__name__}"), status_code=503)
    return {"status": "ready", **info}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
