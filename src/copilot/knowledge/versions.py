"""On-disk layout of index versions and the atomic CURRENT pointer.

    <data>/index/
        CURRENT              name of the served version (replaced atomically)
        versions/<v>/        manifest.json + lexical/ (bm25) for each published version
        chroma/              Chroma persistent store (unless COPILOT_CHROMA_URL is set)
        catalog.sqlite3      chunk rows and the embedding cache
        leases/<host>-<pid>.json  the version each serving process uses (garbage collection keeps it)
        .writer.lock         held by the one process that may write
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexBusy, IndexUnavailable


# Up to this many chunks a version's vectors are also written into its directory
# (vectors/<embedder>.npy, rows in the lexical index's order) and served from there, exactly,
# by every process: no serving process then reads the vector store, which is what lets one
# process re-index while others serve. About 70 MB for both default embedders at the limit;
# above it, searches go to Chroma's HNSW index.
EXACT_MAX = 20_000


class Layout:
    def __init__(self, index_dir: Path) -> None:
        self.root = index_dir
        self.versions = index_dir / "versions"
        self.current = index_dir / "CURRENT"
        self.chroma = index_dir / "chroma"
        self.catalog = index_dir / "catalog.sqlite3"
        self.lock = index_dir / ".writer.lock"
        self.leases = Leases(index_dir / "leases")

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
        """Remove every version directory but `keep` and the versions a live process holds."""
        if not self.versions.exists():
            return
        keep = keep | self.leases.live_versions()
        for d in self.versions.iterdir():
            if d.name not in keep and not d.name.startswith(".tmp-"):
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but has exited
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError):
        return True


class Leases:
    """Which index version each serving process uses, so that garbage collection never removes
    a version (its directory, its chunk rows, its vectors) from under a live reader.

    One small JSON file per process, ``<host>-<pid>.json``: {version, pid, host, heartbeat}.
    A serving process rewrites its file when it switches version and every few seconds
    (HEARTBEAT_S). A lease is dead when its process is gone (same host: the pid has exited)
    or its heartbeat is older than TTL_S (any host): a process killed with -9 holds nothing
    once that is seen, and the dead file is removed then.
    """

    HEARTBEAT_S = 5.0
    TTL_S = 60.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = socket.gethostname()

    def _path(self) -> Path:
        return self.root / f"{self.host}-{os.getpid()}.json"

    def hold(self, version: str) -> None:
        """Record (or refresh) this process's lease on `version`."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path()
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"version": version, "pid": os.getpid(), "host": self.host, "heartbeat": time.time()}),
                       encoding="utf-8")
        os.replace(tmp, path)

    def release(self) -> None:
        try:
            self._path().unlink()
        except FileNotFoundError:
            pass

    def live(self) -> list[dict]:
        """The live leases; dead ones are removed on the way."""
        if not self.root.exists():
            return []
        out, now = [], time.time()
        for f in self.root.glob("*.json"):
            try:
                lease = json.loads(f.read_text(encoding="utf-8"))
                dead = now - float(lease["heartbeat"]) > self.TTL_S or (
                    lease.get("host") == self.host and not _pid_alive(int(lease["pid"])))
            except (OSError, ValueError, KeyError, TypeError):
                dead, lease = True, None  # unreadable: a writer died mid-write (writes are atomic) or junk
            if dead:
                f.unlink(missing_ok=True)
            else:
                out.append(lease)
        return out

    def live_versions(self) -> set[str]:
        return {lease["version"] for lease in self.live()}


# beside "lexical": BM25 over the same chunks without their phrasings (only when some chunk has them)
STATED_DIR = "stated"


def canary_check(col, chunk_id: str, vector, allowed: set[str]) -> None:
    """The canary chunk's own vector must find the canary first. A truncated HNSW file gives no
    error, only bad recall, so this is how damage is noticed."""
    extra = max(0, col.count() - len(allowed))
    hits = [i for i, _ in col.query(vector, 5 + extra) if i in allowed]
    if not hits or hits[0] != chunk_id:
        raise IndexUnavailable(
            f"canary query failed on collection {col.name}: expected {chunk_id} first, got {hits[:3]}; "
            "the vector index is damaged: run `copilot index --full`"
        )
