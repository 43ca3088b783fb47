from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..deps import Caller

router = APIRouter(prefix="/v1/evals", tags=["evals"])


class EvalRun(BaseModel):
    dataset: str = Field("evals/cases.yaml", max_length=300, description="A dataset inside the project's evals/ folder")


@router.post("/runs", status_code=202)
async def start(body: EvalRun, request: Request, caller: Caller) -> dict:
    from ...access import eval_dataset

    c = request.app.state.copilot
    ds = eval_dataset(body.dataset, c.settings.evals_dir)

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
