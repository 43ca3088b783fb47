"""Conversation cases (evals/cold/*/conversations.yaml) drafted twice: from the whole
conversation, and from the latest message alone, on each suite's own knowledge.

    .venv/bin/python scripts/conversation_eval.py
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("n", "hit@1", "hit@3", "fact_recall", "answered", "escalation_recall", "groundedness")


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from copilot import Copilot, Settings
    from copilot.evals.dataset import load_suite
    from copilot.evals.runner import run_cases
    from copilot.evals.suites import suite_copilot

    data = ROOT / "var" / "conversation-eval"
    shutil.rmtree(data, ignore_errors=True)
    base = Copilot(Settings(data_dir=data, knowledge_dir=ROOT / "knowledge"))
    print("| suite | read | " + " | ".join(KEYS) + " |\n|---|---|" + "---|" * len(KEYS))
    for path in sorted((ROOT / "evals" / "cold").glob("*/conversations.yaml")):
        suite = load_suite(path)
        with suite_copilot(base, suite) as c:
            for label, cases in (("conversation", suite.cases),
                                 ("latest message only", [dataclasses.replace(x, context=None) for x in suite.cases])):
                m = run_cases(c, cases, judge=False)["metrics"]["overall"]
                cells = [f"{m.get(k):.3f}" if isinstance(m.get(k), float) else str(m.get(k, "")) for k in KEYS]
                print(f"| {suite.name} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
