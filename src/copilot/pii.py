"""Personal data: find and redact e-mail addresses, phone numbers, card numbers, My Numbers
and postal addresses in Japanese and English text.

Presidio has no Japanese recognizers, so these are the project's own. Two things make them
Japanese-aware:
- matching runs on a same-length "shadow" of the text in which full-width digits, letters and
  hyphens (and the long mark ー between digits) are folded to ASCII, so ０９０－１２３４－５６７８
  is found and the span still points into the original text;
- no pattern relies on `\\b`: kana and kanji are word characters to `re`, so
  電話は09012345678です has no word boundary around the number. Digit runs are delimited by
  "not a digit" lookarounds instead.

Numbers are validated before they count: card numbers by the Luhn check, My Numbers by their
check digit, phone numbers by the shape of Japanese, +81, and North American numbers. Error codes
(E-203), order numbers, dates, prices and versions are not personal data and are left alone.

Used for log records (`install_log_redaction`), eval reports, and text sent to an external LLM
when `COPILOT_REDACT_LLM=true`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Span", "find_pii", "redact", "install_log_redaction", "KINDS"]

KINDS = ("email", "phone", "card", "my_number", "address")
_PLACEHOLDER = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "my_number": "[MY_NUMBER]", "address": "[ADDRESS]"}


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    text: str


# --- the shadow text ----------------------------------------------------------------------

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe63"  # ‐ ‑ ‒ – — ― − － ﹣


def _shadow(text: str) -> str:
    out = []
    for ch in text:
        if ch in _DASHES:
            out.append("-")
            continue
        n = unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch
        out.append(n if len(n) == 1 and n.isascii() else ch)
    s = "".join(out)
    # the long mark and "〜" used as separators between digits: 090ー1234ー5678
    return re.sub(r"(?<=\d)[ー\u30fc\uff70](?=\d)", "-", s)


# --- validators -----------------------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def my_number_ok(digits: str) -> bool:
    """The check digit of a 12-digit individual number (マイナンバー)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = 0
    for n in range(1, 12):
        p = ord(body[11 - n]) - 48
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


# --- patterns (ASCII classes only, on the shadow) -------------------------------------------

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-'])[A-Za-z0-9][A-Za-z0-9._%+\-']*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
# A run of digits with single separators (space, hyphen, dot, parentheses), optionally +CC.
_NUMBER_RUN = re.compile(r"(?<![0-9A-Za-z\-.+])(?:\+\d{1,3}[ \-]?)?\(?\d(?:[\d]|[ \-.](?=\(?\d)|\((?=\d)|\)[ \-]?(?=\d))*\d(?![0-9A-Za-z]|-\d|\.\d)")
_PREFS = ("北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|神奈川県|新潟県|富山県|"
          "石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|大阪府|兵庫県|奈良県|和歌山県|鳥取県|島根県|"
          "岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|熊本県|大分県|宮崎県|鹿児島県|沖縄県")
_POSTAL = r"(?:〒\s?|(?<=郵便番号)[:：]?\s?|(?<=郵便番号 ))\d{3}-\d{4}"
# block numbers: 1-2-3, 1丁目2番3号, 2丁目4番地, 12番地の5, optionally a building and floor
_BLOCK = r"\d{1,4}(?:丁目|番町)?(?:[\-の]?\d{1,4}(?:番地?|号)?){0,3}(?:号)?"
# a building: katakana, kanji or Latin letters (no hiragana: that is the sentence going on),
# then a room or floor number; without 階/号室 it must stand after a space
_BUILDING = r"(?:[ 　]?[ァ-ヶー一-龥A-Za-z]{1,20}?\d{1,4}(?:階|F|号室|号)|[ 　][ァ-ヶー一-龥A-Za-z]{2,20}?\d{1,4}(?![\d\-]))?"
_JA_ADDRESS = re.compile(
    rf"(?:{_POSTAL}[ 　]*)?(?:(?:{_PREFS})[^\s、。,，!?！？「」()（）\d]{{0,14}}?(?:市|区|町|村|郡)|"
    rf"[一-龥]{{1,5}}(?:市|区)[^\s、。,，!?！？「」()（）\d]{{0,10}}?(?=\d{{1,4}}(?:丁目|-|番)))"
    rf"[^\s、。,，!?！？「」()（）\d]{{0,12}}?{_BLOCK}{_BUILDING}")
_POSTAL_ONLY = re.compile(rf"{_POSTAL}(?!\d)")
_STREET = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Parkway|Pkwy|Terrace|Square|Sq)"
_EN_ADDRESS = re.compile(
    rf"(?<![0-9A-Za-z])\d{{1,5}}[A-Z]?(?:[ ][A-Z][a-z]+){{1,4}}[ ]{_STREET}\.?(?:[ ](?:North|South|East|West|N|S|E|W)\b)?"
    r"(?:,?[ ](?:Apt|Suite|Unit|Flat)\.?[ ]?\w+)?"
    r"(?:,[ ][A-Z][a-z]+(?:[ ][A-Z][a-z]+)*)?"  # city
    r"(?:,?[ ](?:[A-Z]{2}[ ]\d{5}(?:-\d{4})?|[A-Z]{2}[ ][A-Z]\d[A-Z][ ]\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}))?")  # US, Canada, UK
_EU_ADDRESS = re.compile(
    r"(?<![0-9A-Za-z])\d{1,4}(?:bis)?,?[ ](?i:rue|avenue|boulevard|place|via|calle|strasse|straße|plein|gasse)[ ][\w' \-]{2,30}?,[ ]\d{4,5}[ ][A-Z][a-z]+")
_ROMAJI_ADDRESS = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:Room|Apt\.?|Unit|Flat|Suite)[ ]?\d{1,5}[A-Z]?,?[ ])?\d{1,4}-\d{1,4}(?:-\d{1,4})?(?:[ ][A-Z][a-z]+(?:-[A-Za-z][a-z]+)?)?,[ ][A-Z][a-z]+-(?:ku|shi|cho|machi|gun|mura)"
    r"(?:,[ ][A-Z][a-z]+(?:-[a-z]+)?)?(?:,?[ ](?:Tokyo|Osaka|Kyoto|Hokkaido|[A-Z][a-z]+))?(?:[ ]\d{3}-\d{4})?")


def _phone_ok(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        if digits.startswith("81"):
            return 9 <= len(digits) - 2 <= 10
        if digits.startswith("1"):
            return len(digits) == 11
        return 8 <= len(digits) <= 15 and bool(re.search(r"[ \-]", raw))
    if re.fullmatch(r"\d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}", raw):
        return False  # a date
    if digits.startswith("0"):
        if digits.startswith(("0120", "0800", "0570")):
            return len(digits) in (10, 11)
        if digits[1] in "5789" and digits[2] == "0":  # mobile and 050 IP phones
            return len(digits) == 11
        if len(digits) == 11 and re.fullmatch(r"0\d{4}[ ]\d{6}|0\d{3}[ ]\d{3}[ ]\d{4}|0\d{2}[ ]\d{4}[ ]\d{4}", raw):
            return True  # UK-style national numbers: 07700 900123, 020 7946 0958
        return len(digits) == 10 and digits[1] != "0"
    # North American without +1: (415) 555-0134, 415-555-0134
    return bool(re.fullmatch(r"\(\d{3}\)[ ]?\d{3}-\d{4}|\d{3}-\d{3}-\d{4}", raw))


def _card_shape(d: str) -> bool:
    """Issuer prefixes and lengths of the card networks seen in Japan; a 13-digit JAN barcode
    (49...) passes Luhn too, which is why the prefix matters."""
    n = len(d)
    if d[0] == "4":
        return n in (16, 19)  # Visa (13-digit Visa cards are no longer issued)
    if d[:2] in ("34", "37"):
        return n == 15  # Amex
    if "51" <= d[:2] <= "55" or "2221" <= d[:4] <= "2720":
        return n == 16  # Mastercard
    if "3528" <= d[:4] <= "3589":
        return 16 <= n <= 19  # JCB
    if d[:2] in ("36", "38") or "300" <= d[:3] <= "305":
        return n == 14 or n == 16  # Diners
    if d[:4] == "6011" or d[:2] in ("62", "65") or "644" <= d[:3] <= "649":
        return 16 <= n <= 19  # Discover, UnionPay
    return False


def find_pii(text: str) -> list[Span]:
    """All personal-data spans in `text`, sorted, non-overlapping (longest wins)."""
    if not text:
        return []
    s = _shadow(text)
    found: list[tuple[int, int, str]] = []
    for m in _EMAIL.finditer(s):
        found.append((m.start(), m.end(), "email"))
    for pat in (_JA_ADDRESS, _EN_ADDRESS, _ROMAJI_ADDRESS, _EU_ADDRESS):
        for m in pat.finditer(s):
            if re.search(r"\d", m.group(0)):
                found.append((m.start(), m.end(), "address"))
    for m in _POSTAL_ONLY.finditer(s):
        found.append((m.start(), m.end(), "address"))
    for m in _NUMBER_RUN.finditer(s):
        raw = m.group(0)
        digits = re.sub(r"\D", "", raw)
        start, end = m.start(), m.end()
        if raw.startswith("(") and ")" not in raw:
            raw, start = raw[1:], start + 1
        if _card_shape(digits) and not raw.startswith("+") and luhn_ok(digits) and re.fullmatch(r"[\d \-]+", raw):
            found.append((start, end, "card"))
        elif len(digits) == 12 and re.fullmatch(r"\d{12}|\d{4}[ \-]\d{4}[ \-]\d{4}", raw) and my_number_ok(digits):
            found.append((start, end, "my_number"))
        elif 10 <= len(digits) <= 15 and _phone_ok(raw):
            found.append((start, end, "phone"))
    # longest first, then drop anything overlapping an accepted span
    found.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
    taken: list[tuple[int, int, str]] = []
    for a, b, k in found:
        if all(b <= x or a >= y for x, y, _ in taken):
            taken.append((a, b, k))
    taken.sort()
    return [Span(k, a, b, text[a:b]) for a, b, k in taken]


def redact(text: str) -> str:
    """`text` with every personal-data span replaced by a placeholder such as [EMAIL]."""
    if not text:
        return text
    spans = find_pii(text)
    if not spans:
        return text
    out, pos = [], 0
    for sp in spans:
        out.append(text[pos : sp.start])
        out.append(_PLACEHOLDER[sp.kind])
        pos = sp.end
    out.append(text[pos:])
    return "".join(out)


# --- logs ------------------------------------------------------------------------------------

_installed = False


def install_log_redaction() -> None:
    """Redact personal data from every log record created from now on, whichever logger or
    handler it goes to (a LogRecord factory, so child loggers and third-party loggers are
    covered). Called by the entry points; idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
