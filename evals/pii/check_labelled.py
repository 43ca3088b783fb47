"""Consistency checks for evals/pii/labelled.jsonl (standard library only, independent of src/).

Usage: python evals/pii/check_labelled.py [path]
Exits non-zero and lists the problems if any check fails; prints counts otherwise.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

KINDS = {"email", "phone", "card", "my_number", "address"}
LANGS = {"ja", "en"}
_FW = str.maketrans("０１２３４５６７８９", "0123456789")
# a run of digits (ASCII or full-width) joined by single separators: space, ideographic space, hyphens, ー
_RUN = re.compile(r"[0-9０-９]+(?:[ \u3000\-－ー‐][0-9０-９]+)*")


def digits(s):
    return re.sub(r"\D", "", s.translate(_FW))


def luhn_ok(d):
    tot = 0
    for i, ch in enumerate(reversed(d)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        tot += n
    return tot % 10 == 0


def my_number_ok(d):
    if len(d) != 12 or not d.isdigit():
        return False
    s = sum(int(d[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = s % 11
    return int(d[11]) == (0 if r <= 1 else 11 - r)


def main(path):
    problems, ids = [], set()
    kinds, langs, items_by_lang, kind_lang = Counter(), Counter(), Counter(), Counter()
    negatives, neg_by_lang, multi_kind, n = 0, Counter(), 0, 0
    raw = Path(path).read_bytes().decode("utf-8")
    for ln, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            problems.append(f"line {ln}: blank line")
            continue
        o = json.loads(line)
        n += 1
        rid = o.get("id")
        where = f"line {ln} ({rid})"
        if set(o) != {"id", "lang", "text", "spans"}:
            problems.append(f"{where}: keys {sorted(o)}")
        if rid in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(rid)
        if o["lang"] not in LANGS or not str(rid).startswith(o["lang"] + "-"):
            problems.append(f"{where}: bad lang/id prefix")
        text, spans = o["text"], o["spans"]
        langs[o["lang"]] += 1
        if not spans:
            negatives += 1
            neg_by_lang[o["lang"]] += 1
        if len({s["kind"] for s in spans}) >= 2:
            multi_kind += 1
        # locate spans; each span text must occur exactly as often as it is listed
        listed = Counter(s["text"] for s in spans)
        covered = [False] * len(text)
        for st, cnt in listed.items():
            occ = [m.start() for m in re.finditer(re.escape(st), text)]
            if len(occ) != cnt:
                problems.append(f"{where}: span {st!r} listed {cnt}x, occurs {len(occ)}x")
            for p in occ:
                for i in range(p, p + len(st)):
                    if covered[i]:
                        problems.append(f"{where}: overlapping spans at {st!r}")
                        break
                    covered[i] = True
        for s in spans:
            k, st = s.get("kind"), s.get("text", "")
            kinds[k] += 1
            items_by_lang[o["lang"]] += 1
            kind_lang[(k, o["lang"])] += 1
            if k not in KINDS:
                problems.append(f"{where}: unknown kind {k!r}")
            if st != st.strip() or not st:
                problems.append(f"{where}: span has surrounding whitespace/empty: {st!r}")
            d = digits(st)
            if k == "card" and not (13 <= len(d) <= 19 and luhn_ok(d)):
                problems.append(f"{where}: card fails Luhn: {st!r}")
            if k == "my_number" and not my_number_ok(d):
                problems.append(f"{where}: my_number fails check digit: {st!r}")
            if k == "email" and not re.fullmatch(r"[^\s@]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", st):
                problems.append(f"{where}: email looks malformed: {st!r}")
            if k == "phone":
                for m in _RUN.finditer(st):
                    if len(digits(m.group())) == 12 and my_number_ok(digits(m.group())):
                        problems.append(f"{where}: phone digits pass the My Number check: {st!r}")
        # numbers outside spans: 15/16 digits must fail Luhn, 12 digits must fail the My Number check
        masked = "".join("\x00" if covered[i] else ch for i, ch in enumerate(text))
        for m in _RUN.finditer(masked):
            d = digits(m.group())
            if len(d) in (15, 16) and luhn_ok(d):
                problems.append(f"{where}: unlabelled {len(d)}-digit number passes Luhn: {m.group()!r}")
            if len(d) == 12 and my_number_ok(d):
                problems.append(f"{where}: unlabelled 12-digit number passes My Number check: {m.group()!r}")
    for p in problems:
        print("PROBLEM:", p)
    print(f"lines: {n}  (ja {langs['ja']}, en {langs['en']})")
    print(f"negatives (spans: []): {negatives}  (ja {neg_by_lang['ja']}, en {neg_by_lang['en']})")
    print(f"texts with 2+ kinds: {multi_kind}")
    print("items per kind:", ", ".join(f"{k} {kinds[k]} (ja {kind_lang[(k, 'ja')]}, en {kind_lang[(k, 'en')]})" for k in sorted(KINDS)))
    print(f"items per lang: ja {items_by_lang['ja']}, en {items_by_lang['en']}  total {sum(kinds.values())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("labelled.jsonl")))
