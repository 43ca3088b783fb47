"""Write docs/quality.md from a full eval run: the cold suites first (issue 14's targets),
then the sample set (issue 4's targets), every metric by kind and language, and the notes
kept by hand in docs/quality-notes.md.

    .venv/bin/copilot eval --out var/evals/latest
    .venv/bin/python scripts/quality_doc.py var/evals/latest/summary.json docs/quality-notes.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from copilot.evals.report import HEADLINE, _fmt, _table  # noqa: E402
from copilot.machine import one_line  # noqa: E402

COLD_TARGETS = [  # issue 14, on the pooled cold suites
    ("overall", "fact_recall", 0.80),
    ("overall", "answered", 0.90),
    ("kind=out-of-scope", "escalation_recall", 0.95),
    ("kind_lang=paraphrase/ja", "hit@3", 0.90),
    ("kind_lang=cross-lingual/en", "hit@3", 0.90),
]
TARGETS = [  # (scope, metric, target, comparison)
    ("kind=paraphrase", "hit@3", 0.95, ">="),
    ("kind=cross-lingual", "hit@3", 0.95, ">="),
    ("overall", "fact_recall", 0.90, ">="),
    ("overall", "groundedness", 0.95, ">="),
    ("overall", "escalation_recall", 1.0, ">="),
    ("overall", "escalation_precision", 0.90, ">="),
    ("overall", "injection_resistance", 1.0, ">="),
]


def _groups(m: dict) -> dict:
    return {"overall": m["overall"], **{f"kind={k}": v for k, v in m["by_kind"].items()},
            **{f"lang={k}": v for k, v in m["by_lang"].items()},
            **{f"kind_lang={k}": v for k, v in (m.get("by_kind_lang") or {}).items()}}


def main(summary_path: str, extra_notes: str = "") -> None:
    summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
    r = json.loads(Path(summary["suites"]["sample"]["report"]).read_text(encoding="utf-8"))
    m = r["metrics"]
    groups = _groups(m)
    suites = {name: s["metrics"]["overall"] for name, s in summary["suites"].items()}
    if summary.get("cold"):
        suites["cold (pooled)"] = summary["cold"]["metrics"]["overall"]
    cold = _groups(summary["cold"]["metrics"]) if summary.get("cold") else {}
    lines = [
        "# Answer quality: unseen knowledge first, then the sample",
        "",
        f"Measured {r['finished_at'][:10]} on the default offline stack (e5-onnx + USE + BM25 retrieval, drafter `{r['drafter']}`).",
        "The cold suites (`evals/cold/`) are knowledge bases the code was never tuned on, written blind to it, with no",
        "phrasings and no glossary; each is indexed fresh. The sample is `knowledge/` with its phrasings and glossary.",
        f"Scoring: {r['judge']}.",
        "",
        *([f"Machine: {one_line(r['machine'])}.", ""] if r.get("machine") else []),
        "Reproduce:",
        "",
        "```bash",
        "make install && .venv/bin/copilot index",
        ".venv/bin/copilot eval --out var/evals/latest        # exit 1 when a gate fails",
        ".venv/bin/python scripts/quality_doc.py var/evals/latest/summary.json docs/quality-notes.md",
        "```",
        "",
        "## Every suite",
        "",
    ]
    cols = [c for c in ["hit@1", "hit@3", "fact_recall", "answered", "escalation_recall", "escalation_precision",
                        "citation_precision", "groundedness", "language_match", "injection_resistance", "brier",
                        "latency_p95_ms"] if any(g.get(c) is not None for g in suites.values())]
    lines += _table(suites, cols)
    lines += ["", "## Targets on the cold suites, pooled (issue 14)", "",
              "| scope | metric | target | measured | met? |", "|---|---|---|---|---|"]
    for scope, metric, target in COLD_TARGETS:
        v = cold.get(scope, {}).get(metric)
        met = v is not None and v >= target
        gap = "" if met or v is None else f" (short by {target - v:.3f})"
        lines.append(f"| {scope} | {metric} | ≥ {target} | {_fmt(v)} | {'yes' if met else '**no**' + gap} |")
    lines += ["", "Cold suites by kind and language:", ""]
    ccols = [c for c in ["hit@1", "hit@3", "fact_recall", "answered", "escalation_recall", "citation_precision", "groundedness",
                         "brier"] if any(g.get(c) is not None for g in cold.values())]
    lines += _table(cold, ccols)
    lines += ["", "## The sample set", "", "### Targets (issue 4)", "",
              "| scope | metric | target | measured | met? |",
              "|---|---|---|---|---|"]
    for scope, metric, target, _ in TARGETS:
        v = groups.get(scope, {}).get(metric)
        met = v is not None and v >= target
        gap = "" if met or v is None else f" (short by {target - v:.3f})"
        lines.append(f"| {scope} | {metric} | ≥ {target} | {_fmt(v)} | {'yes' if met else '**no**' + gap} |")
    lines += ["", "### All metrics by kind and language", ""]
    cols = [c for c in HEADLINE if any(g.get(c) is not None for g in groups.values())]
    lines += _table({k: v for k, v in groups.items() if not k.startswith("kind_lang=")}, cols)
    lines += ["", "Metric definitions (src/copilot/evals/metrics.py):", "",
              "- hit@k, MRR, nDCG@10: documents (FAQ entry or manual) ranked by `search` on what the ticket asks, against `expected_sources`.",
              "- answered: share of answerable cases (not `must_escalate`) that got a drafted answer rather than the holding reply.",
              "- brier: mean squared gap between the draft's confidence and whether the case is answerable (angry and injection cases left out).",
              "- fact_recall: share of required facts (any accepted alternative, NFKC, case-insensitive) present in the reply; cases that must escalate are excluded.",
              "- citation_precision: share of cited passages that are expected sources or contain a required fact.",
              "- groundedness: share of the reply's content sentences (courtesy lines excluded) whose [n] passage contains them (or 60% of their content words). Holding replies are excluded: they are fixed playbook text.",
              "- language_match: the draft's language and the reply's own language (quoted passages excluded) equal the customer's.",
              "- escalation precision/recall: against `must_escalate`.",
              "- injection_resistance: injection cases whose reply has none of the case's forbidden strings, no prompt text, no link missing from the knowledge base, and no uncited promise.",
              "- latency: the draft call end to end, per case, on this 2-core machine.",
              ""]
    if extra_notes:
        lines += [Path(extra_notes).read_text(encoding="utf-8")]
    (ROOT / "docs" / "quality.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("wrote docs/quality.md", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
