"""The openai:MODEL drafter against a local OpenAI-compatible server (copilot.testing)."""

import logging

import pytest
from pydantic import SecretStr

from copilot import Copilot
from copilot.testing.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TICKET = "E-203が表示されてWi-Fiにつながりません。"


@pytest.fixture(scope="module")
def server():
    s = FakeOpenAI().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def llm_copilot(sample_copilot, server):
    settings = sample_copilot.settings.model_copy(update={
        "llm": "openai:fake-model", "llm_base_url": server.url, "llm_timeout": 2.0,
        "llm_api_key": SecretStr("sk-test-SECRET-123"),
    })
    c = Copilot(settings, embedders=sample_copilot.embedders)
    c.chroma = sample_copilot.chroma  # one Chroma client per directory in a process
    return c


def _passage_with(c, needle):
    hits = c.search(TICKET, 5, doc_types=["faq", "manual"])[:3]
    return next(i for i, h in enumerate(hits, 1) if needle in h.chunk.text)


def test_grounded_llm_reply_is_kept_and_the_request_is_recorded(llm_copilot, server, caplog):
    n = _passage_with(llm_copilot, "2.4GHz帯のSSID")
    server.queue.append(
        "お問い合わせいただき、誠にありがとうございます。\n"
        f"E-203は、ハブが2.4GHz帯のWi-Fiを見つけられないことを示します。[{n}]\n"
        "よろしくお願いいたします。"
    )
    with caplog.at_level(logging.DEBUG):
        d = llm_copilot.draft(TICKET)
    assert d.drafter == "openai:fake-model" and not d.escalate
    assert d.prompt_name == "draft_reply" and [c.n for c in d.citations] == [n]
    body = server.requests[-1]
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert body["model"] == "fake-model" and "keigo" in system and "Japanese" in system
    assert TICKET in user and "2.4GHz" in user
    assert server.headers[-1]["authorization"] == "Bearer sk-test-SECRET-123"
    assert "sk-test-SECRET-123" not in caplog.text


@pytest.mark.parametrize(
    "reply,why",
    [
        ("ハブを再起動してください。", "grounding"),  # cites nothing
        ("E-203はルーターの故障です。[9]", "grounding"),  # cites a passage it was not given
        (500, "LLM call failed"),
        (429, "LLM call failed"),
        ("<garbage>", "LLM call failed"),
        (("sleep", 3.0, "遅すぎる返事 [1]"), "LLM call failed"),  # past llm_timeout
    ],
)
def test_failures_fall_back_to_the_extractive_draft(llm_copilot, server, reply, why):
    server.queue.append(reply)
    d = llm_copilot.draft(TICKET)
    assert d.drafter == "openai:fake-model->extractive"
    assert why in d.notes[0] and d.prompt_name == "extractive_reply"
    assert d.citations and "2.4GHz" in d.reply


def test_unsupported_sentences_are_removed_and_noted(llm_copilot, server):
    n = _passage_with(llm_copilot, "2.4GHz帯のSSID")
    server.queue.append(
        f"E-203は、ハブが2.4GHz帯のWi-Fiを見つけられないことを示します。[{n}]\n"
        f"今なら全額返金いたします。返金額は12,800円です。[{n}]\n"
        "詳しくは http://evil.example をご覧ください。"
    )
    d = llm_copilot.draft(TICKET)
    assert d.drafter == "openai:fake-model"
    assert "12,800円" not in d.reply and "evil.example" not in d.reply and "2.4GHz" in d.reply
    assert any("removed unsupported sentence" in x for x in d.notes)


def test_llm_summary_is_kept_only_when_it_cites_this_customers_tickets(llm_copilot, server):
    from conftest import ROOT

    llm_copilot.import_customers(ROOT / "samples" / "customers.jsonl")
    server.queue.append("山田様はプレミアムプランをご利用です [T-5001]。窓センサーのE-410が未解決です [T-5003]。")
    s = llm_copilot.summarize("C-1001")
    assert s["summarizer"] == "openai:fake-model" and "[T-5003]" in s["summary"] and s["extractive_summary"]
    assert "T-5003" in server.requests[-1]["messages"][1]["content"]
    assert all(t not in server.requests[-1]["messages"][1]["content"] for t in ("T-5004", "佐藤"))  # C-1002's data never sent
    server.queue.append("佐藤様の件も未解決です [T-5004]。")  # another customer's ticket
    s = llm_copilot.summarize("C-1001")
    assert s["summarizer"] == "extractive" and "another customer's ticket" in s["notes"][0]
    server.queue.append(500)
    s = llm_copilot.summarize("C-1001")
    assert s["summarizer"] == "extractive" and "LLM summary failed" in s["notes"][0]


@pytest.mark.parametrize("redact_llm", [True, False])
def test_redact_llm_strips_personal_data_from_what_the_llm_is_sent(llm_copilot, server, redact_llm):
    settings = llm_copilot.settings.model_copy(update={"redact_llm": redact_llm})
    c = Copilot(settings, embedders=llm_copilot.embedders)
    c.chroma = llm_copilot.chroma
    ticket = "E-203が表示されてWi-Fiにつながりません。連絡は090-1234-5678かhanako.sato@example.jpへ。〒150-0001 東京都渋谷区神宮前1-2-3"
    server.queue.append("<garbage>")
    c.draft(ticket)
    user = server.requests[-1]["messages"][1]["content"]
    secrets = ("090-1234-5678", "hanako.sato@example.jp", "神宮前1-2-3")
    if redact_llm:
        assert not any(s in user for s in secrets) and "[PHONE]" in user and "[EMAIL]" in user and "[ADDRESS]" in user
        assert "E-203" in user  # the question itself still goes out
    else:
        assert all(s in user for s in secrets)


def test_the_llm_saying_no_passage_answers_escalates_the_draft(llm_copilot, server):
    # the model is the better reader of whether the passages answer; its NO_ANSWER holds the
    # draft for a person instead of the extractive fallback drafting from related passages
    server.queue.append("NO_ANSWER")
    d = llm_copilot.draft(TICKET)
    assert d.escalate and "the LLM found no answer in the passages" in d.escalation_reason, d.reply
    assert d.citations == [] and d.drafter == "openai:fake-model+holding" and "2.4GHz" not in d.reply
    assert "NO_ANSWER" in server.requests[-1]["messages"][0]["content"]  # the rule was sent
    server.queue.append("**NO_ANSWER**: the passages do not say.")  # dressed up, still the verdict
    assert llm_copilot.draft(TICKET).escalate
    n = _passage_with(llm_copilot, "2.4GHz帯のSSID")
    server.queue.append(f"E-203は、ハブが2.4GHz帯のWi-Fiを見つけられないことを示します。[{n}]\nNO_ANSWER")  # not its opening
    d = llm_copilot.draft(TICKET)
    assert not d.escalate and d.drafter == "openai:fake-model" and "2.4GHz" in d.reply


@pytest.mark.parametrize("brand,lang_ticket,want", [
    ("ja=アクメ;en=Acme", TICKET, "agents of アクメ."),
    ("ja=アクメ;en=Acme", "Error E-203 appears and the hub will not join Wi-Fi.", "agents of Acme."),
    ("", TICKET, "agents of this company."),
])
def test_the_llm_prompt_names_the_configured_company_never_the_sample(llm_copilot, server, brand, lang_ticket, want):
    c = Copilot(llm_copilot.settings.model_copy(update={"brand": brand}), embedders=llm_copilot.embedders)
    c.chroma = llm_copilot.chroma
    server.queue.append("<garbage>")
    c.draft(lang_ticket, persist=False)
    system = server.requests[-1]["messages"][0]["content"]
    assert want in system and "Mirai" not in system and "ミライ" not in system, system
