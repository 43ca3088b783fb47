"""Turn agents' decisions into work for QA and knowledge editors.

- approved drafts the agent edited become candidate eval cases (the ticket, the text the agent
  actually sent, the evidence the draft used);
- drafts rejected as `knowledge_gap` become a report of questions the knowledge base misses.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def export_feedback(store, out_dir: Path) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    approved = [d for d in store.list_drafts("approved", limit=10_000) if d.diff]
    gaps = store.find_drafts(status="rejected", reject_reason="knowledge_gap", limit=10_000)[0]
    cases = [
        {"id": f"feedback-{d.draft_id}", "kind": "agent-edit", "lang": d.language, "ticket": d.ticket_text,
         "reference_reply": d.final_text, "draft_reply": d.reply, "evidence": d.evidence_ids[:5],
         "source": {"draft_id": d.draft_id, "approved_by": d.decided_by, "at": d.decided_at}}
        for d in approved
    ]
    (out_dir / "candidate_cases.yaml").write_text(yaml.safe_dump(cases, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lines = ["# Knowledge gaps reported by agents", "",
             "Tickets whose drafts were rejected because the knowledge base did not cover them.", ""]
    if not gaps:
        lines.append("None so far.")
    for d in gaps:
        lines += [f"## {d.draft_id} ({d.language}, {d.decided_at}, {d.decided_by})", "", "> " + d.ticket_text.replace("\n", "\n> "), ""]
        if d.reject_note:
            lines += [f"Agent's note: {d.reject_note}", ""]
        lines += [f"Closest passages: {', '.join(d.evidence_ids[:3]) or 'none'}", ""]
    (out_dir / "knowledge_gaps.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"candidate_cases": len(cases), "knowledge_gaps": len(gaps),
            "cases_file": str(out_dir / "candidate_cases.yaml"), "report": str(out_dir / "knowledge_gaps.md")}
