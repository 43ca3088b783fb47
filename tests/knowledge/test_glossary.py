import pytest

from copilot.domain import LoadIssue
from copilot.knowledge.glossary import Glossary

pytestmark = pytest.mark.unit


def test_expand_matches_whole_words_and_plurals():
    g = Glossary.parse("en,ja\nwarranty|guarantee,保証\nbattery,電池|バッテリー\nrepair,修理\n", "g.csv", [])
    assert g.expand("How long is the warranty?") == ["保証"]
    assert g.expand("replace the batteries") == ["電池", "バッテリー"]
    assert g.expand("repairing") == []  # no partial-word matches
    assert g.expand("関係ない") == []


def test_bad_rows_are_reported():
    issues: list[LoadIssue] = []
    g = Glossary.parse("en,ja\nwarranty,保証\nrefund,\n", "glossary/t.csv", issues)
    assert len(g) == 1 and issues[0].path == "glossary/t.csv:row 3"
    issues = []
    assert len(Glossary.parse("english,japanese\nx,y\n", "g.csv", issues)) == 0 and "en,ja" in issues[0].reason


def test_sample_glossary_loads_cleanly():
    from conftest import KNOWLEDGE

    issues: list[LoadIssue] = []
    g, text = Glossary.load_dir(KNOWLEDGE, issues)
    assert issues == [] and len(g) > 50 and "延長保証" in g.expand("extended warranty")


@pytest.mark.integration
def test_glossary_change_alone_publishes_a_new_version(counting_copilot, small_kb):
    first = counting_copilot.index()
    (small_kb / "glossary").mkdir()
    (small_kb / "glossary" / "terms.csv").write_text("en,ja\nshipping,送料\n", encoding="utf-8")
    second = counting_copilot.index()
    assert second.version != first.version and second.embedded == 0
    hits = counting_copilot.search("shipping fee", k=4)
    assert "s-002" in [h.chunk.doc_id for h in hits] and hits[0].ranks  # reached through the glossary
