"""The agent panel (Gradio), mounted at /ui beside the REST API by `copilot serve`.

It calls the same Copilot methods as the CLI and the API. Sign-in: any name (recorded as the
agent in decisions) and an API key as the password; the key's role decides what the tabs allow.
"""


import html
import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

TAB_ROLES = {
    "agent": {"agent", "helpdesk", "admin"},
    "knowledge": {"editor", "admin"},
    "qa": {"qa", "admin"},
}


class Sessions:
    """username -> role, filled at sign-in."""

    def __init__(self, copilot) -> None:
        self.copilot = copilot
        self.roles: dict[str, str] = {}
        self._lock = threading.Lock()

    def login(self, username: str, password: str) -> bool:
        from .auth import hash_key

        rec = self.copilot.store.api_key_by_hash(hash_key(password or ""))
        if not username or rec is None or rec["revoked_at"]:
            return False
        with self._lock:
            self.roles[username] = rec["role"]
        return True

    def require(self, request, tab: str) -> str:
        import gradio as gr

        user = getattr(request, "username", None) or ""
        role = self.roles.get(user)
        if role not in TAB_ROLES[tab]:
            raise gr.Error(f"your key's role ({role or 'none'}) may not use the {tab} tab")
        return user


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


def _summary_md(s: dict) -> str:
    lines = [f"**{html.escape(s['summary'])}**", ""]
    for t in s["timeline"][-6:]:
        lines.append(f"- {t['date']} `{t['ticket_id']}` {t['status']} · {html.escape(t['subject'])}")
    if s.get("tried"):
        lines += ["", "_Already tried:_"] + [f"- {html.escape(x['text'])}" for x in s["tried"][:4]]
    return "\n".join(lines)


CSS = """
.escalate {background:#fde2e1;border:1px solid #d33;padding:8px;border-radius:6px;color:#900;font-weight:600}
.ok {background:#e6f4ea;border:1px solid #3a3;padding:8px;border-radius:6px}
.citation summary {cursor:pointer}
.passage {white-space:normal;background:#f7f7f7;padding:6px;margin:4px 0 8px 0}
body, .gradio-container {font-family: system-ui, 'Hiragino Sans', 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif}
"""


def build(copilot, sessions: Sessions):
    import gradio as gr

    def inbox_choices():
        return [f"{t['id']} · {t['customer_id']} · {t['subject']}" for t in copilot.store.open_tickets(200)]

    # --- agent tab ----------------------------------------------------------------------------
    def load_ticket(choice, request: gr.Request):
        sessions.require(request, "agent")
        if not choice:
            raise gr.Error("pick a ticket from the inbox")
        ticket = copilot.store.get_ticket(choice.split(" · ")[0])
        text = next((m.text for m in reversed(ticket.messages) if m.sender == "customer"), "")
        summary = copilot.summarize(ticket.customer_id)
        return text, ticket.customer_id, ticket.ticket_id, _summary_md(summary)

    def make_draft(text, customer_id, ticket_id, request: gr.Request):
        user = sessions.require(request, "agent")
        d = copilot.draft(text, customer_id=customer_id or None, ticket_id=ticket_id or None, actor=f"panel:{user}")
        banner = (f'<div class="escalate">Escalate: {html.escape(d.escalation_reason or "")}</div>' if d.escalate
                  else f'<div class="ok">Draft ready · {d.language} · confidence {d.confidence:.2f} · {html.escape(d.drafter)}</div>')
        summary = _summary_md(copilot.summarize(customer_id)) if customer_id else "_No customer selected._"
        return d.draft_id, d.reply, _citations_html(d.citations), banner, summary, ""

    def approve(draft_id, final_text, request: gr.Request):
        user = sessions.require(request, "agent")
        if not draft_id:
            raise gr.Error("draft a reply first")
        d = copilot.approve(draft_id, final_text, actor=f"panel:{user}")
        return f"Approved {d.draft_id} by {html.escape(user)}" + (" (edited)" if d.diff else "")

    def reject(draft_id, reason, note, request: gr.Request):
        user = sessions.require(request, "agent")
        if not draft_id:
            raise gr.Error("draft a reply first")
        if not reason:
            raise gr.Error("choose a reason for the rejection")
        d = copilot.reject(draft_id, reason, note or None, actor=f"panel:{user}")
        return f"Rejected {d.draft_id}: {d.reject_reason}"

    # --- knowledge tab -----------------------------------------------------------------------
    def docs_table():
        rows = copilot.documents()["files"]
        return [[r["path"], r["documents"], r["chunks"], "yes" if r["indexed"] else "no", "yes" if r["on_disk"] else "no"] for r in rows]

    def upload(file, folder, request: gr.Request):
        sessions.require(request, "knowledge")
        if file is None:
            raise gr.Error("choose a file")
        path = Path(file if isinstance(file, str) else file.name)
        res = copilot.upload_document(path.name, path.read_bytes(), folder)
        return f"Uploaded {res['path']} ({res['documents']} documents). Re-index to make it searchable.", docs_table()

    def delete(rel, request: gr.Request):
        sessions.require(request, "knowledge")
        res = copilot.delete_document(rel.strip())
        return f"Deleted {res['deleted']}. Re-index to remove it from search.", docs_table()

    def reindex(full, request: gr.Request, progress=gr.Progress()):
        sessions.require(request, "knowledge")

        def cb(stage, done, total):
            progress(done / total if total else 0.0, desc=stage)

        rep = copilot.index(full=bool(full), progress=cb).to_dict()
        msg = (f"Index version {rep['version']}: {rep['added']} added, {rep['updated']} updated, {rep['removed']} removed, "
               f"{rep['unchanged']} unchanged; {rep['embedded']} chunks embedded in {rep['seconds']} s.")
        if rep["errors"]:
            msg += "\n\nSkipped: " + "; ".join(f"{e['path']}: {e['reason']}" for e in rep["errors"])
        return msg, docs_table()

    def gaps():
        drafts = [d for d in copilot.store.list_drafts("rejected", 500) if d.reject_reason == "knowledge_gap"]
        if not drafts:
            return "No knowledge gaps reported yet."
        return "\n".join(f"- **{html.escape(d.ticket_text[:120])}** — {html.escape(d.reject_note or '')} ({d.decided_at})" for d in drafts)

    # --- QA tab ------------------------------------------------------------------------------
    def run_evals(dataset, request: gr.Request, progress=gr.Progress()):
        sessions.require(request, "qa")
        from .evals.report import charts, markdown

        res = copilot.run_eval(Path(dataset), progress=lambda i, n: progress(i / n, desc=f"case {i}/{n}"))
        o = res["metrics"]
        rows = [[name, *[v.get(k) for k in ("n", "hit@3", "fact_recall", "groundedness", "escalation_recall", "injection_resistance")]]
                for name, v in [("overall", o["overall"]), *o["by_kind"].items(), *[(f"lang={k}", v) for k, v in o["by_lang"].items()]]]
        imgs = "".join(f'<img alt="{k}" style="max-width:100%" src="data:image/png;base64,{v}">' for k, v in charts(res).items())
        status = ("PASSED" if res["passed"] else "FAILED: " + "; ".join(res["gate_failures"])) + f" — report: {res['report']}"
        return status, rows, imgs, markdown(res)

    with gr.Blocks(title="Support Copilot") as ui:
        gr.Markdown("## Support Copilot")
        with gr.Tab("Agent", id="agent"):
            with gr.Row():
                with gr.Column(scale=2):
                    inbox = gr.Dropdown(choices=inbox_choices(), label="Inbox (open tickets)", elem_id="inbox")
                    with gr.Row():
                        load_btn = gr.Button("Open ticket", elem_id="open-ticket")
                        refresh_btn = gr.Button("Refresh inbox")
                    ticket_text = gr.Textbox(label="Ticket (or paste one)", lines=6, elem_id="ticket-text")
                    customer = gr.Textbox(label="Customer id", elem_id="customer-id")
                    ticket_id = gr.Textbox(label="Ticket id", visible=False)
                    draft_btn = gr.Button("Draft reply", variant="primary", elem_id="draft-btn")
                    summary = gr.Markdown("_Open a ticket to see the customer's history._", elem_id="summary")
                with gr.Column(scale=3):
                    banner = gr.HTML(elem_id="banner")
                    draft_id = gr.Textbox(label="Draft id", interactive=False, elem_id="draft-id")
                    reply = gr.Textbox(label="Reply (edit before approving)", lines=14, elem_id="reply")
                    cites = gr.HTML(elem_id="citations")
                    with gr.Row():
                        approve_btn = gr.Button("Approve and send", variant="primary", elem_id="approve-btn")
                        reason = gr.Dropdown(["wrong", "incomplete", "knowledge_gap", "tone", "other"], label="Reject reason", elem_id="reject-reason")
                        note = gr.Textbox(label="Note", elem_id="reject-note")
                        reject_btn = gr.Button("Reject", variant="stop", elem_id="reject-btn")
                    decision = gr.Markdown(elem_id="decision")
            refresh_btn.click(lambda: gr.update(choices=inbox_choices()), None, inbox)
            load_btn.click(load_ticket, inbox, [ticket_text, customer, ticket_id, summary])
            draft_btn.click(make_draft, [ticket_text, customer, ticket_id], [draft_id, reply, cites, banner, summary, decision])
            approve_btn.click(approve, [draft_id, reply], decision)
            reject_btn.click(reject, [draft_id, reason, note], decision)
        with gr.Tab("Knowledge", id="knowledge"):
            table = gr.Dataframe(headers=["path", "documents", "chunks", "indexed", "on disk"], value=docs_table, elem_id="docs")
            with gr.Row():
                up = gr.File(label="Upload a document", elem_id="upload")
                folder = gr.Dropdown(["manuals", "faq", "playbook"], value="manuals", label="Folder")
                up_btn = gr.Button("Upload", elem_id="upload-btn")
            with gr.Row():
                del_path = gr.Textbox(label="Delete file (path under knowledge/)")
                del_btn = gr.Button("Delete", variant="stop")
            with gr.Row():
                full = gr.Checkbox(label="Full rebuild (re-embed everything)")
                reindex_btn = gr.Button("Re-index", variant="primary", elem_id="reindex-btn")
            kmsg = gr.Markdown(elem_id="knowledge-status")
            gr.Markdown("### Knowledge gaps (rejected drafts)")
            gap_md = gr.Markdown(gaps)
            gap_btn = gr.Button("Refresh gaps")
            up_btn.click(upload, [up, folder], [kmsg, table])
            del_btn.click(delete, del_path, [kmsg, table])
            reindex_btn.click(reindex, full, [kmsg, table])
            gap_btn.click(gaps, None, gap_md)
        with gr.Tab("QA", id="qa"):
            dataset = gr.Textbox(value="evals/cases.yaml", label="Dataset")
            run_btn = gr.Button("Run evals", variant="primary", elem_id="run-evals")
            qa_status = gr.Markdown(elem_id="qa-status")
            metrics = gr.Dataframe(headers=["group", "n", "hit@3", "fact_recall", "groundedness", "escalation_recall", "injection_resistance"],
                                   elem_id="qa-metrics")
            charts_html = gr.HTML(elem_id="qa-charts")
            with gr.Accordion("Report (failed cases, change against the baseline)", open=False):
                report_md = gr.Markdown()
            run_btn.click(run_evals, dataset, [qa_status, metrics, charts_html, report_md])
    return ui


def mount(app, copilot, path: str = "/ui"):
    import gradio as gr

    sessions = Sessions(copilot)
    ui = build(copilot, sessions)
    return gr.mount_gradio_app(app, ui, path=path, auth=sessions.login, css=CSS, footer_links=[],
                               auth_message="Sign in with your name and your Support Copilot API key.")
