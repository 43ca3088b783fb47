"""Support Copilot: grounded, cited draft replies for Japanese and English support teams."""

import os as _os
import sys as _sys

if _sys.argv[1:2] == ["serve"]:
    # BLAS/OpenMP threads fight the web server's threads on small machines (measured: 18 vs
    # ~1,000 searches/s). OpenBLAS reads this once, when numpy loads, and the imports below load
    # numpy, so `copilot serve` sets it here; setting it in cli.main() came too late and the
    # server ran with a BLAS thread per core (found 2026-12-04: drafts about a third slower
    # under load). Batch work (`copilot index`, evals) keeps them.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, "1")

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
