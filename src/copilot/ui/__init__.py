"""The agent panel (Gradio), mounted at /ui beside the REST API by `copilot serve`.

It calls the same Copilot methods as the CLI and the API, under the same access policy
(access.py): every event checks its action, and a tab shows its tools only to a role that may use them.
Sign-in: any name (recorded as the agent in decisions) and an API key as the password.
"""


from .layout import build
from .session import CSS, ReportLinks, Sessions

__all__ = ["build", "mount", "Sessions", "ReportLinks"]


def mount(app, copilot, path: str = "/ui"):
    import importlib.util

    from ..errors import ConfigError

    if importlib.util.find_spec("gradio") is None:
        raise ConfigError("the agent panel needs the 'ui' extra: pip install 'support-copilot[ui]', or serve with --no-ui")
    import gradio as gr
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    sessions = Sessions(copilot)
    links = ReportLinks(copilot.settings.data_dir, copilot.settings.data_dir / "evals")

    @app.get("/reports/{run}/report.html", include_in_schema=False)
    def report(run: str, exp: int = 0, sig: str = ""):
        f = links.file(run, exp, sig)
        if f is None:
            raise HTTPException(404, "no such report, or the link has expired: run the evals again from the QA tab")
        return FileResponse(f, media_type="text/html; charset=utf-8",
                            headers={"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
                                     "Cache-Control": "private, no-store"})

    ui = build(copilot, sessions, links)
    return gr.mount_gradio_app(app, ui, path=path, auth=sessions.login, css=CSS, footer_links=[],
                               auth_message="Sign in with your name and your Support Copilot API key.")
