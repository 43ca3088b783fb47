"""The knowledge folder's files: upload (validated by loading it as the indexer will, then put
in place atomically), delete, and the listing with each file's index state. The REST API and
the panel both use it through the composition root."""

from __future__ import annotations

import uuid
from pathlib import Path

from ..errors import InputError
from .versions import Layout


class KnowledgeFiles:
    def __init__(self, root: Path, max_upload_bytes: int, layout: Layout) -> None:
        self.root = Path(root)
        self.max_upload_bytes = max_upload_bytes
        self.layout = layout

    def path(self, rel: str) -> Path:
        if not rel or any(ord(ch) < 32 for ch in rel):
            raise InputError("path is empty or contains control characters")
        root = self.root.resolve()
        p = (root / rel).resolve()
        if root not in p.parents:
            raise InputError(f"path {rel!r} is outside the knowledge folder")
        return p

    def upload(self, name: str, data: bytes, folder: str = "manuals") -> dict:
        """Validate a file by loading it as the indexer will, then put it in place atomically."""
        import re

        from ..domain import LoadIssue
        from ..errors import DocumentError
        from .loaders import FAQ_EXTS, MANUAL_EXTS, load_file

        if folder not in ("faq", "manuals", "playbook"):
            raise InputError("folder must be faq, manuals or playbook")
        name = Path(name or "").name
        if not name or not re.match(r"^[\w\-. ()\u3040-\u30ff\u3400-\u9fff]{1,120}$", name):
            raise InputError("file name is missing or has characters that are not allowed")
        ext = Path(name).suffix.lower()
        allowed = FAQ_EXTS if folder == "faq" else MANUAL_EXTS
        if ext not in allowed:
            raise InputError(f"{ext or 'no extension'} is not accepted in {folder}/ (use {' '.join(sorted(allowed))})")
        if len(data) > self.max_upload_bytes:
            raise InputError(f"file is over the {self.max_upload_bytes} byte limit")
        root = self.root
        target = self.path(f"{folder}/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".upload-{uuid.uuid4().hex[:8]}{ext}")
        staged.write_bytes(data)
        issues: list[LoadIssue] = []
        try:
            docs = load_file(staged, root, issues)
        except DocumentError as exc:
            staged.unlink(missing_ok=True)
            raise InputError(f"{folder}/{name}: {exc.reason}") from exc
        staged.replace(target)
        return {"path": f"{folder}/{name}", "documents": len(docs), "issues": [i.to_dict() for i in issues],
                "reindex_needed": True}

    def delete(self, rel: str) -> dict:
        from ..errors import NotFoundError

        target = self.path(rel)
        if not target.is_file():
            raise NotFoundError(f"no file {rel} in the knowledge folder")
        target.unlink()
        return {"deleted": rel, "reindex_needed": True}

    def listing(self) -> dict:
        from .loaders import iter_files

        root = self.root
        manifest = self.layout.read_manifest() or {"documents": {}}
        by_source: dict[str, dict] = {}
        for e in manifest["documents"].values():
            s = by_source.setdefault(e["source"], {"path": e["source"], "documents": 0, "chunks": 0, "indexed": True})
            s["documents"] += 1
            s["chunks"] += len(e["chunks"])
        for f in iter_files(root) if root.is_dir() else []:
            rel = f.relative_to(root).as_posix()
            by_source.setdefault(rel, {"path": rel, "documents": 0, "chunks": 0, "indexed": False})
        for rel, s in by_source.items():
            s["on_disk"] = (root / rel).exists()
        return {"index_version": manifest.get("version"), "files": sorted(by_source.values(), key=lambda s: s["path"])}
