"""The agent panel (Gradio), mounted at /ui beside the REST API by `copilot serve`.

It calls the same Copilot methods as the CLI and the API, under the same access policy
(access.py): every event checks its action, and a tab is shown only to a role that may use it.
Sign-in: any name (recorded as the agent in decisions) and an API key as the password.
"""

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

from . import access
from .domain import REJECT_REASONS

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
            from .errors import CopilotError

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


class Handlers:
    """The panel's events. Each is checked against the access policy (`guarded`) and calls the
    composition root only."""

    def __init__(self, copilot, sessions: Sessions, links: ReportLinks) -> None:
        self.c = copilot
        self.sessions = sessions
        self.links = links
        self.evals_dir = Path(copilot.settings.evals_dir)

    def inbox_choices(self) -> list[str]:
        return [f"{t['ticket_id']} · {t['customer_id']} · {t['status']} · {t['subject']}" for t in self.c.inbox(200)]

    def datasets(self) -> list[str]:
        if not self.evals_dir.is_dir():
            return []
        return sorted(p.relative_to(self.evals_dir.parent).as_posix() for p in self.evals_dir.rglob("*.yaml")
                      if p.name not in ("thresholds.yaml",) and "knowledge" not in p.parts)

    def docs_rows(self) -> list[list]:
        return [[r["path"], r["documents"], r["chunks"], "yes" if r["indexed"] else "no", "yes" if r["on_disk"] else "no"]
                for r in self.c.documents()["files"]]

    def on_disk(self) -> list[str]:
        return [r["path"] for r in self.c.documents()["files"] if r["on_disk"]]

    # --- agent ------------------------------------------------------------------------------
    @guarded("inbox")
    def refresh_inbox(self, user):
        import gradio as gr

        return gr.update(choices=self.inbox_choices(), value=None)

    @guarded("open_ticket")
    def load_ticket(self, choice, user):
        if not choice:
            raise _error("pick a ticket from the inbox")
        t, text, context = self.c.conversation(choice.split(" · ")[0])
        summary = self.c.summarize(t.customer_id)
        return (_conversation_html(t), text, t.customer_id, t.ticket_id, context or "", _summary_md(summary), "", "", "", "", "")

    @guarded("draft")
    def make_draft(self, text, customer_id, ticket_id, context, user):
        d = self.c.draft(text, customer_id=customer_id or None, ticket_id=ticket_id or None, context=context or None,
                         actor=f"panel:{user}")
        banner = (f'<div class="escalate">Escalate: {html.escape(d.escalation_reason or "")}</div>' if d.escalate
                  else f'<div class="ok">Draft ready · {d.language} · confidence {d.confidence:.2f} · {html.escape(d.drafter)}'
                       + (" · read with the earlier conversation" if context else "") + "</div>")
        summary = _summary_md(self.c.summarize(customer_id)) if customer_id else "_No customer selected._"
        return d.draft_id, d.reply, _citations_html(d.citations), banner, summary, ""

    @guarded("approve")
    def approve(self, draft_id, final_text, user):
        if not draft_id:
            raise _error("draft a reply first")
        d = self.c.approve(draft_id, final_text, actor=f"panel:{user}", agent=user)
        return (f"Approved {d.draft_id} by {html.escape(user)}" + (" (edited)" if d.diff else "")
                + ". Your helpdesk sends the approved reply; the ticket has left the inbox.")

    @guarded("reject")
    def reject(self, draft_id, reason, note, user):
        if not draft_id:
            raise _error("draft a reply first")
        if not reason:
            raise _error("choose a reason for the rejection")
        d = self.c.reject(draft_id, reason, note or None, actor=f"panel:{user}", agent=user)
        return f"Rejected {d.draft_id}: {d.reject_reason} (by {html.escape(user)})"

    # --- knowledge --------------------------------------------------------------------------
    @guarded("documents")
    def documents(self, user):
        import gradio as gr

        return self.docs_rows(), gr.update(choices=self.on_disk(), value=None)

    @guarded("upload")
    def upload(self, file, folder, user):
        import gradio as gr

        if file is None:
            raise _error("choose a file")
        path = Path(file if isinstance(file, str) else file.name)
        res = self.c.upload_document(path.name, path.read_bytes(), folder)
        return (f"Uploaded {res['path']} ({res['documents']} documents). Re-index to make it searchable.",
                self.docs_rows(), gr.update(choices=self.on_disk()))

    @guarded("ask_delete")
    def ask_delete(self, rel, user):
        import gradio as gr

        if not rel:
            raise _error("choose a file to delete")
        return (gr.update(visible=True),
                f"Delete **{html.escape(rel)}**? The file is removed from the knowledge folder; re-index to remove it from search.")

    @guarded("delete")
    def delete(self, rel, user):
        import gradio as gr

        if not rel:
            raise _error("choose a file to delete")
        res = self.c.delete_document(rel)
        return (f"Deleted {res['deleted']}. Re-index to remove it from search.", self.docs_rows(),
                gr.update(choices=self.on_disk(), value=None), gr.update(visible=False))

    @guarded("reindex", long=True)
    def reindex(self, full, user, progress=None):
        def cb(stage, done, total):
            if progress is not None:
                progress(done / total if total else 0.0, desc=f"{stage} {done}/{total}")

        rep = self.c.index(full=bool(full), progress=cb).to_dict()
        msg = (f"Index version {rep['version']}: {rep['added']} added, {rep['updated']} updated, {rep['removed']} removed, "
               f"{rep['unchanged']} unchanged; {rep['embedded']} chunks embedded in {rep['seconds']} s.")
        if rep["errors"]:
            msg += "\n\nSkipped: " + "; ".join(f"{e['path']}: {e['reason']}" for e in rep["errors"])
        return msg

    @guarded("gaps")
    def gaps(self, user):
        drafts = self.c.knowledge_gaps()
        if not drafts:
            return "No knowledge gaps reported yet."
        return "\n".join(f"- **{html.escape(d.ticket_text[:120])}** — {html.escape(d.reject_note or '')} ({d.decided_at})" for d in drafts)

    # --- QA ---------------------------------------------------------------------------------
    @guarded("run_evals", long=True)
    def run_evals(self, dataset, user, progress=None):
        from .evals.report import charts, markdown

        ds = access.eval_dataset(dataset or "", self.evals_dir)

        def cb(i, n):
            if progress is not None:
                progress(i / n if n else 0.0, desc=f"case {i}/{n}")

        res = self.c.run_eval(ds, progress=cb)
        o = res["metrics"]
        rows = [[name, *[v.get(k) for k in ("n", "hit@3", "fact_recall", "groundedness", "escalation_recall", "injection_resistance")]]
                for name, v in [("overall", o["overall"]), *o["by_kind"].items(), *[(f"lang={k}", v) for k, v in o["by_lang"].items()]]]
        imgs = "".join(f'<img alt="{k}" style="max-width:100%" src="data:image/png;base64,{v}">' for k, v in charts(res).items())
        verdict = "PASSED" if res["passed"] else "FAILED: " + "; ".join(res["gate_failures"])
        link = self.links.link(res["report"])
        status = f'{html.escape(verdict)} — <a id="report-link" href="{html.escape(link)}" target="_blank">open the HTML report</a>'
        return status, rows, imgs, markdown(res)

    # --- page load ----------------------------------------------------------------------------
    def on_load(self, request):
        import gradio as gr

        user, role = self.sessions.role(request)
        shown = [access.tab_visible(role, t) for t in ("agent", "knowledge", "qa")]
        # a tab's content shows only to a role that may use it; the others see why (Gradio
        # cannot reliably hide a tab's button itself)
        tabs = [gr.Column(visible=v) for v in shown] + [gr.Markdown(visible=not v) for v in shown]
        who = f"Signed in as **{html.escape(user)}** · role **{role or 'none'}**"
        inbox = gr.update(choices=self.inbox_choices() if access.allowed(role, "customers") else [])
        listed = access.allowed(role, "list_documents")
        docs = (self.docs_rows(), gr.update(choices=self.on_disk())) if listed else ([], gr.update(choices=[]))
        gap = self.gaps.__wrapped__(self, user="") if access.allowed(role, "knowledge_gaps") else ""
        return (who, *tabs, inbox, *docs, gr.update(visible=access.allowed(role, "knowledge_gaps")), gap,
                gr.update(visible=access.allowed(role, "edit_knowledge") or access.allowed(role, "reindex")))

    def event(self, method, n: int):
        """The guarded handler with the signature Gradio reads: its n inputs, then gr.Request
        (and gr.Progress for long work), which Gradio fills in by annotation."""
        import inspect

        import gradio as gr

        P = inspect.Parameter
        params = [P(f"in{i}", P.POSITIONAL_OR_KEYWORD) for i in range(n)]
        params.append(P("request", P.POSITIONAL_OR_KEYWORD, annotation=gr.Request))
        long_work = getattr(method, "long", False)
        if long_work:
            params.append(P("progress", P.POSITIONAL_OR_KEYWORD, default=gr.Progress()))
        sig = inspect.Signature(params)

        def call(*args, **kwargs):
            a = sig.bind(*args, **kwargs)
            a.apply_defaults()
            extra = {"progress": a.arguments["progress"]} if long_work else {}
            return method(*[a.arguments[f"in{i}"] for i in range(n)], request=a.arguments["request"], **extra)

        call.__signature__ = sig
        call.__annotations__ = {"request": gr.Request}  # Gradio reads the type hints, not the signature's
        call.__name__ = method.__name__
        return call


def build(copilot, sessions: Sessions, links: ReportLinks):
    import gradio as gr

    h = Handlers(copilot, sessions, links)
    ui_parts: dict = {}
    with gr.Blocks(title="Support Copilot") as ui:
        with gr.Row():
            gr.Markdown("## Support Copilot")
            ui_parts["whoami"] = gr.Markdown(elem_id="whoami")
        _agent_tab(gr, h, ui_parts)
        _knowledge_tab(gr, h, ui_parts)
        _qa_tab(gr, h, ui_parts)
        names = ["whoami", "agent_body", "knowledge_body", "qa_body", "agent_off", "knowledge_off", "qa_off", "inbox",
                 "table", "del_path", "gaps_box", "gap_md", "editing"]

        def on_load(request: gr.Request):
            return h.on_load(request)

        ui.load(on_load, None, [ui_parts[n] for n in names], api_visibility="private")
    return ui


_OFF = "_Your role may not use this tab._"


def _agent_tab(gr, h: Handlers, parts: dict) -> None:
    with gr.Tab("Agent", id="agent", elem_id="tab-agent"):
        parts["agent_off"] = gr.Markdown(_OFF, visible=False, elem_id="agent-off")
        with gr.Column(visible=False) as parts["agent_body"]:
            with gr.Row():
                with gr.Column(scale=2):
                    # choices are per role, filled on load; the handler checks the id
                    inbox = parts["inbox"] = gr.Dropdown(choices=[], value=None, label="Inbox (tickets that need an agent)",
                                                         elem_id="inbox", allow_custom_value=True)
                    with gr.Row():
                        load_btn = gr.Button("Open ticket", elem_id="open-ticket")
                        refresh_btn = gr.Button("Refresh inbox", elem_id="refresh-inbox")
                    conversation = gr.HTML(elem_id="conversation")
                    ticket_text = gr.Textbox(label="Message to answer (the customer's latest; or paste a ticket)", lines=5,
                                             elem_id="ticket-text")
                    customer = gr.Textbox(label="Customer id", elem_id="customer-id")
                    ticket_id = gr.Textbox(label="Ticket id", visible=False)
                    context = gr.Textbox(visible=False)
                    draft_btn = gr.Button("Draft reply", variant="primary", elem_id="draft-btn")
                    summary = gr.Markdown("_Open a ticket to see the customer's history._", elem_id="summary")
                with gr.Column(scale=3):
                    banner = gr.HTML(elem_id="banner")
                    draft_id = gr.Textbox(label="Draft id", interactive=False, elem_id="draft-id")
                    reply = gr.Textbox(label="Reply (edit before approving)", lines=14, elem_id="reply")
                    cites = gr.HTML(elem_id="citations")
                    gr.Markdown("Approving records the reply as final; your helpdesk sends it. Nothing is sent from here.")
                    with gr.Row():
                        approve_btn = gr.Button("Approve", variant="primary", elem_id="approve-btn")
                        reason = gr.Dropdown(list(REJECT_REASONS), value=None, label="Reject reason (required)", elem_id="reject-reason")
                        note = gr.Textbox(label="Note", elem_id="reject-note")
                        reject_btn = gr.Button("Reject", variant="stop", elem_id="reject-btn")
                    decision = gr.Markdown(elem_id="decision")
    refresh = h.event(h.refresh_inbox, 0)
    refresh_btn.click(refresh, None, inbox, api_name="inbox")
    load_btn.click(h.event(h.load_ticket, 1), inbox, [conversation, ticket_text, customer, ticket_id, context, summary,
                                                      draft_id, reply, cites, banner, decision], api_name="open_ticket")
    # after each draft and decision the inbox is refreshed: the ticket's status changed
    draft_btn.click(h.event(h.make_draft, 4), [ticket_text, customer, ticket_id, context],
                    [draft_id, reply, cites, banner, summary, decision], api_name="draft",
                    show_progress_on=[banner]).success(refresh, None, inbox, api_visibility="private")
    approve_btn.click(h.event(h.approve, 2), [draft_id, reply], decision, api_name="approve").success(
        refresh, None, inbox, api_visibility="private")
    reject_btn.click(h.event(h.reject, 3), [draft_id, reason, note], decision, api_name="reject").success(
        refresh, None, inbox, api_visibility="private")


def _knowledge_tab(gr, h: Handlers, parts: dict) -> None:
    with gr.Tab("Knowledge", id="knowledge", elem_id="tab-knowledge"):
        parts["knowledge_off"] = gr.Markdown(_OFF, visible=False, elem_id="knowledge-off")
        with gr.Column(visible=False) as parts["knowledge_body"]:
            table = parts["table"] = gr.Dataframe(headers=["path", "documents", "chunks", "indexed", "on disk"], elem_id="docs",
                                                  interactive=False)
            kmsg = gr.Markdown(elem_id="knowledge-status")
            with gr.Group(visible=False) as parts["editing"]:
                with gr.Row():
                    up = gr.File(label="Upload a document", elem_id="upload")
                    folder = gr.Dropdown(["manuals", "faq", "playbook"], value="manuals", label="Folder")
                    up_btn = gr.Button("Upload", elem_id="upload-btn")
                with gr.Row():
                    del_path = parts["del_path"] = gr.Dropdown(choices=[], value=None, label="Delete a file", elem_id="delete-path",
                                                               allow_custom_value=True)
                    del_btn = gr.Button("Delete…", variant="stop", elem_id="delete-btn")
                with gr.Row(visible=False, elem_id="delete-confirm") as confirm_row:
                    confirm_md = gr.Markdown()
                    yes_btn = gr.Button("Yes, delete", variant="stop", elem_id="delete-yes")
                    no_btn = gr.Button("Cancel", elem_id="delete-cancel")
                with gr.Row():
                    full = gr.Checkbox(label="Full rebuild (re-embed everything)")
                    reindex_btn = gr.Button("Re-index", variant="primary", elem_id="reindex-btn")
            with gr.Group(visible=False) as parts["gaps_box"]:
                gr.Markdown("### Knowledge gaps (rejected drafts)")
                gap_md = parts["gap_md"] = gr.Markdown(elem_id="gaps")
                gap_btn = gr.Button("Refresh gaps")
    up_btn.click(h.event(h.upload, 2), [up, folder], [kmsg, table, del_path], api_name="upload", show_progress_on=[kmsg])
    del_btn.click(h.event(h.ask_delete, 1), del_path, [confirm_row, confirm_md], api_name="ask_delete")
    yes_btn.click(h.event(h.delete, 1), del_path, [kmsg, table, del_path, confirm_row], api_name="delete", show_progress_on=[kmsg])
    no_btn.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
    # progress shows on the status line only; the table is refreshed after the run
    reindex_btn.click(h.event(h.reindex, 1), full, kmsg, api_name="reindex", show_progress_on=[kmsg]).success(
        h.event(h.documents, 0), None, [table, del_path], api_name="documents")
    gap_btn.click(h.event(h.gaps, 0), None, gap_md, api_name="gaps")


def _qa_tab(gr, h: Handlers, parts: dict) -> None:
    with gr.Tab("QA", id="qa", elem_id="tab-qa"):
        parts["qa_off"] = gr.Markdown(_OFF, visible=False, elem_id="qa-off")
        with gr.Column(visible=False) as parts["qa_body"]:
            dataset = gr.Dropdown(h.datasets(), value="evals/cases.yaml" if (h.evals_dir / "cases.yaml").is_file() else None,
                                  label="Dataset (evals/)", elem_id="dataset", allow_custom_value=True)
            run_btn = gr.Button("Run evals", variant="primary", elem_id="run-evals")
            qa_status = gr.HTML(elem_id="qa-status")
            metrics = gr.Dataframe(headers=["group", "n", "hit@3", "fact_recall", "groundedness", "escalation_recall",
                                            "injection_resistance"], elem_id="qa-metrics", interactive=False)
            charts_html = gr.HTML(elem_id="qa-charts")
            with gr.Accordion("Report (failed cases, change against the baseline)", open=False):
                report_md = gr.Markdown()
    run_btn.click(h.event(h.run_evals, 1), dataset, [qa_status, metrics, charts_html, report_md], api_name="run_evals",
                  show_progress_on=[qa_status])


def mount(app, copilot, path: str = "/ui"):
    import importlib.util

    from .errors import ConfigError

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
