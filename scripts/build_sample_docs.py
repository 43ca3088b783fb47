"""Render the PDF and .docx manuals of the sample knowledge base from their text sources.

    .venv/bin/python scripts/build_sample_docs.py

Sources live in scripts/knowledge_src/ (plain UTF-8 text) so reviews see real diffs; the
rendered files under knowledge/manuals/ are committed so a fresh clone needs no extra step.
reportlab's built-in Japanese CID font (HeiseiKakuGo-W5) needs no font files.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "scripts" / "knowledge_src"
OUT = ROOT / "knowledge" / "manuals"


def render_pdf(src: Path, dst: Path, title: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    body = ParagraphStyle("body", fontName="HeiseiKakuGo-W5", fontSize=10.5, leading=16, wordWrap="CJK")
    head = ParagraphStyle("head", parent=body, fontSize=13, leading=20, spaceBefore=8)
    story = []
    lines = src.read_text(encoding="utf-8").splitlines()
    for line in lines:
        s = line.strip()
        if not s:
            story.append(Spacer(1, 4))
            continue
        style = head if s.startswith("第") and "条" in s[:6] or s == lines[0].strip() else body
        story.append(Paragraph(s.replace("&", "&amp;").replace("<", "&lt;"), style))
    doc = SimpleDocTemplate(str(dst), pagesize=A4, title=title, author="Mirai Home Inc.",
                            invariant=1)  # invariant: same bytes for the same input
    doc.build(story)


def render_docx(src: Path, dst: Path, title: str) -> None:
    from docx import Document

    d = Document()
    d.core_properties.title = title
    for line in src.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("# "):
            d.add_heading(s[2:].strip(), level=1)
        else:
            d.add_paragraph(s)
    d.save(str(dst))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    terms = SRC / "returns_and_warranty_terms.txt"
    render_pdf(terms, OUT / "returns_and_warranty_terms.pdf", terms.read_text(encoding="utf-8").splitlines()[0].strip())
    guide = SRC / "app_user_guide_en.txt"
    render_docx(guide, OUT / "app_user_guide_en.docx", "Mirai Home App User Guide")
    print("wrote", OUT / "returns_and_warranty_terms.pdf", OUT / "app_user_guide_en.docx")


if __name__ == "__main__":
    main()
