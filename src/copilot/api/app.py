from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..jobs import Jobs
from . import errors
from .deps import RateLimiter
from .middleware import BodyLimit, Metrics, install_observability
from .routes import customers, drafts, evals, health, knowledge, search


def create_app(copilot) -> FastAPI:
    """The REST API around one Copilot. Every /v1 route needs an API key (auth.PERMISSIONS)."""
    app = FastAPI(title="Support Copilot", version=__version__,
                  description="Grounded, cited draft replies for Japanese and English support teams.")
    app.state.copilot = copilot
    copilot.serving_process = True  # long-lived: re-indexes embed in a child process
    app.state.jobs = Jobs()
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(copilot.settings.rate_limit_per_minute)
    errors.install(app)
    install_observability(app, app.state.metrics)
    for r in (health, search, drafts, customers, knowledge, evals):
        app.include_router(r.router)
    app.add_middleware(BodyLimit, limit=copilot.settings.max_body_bytes, upload_limit=copilot.settings.max_upload_bytes)
    return app
