"""Support Copilot: grounded, cited draft replies for Japanese and English support teams."""

from .config import Settings
from .domain import Chunk, Document, Hit, IndexReport, LoadIssue, Section
from .errors import (
    ConfigError,
    CopilotError,
    DocumentError,
    IndexBusy,
    IndexUnavailable,
    InputError,
    NotFoundError,
    RuntimeFailure,
    UserError,
)
from .service import Copilot

__version__ = "0.1.0"
__all__ = [
    "Chunk",
    "ConfigError",
    "Copilot",
    "CopilotError",
    "Document",
    "DocumentError",
    "Hit",
    "IndexBusy",
    "IndexReport",
    "IndexUnavailable",
    "InputError",
    "LoadIssue",
    "NotFoundError",
    "RuntimeFailure",
    "Section",
    "Settings",
    "UserError",
    "__version__",
]
