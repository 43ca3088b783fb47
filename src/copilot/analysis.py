"""Language-aware text analysis: language detection, sentence splitting, lexical tokens.

Japanese is first-class: sentences end at 。！？ (also inside full-width text), quoted
「…」 speech is never cut, and lexical tokens are content-word lemmas from fugashi + unidic-lite.
Exact tokens (error codes such as E-203, plan names, SKUs) survive as single tokens.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def normalize(text: str) -> str:
    """NFKC (full-width ASCII to half-width, half-width kana to full-width), drop zero-widths."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\u200b-\u200d\u2060\ufeff]", "", text)


def detect_language(text: str) -> str:
    """'ja' or 'en'. Any kana, or mostly CJK among letters, means Japanese."""
    kana = len(_KANA.findall(text))
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if kana >= 2 or (kana and not latin):
        return "ja"
    if cjk and cjk * 2 >= latin:
        return "ja"
    return "en"


# --- sentences ---------------------------------------------------------------------------

_OPEN = "「『（(【〔［[“"
_CLOSE = "」』）)】〕］]”"
_JA_END = "。！？!?"


# A "." after these does not end a sentence: dotted abbreviations ("e.g", "i.e", "a.m", "p.m",
# "U.S"), a few short ones ("No", "vs", "Mr", "approx"), single capitals and digits ("v1.2", "1.").
_NO_END = re.compile(r"(\b[A-Za-z]\.[A-Za-z]|\b(No|vs|Mr|Mrs|Ms|Dr|St|approx|incl|min|max|ca)|\b[A-Z]|\d)$")


def split_sentences(text: str) -> list[str]:
    """Split into sentences for Japanese and English text.

    Line breaks end a sentence (manuals put list items and table rows on lines). Inside
    brackets and quotes nothing is cut, unless the bracket is never closed on its line (a stray
    "(" must not glue the rest of the line into one sentence). English sentences end at
    . ! ? followed by space.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.extend(_split_line(line, brackets=True))
    return out


def _split_line(line: str, brackets: bool) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    depth = 0
    quoted = False  # inside straight double quotes
    n = len(line)
    i = 0
    while i < n:
        ch = line[i]
        buf.append(ch)
        if brackets and ch == '"':
            quoted = not quoted
        elif brackets and quoted:
            pass
        elif brackets and ch in _OPEN:
            depth += 1
        elif brackets and ch in _CLOSE and depth:
            depth -= 1
        elif depth == 0 and not quoted:
            end = False
            if ch in _JA_END:
                # keep runs like ！？ and a closing bracket together with the sentence
                while i + 1 < n and (line[i + 1] in _JA_END or line[i + 1] in _CLOSE):
                    i += 1
                    buf.append(line[i])
                end = True
            elif ch == "." and (i + 1 == n or line[i + 1] == " ") and i > 0:
                prev = line[max(0, i - 6) : i]
                if not _NO_END.search(prev):
                    end = True
            if end:
                s = "".join(buf).strip()
                if s:
                    out.append(s)
                buf = []
        i += 1
    rest = "".join(buf).strip()
    if rest and brackets and (depth or quoted):
        out.extend(_split_line(rest, brackets=False))  # an unclosed bracket or quote: cut normally
    elif rest:
        out.append(rest)
    return out


# --- lexical tokens ----------------------------------------------------------------------

# ASCII runs that must match exactly: words, error codes (E-203), SKUs (MH-HUB2), versions.
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_]|[-.](?=[A-Za-z0-9]))*")
_EN_STOP = frozenset(
    """a an the and or but if then of to in on at by for with from as is are was were be been
    being do does did have has had i you he she it we they me my your our their this that these
    those there here what which who whom how when where why can could should would will shall may
    might must not no so than too very just about into over after before again any all each some
    such only own same up down out off please hi hello thanks thank get got im i'm its it's""".split()
)
# Parts of speech (unidic pos1) that carry content.
_JA_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形容動詞", "副詞", "接頭辞", "形状詞", "代名詞", "感動詞"})
_JA_STOP_LEMMA = frozenset({"する", "為る", "ある", "有る", "いる", "居る", "なる", "成る", "出来る", "下さる", "れる", "られる", "御", "こと", "もの", "よう", "ため", "これ", "それ", "どう", "何", "さん"})

_tagger_lock = threading.Lock()


@lru_cache(maxsize=1)
def _tagger():
    import fugashi  # unidic-lite ships the dictionary inside the wheel

    return fugashi.Tagger()


def _en_tokens(word: str) -> list[str]:
    w = word.lower()
    if w in _EN_STOP or (len(w) == 1 and not w.isdigit()):
        return []
    toks = [w]
    if "-" in w or "." in w:
        parts = [p for p in re.split(r"[-.]", w) if p and p not in _EN_STOP and (len(p) > 1 or p.isdigit())]
        toks.extend(parts)
    elif len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
        toks.append(w[:-1])  # crude plural folding: "codes" also matches "code"
    return toks


def _ja_tokens(text: str) -> list[str]:
    with _tagger_lock:  # MeCab taggers are not thread-safe
        words = list(_tagger()(text))
    toks: list[str] = []
    for w in words:
        f = w.feature
        pos1 = getattr(f, "pos1", None)
        if pos1 not in _JA_CONTENT_POS:
            continue
        if getattr(f, "pos2", "") in ("数詞",):
            continue
        lemma = getattr(f, "lemma", None) or w.surface
        # unidic lemmas carry readings after a hyphen for some loanwords: "ログイン-login"
        lemma = lemma.split("-")[0] if lemma and not lemma.isascii() else w.surface
        if not lemma or lemma in _JA_STOP_LEMMA or lemma.isascii():
            continue
        toks.append(lemma)
    return toks


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: English words and exact codes, plus Japanese content-word lemmas."""
    return list(_lexical_tokens(text))


@lru_cache(maxsize=16_384)
def _lexical_tokens(text: str) -> tuple[str, ...]:
    # cached: a draft tokenizes the same evidence sentences ticket after ticket (MeCab is about
    # 70 µs a sentence here, and one lock serializes it across threads)
    return tuple(_tokens(text))


def _tokens(text: str) -> list[str]:
    text = normalize(text)
    toks: list[str] = []
    pos = 0
    for m in _ASCII_TOKEN.finditer(text):
        gap = text[pos : m.start()]
        if _KANA.search(gap) or _CJK.search(gap):
            toks.extend(_ja_tokens(gap))
        toks.extend(_en_tokens(m.group(0)))
        pos = m.end()
    tail = text[pos:]
    if _KANA.search(tail) or _CJK.search(tail):
        toks.extend(_ja_tokens(tail))
    return toks


# Names a ticket may use for things: product and model names, places, third-party services,
# acronyms (Workday, GST, PS5, Home Assistant, SIM) and katakana terms (プロテイン, アンテナ).
_KATAKANA_RUN = re.compile(r"[\u30a1-\u30f4\u30fc]+")


def named_terms(text: str, *, codes_only: bool = False) -> set[str]:
    """The words of `text` that name something rather than say something: Latin words with an
    inner capital or a digit (iPad, PS5, GSTIN), capitalised words that do not start a sentence
    (Workday, Chicago; "I" aside), and katakana runs of three or more (アレルギー). `codes_only`
    keeps the acronyms and codes alone: an English ticket on Japanese knowledge writes places
    and names in letters that the knowledge writes in Japanese."""
    out: set[str] = set()
    for sent in split_sentences(normalize(text)):
        sent = sent.strip()
        for m in _ASCII_TOKEN.finditer(sent):
            w = m.group(0)
            coded = any(ch.isdigit() for ch in w) or (len(w) > 1 and w.isupper())
            if coded or (not codes_only and (any(ch.isupper() for ch in w[1:])
                                            or (w[0].isupper() and m.start() > 0 and w != "I"))):
                out.add(w)
        if not codes_only:
            out.update(k for k in _KATAKANA_RUN.findall(sent) if len(k) >= 3)
    return out


def written_terms(text: str) -> tuple[set[str], str]:
    """What a text writes that names may be looked up in: its Latin words (the tokens
    named_terms reads), lower-cased, and its katakana runs joined by newlines (a katakana
    term is known when it occurs inside one)."""
    text = normalize(text)
    return {w.lower() for w in _ASCII_TOKEN.findall(text)}, "\n".join(sorted(set(_KATAKANA_RUN.findall(text))))
