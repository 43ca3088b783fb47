"""Bilingual term base (用語集) that lets English questions reach Japanese articles.

`knowledge/glossary/*.csv` has the columns `en,ja[,note]`; alternatives are separated by `|`.
English queries are matched against the English terms (whole words, simple plurals), and the
Japanese terms of every match feed a lexical ranking over Japanese documents only. Knowledge
editors keep it next to the articles; it is versioned with each index build.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..domain import LoadIssue

GLOSSARY_DIR = "glossary"


def _term_pattern(term: str) -> str:
    """Whole-word match with simple English plurals: warranty/warranties, box/boxes, code/codes."""
    stem = re.escape(term)
    if term.endswith("y") and len(term) > 2 and term[-2] not in "aeiou":
        stem = re.escape(term[:-1]) + "(?:y|ies)"
        return r"(?<![a-z0-9])" + stem + r"(?![a-z0-9])"
    return r"(?<![a-z0-9])" + stem + r"(?:s|es)?(?![a-z0-9])"


class Glossary:
    def __init__(self, entries: list[tuple[list[str], list[str]]]) -> None:
        self.entries = entries
        self._patterns = [
            (re.compile("|".join(_term_pattern(t) for t in en)), ja)
            for en, ja in entries
            if en and ja
        ]

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def parse(cls, text: str, rel: str, issues: list[LoadIssue]) -> Glossary:
        entries: list[tuple[list[str], list[str]]] = []
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or not {"en", "ja"} <= {f.strip().lower() for f in reader.fieldnames}:
            issues.append(LoadIssue(rel, "glossary CSV needs the columns en,ja"))
            return cls([])
        for row in reader:
            row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
            en = [t.strip().lower() for t in row.get("en", "").split("|") if t.strip()]
            ja = [t.strip() for t in row.get("ja", "").split("|") if t.strip()]
            if not en or not ja:
                issues.append(LoadIssue(f"{rel}:row {reader.line_num}", "glossary row needs both en and ja terms"))
                continue
            entries.append((en, ja))
        return cls(entries)

    @classmethod
    def load_dir(cls, knowledge_dir: Path, issues: list[LoadIssue]) -> tuple[Glossary, str]:
        """Merge every CSV under knowledge/glossary/. Returns the glossary and its CSV text."""
        folder = knowledge_dir / GLOSSARY_DIR
        texts = []
        if folder.is_dir():
            for p in sorted(folder.glob("*.csv")):
                try:
                    texts.append(p.read_text(encoding="utf-8-sig"))
                except (UnicodeDecodeError, OSError) as exc:
                    issues.append(LoadIssue(f"{GLOSSARY_DIR}/{p.name}", f"cannot read glossary: {exc}"))
        merged = "en,ja\n" + "".join(
            "".join(line + "\n" for line in t.splitlines()[1:] if line.strip()) for t in texts
        )
        sub: list[LoadIssue] = []
        g = cls.parse(merged, f"{GLOSSARY_DIR}/*.csv", sub)
        issues.extend(sub)
        return g, merged

    def expand(self, query: str) -> list[str]:
        """Japanese terms for the English terms found in `query`."""
        q = " " + re.sub(r"[^a-z0-9.\-/+ ]", " ", query.lower()) + " "
        out: list[str] = []
        for pattern, ja in self._patterns:
            if pattern.search(q):
                out.extend(t for t in ja if t not in out)
        return out
