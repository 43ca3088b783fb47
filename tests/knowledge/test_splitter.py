import pytest

from copilot.domain import Document, Section
from copilot.knowledge.splitter import Splitter
from copilot.tokens import count_tokens

pytestmark = pytest.mark.unit

JA_SENTENCES = [f"手順{i}では、ハブの電源ボタンを{i}秒間押し続けてから、アプリの「デバイス追加」画面に戻ってください。" for i in range(1, 40)]


def _manual(text, heading="設定"):
    return Document(doc_id="m.md", source="manuals/m.md", doc_type="manual", title="ガイド", lang="ja", sections=[Section(heading, text)])


def test_faq_entry_is_one_chunk_with_question_and_answer():
    doc = Document(doc_id="q1", source="faq/a.csv", doc_type="faq", title="送料は？", lang="ja",
                   sections=[Section("送料は？", "660円です。" * 200)])
    (chunk,) = Splitter(64, 8).split(doc)
    assert chunk.text.startswith("送料は？\n660円です。") and chunk.doc_id == "q1"


def test_manual_chunks_respect_token_limit_and_end_on_sentence_boundaries():
    sp = Splitter(max_tokens=120, overlap=30)
    chunks = sp.split(_manual("".join(JA_SENTENCES)))
    assert len(chunks) > 3
    for c in chunks:
        assert count_tokens(c.text) <= 120
        assert c.text.endswith("。")  # never cut inside a sentence
        assert c.section == "設定" and c.lang == "ja" and c.source == "manuals/m.md"


def test_overlap_repeats_the_last_sentence_of_the_previous_chunk():
    chunks = Splitter(max_tokens=120, overlap=40).split(_manual("".join(JA_SENTENCES)))
    for prev, nxt in zip(chunks, chunks[1:]):
        last = prev.text.split("。")[-2] + "。"
        assert nxt.text.startswith(last)


def test_no_overlap_when_disabled():
    chunks = Splitter(max_tokens=120, overlap=0).split(_manual("".join(JA_SENTENCES)))
    joined = "".join(c.text for c in chunks)
    assert joined == "".join(JA_SENTENCES)


def test_overlong_sentence_is_cut_on_token_boundaries():
    chunks = Splitter(max_tokens=50, overlap=10).split(_manual("あ" * 1000))
    assert len(chunks) > 1 and all(count_tokens(c.text) <= 50 for c in chunks)


def test_line_structure_is_kept_for_tables():
    text = "E-101 | パスワード違い | 再入力してください\nE-203 | 2.4GHz帯なし | SSIDを選び直してください"
    (chunk,) = Splitter(200, 20).split(_manual(text))
    assert chunk.text.split("\n") == text.split("\n")


def test_chunk_ids_are_content_hashes():
    a = Splitter(120, 30).split(_manual("".join(JA_SENTENCES)))
    b = Splitter(120, 30).split(_manual("".join(JA_SENTENCES)))
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    changed = Splitter(120, 30).split(_manual("".join(JA_SENTENCES[:-1]) + "変更しました。"))
    assert a[0].chunk_id == changed[0].chunk_id and a[-1].chunk_id != changed[-1].chunk_id
    assert len({c.chunk_id for c in a}) == len(a)


def test_overlap_must_be_smaller_than_size():
    with pytest.raises(ValueError):
        Splitter(100, 100)
