import pytest

from copilot.analysis import detect_language, lexical_tokens, normalize, split_sentences

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text,lang",
    [
        ("パスワードを忘れました", "ja"),
        ("料金", "ja"),
        ("My hub shows E-203 after setup", "en"),
        ("E-203 が出ます", "ja"),
        ("Wi-Fiにつながらない", "ja"),
        ("ok", "en"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_sentences_split_on_japanese_marks_and_keep_quotes():
    text = "ハブを再起動してください。「設定」を開き、「ネットワーク」を選びます。本当ですか？！はい"
    assert split_sentences(text) == [
        "ハブを再起動してください。",
        "「設定」を開き、「ネットワーク」を選びます。",
        "本当ですか？！",
        "はい",
    ]


def test_sentence_inside_quotes_is_not_cut():
    assert split_sentences("画面に「接続できません。再試行してください。」と表示されます。") == [
        "画面に「接続できません。再試行してください。」と表示されます。"
    ]


def test_lines_are_sentence_boundaries_and_english_abbreviations_are_not():
    text = "E-203 | Wi-Fi not found\nSee e.g. the router manual. Firmware v1.2 is required."
    assert split_sentences(text) == [
        "E-203 | Wi-Fi not found",
        "See e.g. the router manual.",
        "Firmware v1.2 is required.",
    ]


def test_dotted_abbreviations_do_not_end_a_sentence():
    # "In-app chat is available 8 a.m." was quoted alone, its hours cut off (cold suite en_thermo)
    text = ("In-app chat is available 8 a.m. to 8 p.m. ET on weekdays. Orders placed before 2 p.m. ET ship the "
            "same day. We ship within the U.S. and Canada, approx. 3 days. It ends here.")
    assert split_sentences(text) == [
        "In-app chat is available 8 a.m. to 8 p.m. ET on weekdays.",
        "Orders placed before 2 p.m. ET ship the same day.",
        "We ship within the U.S. and Canada, approx. 3 days.",
        "It ends here.",
    ]


def test_lexical_tokens_keep_error_codes_whole_and_fold_full_width():
    half = lexical_tokens("E-203エラーが出ました")
    full = lexical_tokens("Ｅ－２０３エラーが出ました")
    assert "e-203" in half and half == full
    assert "エラー" in half
    assert "が" not in half  # particles are not content words


def test_lexical_tokens_japanese_lemmas_match_inflections():
    assert "接続" in lexical_tokens("接続できません") and "接続" in lexical_tokens("接続しました")
    assert "届く" in lexical_tokens("メールが届かない")


def test_normalize_removes_zero_width_characters():
    assert normalize("パス\u200bワード") == "パスワード"
