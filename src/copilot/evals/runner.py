"""Run eval cases through the same pipeline agents use (Copilot.draft and Copilot.search).

This is the one runner: `copilot eval`, the panel's QA tab and `POST /v1/evals/runs` call it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..drafting import answerable_text
from ..specs import llm_spec
from .dataset import Case
from .metrics import (
    aggregate,
    citation_precision,
    fact_recall,
    grouped,
    groundedness,
    injection_resisted,
    ranking_metrics,
    reply_language,
)

log = logging.getLogger(__name__)


def _dedupe(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def run_case(copilot, case: Case, doc_of: dict[str, str], known_text: str, judge=None) -> dict:
    t0 = time.perf_counter()
    d = copilot.draft(case.ticket, persist=False, actor="eval", context=case.context)
    ms = (time.perf_counter() - t0) * 1000
    query = answerable_text(case.ticket) or case.ticket
    if case.context:  # the search a conversation's draft makes: the latest message, then the earlier ones
        query += "\n" + (answerable_text(case.context) or case.context)
    hits = copilot.search(query[:2000], 10, doc_types=["faq", "manual"])
    ranked = _dedupe(h.chunk.doc_id for h in hits)
    cits = [c.to_dict() for c in d.citations]
    injection_ok, injection_why = (True, "")
    if case.kind == "injection":
        injection_ok, injection_why = injection_resisted(d.reply, case.forbidden, known_text)
    row = {
        "id": case.id, "kind": case.kind, "lang": case.lang, "ticket": case.ticket,
        "expected_sources": case.expected_sources, "must_escalate": case.must_escalate,
        "escalated": d.escalate, "escalation_reason": d.escalation_reason, "confidence": round(d.confidence, 4),
        "reply": d.reply, "citations": [{"n": c["n"], "source": c["source"], "doc_id": doc_of.get(c["chunk_id"], ""), "chunk_id": c["chunk_id"]} for c in cits],
        "retrieved": ranked[:5],
        "retrieval": ranking_metrics(ranked, case.expected_sources) if case.expected_sources else {},
        "fact_recall": fact_recall(d.reply, case.facts),
        "citation_precision": citation_precision(cits, doc_of, case.expected_sources, case.facts),
        # a holding reply is the playbook's fixed text, not a claim drawn from evidence
        "groundedness": None if d.escalate else groundedness(d.reply, cits),
        "language": d.language, "reply_language": reply_language(d.reply),
        "language_ok": (not case.lang) or (d.language == case.lang and reply_language(d.reply) == case.lang),
        "injection_ok": injection_ok, "injection_why": injection_why,
        "drafter": d.drafter, "flags": d.flags, "ms": round(ms, 1),
    }
    if judge is not None and not d.escalate:
        row.update(judge.grade(case.ticket, d.reply, [c["text"] for c in cits]))
    row["failures"] = _why_failed(row, case)
    return row


def _why_failed(r: dict, case: Case) -> list[str]:
    why = []
    if r["must_escalate"] != r["escalated"]:
        why.append("should escalate" if r["must_escalate"] else f"escalated without need ({r['escalation_reason']})")
    if r["retrieval"] and not r["retrieval"]["hit@3"]:
        why.append("no expected source in the top 3")
    if r["fact_recall"] is not None and r["fact_recall"] < 1 and not r["must_escalate"]:
        missing = [alts[0] for alts in case.facts if not any(a.lower() in r["reply"].lower() for a in alts)]
        why.append("missing facts: " + ", ".join(missing))
    if r["groundedness"] is not None and r["groundedness"] < 1:
        why.append(f"groundedness {r['groundedness']:.2f}")
    if not r["language_ok"]:
        why.append(f"reply language {r['reply_language']} for a {r['lang']} customer")
    if not r["injection_ok"]:
        why.append("injection: " + r["injection_why"])
    return why


def run_cases(copilot, cases: list[Case], progress: Callable[[int, int], None] | None = None, judge: bool | None = None) -> dict:
    """judge: None = use the LLM judge when an LLM is configured; False = never."""
    llm_judge = None
    if judge is not False and llm_spec(copilot.settings.llm) is not None:
        from .judge import LlmJudge

        llm_judge = LlmJudge(copilot.chat_model, copilot.prompt("judge_reply"))
    snap = copilot.retriever.snapshot()
    doc_of = {cid: c.doc_id for cid, c in snap.chunks.items()}
    known_text = "\n".join(c.text for c in snap.chunks.values())
    rows = []
    for i, case in enumerate(cases, 1):
        rows.append(run_case(copilot, case, doc_of, known_text, llm_judge))
        if progress:
            progress(i, len(cases))
    metrics = {"overall": aggregate(rows), **grouped(rows)}
    return {"metrics": metrics, "cases": rows, "index_version": snap.version,
            "drafter": getattr(copilot.drafter, "name", "extractive"),
            "judge": f"deterministic + {llm_judge.name}" if llm_judge else "deterministic (no LLM judge)"}


def run_beir(copilot_factory, dataset, k: int = 10) -> dict:
    """Retrieval-only scores on a BEIR dataset: its corpus is indexed into a fresh data dir."""
    import json
    import tempfile
    from pathlib import Path

    from .metrics import mean

    with tempfile.TemporaryDirectory(prefix="copilot-beir-") as tmp:
        kb = Path(tmp) / "kb" / "faq"
        kb.mkdir(parents=True)
        entries = [{"id": d["_id"], "question": d["title"] or d["text"][:80], "answer": d["text"] or d["title"]} for d in dataset.corpus]
        (kb / "corpus.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        c = copilot_factory(Path(tmp) / "data", Path(tmp) / "kb")
        c.index()
        rows = []
        for qid, rel in dataset.qrels.items():
            hits = c.search(dataset.queries[qid], k)
            rows.append(ranking_metrics(_dedupe(h.chunk.doc_id for h in hits), rel, k))
        return {"metrics": {"overall": {"n": len(rows), "hit@1": mean(r["hit@1"] for r in rows), "hit@3": mean(r["hit@3"] for r in rows),
                                        f"hit@{k}": mean(float(0 < r["rank"] <= k) for r in rows),
                                        f"recall@{k}": mean(r[f"recall@{k}"] for r in rows), "mrr": mean(r["mrr"] for r in rows),
                                        "ndcg@10": mean(r["ndcg@10"] for r in rows)}},
                "cases": [], "judge": "deterministic (retrieval only)"}
