"""Recall and precision of the PII detector on a labelled set.

    .venv/bin/python -m copilot.evals.pii [evals/pii/labelled.jsonl] [--json]

A labelled line is {"id", "lang", "text", "spans": [{"kind", "text"}]}. A found span counts as
correct when it has the gold span's kind and covers it with an overlap of at least 80% of the
longer of the two. "Redacted" is the privacy view: the share of gold spans whose characters
are all gone after `redact`, whatever kind the detector gave them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from ..pii import KINDS, find_pii

DEFAULT = Path("evals") / "pii" / "labelled.jsonl"  # run from the project folder (make, CI)


def load(path: Path) -> list[dict]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(f"labelled set not found: {path}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = []
            for sp in row["spans"]:
                start = row["text"].find(sp["text"])
                if start < 0:
                    raise InputError(f"{path}:{n}: span {sp['text']!r} is not in the text")
                gold.append((sp["kind"], start, start + len(sp["text"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{n}: not a labelled line ({exc})") from exc
        rows.append({"id": row.get("id", str(n)), "lang": row.get("lang", ""), "text": row["text"], "gold": gold})
    return rows


def _match(a: tuple[int, int], b: tuple[int, int]) -> bool:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter > 0 and inter >= 0.8 * max(a[1] - a[0], b[1] - b[0])


def score(rows: list[dict]) -> dict:
    counts = {k: {"tp": 0, "fp": 0, "fn": 0, "gold": 0, "redacted": 0} for k in KINDS}
    by_lang: dict[str, dict] = {}
    errors = []
    for r in rows:
        found = [(s.kind, s.start, s.end) for s in find_pii(r["text"])]
        lang = by_lang.setdefault(r["lang"], {"tp": 0, "fp": 0, "fn": 0})
        used: set[int] = set()
        for kind, a, b in r["gold"]:
            c = counts[kind]
            c["gold"] += 1
            if all(any(fa <= i < fb for _, fa, fb in found) for i in range(a, b)):
                c["redacted"] += 1
            hit = next((j for j, (fk, fa, fb) in enumerate(found) if j not in used and fk == kind and _match((a, b), (fa, fb))), None)
            if hit is None:
                c["fn"] += 1
                lang["fn"] += 1
                errors.append({"id": r["id"], "error": "missed", "kind": kind, "span": r["text"][a:b]})
            else:
                used.add(hit)
                c["tp"] += 1
                lang["tp"] += 1
        for j, (fk, fa, fb) in enumerate(found):
            if j not in used:
                counts[fk]["fp"] += 1
                lang["fp"] += 1
                errors.append({"id": r["id"], "error": "false positive", "kind": fk, "span": r["text"][fa:fb]})

    def pr(c: dict) -> dict:
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        out = {"precision": round(tp / (tp + fp), 4) if tp + fp else 1.0, "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
               "tp": tp, "fp": fp, "fn": fn}
        if "gold" in c:
            out["redacted"] = round(c["redacted"] / c["gold"], 4) if c["gold"] else 1.0
        return out

    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn", "gold", "redacted")}
    return {"strings": len(rows), "overall": pr(total), "by_kind": {k: pr(c) for k, c in counts.items()},
            "by_lang": {k: pr(v) for k, v in sorted(by_lang.items())}, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    try:
        result = score(load(Path(args[0]) if args else DEFAULT))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"{result['strings']} strings")
    print("| group | precision | recall | redacted | tp | fp | fn |\n|---|---|---|---|---|---|---|")
    for name, v in [("**all**", result["overall"]), *result["by_kind"].items(), *[(f"lang={k}", v) for k, v in result["by_lang"].items()]]:
        print(f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v.get('redacted', float('nan')):.3f} | {v['tp']} | {v['fp']} | {v['fn']} |")
    for e in result["errors"]:
        print(f"  {e['id']}: {e['error']} {e['kind']}: {e['span']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
