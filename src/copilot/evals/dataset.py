"""Eval datasets: the project's YAML cases, the retrieval question files, and BEIR folders."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import InputError

KINDS = ("fact", "paraphrase", "cross-lingual", "multi-part", "out-of-scope", "angry", "injection")
# kinds used by evals/retrieval/*.yaml, mapped onto the case kinds
_ALIASES = {"ja-paraphrase": "paraphrase", "en-to-ja": "cross-lingual", "en": "fact", "exact": "fact"}


@dataclass
class Case:
    id: str
    kind: str
    lang: str
    ticket: str
    expected_sources: list[str] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)  # each fact: accepted alternatives
    must_escalate: bool = False
    forbidden: list[str] = field(default_factory=list)
    context: str | None = None  # earlier turns of a conversation (the ticket is the latest message)


def _case(d: dict, where: str) -> Case:
    if not isinstance(d, dict):
        raise InputError(f"{where}: a case must be a mapping")
    ticket = d.get("ticket") or d.get("question")
    if not d.get("id") or not ticket:
        raise InputError(f"{where}: a case needs 'id' and 'ticket'")
    kind = _ALIASES.get(str(d.get("kind", "fact")), str(d.get("kind", "fact")))
    if kind not in KINDS:
        raise InputError(f"{where} ({d['id']}): kind {kind!r} is not one of {', '.join(KINDS)}")
    facts = []
    for f in d.get("facts") or []:
        facts.append([str(x) for x in f] if isinstance(f, list) else [str(f)])
    return Case(
        id=str(d["id"]), kind=kind, lang=str(d.get("lang") or ""), ticket=str(ticket).strip(),
        expected_sources=[str(x) for x in (d.get("expected_sources") or d.get("expected") or [])],
        facts=facts, must_escalate=bool(d.get("must_escalate", kind == "out-of-scope")),
        forbidden=[str(x) for x in d.get("forbidden") or []], context=str(d["context"]).strip() if d.get("context") else None,
    )


@dataclass
class Suite:
    """A case file with its own knowledge base (a cold suite): `knowledge:` names the folder,
    relative to the file; `layout: manuals` puts a flat folder of articles under manuals/;
    `settings:` holds the few settings a team would set for that knowledge (link domains)."""

    name: str
    path: Path
    cases: list[Case]
    knowledge: Path | None = None
    layout: str = ""
    settings: dict = field(default_factory=dict)


_SUITE_SETTINGS = ("link_domains", "brand")


def load_suite(path: Path) -> Suite:
    path = Path(path)
    cases = load_cases(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return Suite(path.stem, path, cases)
    knowledge = data.get("knowledge")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict) or any(k not in _SUITE_SETTINGS for k in settings):
        raise InputError(f"{path}: settings may only set {', '.join(_SUITE_SETTINGS)}")
    layout = str(data.get("layout") or "")
    if layout not in ("", "manuals"):
        raise InputError(f"{path}: layout must be 'manuals' or absent")
    return Suite(str(data.get("suite") or path.parent.name), path, cases,
                 (path.parent / str(knowledge)).resolve() if knowledge else None, layout, settings)


def load_cases(path: Path) -> list[Case]:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: use it as a BEIR dataset (load_beir)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"dataset not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict):
        data = data.get("cases") or data.get("questions")
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected a non-empty list of cases")
    cases = [_case(d, f"{path.name} item {i}") for i, d in enumerate(data, 1)]
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise InputError(f"{path}: duplicate case ids: {', '.join(sorted(dup))}")
    return cases


@dataclass
class BeirDataset:
    corpus: list[dict]  # {_id, title, text}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """A BEIR folder: corpus.jsonl (_id,title,text), queries.jsonl (_id,text), qrels/<split>.tsv."""
    folder = Path(folder)
    for need in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / need).exists():
            raise InputError(f"{folder}: not a BEIR dataset (missing {need})")

    def jsonl(p: Path) -> list[dict]:
        rows = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{p}:{n}: invalid JSON: {exc.msg}") from exc
        return rows

    corpus = [{"_id": str(r["_id"]), "title": r.get("title") or "", "text": r.get("text") or ""} for r in jsonl(folder / "corpus.jsonl")]
    queries = {str(r["_id"]): r["text"] for r in jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if not row or row[0] in ("query-id", "query_id"):
                continue
            qid, did, score = row[0], row[1], int(float(row[2])) if len(row) > 2 else 1
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    return BeirDataset(corpus, queries, {q: r for q, r in qrels.items() if q in queries})
