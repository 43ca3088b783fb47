"""Retrieval quality on a question set: hit@1, hit@3, MRR per kind and language.

A question file is a YAML list of {id, kind, lang, question, expected: [doc ids]}. A result
counts as a hit when its document id (FAQ id, `path#heading` for Markdown FAQ, or the manual's
path) is one of the expected ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import InputError

DEFAULT_THRESHOLDS = {
    "ja-paraphrase": {"hit@1": 0.85, "hit@3": 0.95},
    "en-to-ja": {"hit@1": 0.85, "hit@3": 0.95},
}


@dataclass
class Question:
    id: str
    kind: str
    lang: str
    question: str
    expected: list[str]


def load_questions(path: Path) -> list[Question]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"question file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict):
        data = data.get("questions")
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected a non-empty list of questions")
    out = []
    for i, q in enumerate(data, 1):
        try:
            out.append(Question(str(q["id"]), str(q["kind"]), str(q.get("lang", "")), str(q["question"]), [str(e) for e in q["expected"]]))
        except (KeyError, TypeError) as exc:
            raise InputError(f"{path}: question {i} lacks {exc}") from exc
    return out


def _summarise(rows: list[dict]) -> dict:
    n = len(rows)
    return {
        "n": n,
        "hit@1": round(sum(r["rank"] == 1 for r in rows) / n, 4),
        "hit@3": round(sum(0 < r["rank"] <= 3 for r in rows) / n, 4),
        "hit@5": round(sum(0 < r["rank"] <= 5 for r in rows) / n, 4),
        "mrr": round(sum(1 / r["rank"] for r in rows if r["rank"]) / n, 4),
    }


def evaluate(copilot, questions: list[Question], k: int = 10, thresholds: dict | None = None) -> dict:
    """Run every question through Copilot.search; return metrics, failures and a pass flag."""
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        hits = copilot.search(q.question, k)
        ms = (time.perf_counter() - t0) * 1000
        rank = next((h.rank for h in hits if h.chunk.doc_id in q.expected), 0)
        rows.append({"id": q.id, "kind": q.kind, "lang": q.lang, "question": q.question, "rank": rank,
                     "ms": round(ms, 2), "expected": q.expected, "top3": [h.chunk.doc_id for h in hits[:3]]})
    by_kind = {kind: _summarise([r for r in rows if r["kind"] == kind]) for kind in sorted({r["kind"] for r in rows})}
    by_lang = {lang: _summarise([r for r in rows if r["lang"] == lang]) for lang in sorted({r["lang"] for r in rows})}
    checks = []
    for kind, mins in thresholds.items():
        if kind not in by_kind:
            continue
        for metric, floor in mins.items():
            got = by_kind[kind][metric]
            checks.append({"kind": kind, "metric": metric, "min": floor, "value": got, "ok": got >= floor})
    lat = sorted(r["ms"] for r in rows)
    return {
        "metrics": {"overall": _summarise(rows), "by_kind": by_kind, "by_lang": by_lang,
                    "latency_ms": {"p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))]}},
        "checks": checks,
        "passed": all(c["ok"] for c in checks),
        "failures": [r for r in rows if not (0 < r["rank"] <= 3)],
        "ranks": {r["id"]: r["rank"] for r in rows},  # 0: not in the top k; for paired comparisons
    }
