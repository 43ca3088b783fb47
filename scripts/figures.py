"""The quality figures a refactor must leave unchanged, in one table: the eval gate (sample and
cold suites) and the held-out retrieval sets. `python scripts/figures.py --out figures.json`;
two such files compare with `--compare A.json B.json`.

Runs on a fresh data dir under var/figures (the sample knowledge indexed with the defaults)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ["questions", "heldout", "heldout2", "heldout3", "heldout4", "out_of_scope"]
KEYS = ("n", "hit@1", "hit@3", "mrr", "fact_recall", "citation_precision", "groundedness", "escalation_recall",
        "escalation_precision", "answered")


def measure() -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from copilot import Copilot, Settings

    data = ROOT / "var" / "figures"
    shutil.rmtree(data, ignore_errors=True)
    c = Copilot(Settings(data_dir=data, knowledge_dir=ROOT / "knowledge"))
    c.index()
    out: dict[str, dict] = {}
    res = c.run_eval_all(ROOT / "evals", data / "evals")
    for name, s in res["suites"].items():
        out[f"eval:{name}"] = {k: s["metrics"]["overall"].get(k) for k in KEYS}
    for name in HELDOUT:
        r = c.run_eval(ROOT / "evals" / "retrieval" / f"{name}.yaml", data / "evals" / name)
        out[f"retrieval:{name}"] = {k: r["metrics"]["overall"].get(k) for k in KEYS}
    return out


def table(figs: dict, other: dict | None = None) -> str:
    cols = [k for k in KEYS if any(v.get(k) is not None for v in figs.values())]
    lines = ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, v in figs.items():
        cells = []
        for k in cols:
            a = v.get(k)
            b = (other or {}).get(name, {}).get(k)
            cell = "" if a is None else (f"{a:.3f}" if isinstance(a, float) else str(a))
            if other is not None and a != b:
                cell += f" (was {b})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    a = ap.parse_args()
    if a.compare:
        before, after = (json.loads(p.read_text()) for p in a.compare)
        print(table(after, before))
        return 0 if before == after else 1
    figs = measure()
    if a.out:
        a.out.write_text(json.dumps(figs, indent=1))
    print(table(figs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
