from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from . import errors
from .routes import health, search


def create_app(copilot) -> FastAPI:
    app = FastAPI(title="Support Copilot", version=__version__)
    app.state.copilot = copilot
    errors.install(app)
    app.include_router(health.router)
    app.include_router(search.router)
    return app
