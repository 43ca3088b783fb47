import io
import json

import pytest

from copilot.domain import LoadIssue
from copilot.errors import DocumentError
from copilot.knowledge.loaders import load_directory, load_file

pytestmark = pytest.mark.unit


def _load(root, rel, content, mode="w"):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    issues: list[LoadIssue] = []
    return load_file(p, root, issues), issues


def _pdf_bytes(lines, password=None):
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("HeiseiKakuGo-W5", 11)
    y = 800
    for line in lines:
        c.drawString(40, y, line)
        y -= 18
    c.save()
    raw = buf.getvalue()
    if password:
        from pypdf import PdfReader, PdfWriter

        w = PdfWriter()
        for page in PdfReader(io.BytesIO(raw)).pages:
            w.add_page(page)
        w.encrypt(password)
        out = io.BytesIO()
        w.write(out)
        raw = out.getvalue()
    return raw


def test_faq_csv_one_document_per_row_with_metadata(tmp_path):
    csv = "id,question,answer,tags,lang,url\nq1,送料は？,660円です。,shipping;fees,ja,https://x.example/q1\nq2,Refunds?,Within 14 days.,billing,,\n"
    docs, issues = _load(tmp_path, "faq/a.csv", csv)
    assert [d.doc_id for d in docs] == ["q1", "q2"]
    assert docs[0].tags == ["shipping", "fees"] and docs[0].url == "https://x.example/q1"
    assert docs[0].lang == "ja" and docs[1].lang == "en"  # detected when the column is empty
    assert docs[0].doc_type == "faq" and issues == []


def test_faq_row_without_answer_is_reported_and_the_rest_kept(tmp_path):
    csv = "id,question,answer\nq1,送料は？,660円です。\nq2,返品できますか,\nq3,保証期間は？,1年間です。\n"
    docs, issues = _load(tmp_path, "faq/a.csv", csv)
    assert [d.doc_id for d in docs] == ["q1", "q3"]
    assert len(issues) == 1 and issues[0].path == "faq/a.csv:row 3" and "no answer" in issues[0].reason


def test_faq_csv_row_cut_apart_by_an_unquoted_comma_is_reported_not_truncated(tmp_path):
    csv = 'id,question,answer,tags\nq1,送料は？,660円です。5,500円以上は無料です。,shipping\nq2,保証期間は？,"1年間です。5,000円の延長保証もあります。",\n'
    docs, issues = _load(tmp_path, "faq/a.csv", csv)
    assert [d.doc_id for d in docs] == ["q2"] and "5,000円" in docs[0].sections[0].text
    assert len(issues) == 1 and issues[0].path == "faq/a.csv:row 2" and "double quotes" in issues[0].reason


def test_faq_csv_without_required_columns(tmp_path):
    with pytest.raises(DocumentError, match="'question' and 'answer'"):
        _load(tmp_path, "faq/a.csv", "title,body\nx,y\n")


def test_faq_yaml_and_json(tmp_path):
    y = "- id: y1\n  question: How long is the warranty?\n  answer: One year.\n  tags: [warranty]\n"
    docs, _ = _load(tmp_path, "faq/a.yaml", y)
    assert docs[0].doc_id == "y1" and docs[0].tags == ["warranty"] and docs[0].lang == "en"
    j = json.dumps([{"id": "j1", "question": "アプリの対応OSは？", "answer": "iOS 16以降です。"}], ensure_ascii=False)
    docs, _ = _load(tmp_path, "faq/a.json", j)
    assert docs[0].doc_id == "j1" and docs[0].lang == "ja"


def test_invalid_yaml_and_json_name_the_problem(tmp_path):
    with pytest.raises(DocumentError, match="invalid YAML"):
        _load(tmp_path, "faq/bad.yaml", "- question: [unclosed\n")
    with pytest.raises(DocumentError, match="invalid JSON at line 1"):
        _load(tmp_path, "faq/bad.json", '[{"question": }]')


def test_faq_markdown_headings_are_questions(tmp_path):
    md = "# プライバシーFAQ\n\n## 位置情報は保存されますか\n\n保存しません。\n\n## データを削除できますか\n\nアプリから削除できます。\n"
    docs, _ = _load(tmp_path, "faq/p.md", md)
    assert [d.doc_id for d in docs] == ["faq/p.md#位置情報は保存されますか", "faq/p.md#データを削除できますか"]
    assert docs[1].sections[0].text == "アプリから削除できます。"


def test_markdown_manual_sections_follow_headings(tmp_path):
    md = "# ガイド\n\n前書きです。\n\n## 手順\n\n1. 電源を入れます。\n2. アプリを開きます。\n\n```\n# not a heading\n```\n"
    (doc,), _ = _load(tmp_path, "manuals/g.md", md)
    assert doc.title == "ガイド" and doc.doc_type == "manual"
    assert [s.heading for s in doc.sections] == ["ガイド", "手順"]
    assert "# not a heading" in doc.sections[1].text  # fenced code is not split on


def test_html_tables_become_rows_and_scripts_are_dropped(tmp_path):
    html = """<html lang="ja"><head><title>トラブル</title><script>alert(1)</script></head><body>
    <h1>トラブルシューティング</h1><h2>エラーコード</h2>
    <table><tr><th>コード</th><th>意味</th></tr><tr><td>E-203</td><td>2.4GHz帯が見つからない</td></tr></table>
    <ul><li><p>ルーターを再起動します。</p></li></ul></body></html>"""
    (doc,), _ = _load(tmp_path, "manuals/t.html", html)
    sec = {s.heading: s.text for s in doc.sections}
    assert "E-203 | 2.4GHz帯が見つからない" in sec["エラーコード"]
    assert sec["エラーコード"].count("ルーターを再起動します。") == 1
    assert "alert" not in " ".join(sec.values())


def test_text_manual_headings(tmp_path):
    txt = "返品規定\n\n第1条 対象\n当社の製品が対象です。\n\n第2条 期間\n到着後14日以内です。\n"
    (doc,), _ = _load(tmp_path, "manuals/r.txt", txt)
    assert [s.heading for s in doc.sections] == ["第1条 対象", "第2条 期間"]


def test_pdf_with_japanese_text(tmp_path):
    raw = _pdf_bytes(["返品・保証規定", "第1条 保証期間", "保証期間はお買い上げから1年間です。"])
    (doc,), _ = _load(tmp_path, "manuals/w.pdf", raw)
    assert doc.lang == "ja"
    assert any("1年間" in s.text for s in doc.sections)


def test_docx_headings_and_paragraphs(tmp_path):
    from docx import Document as Docx

    d = Docx()
    d.add_heading("App guide", level=1)
    d.add_paragraph("Open the app and tap Automations.")
    d.add_heading("Sharing", level=1)
    d.add_paragraph("Invite up to six people on Plus.")
    buf = io.BytesIO()
    d.save(buf)
    (doc,), _ = _load(tmp_path, "manuals/a.docx", buf.getvalue())
    assert [s.heading for s in doc.sections] == ["App guide", "Sharing"] and doc.lang == "en"


@pytest.mark.parametrize(
    "rel,content,reason",
    [
        ("manuals/broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "corrupt or unreadable PDF"),
        ("manuals/empty.md", b"", "file is empty"),
        ("manuals/blank.txt", "   \n\n", "no text"),
        ("manuals/bin.txt", b"\x00\x01\x02binary\x00", "binary data"),
        ("manuals/sjis.txt", "返品について".encode("cp932"), "Shift_JIS"),
        ("manuals/broken.docx", b"PK\x03\x04 not a zip", "corrupt or unreadable .docx"),
        ("manuals/image.png", b"\x89PNG\r\n", "unsupported file type .png"),
        ("faq/notes.txt", "hello", "unsupported FAQ file type .txt"),
    ],
)
def test_bad_files_raise_with_path_and_reason(tmp_path, rel, content, reason):
    with pytest.raises(DocumentError) as err:
        _load(tmp_path, rel, content)
    assert err.value.path == rel and reason in err.value.reason


def test_password_protected_pdf(tmp_path):
    raw = _pdf_bytes(["secret"], password="pw")
    with pytest.raises(DocumentError, match="password-protected"):
        _load(tmp_path, "manuals/locked.pdf", raw)


def test_directory_load_reports_bad_files_and_keeps_good_ones(tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "a.csv").write_text("id,question,answer\nq1,送料は？,660円です。\n", encoding="utf-8")
    (tmp_path / "manuals").mkdir()
    (tmp_path / "manuals" / "bad.pdf").write_bytes(b"%PDF garbage")
    (tmp_path / "manuals" / "ok.md").write_text("# OK\n\n本文です。\n", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("# hidden", encoding="utf-8")
    docs, issues, failed = load_directory(tmp_path)
    assert sorted(d.doc_id for d in docs) == ["manuals/ok.md", "q1"]
    assert [i.path for i in issues] == ["manuals/bad.pdf"] and failed == {"manuals/bad.pdf"}


def test_duplicate_ids_across_files_are_reported(tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "a.csv").write_text("id,question,answer\nq1,A?,a.\n", encoding="utf-8")
    (tmp_path / "faq" / "b.csv").write_text("id,question,answer\nq1,B?,b.\n", encoding="utf-8")
    docs, issues, _ = load_directory(tmp_path)
    assert [d.title for d in docs] == ["A?"]
    assert "already used in faq/a.csv" in issues[0].reason


def test_sample_knowledge_loads_cleanly():
    from conftest import KNOWLEDGE

    docs, issues, _ = load_directory(KNOWLEDGE)
    assert issues == []
    faq = [d for d in docs if d.doc_type == "faq"]
    assert len(faq) >= 60
    assert 0.15 <= sum(d.lang == "en" for d in faq) / len(faq) <= 0.35
    exts = {d.source.rsplit(".", 1)[-1] for d in docs if d.doc_type == "manual"}
    assert {"md", "html", "pdf", "txt", "docx"} <= exts


def test_huge_file_is_refused_before_it_is_read(tmp_path):
    from copilot.knowledge.loaders import MAX_FILE_BYTES

    (tmp_path / "manuals").mkdir()
    big = tmp_path / "manuals" / "huge.txt"
    with open(big, "wb") as fh:  # sparse: costs no disk
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DocumentError, match="MB limit") as info:
        load_file(big, tmp_path, [])
    assert "manuals/huge.txt" in str(info.value)


# --- FAQ phrasings: customers' wordings, searched but never quoted ------------------------


def test_faq_phrasings_in_every_format(tmp_path):
    csv = "id,question,answer,phrasings\nq1,送料は？,660円です。,送料 いくら| そうりょう  タダになる？ |\nq2,返品は？,8日以内です。,\n"
    docs, issues = _load(tmp_path, "faq/a.csv", csv)
    assert docs[0].phrasings == ["送料 いくら", "そうりょう タダになる？"] and docs[1].phrasings == [] and issues == []
    y = "- id: y1\n  question: Warranty?\n  answer: One year.\n  phrasings:\n  - my hub broke\n  - is it covered\n"
    docs, _ = _load(tmp_path, "faq/a.yaml", y)
    assert docs[0].phrasings == ["my hub broke", "is it covered"]
    j = json.dumps([{"id": "j1", "question": "対応OSは？", "answer": "iOS 16以降です。", "phrasings": ["あいふぉんで使える？"]}], ensure_ascii=False)
    docs, _ = _load(tmp_path, "faq/a.json", j)
    assert docs[0].phrasings == ["あいふぉんで使える？"]
    md = "## 位置情報は保存されますか\n\n<!-- phrasings: 場所 記録されてる？ | GPSのデータどうなるの -->\n\n保存しません。\n"
    docs, _ = _load(tmp_path, "faq/p.md", md)
    assert docs[0].phrasings == ["場所 記録されてる？", "GPSのデータどうなるの"]
    assert docs[0].sections[0].text == "保存しません。"  # the comment is not part of the answer


def test_bad_phrasings_are_reported_and_the_entry_kept(tmp_path):
    entries = [
        {"id": "a", "question": "Q1?", "answer": "A1.", "phrasings": {"not": "a list"}},
        {"id": "b", "question": "Q2?", "answer": "A2.", "phrasings": ["ok", "x" * 300]},
        {"id": "c", "question": "Q3?", "answer": "A3.", "phrasings": [f"way {i}" for i in range(25)]},
    ]
    docs, issues = _load(tmp_path, "faq/a.json", json.dumps(entries))
    assert [d.doc_id for d in docs] == ["a", "b", "c"]
    assert docs[0].phrasings == [] and docs[1].phrasings == ["ok"] and len(docs[2].phrasings) == 20
    reasons = {i.path: i.reason for i in issues}
    assert "list of strings" in reasons["faq/a.json:entry 1"]
    assert "longer than 200" in reasons["faq/a.json:entry 2"]
    assert "only the first 20" in reasons["faq/a.json:entry 3"]


def test_phrasings_change_the_version_and_no_phrasings_keep_it(tmp_path):
    base = "id,question,answer\nq1,送料は？,660円です。\n"
    (before,), _ = _load(tmp_path, "faq/a.csv", base)
    (empty,), _ = _load(tmp_path, "faq/a.csv", "id,question,answer,phrasings\nq1,送料は？,660円です。,\n")
    (phrased,), _ = _load(tmp_path, "faq/a.csv", "id,question,answer,phrasings\nq1,送料は？,660円です。,送料 いくら\n")
    # an empty column leaves the entry as it was (nothing re-embedded); a phrasing changes it
    assert before.version == empty.version != phrased.version


def test_sample_faq_entries_all_have_phrasings():
    from conftest import KNOWLEDGE

    docs, _, _ = load_directory(KNOWLEDGE)
    faq = [d for d in docs if d.doc_type == "faq"]
    assert all(len(d.phrasings) >= 3 for d in faq), [d.doc_id for d in faq if len(d.phrasings) < 3]


# --- manual sections: phrasings from knowledge/phrasings/*.yaml ----------------------------


MANUAL_MD = "# 返品規定\n\n## 返金\n代金は元の支払い方法に返金します。代引きの場合は銀行振込です。\n\n## 修理\n保証期間外のハブは5,500円です。\n"


def _kb_with_manual(root):
    (root / "manuals").mkdir(parents=True)
    (root / "manuals" / "terms.md").write_text(MANUAL_MD, encoding="utf-8")
    (root / "faq").mkdir()
    (root / "faq" / "a.csv").write_text("id,question,answer\nq1,送料は？,660円です。\n", encoding="utf-8")
    (root / "phrasings").mkdir()


def test_manual_sections_take_phrasings_from_the_phrasings_folder(tmp_path):
    _kb_with_manual(tmp_path)
    docs, issues, _ = load_directory(tmp_path)
    (plain,) = [d for d in docs if d.source == "manuals/terms.md"]
    (tmp_path / "phrasings" / "manuals.yaml").write_text(
        "manuals/terms.md:\n  返金:\n    - 代引きで払ったお金どうなる\n    - へんきん いつ\n", encoding="utf-8")
    docs, issues, failed = load_directory(tmp_path)
    assert issues == [] and failed == set()
    assert not any(d.source.startswith("phrasings/") for d in docs)  # not a document itself
    (phrased,) = [d for d in docs if d.source == "manuals/terms.md"]
    by_heading = {s.heading: s for s in phrased.sections}
    assert by_heading["返金"].phrasings == ("代引きで払ったお金どうなる", "へんきん いつ")
    assert by_heading["修理"].phrasings == () and by_heading["返金"].text == {s.heading: s for s in plain.sections}["返金"].text
    assert phrased.version != plain.version  # the manual is re-indexed when its phrasings change


def test_bad_section_phrasings_are_reported_and_everything_is_indexed(tmp_path):
    _kb_with_manual(tmp_path)
    ph = tmp_path / "phrasings"
    (ph / "a.yaml").write_text(
        "manuals/terms.md:\n  返金: [ok, " + "x" * 300 + "]\n  存在しない節: [a]\n"
        "manuals/gone.pdf:\n  x: [a]\n"
        "faq/a.csv:\n  送料は？: [a]\n", encoding="utf-8")
    (ph / "b.yaml").write_text("manuals/terms.md: [not, a, mapping]\n", encoding="utf-8")
    (ph / "c.yaml").write_text("manuals/terms.md:\n  返金: [\n", encoding="utf-8")
    (ph / "d.txt").write_text("返金: a\n", encoding="utf-8")
    (ph / "e.yaml").write_text("manuals/terms.md:\n  返金: [again]\n", encoding="utf-8")
    docs, issues, failed = load_directory(tmp_path)
    reasons = {i.path: i.reason for i in issues}
    assert "longer than 200" in reasons["phrasings/a.yaml: manuals/terms.md # 返金"]
    assert "no section" in reasons["phrasings/a.yaml: manuals/terms.md # 存在しない節"]
    assert "no such document" in reasons["phrasings/a.yaml: manuals/gone.pdf"]
    assert "FAQ entries take their phrasings in their own file" in reasons["phrasings/a.yaml: faq/a.csv"]
    assert "expected a mapping" in reasons["phrasings/b.yaml"]
    assert "invalid YAML" in reasons["phrasings/c.yaml"]
    assert "YAML" in reasons["phrasings/d.txt"]
    assert "given twice; the first are used" in reasons["phrasings/e.yaml: manuals/terms.md # 返金"]
    assert failed == set() and {d.source for d in docs} == {"manuals/terms.md", "faq/a.csv"}
    (manual,) = [d for d in docs if d.source == "manuals/terms.md"]
    assert {s.heading: s.phrasings for s in manual.sections}["返金"] == ("ok",)


def test_sample_manual_sections_have_phrasings():
    from conftest import KNOWLEDGE

    docs, issues, _ = load_directory(KNOWLEDGE)
    assert not [i for i in issues if i.path.startswith("phrasings/")]
    sections = [s for d in docs if d.doc_type == "manual" for s in d.sections]
    assert sections and all(len(s.phrasings) >= 3 for s in sections), [s.heading for s in sections if len(s.phrasings) < 3]
