"""FAQ loaders: CSV, YAML, JSON and Markdown (``## question`` headings), one Document per entry,
with customers' phrasings. Rows without an answer are reported one by one; the rest is kept."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from ..analysis import detect_language
from ..domain import Document, LoadIssue, Section
from ..errors import DocumentError


from .manuals import _clean_md, _md_blocks


def _faq_doc(rel: str, entry: dict, where: str, issues: list[LoadIssue]) -> Document | None:
    q = str(entry.get("question") or "").strip()
    a = str(entry.get("answer") or "").strip()
    if not q:
        issues.append(LoadIssue(f"{rel}{where}", "FAQ entry has no question"))
        return None
    if not a:
        issues.append(LoadIssue(f"{rel}{where}", f"FAQ entry {q[:40]!r} has no answer"))
        return None
    tags = entry.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in re.split(r"[;,]", tags) if t.strip()]
    elif isinstance(tags, list):
        tags = [str(t).strip() for t in tags if str(t).strip()]
    else:
        issues.append(LoadIssue(f"{rel}{where}", "tags must be a list or a ';'-separated string"))
        tags = []
    lang = str(entry.get("lang") or "").strip().lower() or detect_language(q + a)
    if lang not in ("ja", "en"):
        issues.append(LoadIssue(f"{rel}{where}", f"unknown lang {lang!r}; using the detected language"))
        lang = detect_language(q + a)
    doc_id = str(entry.get("id") or "").strip() or f"{rel}#{q}"
    phrasings = _phrasings(entry.get("phrasings"), f"{rel}{where}", issues)
    return Document(
        doc_id=doc_id,
        source=rel,
        doc_type="faq",
        title=q,
        lang=lang,
        sections=[Section(q, a)],
        tags=tags,
        url=(str(entry.get("url")).strip() or None) if entry.get("url") else None,
        phrasings=phrasings,
    )


MAX_PHRASINGS = 20
MAX_PHRASING_CHARS = 200


def _phrasings(raw, where: str, issues: list[LoadIssue]) -> list[str]:
    """Phrasings (of an FAQ entry or a manual section): a list, or one string with '|' or line breaks between them.
    Blank and repeated ones are dropped; an over-long one or more than MAX_PHRASINGS are
    reported and left out (the entry itself is still indexed)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        items = re.split(r"[|\n]", raw)
    elif isinstance(raw, list) and all(isinstance(x, (str, int, float)) for x in raw):
        items = [str(x) for x in raw]
    else:
        issues.append(LoadIssue(where, "phrasings must be a list of strings or one '|'-separated string; ignored"))
        return []
    out: list[str] = []
    for item in items:
        text = " ".join(item.split())
        if not text or text in out:
            continue
        if len(text) > MAX_PHRASING_CHARS:
            issues.append(LoadIssue(where, f"phrasing {text[:30]!r}... is longer than {MAX_PHRASING_CHARS} characters; left out"))
            continue
        out.append(text)
    if len(out) > MAX_PHRASINGS:
        issues.append(LoadIssue(where, f"{len(out)} phrasings; only the first {MAX_PHRASINGS} are used"))
        out = out[:MAX_PHRASINGS]
    return out


def _faq_from_entries(rel: str, entries: Iterator[tuple[str, dict]], issues: list[LoadIssue]) -> list[Document]:
    docs: list[Document] = []
    seen: set[str] = set()
    for where, entry in entries:
        doc = _faq_doc(rel, entry, where, issues)
        if doc is None:
            continue
        if doc.doc_id in seen:
            issues.append(LoadIssue(f"{rel}{where}", f"duplicate FAQ id {doc.doc_id!r}; the first one is kept"))
            continue
        seen.add(doc.doc_id)
        docs.append(doc)
    if not docs:
        raise DocumentError(rel, "no usable FAQ entries")
    return docs


def load_faq_csv(text: str, rel: str, issues: list[LoadIssue]) -> list[Document]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DocumentError(rel, f"malformed CSV: {exc}") from exc
    if "question" not in header or "answer" not in header:
        raise DocumentError(rel, f"CSV header must have 'question' and 'answer' columns (found: {', '.join(header) or 'none'})")

    def rows():
        try:
            for row in reader:
                if row.get(None):  # more fields than the header: an unquoted comma cut the row apart
                    issues.append(LoadIssue(f"{rel}:row {reader.line_num}", (
                        f"{len(header) + len(row[None])} fields but the header has {len(header)}: put a field that "
                        "contains a comma in double quotes; row skipped")))
                    continue
                clean = {(k or "").strip().lower(): (v or "") for k, v in row.items() if k is not None}
                if not any(str(v).strip() for v in clean.values()):
                    continue
                yield f":row {reader.line_num}", clean
        except csv.Error as exc:
            raise DocumentError(rel, f"malformed CSV at line {reader.line_num}: {exc}") from exc

    return _faq_from_entries(rel, rows(), issues)


def _entries_list(data, rel: str) -> list:
    if isinstance(data, dict):
        for key in ("faq", "entries", "items"):
            if isinstance(data.get(key), list):
                return data[key]
    if not isinstance(data, list):
        raise DocumentError(rel, "expected a list of FAQ entries (mappings with question and answer)")
    return data


def _mapping_entries(items: list, rel: str, issues: list[LoadIssue]):
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            issues.append(LoadIssue(f"{rel}:entry {i}", "entry is not a mapping with question and answer"))
            continue
        yield f":entry {i}", item


def load_faq_yaml(text: str, rel: str, issues: list[LoadIssue]) -> list[Document]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(rel, f"invalid YAML: {str(exc).splitlines()[0]}") from exc
    return _faq_from_entries(rel, _mapping_entries(_entries_list(data, rel), rel, issues), issues)


def load_faq_json(text: str, rel: str, issues: list[LoadIssue]) -> list[Document]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(rel, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    return _faq_from_entries(rel, _mapping_entries(_entries_list(data, rel), rel, issues), issues)



_MD_PHRASINGS = re.compile(r"<!--\s*phrasings\s*:(.*?)-->", re.S | re.I)


def load_faq_markdown(text: str, rel: str, issues: list[LoadIssue]) -> list[Document]:
    blocks = _md_blocks(text)
    entries = []
    for level, head, body in blocks:
        if level == 2:
            # phrasings sit in an HTML comment under the question: invisible when rendered
            found = _MD_PHRASINGS.findall(body)
            body = _MD_PHRASINGS.sub("", body)
            entry = {"question": head, "answer": _clean_md(body), "id": f"{rel}#{head}"}
            if found:
                entry["phrasings"] = "|".join(found)
            entries.append((f"#{head}", entry))
    if not entries:
        raise DocumentError(rel, "no '## question' headings found in FAQ Markdown")
    return _faq_from_entries(rel, iter(entries), issues)


# --- manuals -----------------------------------------------------------------------------
