from __future__ import annotations

import contextlib
import logging
import threading

from fastapi import FastAPI

from .. import __version__
from .jobs import Jobs
from . import errors
from .deps import RateLimiter
from .middleware import BodyLimit, Metrics, install_observability
from .routes import customers, drafts, evals, health, knowledge, search, tickets

log = logging.getLogger(__name__)


FOLLOW_S = 1.0  # how often a serving process checks for a newly published index version


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """While the app serves: a background thread follows the published index version (so a
    re-index by any process is picked up within about a second, with or without traffic) and
    keeps this process's lease on the version it serves; the lease goes when the app stops."""
    copilot = app.state.copilot
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(FOLLOW_S):
            try:
                copilot.follow_index()
            except Exception:  # never let the follower die; /readyz reports a broken index
                log.exception("following the index version failed")

    t = threading.Thread(target=follow, name="index-follower", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        app.state.jobs.shutdown(timeout=30)  # running jobs stop at their next progress report
        copilot.stop_serving()


def create_app(copilot) -> FastAPI:
    """The REST API around one Copilot. Every /v1 route needs an API key (access.py decides)."""
    app = FastAPI(title="Support Copilot", version=__version__, lifespan=_lifespan,
                  description="Grounded, cited draft replies for Japanese and English support teams.")
    app.state.copilot = copilot
    copilot.start_serving()
    app.state.jobs = Jobs()
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(copilot.settings.rate_limit_per_minute)
    errors.install(app)
    install_observability(app, app.state.metrics)
    for r in (health, search, drafts, customers, tickets, knowledge, evals):
        app.include_router(r.router)
    app.add_middleware(BodyLimit, limit=copilot.settings.max_body_bytes, upload_limit=copilot.settings.max_upload_bytes)
    return app


def worker_app() -> FastAPI:
    """One worker of `copilot serve --workers N`: a Copilot from the environment (the CLI sets
    COPILOT_DATA_DIR, COPILOT_KNOWLEDGE_DIR and COPILOT_SERVE_UI for its workers)."""
    import os

    from ..config import Settings
    from ..service import Copilot

    copilot = Copilot(Settings())
    copilot.warm_up()
    copilot.pipeline.warm_in_background()
    app = create_app(copilot)
    if os.environ.get("COPILOT_SERVE_UI", "1") != "0":
        from ..ui import mount

        app = mount(app, copilot)
    return app
