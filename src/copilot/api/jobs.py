"""Background jobs (re-index, eval runs) in the serving process, with progress for polling.

One job of a kind runs at a time; searches and drafts keep answering from the published index
version while a re-index runs (versions swap atomically when it publishes)."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable

from ..errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job at its next progress report once the process is shutting down."""


_ALL: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At exit, stop running jobs at their next progress report and wait for them (up to 30 s).
    A job thread left inside ONNX Runtime while the interpreter tears down ended the process
    with `terminate called without an active exception` (exit code 134)."""
    for jobs in list(_ALL):
        jobs.shutdown(timeout=30)


class Jobs:
    def __init__(self, keep: int = 50) -> None:
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.keep = keep
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        _ALL.add(self)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask running jobs to stop (they end at their next progress report) and wait for them."""
        self._stop.set()
        end = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))

    def start(self, kind: str, fn: Callable[[Callable[[str, int, int], None]], dict]) -> dict:
        with self._lock:
            if any(j["kind"] == kind and j["status"] == "running" for j in self._jobs.values()):
                raise ConflictError(f"a {kind} job is already running")
            job = {"id": f"{kind}_{uuid.uuid4().hex[:12]}", "kind": kind, "status": "running", "stage": "queued",
                   "done": 0, "total": 0, "started_at": time.time(), "finished_at": None, "result": None, "error": None}
            self._jobs[job["id"]] = job
            self._trim()

        def progress(stage: str, done: int, total: int) -> None:
            if self._stop.is_set():
                raise JobCancelled(f"{kind} job stopped: the server is shutting down")
            job.update(stage=stage, done=done, total=total)

        def run() -> None:
            try:
                job["result"] = fn(progress)
                job["status"] = "succeeded"
            except JobCancelled as exc:
                job["status"], job["error"] = "cancelled", str(exc)
            except Exception as exc:  # the job records the failure; the server keeps serving
                log.warning("%s job %s failed: %s", kind, job["id"], type(exc).__name__)
                job["status"], job["error"] = "failed", str(exc)
            finally:
                job["finished_at"] = time.time()

        t = threading.Thread(target=run, name=job["id"], daemon=True)
        t.start()
        with self._lock:  # shutdown() waits for every started job
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        return dict(job)

    def get(self, job_id: str) -> dict:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found")
        return dict(job)

    def list(self, kind: str | None = None) -> list[dict]:
        return [dict(j) for j in sorted(self._jobs.values(), key=lambda j: -j["started_at"]) if kind in (None, j["kind"])]

    def latest(self, kind: str) -> dict | None:
        jobs = self.list(kind)
        return jobs[0] if jobs else None

    def _trim(self) -> None:
        done = [j for j in sorted(self._jobs.values(), key=lambda j: j["started_at"]) if j["status"] != "running"]
        for j in done[: max(0, len(self._jobs) - self.keep)]:
            self._jobs.pop(j["id"], None)
