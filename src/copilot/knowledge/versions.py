"""On-disk layout of index versions and the atomic CURRENT pointer.

    <data>/index/
        CURRENT              name of the served version (replaced atomically)
        versions/<v>/        manifest.json + lexical/ (bm25) for each published version
        chroma/              Chroma persistent store (unless COPILOT_CHROMA_URL is set)
        catalog.sqlite3      chunk rows and the embedding cache
        .writer.lock         held by the one process that may write
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexBusy, IndexUnavailable


class Layout:
    def __init__(self, index_dir: Path) -> None:
        self.root = index_dir
        self.versions = index_dir / "versions"
        self.current = index_dir / "CURRENT"
        self.chroma = index_dir / "chroma"
        self.catalog = index_dir / "catalog.sqlite3"
        self.lock = index_dir / ".writer.lock"

    def current_version(self) -> str | None:
        try:
            v = self.current.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return v or None

    def version_dir(self, version: str) -> Path:
        return self.versions / version

    def read_manifest(self, version: str | None = None) -> dict | None:
        version = version or self.current_version()
        if not version:
            return None
        path = self.version_dir(version) / "manifest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexUnavailable(f"index version {version} is named in CURRENT but {path} is missing; run: copilot index --full") from exc
        except json.JSONDecodeError as exc:
            raise IndexUnavailable(f"index manifest {path} is damaged ({exc.msg}); run: copilot index --full") from exc

    def new_version_name(self) -> str:
        return time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"

    def publish(self, version: str) -> None:
        """Point CURRENT at `version` atomically (write, fsync, rename, fsync dir)."""
        tmp = self.root / f".CURRENT.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.current)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def prune(self, keep: set[str]) -> None:
        if not self.versions.exists():
            return
        for d in self.versions.iterdir():
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)

    @contextmanager
    def writer_lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.lock, "a+")
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusy(f"another process is re-indexing {self.root}; wait for it to finish") from exc
            yield
        finally:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            finally:
                fh.close()


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        # compact, and through dumps (C encoder) rather than dump (pure-Python streaming):
        # a 10k-document manifest is MBs, and this is on the path of every re-index
        fh.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
