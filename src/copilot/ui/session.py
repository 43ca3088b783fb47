"""Panel sign-in (Sessions), the access check every event passes (guarded), signed report links
and the HTML helpers."""

import functools
import hashlib
import hmac
import html
import logging
import re
import secrets
import threading
import time
from pathlib import Path

from .. import access

log = logging.getLogger(__name__)

REPORT_LINK_TTL_S = 3600


class Sessions:
    """Signed-in names: username -> the id of the key they signed in with. The role is read
    from the key on every event, so a revoked key stops working at once."""

    def __init__(self, copilot) -> None:
        self.copilot = copilot
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def login(self, username: str, password: str) -> bool:
        rec = self.copilot.api_key(password or "")
        if not username or rec is None:
            return False
        with self._lock:
            held = self._keys.get(username)
            if held is not None and held != rec["id"] and self._role(held) is not None:
                # the name is signed in with another live key: refusing keeps one person's
                # session from gaining (or losing) the other key's role
                log.warning("panel sign-in refused: the name is in use with another key")
                return False
            self._keys[username] = rec["id"]
        return True

    def _role(self, key_id: str) -> str | None:
        return self.copilot.key_role(key_id)

    def role(self, request) -> tuple[str, str | None]:
        user = getattr(request, "username", None) or ""
        h = self._keys.get(user)
        return user, (self._role(h) if h else None)


def _error(message: str):
    import gradio as gr

    return gr.Error(message, print_exception=False)


def guarded(event: str, long: bool = False):
    """A Handlers method checked against the event's action for the signed-in role; the
    copilot's own errors are shown as messages (what was wrong and how to fix it), not as a crash."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(self, *args, request=None, **kwargs):
            from ..errors import CopilotError

            user, role = self.sessions.role(request)
            try:
                access.check(role, access.PANEL[event])
                return fn(self, *args, user=user, **kwargs)
            except access.Forbidden as exc:
                raise _error(str(exc)) from None
            except CopilotError as exc:
                raise _error(str(exc)) from None

        inner.long = long  # long work: Gradio gives it a progress bar
        return inner

    return wrap


def _citations_html(citations) -> str:
    if not citations:
        return "<p><em>No citations.</em></p>"
    parts = []
    for c in citations:
        parts.append(
            f'<details class="citation" data-n="{c.n}"><summary>[{c.n}] {html.escape(c.source)} — {html.escape(c.title or "")}</summary>'
            f'<div class="passage">{html.escape(c.text).replace(chr(10), "<br>")}</div></details>'
        )
    return "\n".join(parts)


def _conversation_html(ticket) -> str:
    rows = [f'<div class="conv-subject">{html.escape(ticket.subject)} <span class="muted">{html.escape(ticket.ticket_id)}</span></div>']
    for m in ticket.messages:
        who = "Customer" if m.sender == "customer" else "Agent"
        rows.append(f'<div class="msg {m.sender}"><div class="muted">{who} · {html.escape(m.at[:16])}</div>'
                    f'{html.escape(m.text).replace(chr(10), "<br>")}</div>')
    return "\n".join(rows)


def _summary_md(s: dict) -> str:
    lines = [f"**{html.escape(s['summary'])}**", ""]
    for t in s["timeline"][-6:]:
        lines.append(f"- {t['date']} `{t['ticket_id']}` {t['status']} · {html.escape(t['subject'])}")
    if s.get("tried"):
        lines += ["", "_The customer already tried:_"] + [f"- {html.escape(x['text'])}" for x in s["tried"][:4]]
    return "\n".join(lines)


class ReportLinks:
    """Short-lived signed links to eval reports, so a browser can open report.html without an
    API key. The secret lives in the data dir (shared by every worker), created on first use."""

    def __init__(self, data_dir: Path, reports: Path) -> None:
        self.reports = reports
        path = Path(data_dir) / "panel.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(secrets.token_bytes(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        self.secret = path.read_bytes()

    def _sig(self, run: str, exp: int) -> str:
        return hmac.new(self.secret, f"{run}:{exp}".encode(), hashlib.sha256).hexdigest()

    def link(self, report_json: str) -> str:
        run = Path(report_json).parent.name
        exp = int(time.time()) + REPORT_LINK_TTL_S
        return f"/reports/{run}/report.html?exp={exp}&sig={self._sig(run, exp)}"

    def file(self, run: str, exp: int, sig: str) -> Path | None:
        if not re.fullmatch(r"[\w.-]{1,80}", run) or exp < time.time() or not hmac.compare_digest(sig, self._sig(run, exp)):
            return None
        path = self.reports / run / "report.html"
        return path if path.is_file() else None


CSS = """
.escalate {background:#fde2e1;border:1px solid #d33;padding:8px;border-radius:6px;color:#900;font-weight:600}
.ok {background:#e6f4ea;border:1px solid #3a3;padding:8px;border-radius:6px}
.citation summary {cursor:pointer}
.passage {white-space:normal;background:#f7f7f7;padding:6px;margin:4px 0 8px 0}
.conv-subject {font-weight:600;margin-bottom:6px}
.msg {padding:6px 8px;margin:4px 0;border-radius:6px}
.msg.customer {background:#eef3fb}
.msg.agent {background:#f4f4f4;margin-left:24px}
.muted {color:#666;font-size:0.85em}
body, .gradio-container {font-family: system-ui, 'Hiragino Sans', 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif}
"""
