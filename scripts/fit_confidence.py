"""Refit the confidence model (`copilot.drafting.confidence.MODEL`) and report its calibration per set.

The model decides when a draft escalates because the knowledge base does not answer the
ticket. It must hold on knowledge it was never tuned on, so it is fitted on several knowledge
bases at once and judged per set by a model fitted *without* that set (leave one set out):

- sample: the project's own knowledge (knowledge/), with its retrieval questions
  (evals/retrieval/*.yaml, in scope) and out-of-scope questions;
- every cold suite in evals/cold/*/cases.yaml, each on its own knowledge folder.

Cases that the playbook escalates anyway (anger, injection, escalation triggers) are left out:
their label says nothing about coverage.

    .venv/bin/python scripts/fit_confidence.py [--out docs/img/calibration.png] [--write]

prints the weights, each set's AUC, Brier score and reliability table (held out), and a
threshold sweep over the pooled held-out predictions; --write puts the model into
src/copilot/drafting/confidence.py.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_IN = ["questions.yaml", "heldout.yaml", "heldout2.yaml", "heldout3.yaml", "heldout4.yaml"]


def _rows(copilot, tickets: list[tuple[str, int]]) -> list[tuple[list[float], int]]:
    from copilot.drafting.confidence import FEATURES
    from copilot.safety import escalation_triggers, is_angry

    out = []
    for text, label in tickets:
        if escalation_triggers(text) or is_angry(text):
            continue
        f = copilot.gather(text).evidence_score.features()
        out.append(([f[n] for n in FEATURES], label))
    return out


def collect(tmp: Path, rows=_rows) -> dict[str, list[tuple[list[float], int]]]:
    """Every set's (features, label) rows; `rows(copilot, tickets)` computes them (scripts
    that try another feature pass their own)."""
    from copilot.config import Settings
    from copilot.evals.dataset import load_cases, load_suite
    from copilot.evals.suites import suite_copilot
    from copilot.evals.retrieval import load_questions
    from copilot.service import Copilot

    sets: dict[str, list] = {}
    base = Copilot(Settings(data_dir=tmp / "sample", knowledge_dir=ROOT / "knowledge"))
    base.index()
    tickets = [(q.question, 1) for name in SAMPLE_IN for q in load_questions(ROOT / "evals/retrieval" / name)]
    tickets += [(q.question, 0) for q in load_questions(ROOT / "evals/retrieval/out_of_scope.yaml")]
    tickets += [(c.ticket, int(not c.must_escalate)) for c in load_cases(ROOT / "evals/cases.yaml")
                if c.kind not in ("angry", "injection")]
    sets["sample"] = rows(base, tickets)
    print(f"sample: {len(sets['sample'])} tickets", file=sys.stderr)
    for path in sorted((ROOT / "evals/cold").glob("*/cases.yaml")):
        suite = load_suite(path)
        if suite.knowledge is None or not suite.knowledge.is_dir():
            print(f"{suite.name}: skipped (no knowledge folder here)", file=sys.stderr)
            continue
        with suite_copilot(base, suite) as c:
            sets[suite.name] = rows(c, [(x.ticket, int(not x.must_escalate)) for x in suite.cases
                                         if x.kind not in ("angry", "injection")])
        print(f"{suite.name}: {len(sets[suite.name])} tickets", file=sys.stderr)
    return sets


def _fit(X, y):
    from sklearn.linear_model import LogisticRegression

    # balanced: far fewer out-of-scope tickets than answerable ones in every set
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(X, y)


def held_out(sets, columns: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each set's (predictions, labels) from a model fitted on the other sets, on the first
    `columns` features (all by default)."""
    held = {}
    for name in sets:
        train = [r for n, rows in sets.items() if n != name for r in rows]
        lr = _fit(np.array([r[0][:columns] for r in train]), np.array([r[1] for r in train]))
        X, y = np.array([r[0][:columns] for r in sets[name]]), np.array([r[1] for r in sets[name]])
        held[name] = (lr.predict_proba(X)[:, 1], y)
    return held


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 5) -> list[tuple[str, int, float, float]]:
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        m = (p >= lo) & ((p < hi) | (b == bins - 1))
        if m.any():
            out.append((f"{lo:.1f}-{hi:.1f}", int(m.sum()), float(p[m].mean()), float(y[m].mean())))
    return out


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import roc_auc_score

    from copilot.drafting.confidence import FEATURES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write the calibration chart (PNG) here")
    ap.add_argument("--cache", type=Path, default=None, help="keep the features in this JSON file and reuse them")
    ap.add_argument("--write", action="store_true", help="write the fitted model into src/copilot/drafting/confidence.py")
    ap.add_argument("--min-answered", type=float, default=0.89,
                    help="threshold: the highest that still answers this share of answerable cold tickets, held out "
                         "(0.89: at 0.90 the rule gave 0.25, which lets a tenth more out-of-scope tickets through for one ticket in 240)")
    args = ap.parse_args(argv)
    if args.cache and args.cache.exists():
        import json

        sets = json.loads(args.cache.read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="fit-confidence-") as tmp:
            sets = collect(Path(tmp))
        if args.cache:
            import json

            args.cache.write_text(json.dumps(sets))
    held = held_out(sets)
    allrows = [r for rows in sets.values() for r in rows]
    lr = _fit(np.array([r[0] for r in allrows]), np.array([r[1] for r in allrows]))
    w = tuple(round(float(v), 4) for v in lr.coef_[0])
    b = round(float(lr.intercept_[0]), 4)
    print(f"weights ({', '.join(FEATURES)}): {w}; bias {b}")
    print("\nheld-out calibration per set (model fitted without the set):")
    print("| set | n | answerable | out of scope | AUC | Brier |\n|---|---|---|---|---|---|")
    for name, (p, y) in held.items():
        auc = roc_auc_score(y, p) if 0 < y.sum() < len(y) else float("nan")
        print(f"| {name} | {len(y)} | {int(y.sum())} | {int(len(y) - y.sum())} | {auc:.3f} | {np.mean((p - y) ** 2):.3f} |")
    cold = [n for n in held if n != "sample"]
    P = np.concatenate([held[n][0] for n in cold]) if cold else np.array([])
    Y = np.concatenate([held[n][1] for n in cold]) if cold else np.array([])
    print("\nthreshold sweep on the cold sets (held-out predictions): answered = answerable not escalated")
    print("| threshold | answered | out of scope escalated |\n|---|---|---|")
    chosen = 0.2
    for t in np.arange(0.20, 0.81, 0.05):
        answered = float((P[Y == 1] >= t).mean()) if (Y == 1).any() else float("nan")
        oos = float((P[Y == 0] < t).mean()) if (Y == 0).any() else float("nan")
        print(f"| {t:.2f} | {answered:.3f} | {oos:.3f} |")
        if answered >= args.min_answered:
            chosen = round(float(t), 2)
    # an agent reviews every draft, so a wrong "answer" costs a look; an escalated answerable
    # ticket costs a reply written by hand: the threshold keeps answering first
    print(f"\nthreshold: {chosen} (the highest answering >= {args.min_answered} of the answerable cold tickets, held out)")
    for name, (p, y) in held.items():
        print(f"\nreliability, {name}: bin, n, mean confidence, share answerable")
        for row in reliability(p, y):
            print("  %s  %3d  %.2f  %.2f" % row)
    if args.out:
        _chart(held, args.out)
        print(f"\nchart: {args.out}")
    if args.write:
        path = ROOT / "src/copilot/drafting/confidence.py"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^MODEL = .*$", f"MODEL = ({w}, {b}, {chosen})", text, count=1, flags=re.M)
        path.write_text(text, encoding="utf-8")
        print(f"written to {path}")
    return 0


def _chart(held: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="calibrated")
    for name, (p, y) in held.items():
        rel = reliability(p, y)
        ax.plot([r[2] for r in rel], [r[3] for r in rel], marker="o", label=f"{name} (n={len(y)})")
    ax.set_xlabel("confidence (model fitted without this set)")
    ax.set_ylabel("share of tickets the knowledge answers")
    ax.set_title("Confidence calibration per knowledge base")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


if __name__ == "__main__":
    sys.exit(main())
