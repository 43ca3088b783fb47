from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ...domain import LoadIssue
from ...errors import DocumentError, InputError, NotFoundError
from ...knowledge.loaders import FAQ_EXTS, MANUAL_EXTS, load_file
from ..deps import Caller

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
_SAFE_NAME = re.compile(r"^[\w\-. ()\u3040-\u30ff\u3400-\u9fff]{1,120}$")


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


def _inside(root: Path, rel: str) -> Path:
    p = (root / rel).resolve()
    if root.resolve() not in p.parents:
        raise InputError(f"path {rel!r} is outside the knowledge folder")
    return p


@router.get("/documents")
async def list_documents(request: Request, caller: Caller) -> dict:
    c = request.app.state.copilot
    root = Path(c.settings.knowledge_dir)
    manifest = await run_in_threadpool(c.layout.read_manifest) or {"documents": {}}
    by_source: dict[str, dict] = {}
    for doc_id, e in manifest["documents"].items():
        s = by_source.setdefault(e["source"], {"path": e["source"], "documents": 0, "chunks": 0, "indexed": True})
        s["documents"] += 1
        s["chunks"] += len(e["chunks"])
    from ...knowledge.loaders import iter_files

    for f in iter_files(root) if root.is_dir() else []:
        rel = f.relative_to(root).as_posix()
        by_source.setdefault(rel, {"path": rel, "documents": 0, "chunks": 0, "indexed": False})
    for rel, s in by_source.items():
        s["on_disk"] = (root / rel).exists()
    return {"index_version": manifest.get("version"), "files": sorted(by_source.values(), key=lambda s: s["path"])}


@router.post("/documents", status_code=201)
async def upload(request: Request, caller: Caller, file: UploadFile = File(...),
                 folder: Literal["faq", "manuals", "playbook"] = Form("manuals")) -> dict:
    c = request.app.state.copilot
    name = Path(file.filename or "").name
    if not name or not _SAFE_NAME.match(name):
        raise InputError("file name is missing or has characters that are not allowed")
    ext = Path(name).suffix.lower()
    allowed = FAQ_EXTS if folder == "faq" else MANUAL_EXTS
    if ext not in allowed:
        raise InputError(f"{ext or 'no extension'} is not accepted in {folder}/ (use {' '.join(sorted(allowed))})")
    data = await file.read(c.settings.max_upload_bytes + 1)
    if len(data) > c.settings.max_upload_bytes:
        raise InputError(f"file is over the {c.settings.max_upload_bytes} byte limit")
    root = Path(c.settings.knowledge_dir)
    target = _inside(root, f"{folder}/{name}")
    tmp = target.with_name(f".upload-{name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    issues: list[LoadIssue] = []
    try:  # validate by loading it exactly as the indexer will
        staged = tmp.with_name(name + ".check" + ext)
        tmp.rename(staged)
        docs = load_file(staged, root, issues)
    except DocumentError as exc:
        staged.unlink(missing_ok=True)
        raise InputError(f"{folder}/{name}: {exc.reason}") from exc
    staged.replace(target)
    return {"path": f"{folder}/{name}", "documents": len(docs), "issues": [i.to_dict() for i in issues],
            "reindex_needed": True}


@router.delete("/documents")
async def delete(request: Request, caller: Caller, path: str = Query(..., max_length=300)) -> dict:
    root = Path(request.app.state.copilot.settings.knowledge_dir)
    target = _inside(root, path)
    if not target.is_file():
        raise NotFoundError(f"no file {path} in the knowledge folder")
    target.unlink()
    return {"deleted": path, "reindex_needed": True}
