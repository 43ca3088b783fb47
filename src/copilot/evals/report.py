"""Eval reports: report.json (everything), report.md (for review), report.html (self-contained,
with matplotlib charts embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from ..machine import one_line
from .metrics import reliability

HEADLINE = ["hit@1", "hit@3", "mrr", "ndcg@10", "fact_recall", "citation_precision", "groundedness", "language_match",
            "escalation_precision", "escalation_recall", "injection_resistance", "judge_faithful", "judge_helpful",
            "latency_p50_ms", "latency_p95_ms"]


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and v <= 1.0 else str(v)


def _table(groups: dict[str, dict], cols: list[str]) -> list[str]:
    lines = ["| group | n | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, m in groups.items():
        lines.append(f"| {name} | {m.get('n', '')} | " + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
    return lines


def markdown(result: dict) -> str:
    m = result["metrics"]
    lines = [f"# Eval report: `{result.get('dataset', '')}`", "",
             f"{'**PASSED**' if result.get('passed') else '**FAILED**'} · index {result.get('index_version', '')} · drafter "
             f"{result.get('drafter', '')} · scoring: {result.get('judge', '')} · {result.get('finished_at', '')}", ""]
    if result.get("machine"):
        lines += [f"Machine: {one_line(result['machine'])}", ""]
    if result.get("gate_failures"):
        lines += ["## Gate failures", ""] + [f"- {f}" for f in result["gate_failures"]] + [""]
    groups = {"overall": m["overall"], **{f"kind={k}": v for k, v in (m.get("by_kind") or {}).items()},
              **{f"lang={k}": v for k, v in (m.get("by_lang") or {}).items()},
              **{f"kind_lang={k}": v for k, v in (m.get("by_kind_lang") or {}).items()}}
    cols = [c for c in HEADLINE if any(g.get(c) is not None for g in groups.values())]
    lines += ["## Metrics", ""] + _table(groups, cols) + [""]
    if result.get("baseline"):
        lines += ["## Change against the baseline (overall)", "", "| metric | baseline | now | change |", "|---|---|---|---|"]
        base = result["baseline"]["metrics"]["overall"]
        for c in cols:
            a, b = base.get(c), m["overall"].get(c)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                lines.append(f"| {c} | {_fmt(a)} | {_fmt(b)} | {b - a:+.3f} |")
        lines.append("")
    rel = reliability(result.get("cases", []))
    if rel:
        lines += ["## Calibration", "", "Cases by confidence: the share that the knowledge answers (a calibrated",
                  "confidence matches its bin). Angry and injection cases are left out.", "",
                  "| confidence | n | mean confidence | answerable |", "|---|---|---|---|"]
        lines += [f"| {b['bin']} | {b['n']} | {_fmt(b['confidence'])} | {_fmt(b['answerable'])} |" for b in rel] + [""]
    failed = [r for r in result.get("cases", []) if r.get("failures")]
    if failed:
        lines += [f"## Failed cases ({len(failed)})", ""]
        for r in failed:
            lines += [f"### {r['id']} ({r['kind']}, {r['lang']})", "", "- " + "\n- ".join(r["failures"]),
                      f"- retrieved: {', '.join(r['retrieved'])}", f"- expected: {', '.join(r['expected_sources']) or '–'}", "",
                      "> " + r["ticket"].replace("\n", "\n> "), "", "```text", r["reply"], "```", ""]
    return "\n".join(lines) + "\n"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def charts(result: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result["metrics"]
    out = {}
    quality = ["hit@3", "fact_recall", "citation_precision", "groundedness", "language_match", "escalation_recall"]
    for section, title in (("by_kind", "by kind"), ("by_lang", "by language")):
        groups = m.get(section) or {}
        if not groups:
            continue
        fig, ax = plt.subplots(figsize=(9, 3.6))
        width = 0.8 / len(quality)
        names = list(groups)
        for j, metric in enumerate(quality):
            vals = [groups[g].get(metric) or 0 for g in names]
            ax.bar([i + j * width for i in range(len(names))], vals, width, label=metric)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=20)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"Quality {title}")
        ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        out[section] = _png(fig)
        plt.close(fig)
    lat = [r["ms"] for r in result.get("cases", [])]
    if lat:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(lat, bins=30, color="#4a7")
        ax.set_xlabel("ms per case (draft, end to end)")
        ax.set_title("Latency")
        out["latency"] = _png(fig)
        plt.close(fig)
    if result.get("baseline"):
        base = result["baseline"]["metrics"]["overall"]
        keys = [k for k in quality if isinstance(base.get(k), (int, float)) and isinstance(m["overall"].get(k), (int, float))]
        if keys:
            fig, ax = plt.subplots(figsize=(7, 3))
            ax.bar([i - 0.2 for i in range(len(keys))], [base[k] for k in keys], 0.4, label="baseline", color="#bbb")
            ax.bar([i + 0.2 for i in range(len(keys))], [m["overall"][k] for k in keys], 0.4, label="this run", color="#37a")
            ax.set_xticks(range(len(keys)), keys, rotation=20)
            ax.set_ylim(0, 1.05)
            ax.legend(fontsize=8)
            ax.set_title("Against the baseline (overall)")
            out["baseline"] = _png(fig)
            plt.close(fig)
    return out


def html_report(result: dict) -> str:
    from markdown_it import MarkdownIt

    md = markdown(result)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)  # escapes ticket text
    imgs = "".join(f'<figure><img alt="{html.escape(k)}" src="data:image/png;base64,{v}"></figure>' for k, v in charts(result).items())
    style = ("body{font-family:system-ui,'Hiragino Sans','Noto Sans JP',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}img{max-width:100%}figure{margin:1em 0}")
    return (f"<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>Eval report</title><style>{style}</style></head>"
            f"<body>{imgs}{body}</body></html>")


def redacted(result: dict) -> dict:
    """The result with personal data removed from every case's ticket, reply and failure notes:
    reports are shared and archived, and eval cases may come from real (exported) tickets."""
    from ..pii import redact

    clean = dict(result)
    clean["cases"] = [{**r, **{k: redact(r[k]) for k in ("ticket", "reply") if isinstance(r.get(k), str)},
                       "failures": [redact(f) for f in r.get("failures", [])]} for r in result.get("cases", [])]
    return clean


def write_reports(result: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    result = redacted(result)
    (out / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "report.md").write_text(markdown(result), encoding="utf-8")
    (out / "report.html").write_text(html_report(result), encoding="utf-8")
    return out / "report.json"


SUMMARY_COLS = ["hit@1", "hit@3", "fact_recall", "answered", "escalation_recall", "escalation_precision", "citation_precision",
                "groundedness", "language_match", "injection_resistance", "brier", "latency_p95_ms"]


def summary_markdown(result: dict) -> str:
    """One table for every suite of a full `copilot eval`: the sample and the cold suites."""
    lines = ["# Eval summary", "", f"{'**PASSED**' if result.get('passed') else '**FAILED**'}", ""]
    if result.get("machine"):
        lines += [f"Machine: {one_line(result['machine'])}", ""]
    if result.get("gate_failures"):
        lines += ["## Gate failures", ""] + [f"- {f}" for f in result["gate_failures"]] + [""]
    groups = {name: s["metrics"]["overall"] for name, s in result["suites"].items()}
    if result.get("cold"):
        groups["cold (pooled)"] = result["cold"]["metrics"]["overall"]
    cols = [c for c in SUMMARY_COLS if any(g.get(c) is not None for g in groups.values())]
    lines += ["## Suites", ""] + _table(groups, cols) + [""]
    for name, why in (result.get("skipped") or {}).items():
        lines.append(f"- {name}: skipped ({why})")
    lines += ["", "Reports per suite: " + ", ".join(f"[{n}]({Path(s['report']).parent.name}/report.html)"
                                                   for n, s in result["suites"].items())]
    return "\n".join(lines) + "\n"


def write_summary(result: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(result), encoding="utf-8")
    return out / "summary.json"
