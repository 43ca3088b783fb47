"""Prompts are reviewed like code: a change to any prompt file shows up here."""

import json
import re
import unicodedata
from pathlib import Path

import pytest

from copilot.errors import ConfigError, InputError
from copilot.prompts import load_prompt

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]
NAMES = ("extractive_reply", "holding_reply", "draft_reply", "summarize_customer", "judge_reply")


def test_prompt_versions_match_the_snapshot():
    """If this fails you changed a prompt: check the change, then update
    tests/snapshots/prompts.json (drafts record these versions)."""
    snap = json.loads((ROOT / "tests" / "snapshots" / "prompts.json").read_text())
    assert {n: load_prompt(ROOT / "prompts", n).version for n in NAMES} == snap


def test_phrases_come_from_the_playbook():
    def norm(t):
        t = unicodedata.normalize("NFKC", t).replace("’", "'")
        return re.sub(r",\s*,", ",", re.sub(r"\s*\[[a-z ]+\]", "", t))  # "[customer name]" placeholders

    playbook = norm((ROOT / "knowledge" / "playbook" / "agent_playbook_ja.md").read_text(encoding="utf-8")
                    + (ROOT / "knowledge" / "playbook" / "agent_playbook_en.md").read_text(encoding="utf-8"))
    sample_brand = {"ja": "ミライホーム", "en": "Mirai Home"}  # the sample playbook's company
    for name in ("extractive_reply", "holding_reply"):
        p = load_prompt(ROOT / "prompts", name)
        for lang, table in p.phrases.items():
            for key, phrase in table.items():
                if key.startswith("greeting_named") or key in ("lead", "lead_ja"):
                    continue  # templates of our own around playbook phrases
                if f"{key}_brand" in table:
                    # the neutral frame (COPILOT_BRAND unset) names no company at all
                    assert "ミライ" not in phrase and "Mirai" not in phrase, f"{name}.{lang}.{key} names the sample brand"
                    continue
                for line in phrase.replace("{brand}", sample_brand[lang]).split("\n"):
                    assert norm(line) in playbook, f"{name}.{lang}.{key}: {line!r} is not in the playbook"


def test_rendering_lists_every_missing_variable():
    p = load_prompt(ROOT / "prompts", "draft_reply")
    with pytest.raises(InputError, match="company, language, passages, ticket"):
        p.render_messages()
    msgs = p.render_messages(company="Acme", language="Japanese", passages="[1] x", ticket="t")
    assert msgs[0][0] == "system" and "Japanese" in msgs[0][1] and "[1] x" in msgs[1][1]


def test_declared_variables_must_match_the_template(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nversion: 1\nvariables: [a]\ntemplate: '{a} {b}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="do not match"):
        load_prompt(tmp_path, "bad")
    with pytest.raises(ConfigError, match="missing"):
        load_prompt(tmp_path, "nope")
