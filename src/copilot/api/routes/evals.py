from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..deps import Caller

router = APIRouter(prefix="/v1/evals", tags=["evals"])


class EvalRun(BaseModel):
    dataset: str = Field("evals/cases.yaml", max_length=300, description="A dataset inside the project's evals/ folder")


@router.post("/runs", status_code=202)
async def start(body: EvalRun, request: Request, caller: Caller) -> dict:
    from ...errors import InputError

    if any(ord(ch) < 32 for ch in body.dataset):
        raise InputError("dataset path contains control characters")
    base = Path("evals").resolve()
    ds = Path(body.dataset).resolve()
    if base not in ds.parents and ds != base:
        raise InputError("dataset must be inside the evals/ folder")
    c = request.app.state.copilot

    def work(progress):
        res = c.run_eval(ds, progress=lambda i, n: progress("cases", i, n))
        return {"metrics": res["metrics"], "passed": res["passed"], "gate_failures": res["gate_failures"],
                "report": res["report"], "judge": res["judge"]}

    return request.app.state.jobs.start("eval", work)


@router.get("/runs")
async def runs(request: Request, caller: Caller) -> dict:
    return {"runs": request.app.state.jobs.list("eval")}


@router.get("/runs/{run_id}")
async def run(run_id: str, request: Request, caller: Caller) -> dict:
    return request.app.state.jobs.get(run_id)
