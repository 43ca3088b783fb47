"""Manual loaders: Markdown, plain text, HTML, PDF and Word, each turned into one Document of
titled sections."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ..analysis import detect_language
from ..domain import Document, Section
from ..errors import DocumentError



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
