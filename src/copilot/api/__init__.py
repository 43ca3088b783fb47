"""REST surface (FastAPI). `create_app(copilot)` builds the app around one Copilot."""

from .app import create_app

__all__ = ["create_app"]
