"""The panel's tabs (Agent, Knowledge, QA), one builder each, wired to the Handlers."""

from ..domain import REJECT_REASONS
from .handlers import Handlers
from .session import ReportLinks, Sessions


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
