"""One exception tree for the whole copilot.

    CopilotError
    ├── UserError              the caller can fix it (exit 2 / HTTP 4xx)
    │   ├── ConfigError        a setting is wrong or a backend is not installed
    │   ├── InputError         a request, query or argument is invalid
    │   ├── DocumentError      one knowledge file cannot be loaded (path + reason)
    │   ├── NotFoundError      an id that does not exist
    │   └── ConflictError      an invalid state transition or a reused idempotency key
    └── RuntimeFailure         the copilot failed (exit 3 / HTTP 5xx)
        ├── IndexUnavailable   no index yet, or it failed its canary check
        ├── IndexBusy          another process is writing the index
        └── IndexWriteError    a re-index could not write (disk full, I/O error); the
                               previous version stays served
"""

from __future__ import annotations


class CopilotError(Exception):
    """Root of every error the copilot raises on purpose."""

    code = "copilot_error"


class UserError(CopilotError):
    code = "bad_request"


class ConfigError(UserError):
    code = "config_error"


class InputError(UserError):
    code = "invalid_input"


class NotFoundError(UserError):
    code = "not_found"


class DocumentError(UserError):
    """A knowledge file that cannot be loaded. Carries the path and the reason."""

    code = "bad_document"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RuntimeFailure(CopilotError):
    code = "internal_error"


class IndexUnavailable(RuntimeFailure):
    code = "index_unavailable"


class IndexBusy(RuntimeFailure):
    code = "index_busy"


class IndexWriteError(RuntimeFailure):
    code = "index_write_failed"


class ConflictError(UserError):
    """The request conflicts with the current state (invalid transition, reused idempotency key)."""

    code = "conflict"
