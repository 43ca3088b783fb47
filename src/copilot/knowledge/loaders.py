"""Loaders: one function per format, each turning a file into Documents.

The top-level folder decides what a file is: files under ``faq/`` are FAQ (CSV, YAML, JSON or
Markdown with ``## question`` headings, one entry per Document); files under ``playbook/`` are
the agent playbook; everything else is a manual (.md .txt .html .pdf .docx). A file that cannot
be read raises DocumentError with its path and the reason; FAQ rows without an answer are
reported one by one and the rest of the file is kept.

``glossary/`` and ``phrasings/`` are not documents: the first is the term base (glossary.py),
the second holds YAML files that give manual sections their customers' phrasings
(apply_section_phrasings), since a PDF or a Word file has nowhere to put them.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..domain import Document, LoadIssue
from ..errors import DocumentError
from .faq import _phrasings, load_faq_csv, load_faq_json, load_faq_markdown, load_faq_yaml
from .manuals import load_docx, load_html, load_markdown, load_pdf, load_text

log = logging.getLogger(__name__)

FAQ_EXTS = {".csv", ".yaml", ".yml", ".json", ".md"}
MANUAL_EXTS = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"}
MAX_FILE_BYTES = 50 * 1024 * 1024
PHRASINGS_DIR = "phrasings"


def doc_type_for(rel: str) -> str:
    top = rel.split("/", 1)[0].lower()
    if top == "faq":
        return "faq"
    if top == "playbook":
        return "playbook"
    return "manual"


# --- reading -----------------------------------------------------------------------------


def _read_bytes(path: Path, rel: str) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(rel, f"cannot read file: {exc.strerror}") from exc
    if size == 0:
        raise DocumentError(rel, "file is empty")
    if size > MAX_FILE_BYTES:
        raise DocumentError(rel, f"file is {size // (1024 * 1024)} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit")
    return path.read_bytes()


def _decode(raw: bytes, rel: str) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError(rel, "binary data in a text file (NUL bytes); expected UTF-8 text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            raw.decode("cp932")
            hint = "; it looks like Shift_JIS/CP932: save it as UTF-8 (Excel: 'CSV UTF-8')"
        except UnicodeDecodeError:
            pass
        raise DocumentError(rel, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}){hint}") from exc
    if not text.strip():
        raise DocumentError(rel, "file has no text")
    return text


# --- FAQ ---------------------------------------------------------------------------------



def load_file(path: Path, root: Path, issues: list[LoadIssue]) -> list[Document]:
    """Load one file. Raises DocumentError for a bad file; appends partial problems to issues."""
    rel = path.relative_to(root).as_posix()
    ext = path.suffix.lower()
    doc_type = doc_type_for(rel)
    if doc_type == "faq":
        if ext not in FAQ_EXTS:
            raise DocumentError(rel, f"unsupported FAQ file type {ext or '(none)'} (use .csv .yaml .json or .md)")
    elif ext not in MANUAL_EXTS:
        raise DocumentError(rel, f"unsupported file type {ext or '(none)'} (use {' '.join(sorted(MANUAL_EXTS))})")
    raw = _read_bytes(path, rel)
    if ext == ".pdf":
        return [load_pdf(raw, rel, doc_type)]
    if ext == ".docx":
        return [load_docx(raw, rel, doc_type)]
    text = _decode(raw, rel)
    if doc_type == "faq":
        if ext == ".csv":
            return load_faq_csv(text, rel, issues)
        if ext in (".yaml", ".yml"):
            return load_faq_yaml(text, rel, issues)
        if ext == ".json":
            return load_faq_json(text, rel, issues)
        return load_faq_markdown(text, rel, issues)
    if ext in (".md", ".markdown"):
        return [load_markdown(text, rel, doc_type)]
    if ext in (".html", ".htm"):
        return [load_html(text, rel, doc_type)]
    return [load_text(text, rel, doc_type)]


def iter_files(root: Path) -> list[Path]:
    """Every file under root except hidden ones and README files, in a stable order."""
    out = []
    for p in sorted(root.rglob("*")):
        rel_parts = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if rel_parts[0] in ("glossary", PHRASINGS_DIR):  # not documents (see the module docstring)
            continue
        if p.is_file() and p.name.lower() not in ("readme.md", "readme.txt"):
            out.append(p)
    return out


def load_directory(root: Path) -> tuple[list[Document], list[LoadIssue], set[str]]:
    """Load every file under root. Returns documents, issues, and the sources that failed whole."""
    if not root.is_dir():
        raise DocumentError(str(root), "knowledge folder does not exist")
    docs: list[Document] = []
    issues: list[LoadIssue] = []
    failed: set[str] = set()
    ids: dict[str, str] = {}
    for path in iter_files(root):
        try:
            loaded = load_file(path, root, issues)
        except DocumentError as exc:
            issues.append(LoadIssue(exc.path, exc.reason))
            failed.add(path.relative_to(root).as_posix())
            log.warning("skipped %s: %s", exc.path, exc.reason)
            continue
        for d in loaded:
            if d.doc_id in ids:
                issues.append(LoadIssue(d.source, f"id {d.doc_id!r} is already used in {ids[d.doc_id]}; this entry is skipped"))
                continue
            ids[d.doc_id] = d.source
            docs.append(d)
    return apply_section_phrasings(root, docs, issues), issues, failed


def apply_section_phrasings(root: Path, docs: list[Document], issues: list[LoadIssue]) -> list[Document]:
    """Give manual sections the phrasings listed in knowledge/phrasings/*.yaml:

        manuals/returns_and_warranty_terms.pdf:
          第6条 返金:
            - 代引きで払ったお金はどうやって返ってくる？
            - 返金 いつ

    Keys are a document's path under the knowledge folder and a section heading exactly as
    `copilot search` shows it. A file that cannot be read, an unknown document or section, or a
    bad phrasing is reported and skipped; the documents are indexed either way. Returns the
    documents, those with phrasings replaced by phrased copies (a new version each)."""
    import yaml

    folder = root / PHRASINGS_DIR
    if not folder.is_dir():
        return docs
    by_source = {d.source: d for d in docs if d.doc_type != "faq"}
    faq_sources = {d.source for d in docs if d.doc_type == "faq"}
    wanted: dict[str, dict[str, list[str]]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in (".yaml", ".yml"):
            issues.append(LoadIssue(rel, "phrasings files are YAML (.yaml or .yml); ignored"))
            continue
        try:
            data = yaml.safe_load(_decode(_read_bytes(path, rel), rel))
        except DocumentError as exc:
            issues.append(LoadIssue(rel, exc.reason))
            continue
        except yaml.YAMLError as exc:
            issues.append(LoadIssue(rel, f"invalid YAML: {str(exc).splitlines()[0]}; ignored"))
            continue
        if data is None:
            continue
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            issues.append(LoadIssue(rel, "expected a mapping of document path -> section heading -> phrasings; ignored"))
            continue
        for source, sections in data.items():
            source = str(source)
            if source in faq_sources:
                issues.append(LoadIssue(f"{rel}: {source}", "FAQ entries take their phrasings in their own file; ignored"))
                continue
            doc = by_source.get(source)
            if doc is None:
                issues.append(LoadIssue(f"{rel}: {source}", "no such document in the knowledge folder (or it failed to load); ignored"))
                continue
            headings = {s.heading for s in doc.sections}
            for heading, raw in sections.items():
                heading = str(heading)
                where = f"{rel}: {source} # {heading}"
                if heading not in headings:
                    issues.append(LoadIssue(where, "no section with this heading in the document; ignored"))
                    continue
                if heading in wanted.get(source, {}):
                    issues.append(LoadIssue(where, "phrasings for this section are given twice; the first are used"))
                    continue
                wanted.setdefault(source, {})[heading] = _phrasings(raw, where, issues)
    if not wanted:
        return docs
    out: list[Document] = []
    for d in docs:
        given = wanted.get(d.source) if d.doc_type != "faq" else None
        if given and any(given.values()):
            d = dataclasses.replace(d, sections=[dataclasses.replace(s, phrasings=tuple(given.get(s.heading, ()))) for s in d.sections])
        out.append(d)
    return out
