"""Set the eval gate's floors from measured variation (issue 27; docs/quality.md#how-the-gate-floors-are-set).

    .venv/bin/python scripts/gate_floors.py RUN_DIR [RUN_DIR ...]            # print the table
    .venv/bin/python scripts/gate_floors.py RUN_DIR [RUN_DIR ...] --write    # and rewrite the floors

Each RUN_DIR is the `--out` folder of one `copilot eval` (its `sample/report.json` and
`cold/report.json`): repeated runs, runs on other processors, runs with other arithmetic
(`COPILOT_EMBEDDER=e5-onnx:float32`). For every minimum in evals/thresholds.yaml (the sample)
and evals/cold/thresholds.yaml (the cold suites, pooled), the floor is the one-sided 95% Wilson
lower bound (gate.wilson_lower) of the lowest figure any run measured, over the number of cases
that metric counts, rounded down to 0.01. Maxima (latency) are left as they are. `--write`
replaces the numbers in place and keeps every comment; it also prints which cases differ between
runs, the measured variation itself.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from copilot.evals.gate import LOWER_IS_BETTER, wilson_lower  # noqa: E402

SUITES = {"sample": ROOT / "evals" / "thresholds.yaml", "cold": ROOT / "evals" / "cold" / "thresholds.yaml"}
SECTIONS = {"overall": None, "by_kind": "by_kind", "by_lang": "by_lang", "by_kind_lang": "by_kind_lang"}


def _group(metrics: dict, section: str, name: str | None) -> dict:
    return metrics["overall"] if section == "overall" else (metrics.get(section) or {}).get(name) or {}


def floors(runs: list[dict], thresholds: dict) -> list[dict]:
    """One row per gated (scope, metric): each run's figure and count, and the floor they give."""
    rows = []
    for section, table in (thresholds.get("minimums") or {}).items():
        entries = [(None, table)] if section == "overall" else list(table.items())
        for name, metrics in entries:
            for metric, current in metrics.items():
                if metric in LOWER_IS_BETTER:
                    continue
                figures = []
                for run in runs:
                    g = _group(run["metrics"], section, name)
                    if g.get(metric) is not None:
                        figures.append((g[metric], (g.get("counts") or {}).get(metric, g.get("n", 0))))
                if not figures:
                    continue
                lowest = min(v for v, _ in figures)
                n = min(c for _, c in figures)
                bound = min(wilson_lower(v, c) for v, c in figures)
                rows.append({"section": section, "name": name, "metric": metric, "figures": [v for v, _ in figures], "n": n,
                             "lowest": lowest, "bound": round(bound, 4), "floor": math.floor(bound * 100 + 1e-9) / 100,
                             "current": current})
    return rows


def flips(runs: list[dict]) -> dict[str, int]:
    """Cases whose pass/fail differs between runs, per per-case measure: the run-to-run variation."""
    out: dict[str, int] = {}
    by_id = [{r["id"]: r for r in run["cases"]} for run in runs]
    for cid in by_id[0]:
        rows = [b.get(cid) for b in by_id]
        if any(r is None for r in rows):
            continue
        for key, read in (("hit@3", lambda r: (r.get("retrieval") or {}).get("hit@3")), ("escalated", lambda r: r.get("escalated")),
                          ("fact_recall", lambda r: r.get("fact_recall"))):
            if len({json.dumps(read(r)) for r in rows}) > 1:
                out[key] = out.get(key, 0) + 1
    return out


def rewrite(path: Path, rows: list[dict]) -> None:
    """Replace each floor's number in the YAML text under `minimums:`, keeping comments, layout
    and the `requirements:` as they are."""
    text = path.read_text(encoding="utf-8").splitlines()
    top = section = None
    for i, line in enumerate(text):
        if re.match(r"^\w+:", line):
            top, section = line.split(":", 1)[0], None
            continue
        head = re.match(r"^  (\w+):\s*(#.*)?$", line)
        if head:
            section = head.group(1)
            continue
        if top != "minimums":
            continue
        for row in rows:
            if row["section"] != section:
                continue
            key = row["metric"] if row["name"] is None else str(row["name"])
            if re.match(rf"^    {re.escape(key)}:", text[i]):
                text[i] = re.sub(rf"(\b{re.escape(row['metric'])}:\s*)([0-9.]+)",
                                 lambda m, r=row: f"{m.group(1)}{r['floor']:.2f}", text[i], count=1)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="`copilot eval --out` folders")
    ap.add_argument("--write", action="store_true", help="rewrite the floors in the thresholds files")
    a = ap.parse_args()
    for suite, path in SUITES.items():
        runs = [json.loads((r / suite / "report.json").read_text(encoding="utf-8")) for r in a.runs]
        thresholds = yaml.safe_load(path.read_text(encoding="utf-8"))
        rows = floors(runs, thresholds)
        print(f"\n### {suite} ({path.relative_to(ROOT)}), {len(runs)} runs; cases that differ between runs: {flips(runs) or 'none'}\n")
        unmet = floors(runs, {"minimums": thresholds.get("requirements") or {}})
        for r in unmet:
            if r["lowest"] < r["current"]:
                print(f"- requirement not met by every run: {r['section']} {r['name'] or ''} {r['metric']} lowest {r['lowest']}")
        print("| scope | metric | cases | measured (each run) | lowest | 95% lower bound | floor | was |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            scope = "overall" if r["name"] is None else f"{r['section'][3:]}={r['name']}"
            print(f"| {scope} | {r['metric']} | {r['n']} | {' / '.join(f'{v:.3f}' for v in r['figures'])} | {r['lowest']:.3f} "
                  f"| {r['bound']:.3f} | {r['floor']:.2f} | {r['current']} |")
        if a.write:
            rewrite(path, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
