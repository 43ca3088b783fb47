"""Answer selection at sentence level: which sentences of the retrieved passages answer the
ticket, in what order, and how they read outside their passage.

Nothing here knows a particular knowledge base. A passage becomes *units*: sentences, table
rows (read with their header), numbered steps and list items (kept with the sentence that
introduces them). Each question of the ticket is scored against every unit with both
embedders, content-word overlap, exact codes and the kind of answer the question asks for (a
price, a percentage, a number of days, a time, a procedure). Each question is answered from
the one passage that answers it best, so two passages that disagree are never stitched into
one answer.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .analysis import lexical_tokens, normalize, split_sentences
from .safety import looks_like_injection

# ASCII boundaries, not \b: in "E-203が出て" the code touches a Japanese word character. The
# third form is a code without a hyphen ("E05", "ISO9001"): letters then two or more digits.
CODE = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]{1,4}-\d{2,5}[A-Z]?|[A-Z]{2,4}-[A-Z0-9]{2,6}|[A-Z]{1,3}\d{2,4}[A-Z]?)(?![A-Za-z0-9])")
_FACT = re.compile(r"[A-Za-z]{1,4}-?\d{2,}|\d[\d,.]*")

# --- what kind of answer a question asks for ----------------------------------------------------
# (question pattern, pattern a unit that answers it contains). Generic across domains.
ANSWER_TYPES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "percent": (re.compile(r"何\s*[%％]|何パーセント|何割|割合|還元率|割引率|率は|割引|消費税|percent|percentage|\brate\b|discount|\bvat\b|\btax", re.I),
                re.compile(r"\d+(\.\d+)?\s*[%％]|\d+\s*割|パーセント|percent", re.I)),
    "price": (re.compile(r"いくら|料金|費用|値段|価格|金額|送料|手数料|月額|年額|how much|\bcost|\bprice|\bfees?\b|charge", re.I),
              re.compile(r"\d[\d,]*\s*円|[$¥€£]\s?\d|\d+\s*(yen|dollars?|usd|eur)\b|無料|無償|\bfree\b", re.I)),
    "duration": (re.compile(r"何日|何時間|何分|何週|何か月|何ヶ月|何年|いつまで|期間|期限|どのくらい|どれくらい|how long|how many (days|hours|weeks|months)|"
                            r"how soon|deadline|within|until when|retention|retain", re.I),
                 re.compile(r"\d+\s*(日|時間|分|週間|か月|ヶ月|カ月|年|営業日|days?|hours?|minutes?|weeks?|months?|years?|business days?)|前日|翌日|当日|"
                            r"(以内|まで)", re.I)),
    "time": (re.compile(r"何時|いつ|時間帯|受付時間|営業時間|what time|\bwhen\b|hours", re.I),
             re.compile(r"\d{1,2}\s*(:\d{2}|時)|午前|午後|\b\d{1,2}\s*(am|pm)\b|\d+:\d{2}|年中無休|24時間|24/7", re.I)),
    "count": (re.compile(r"何個|何人|何件|何回|何点|何台|何名|上限|最大|最低|いくつ|how many|limit|maximum|minimum|\bmax\b|\bmin\b", re.I),
              re.compile(r"\d+\s*(個|人|件|回|点|台|名|席|本|seats?|users?|times|items?|requests?|members?|GB|MB)|上限|最大|最低|up to|at most|at least", re.I)),
    "howto": (re.compile(r"どうすれば|どうしたら|どうやって|どのように|方法|手順|やり方|設定し|how (do|can|to|should)|\bsteps?\b|\bway to\b", re.I),
              re.compile(r"^\s*(\d+[.．)）]|[①-⑳]|step\s*\d)", re.I)),
}
# a sentence that cannot stand alone: it points back to the one before
_NEEDS_CONTEXT = re.compile(
    r"^(その(場合|際|ため|後|上で|ほか)|そのため|ただし|但し|なお|また|この(場合|際|とき|ため)|これ(は|に|ら)|それ(は|に|ぞれ)|こちら|上記|前述|"
    r"however|in that case|this |these |that |it |they |otherwise|then\b|also\b)", re.I)
# a sentence that announces a list ("次のいずれかを行います。", "You can do one of the following:")
_INTRO = re.compile(r"(次の|以下の|下記の)(いずれか|とおり|通り|手順|方法|内容|条件|場合|項目|ような|もの|点)|[:：]\s*$|"
                    r"(the following|as follows|one of these|these steps)", re.I)
_STEP = re.compile(r"^\s*(\d{1,2}[.．)）]|[①-⑳]|step\s*\d+[:.]?)\s*", re.I)
_BULLET = re.compile(r"^\s*([-*・•●○◆■]|\(\w\))\s*")
# a line that ends inside a sentence (English wrapped at a fixed width, "…complete 100% of" /
# "the lessons and …"): the next line continues it
_WRAPPED = re.compile(r"[A-Za-z,;、]\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


@dataclass
class Unit:
    """One statement of a passage as a reply may quote it."""

    hit: int  # index of the passage among the evidence
    pos: int  # position in the passage (reading order)
    text: str  # as it is quoted in the reply (a table row already read with its header)
    kind: str  # sentence | row | step | item | intro
    block: int = -1  # units of one list share a block id (the intro's position)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _row_text(cells: list[str], header: list[str] | None, lang: str) -> str:
    """A table row as a sentence: 'コード: AM-101、内容: 決済エラー' / 'Code: RT-401; Meaning: …'."""
    cells = [c.rstrip("。．.") if i < len(cells) - 1 else c for i, c in enumerate(cells)]  # "…できません。、対処" reads badly
    if header and len(header) == len(cells) and any(header):
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells) if c]
    else:
        pairs = [c for c in cells if c]
    return ("、" if lang == "ja" else "; ").join(pairs)


def passage_units(hit_index: int, text: str, doc_type: str, lang: str) -> list[Unit]:
    """Split a passage into units. An FAQ entry's first line repeats its question: skipped."""
    return [Unit(hit_index, *u) for u in _units(text, doc_type, lang)]


@lru_cache(maxsize=8192)
def _units(text: str, doc_type: str, lang: str) -> tuple[tuple, ...]:
    # cached by passage: the same passages come back ticket after ticket
    units = _split_units(-1, text, doc_type, lang)
    return tuple((u.pos, u.text, u.kind, u.block) for u in units)


def _is_table_line(s: str) -> bool:
    return s.count("|") >= 2 or (s.startswith("|") and s.endswith("|"))


def logical_lines(text: str) -> list[str]:
    """The passage's lines with hard-wrapped ones joined: a line that ends inside a sentence
    and is followed by one that starts no list item, step, table row or heading is one line
    with it (Markdown manuals wrapped at 80 columns would otherwise give half sentences)."""
    out: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        prev = out[-1] if out else ""
        if (s and prev and _WRAPPED.search(prev) and not _is_table_line(prev) and not prev.startswith("#")
                and not (_STEP.match(s) or _BULLET.match(s) or _is_table_line(s) or s.startswith("#"))):
            out[-1] = prev + ("" if prev.endswith("、") else " ") + s
        else:
            out.append(s)
    return out


def _split_units(hit_index: int, text: str, doc_type: str, lang: str) -> list[Unit]:
    if doc_type == "faq" and "\n" in text:
        text = text.split("\n", 1)[1]
    units: list[Unit] = []
    header: list[str] | None = None
    block = -1
    prev_table = False
    bullet = "・" if lang == "ja" else "- "
    for line in logical_lines(text):
        s = line.strip()
        if not s:
            block = -1 if not units or units[-1].kind not in ("step", "item", "intro") else block
            continue
        if _is_table_line(s):
            if _TABLE_SEP.match(s):
                continue
            cells = _cells(s)
            if not prev_table and not any(ch.isdigit() for ch in s) and all(len(c) <= 16 for c in cells):
                header, prev_table = cells, True  # the first row of a table names its columns
                continue
            prev_table = True
            units.append(Unit(hit_index, len(units), _row_text(cells, header, lang), "row"))
            continue
        prev_table, header = False, None
        if _STEP.match(s) or _BULLET.match(s):
            kind = "step" if _STEP.match(s) else "item"
            if block < 0:
                block = len(units)  # a list with no intro sentence is its own block
            units.append(Unit(hit_index, len(units), _BULLET.sub(bullet, s, count=1) if kind == "item" else s, kind, block))
            continue
        block = -1
        for sent in split_sentences(s):
            if len(sent) < 4:
                continue
            is_intro = bool(_INTRO.search(sent))
            units.append(Unit(hit_index, len(units), sent, "intro" if is_intro else "sentence"))
            if is_intro:
                block = units[-1].pos
                units[-1].block = block
    return [u for u in units if not looks_like_injection(u.text)]


def answer_types(question: str) -> list[str]:
    q = normalize(question)
    return [name for name, (ask, _) in ANSWER_TYPES.items() if ask.search(q)]


def has_type(unit_text: str, kind: str, unit_kind: str) -> bool:
    if kind == "howto":
        return unit_kind in ("step", "intro")
    return bool(ANSWER_TYPES[kind][1].search(normalize(unit_text)))


class VectorCache:
    """Unit vectors by (embedder, text): the same passages come back ticket after ticket."""

    def __init__(self, size: int = 20_000) -> None:
        self._data: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def embed(self, embedder, texts: list[str]) -> np.ndarray:
        name = getattr(embedder, "name", str(id(embedder)))
        return self._get(name, texts, lambda missing: embedder.embed_documents(missing))

    def _get(self, name, texts: list[str], compute) -> np.ndarray:
        """The vectors of `texts`, computing the ones not cached. What this call computed is
        used from its own hands, not read back from the cache: under concurrent drafts another
        thread's inserts may already have evicted it (a KeyError under load, found by the soak)."""
        with self._lock:
            have = {t: self._data.get((name, t)) for t in dict.fromkeys(texts)}
            for t, v in have.items():
                if v is not None:
                    self._data.move_to_end((name, t))  # least recently used goes first
        missing = [t for t, v in have.items() if v is None]
        if missing:
            vecs = np.asarray(compute(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, vecs):
                    self._data[(name, t)] = v
                    have[t] = v
                while len(self._data) > self._size:
                    self._data.popitem(last=False)
        return np.vstack([have[t] for t in texts])

    def embed_queries(self, embedder, texts: list[str]) -> np.ndarray:
        """Query vectors, cached the same way: a draft embeds its ticket for the search and
        scores it against the evidence afterwards, and agents redraft the same ticket."""
        name = ("query", getattr(embedder, "name", str(id(embedder))))
        # read as retrieval reads a query (NFKC, stripped): the search and the scoring of one
        # ticket then share its vector instead of embedding it twice ("？" against "?")
        return self._get(name, [normalize(t).strip() for t in texts], lambda missing: [embedder.embed_query(t) for t in missing])


@dataclass
class Scores:
    combined: np.ndarray  # questions x units: what ranks units
    dense: np.ndarray  # questions x units: mean cosine of the embedders (absolute evidence)


def score_units(embedders: list, cache: VectorCache, questions: list[str], units: list[Unit]) -> Scores:
    """Every question against every unit. Each embedder's cosines are standardised per question
    (their scales differ), then content-word overlap, exact codes and answer type are added."""
    texts = [u.text for u in units]
    zs, raw = [], []
    for e in embedders:
        q = cache.embed_queries(e, questions)
        sim = q @ cache.embed(e, texts).T
        raw.append(sim)
        sd = sim.std(axis=1, keepdims=True)
        zs.append((sim - sim.mean(axis=1, keepdims=True)) / np.where(sd > 1e-6, sd, 1.0))
    dense_z = np.mean(zs, axis=0)
    qt = [set(lexical_tokens(x)) for x in questions]
    ut = [set(lexical_tokens(x)) for x in texts]
    lex = np.array([[len(a & b) / max(1, len(a)) for b in ut] for a in qt])
    q_codes = [codes(x) for x in questions]
    u_codes = [codes(x) for x in texts]
    code = np.array([[bool(a & b) for b in u_codes] for a in q_codes], dtype=float)
    kinds = [answer_types(x) for x in questions]
    typed = np.array([[float(any(has_type(u.text, k, u.kind) for k in ks)) if ks else 0.0 for u in units] for ks in kinds])
    combined = dense_z + 1.5 * lex + 2.0 * code + 0.6 * typed
    return Scores(combined, np.mean(raw, axis=0))


def fact_tokens(text: str) -> set[str]:
    return {f.replace(",", "") for f in _FACT.findall(normalize(text)) if not f.isdigit() or len(f) > 1}


def needs_context(text: str) -> bool:
    return bool(_NEEDS_CONTEXT.match(normalize(text).strip()))


def is_intro(text: str) -> bool:
    return bool(_INTRO.search(text))


def codes(text: str) -> set[str]:
    """Exact codes (error codes, SKUs, plan ids) in a text."""
    return {m.upper() for m in CODE.findall(normalize(text))}
