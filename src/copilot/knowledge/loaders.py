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

import csv
import dataclasses
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from ..analysis import detect_language
from ..domain import Document, LoadIssue, Section
from ..errors import DocumentError

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


def _md_blocks(text: str) -> list[tuple[int, str, str]]:
    """(level, heading, body) per heading, using markdown-it for the structure."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    heads: list[tuple[int, str, int, int]] = []  # level, text, start line, end line of heading
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            inline = tokens[i + 1]
            heads.append((int(tok.tag[1]), inline.content.strip(), tok.map[0], tok.map[1]))
    blocks: list[tuple[int, str, str]] = []
    first = heads[0][2] if heads else len(lines)
    pre = "\n".join(lines[:first]).strip()
    if pre:
        blocks.append((0, "", pre))
    for j, (level, head, _start, end) in enumerate(heads):
        stop = heads[j + 1][2] if j + 1 < len(heads) else len(lines)
        blocks.append((level, head, "\n".join(lines[end:stop]).strip()))
    return blocks


def _clean_md(body: str) -> str:
    body = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", body)  # images -> alt text
    body = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", body)  # links keep their target
    body = re.sub(r"^\s*\|?\s*:?-{3,}.*$", "", body, flags=re.M)  # table rule lines
    body = re.sub(r"[*_`]{1,3}([^*_`\n]+)[*_`]{1,3}", r"\1", body)  # emphasis / code spans
    body = re.sub(r"^\s*>\s?", "", body, flags=re.M)
    return body.strip()


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


def _manual(rel: str, doc_type: str, title: str, sections: list[Section]) -> Document:
    title = title or Path(rel).stem
    sections = [s if s.heading else Section(title, s.text) for s in sections if s.text.strip()]
    if not sections:
        raise DocumentError(rel, "no text found")
    full = "\n".join(s.text for s in sections)
    return Document(
        doc_id=rel,
        source=rel,
        doc_type=doc_type,
        title=title or Path(rel).stem,
        lang=detect_language(full),
        sections=sections,
    )


def load_markdown(text: str, rel: str, doc_type: str) -> Document:
    blocks = _md_blocks(text)
    title = next((h for lvl, h, _ in blocks if lvl == 1), "")
    sections = [Section(h or title, _clean_md(b)) for _, h, b in blocks]
    return _manual(rel, doc_type, title, sections)


_TXT_HEADING = re.compile(
    r"^(?:第[0-9０-９一二三四五六七八九十百]+[条章節]|[■□◆●◇【]|#{1,6}\s|\d{1,2}[.．]\s*\S|[0-9０-９]{1,2}[)）]\s*\S|[A-Z][A-Za-z /&-]{2,40}$)"
)


def _sections_from_plain(text: str) -> tuple[str, list[Section]]:
    """Headings in plain text: 第N条, ■ titles, '# ' lines, or short lines framed by blanks."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    sections: list[Section] = []
    heading, buf, title = "", [], ""
    for i, line in enumerate(lines):
        s = line.strip()
        prev_blank = i == 0 or not lines[i - 1].strip()
        is_head = bool(s) and len(s) <= 40 and not s.endswith(("。", "、", ".", ",", "：", ":")) and (
            _TXT_HEADING.match(s) is not None or (prev_blank and i + 1 < len(lines) and not lines[i + 1].strip())
        )
        if is_head:
            if buf:
                sections.append(Section(heading or title, "\n".join(buf).strip()))
            heading = s.lstrip("#■□◆●◇ ").strip("【】 ")
            if not title:
                title = heading
            buf = []
        elif s:
            buf.append(s)
    if buf:
        sections.append(Section(heading or title, "\n".join(buf).strip()))
    return title, sections


def load_text(text: str, rel: str, doc_type: str) -> Document:
    title, sections = _sections_from_plain(text)
    return _manual(rel, doc_type, title, sections)


_BLOCK_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "dt", "dd", "blockquote", "figcaption", "caption"]


def load_html(text: str, rel: str, doc_type: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template"]):
        tag.decompose()
    body = soup.body or soup
    title = ""
    if soup.title and soup.title.string:
        title = soup.title.string.strip()
    sections: list[Section] = []
    heading, buf = "", []
    block_set = set(_BLOCK_TAGS)
    for el in body.find_all(_BLOCK_TAGS):
        if any(p.name in block_set for p in el.parents):
            continue
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            if buf:
                sections.append(Section(heading or title, "\n".join(buf)))
            heading, buf = el.get_text(" ", strip=True), []
            if el.name == "h1" and not title:
                title = heading
            continue
        if el.name == "tr":
            cells = [c.get_text(" ", strip=True) for c in el.find_all(["td", "th"])]
            line = " | ".join(c for c in cells if c)
        else:
            line = el.get_text(" ", strip=True)
        if line:
            buf.append(line)
    if buf:
        sections.append(Section(heading or title, "\n".join(buf)))
    if not sections:
        loose = body.get_text("\n", strip=True)
        if loose:
            sections = [Section(title, loose)]
    return _manual(rel, doc_type, title, sections)


def load_pdf(raw: bytes, rel: str, doc_type: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise DocumentError(rel, "PDF is password-protected; export an unprotected copy")
        pages = [(p.extract_text() or "") for p in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(rel, f"corrupt or unreadable PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise DocumentError(rel, f"corrupt or unreadable PDF: {type(exc).__name__}: {exc}") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise DocumentError(rel, "PDF has no extractable text (a scanned image?); add a text version")
    meta_title = ""
    try:
        meta_title = (reader.metadata.title or "").strip() if reader.metadata else ""
    except Exception:
        meta_title = ""
    title, sections = _sections_from_plain(_reflow(text))
    return _manual(rel, doc_type, meta_title or title, sections)


_LIST_ITEM = re.compile(r"^(?:\d{1,2}[.．)）]|[・•\-－*]|\([0-9０-９]+\)|（[0-9０-９]+）)\s*\S")
_TITLE_ONLY = re.compile(r"^(?:第[0-9０-９一二三四五六七八九十百]+[条章節]|[■□◆●◇【])")
_LINE_END = ("。", "！", "？", "!", "?", ".", ":", "：", "」", "』", ")", "）")


def _reflow(text: str) -> str:
    """PDF text comes wrapped at the page width: join lines that continue a sentence."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        starts_block = bool(_TXT_HEADING.match(line)) or bool(_LIST_ITEM.match(line))
        prev_is_title = bool(_TITLE_ONLY.match(prev)) or (len(prev) <= 30 and not any(p in prev for p in "。、.,"))
        if prev and not prev.endswith(_LINE_END) and not starts_block and not prev_is_title:
            joiner = " " if prev[-1].isascii() and line[0].isascii() else ""
            out[-1] = prev + joiner + line
        else:
            out.append(line)
    return "\n".join(out)


def load_docx(raw: bytes, rel: str, doc_type: str) -> Document:
    import zipfile

    from docx import Document as Docx

    try:
        d = Docx(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(rel, f"corrupt or unreadable .docx: {exc}") from exc
    except Exception as exc:
        raise DocumentError(rel, f"corrupt or unreadable .docx: {type(exc).__name__}: {exc}") from exc
    title = (d.core_properties.title or "").strip()
    sections: list[Section] = []
    heading, buf = "", []
    for para in d.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        txt = para.text.strip()
        if not txt:
            continue
        if style.startswith("Heading") or style == "Title":
            if buf:
                sections.append(Section(heading or title, "\n".join(buf)))
            heading, buf = txt, []
            if not title:
                title = txt
        else:
            buf.append(txt)
    for table in d.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                buf.append(" | ".join(cells))
    if buf:
        sections.append(Section(heading or title, "\n".join(buf)))
    return _manual(rel, doc_type, title, sections)


# --- dispatch ----------------------------------------------------------------------------


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
