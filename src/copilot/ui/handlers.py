"""The panel's events: each checked against the access policy (`guarded`), each calling the
composition root only."""

import html
from pathlib import Path

from .. import access
from .session import ReportLinks, Sessions, _citations_html, _conversation_html, _error, _summary_md, guarded


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
        ds = access.eval_dataset(dataset or "", self.evals_dir)

        def cb(i, n):
            if progress is not None:
                progress(i / n if n else 0.0, desc=f"case {i}/{n}")

        res = self.c.run_eval(ds, progress=cb)
        o = res["metrics"]
        rows = [[name, *[v.get(k) for k in ("n", "hit@3", "fact_recall", "groundedness", "escalation_recall", "injection_resistance")]]
                for name, v in [("overall", o["overall"]), *o["by_kind"].items(), *[(f"lang={k}", v) for k, v in o["by_lang"].items()]]]
        charts, report_md = self.c.eval_views(res)
        imgs = "".join(f'<img alt="{k}" style="max-width:100%" src="data:image/png;base64,{v}">' for k, v in charts.items())
        verdict = "PASSED" if res["passed"] else "FAILED: " + "; ".join(res["gate_failures"])
        link = self.links.link(res["report"])
        status = f'{html.escape(verdict)} — <a id="report-link" href="{html.escape(link)}" target="_blank">open the HTML report</a>'
        return status, rows, imgs, report_md

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
