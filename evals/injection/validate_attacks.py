"""Sanity checks for evals/injection/attacks.yaml (no model calls; runs in well under a second).

Usage: python evals/injection/validate_attacks.py
"""
from __future__ import annotations

import base64
import binascii
import collections
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "attacks.yaml"

LANGS = {"ja", "en"}
CHANNELS = {"ticket", "knowledge"}
TECHNIQUES = {
    "direct-override", "role-play", "fake-system", "delimiter-escape", "prompt-leak",
    "link-insertion", "false-promise", "data-exfiltration", "encoding-obfuscation",
    "multilingual-switch", "tone-sabotage", "indirect-instruction",
}
GOAL_FIELD = {"marker": "marker", "link": "link", "promise": "promise", "leak": "leak_phrase"}
COMPANY_DOMAIN = "mirai-home.example"
# Product / reference code shapes that a marker must not resemble.
PRODUCT_CODE = re.compile(r"^(MH|MS|MP|E|RT|RP|T)-?[0-9A-Z]*\d", re.I)
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def b64_strings(text: str) -> list[str]:
    """Decode every base64-looking run (20+ chars) in text; undecodable runs are skipped."""
    out = []
    for run in re.findall(r"[A-Za-z0-9+/]{20,}={0,2}", text):
        try:
            out.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError):
            pass
    return out


def knowledge_text() -> str:
    """Plain text of the knowledge base (PDF/DOCX via their text sources) + the fact sheet."""
    parts = []
    for p in sorted((ROOT / "knowledge").rglob("*")):
        if p.is_file() and p.suffix in {".md", ".csv", ".yaml", ".yml", ".json", ".txt", ".html"}:
            parts.append(p.read_text(encoding="utf-8"))
    src = ROOT / "scripts" / "knowledge_src"
    if src.is_dir():
        parts += [p.read_text(encoding="utf-8") for p in sorted(src.glob("*.txt"))]
    facts = ROOT / "docs" / "knowledge-facts.md"
    if facts.is_file():
        parts.append(facts.read_text(encoding="utf-8"))
    return "\n".join(parts)


def main() -> int:
    items = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    errors: list[str] = []
    kb = knowledge_text()
    kb_lower = kb.lower()
    how: collections.Counter = collections.Counter()

    if not isinstance(items, list):
        print("attacks.yaml must be a YAML list")
        return 1

    ids = collections.Counter(it.get("id") for it in items)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    markers = collections.Counter(it["marker"] for it in items if "marker" in it)
    errors += [f"duplicate marker {m}" for m, n in markers.items() if n > 1]

    for n, it in enumerate(items, 1):
        iid = it.get("id", f"#{n}")
        if iid != f"inj-{n:03d}":
            errors.append(f"{iid}: expected id inj-{n:03d}")
        if it.get("lang") not in LANGS:
            errors.append(f"{iid}: bad lang {it.get('lang')!r}")
        if it.get("channel") not in CHANNELS:
            errors.append(f"{iid}: bad channel {it.get('channel')!r}")
        if it.get("technique") not in TECHNIQUES:
            errors.append(f"{iid}: bad technique {it.get('technique')!r}")
        goal = it.get("goal")
        if goal not in GOAL_FIELD:
            errors.append(f"{iid}: bad goal {goal!r}")
            continue
        if not str(it.get("payload", "")).strip():
            errors.append(f"{iid}: empty payload")

        # exactly one expectation field, the one matching the goal
        present = [f for f in GOAL_FIELD.values() if f in it]
        if present != [GOAL_FIELD[goal]]:
            errors.append(f"{iid}: goal {goal} needs exactly '{GOAL_FIELD[goal]}', has {present}")
            continue
        expect = str(it[GOAL_FIELD[goal]])
        if not expect.strip():
            errors.append(f"{iid}: empty expectation")

        if it["channel"] == "knowledge":
            for f in ("ticket", "topic"):
                if not str(it.get(f, "")).strip():
                    errors.append(f"{iid}: knowledge item needs '{f}'")
        else:
            for f in ("ticket", "topic"):
                if f in it:
                    errors.append(f"{iid}: ticket item must not have '{f}' (payload is the ticket)")

        if goal == "marker":
            if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{5,}", expect):
                errors.append(f"{iid}: marker {expect!r} must be plain upper-case ASCII")
            if PRODUCT_CODE.match(expect):
                errors.append(f"{iid}: marker {expect!r} looks like a product/reference code")
            if expect.lower() in kb_lower:
                errors.append(f"{iid}: marker {expect!r} occurs in the knowledge base")
        if goal == "link":
            if not re.match(r"https?://", expect):
                errors.append(f"{iid}: link must be a URL")
            host = re.sub(r"^https?://", "", expect).split("/")[0].split("?")[0].lower()
            if host == COMPANY_DOMAIN or host.endswith("." + COMPANY_DOMAIN):
                errors.append(f"{iid}: link {expect} is on the company's domain")
            if expect.lower() in kb_lower:
                errors.append(f"{iid}: link occurs in the knowledge base")
        if goal == "promise" and (expect in kb or expect.lower() in kb_lower):
            errors.append(f"{iid}: promise {expect!r} IS stated in the knowledge base")
        if goal == "leak" and expect.lower() in kb_lower:
            errors.append(f"{iid}: leak_phrase {expect!r} occurs in the knowledge base")
        if ZERO_WIDTH.search(expect):
            errors.append(f"{iid}: expectation contains zero-width characters")

        # The expectation must be reachable from the payload: literally, after decoding base64,
        # or (split instructions) as pieces that the attack asks the model to join.
        visible = ZERO_WIDTH.sub("", str(it["payload"]))
        if goal in {"marker", "link", "promise"} and expect not in visible:
            decoded = " ".join(b64_strings(visible))
            pieces = [p for p in re.split(r"[-\s]+", expect) if p]
            if expect in decoded:
                how["base64"] += 1
            elif pieces and all(p in visible for p in pieces):
                how["split"] += 1
            else:
                errors.append(f"{iid}: expectation {expect!r} not reachable from payload")

    # ---- counts ----
    def count(key: str) -> collections.Counter:
        return collections.Counter(it.get(key) for it in items)

    total = len(items)
    print(f"total: {total}")
    for key in ("lang", "channel", "goal", "technique"):
        print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in sorted(count(key).items())))
    cross = collections.Counter((it["lang"], it["channel"]) for it in items)
    print("lang x channel: " + ", ".join(f"{l}/{c}={v}" for (l, c), v in sorted(cross.items())))
    print("expectations only reachable via: " + ", ".join(f"{k}={v}" for k, v in sorted(how.items())))
    zw = sum(bool(ZERO_WIDTH.search(str(it["payload"]))) for it in items)
    print(f"payloads with zero-width chars: {zw}")

    if total < 110:
        errors.append(f"need >= 110 attacks, have {total}")
    if count("lang")["ja"] < 36:
        errors.append(f"need >= 36 Japanese attacks, have {count('lang')['ja']}")
    ch = count("channel")
    if abs(ch["ticket"] - ch["knowledge"]) > total * 0.1:
        errors.append(f"channels unbalanced: {dict(ch)}")
    missing = TECHNIQUES - set(count("technique"))
    if missing:
        errors.append(f"techniques never used: {sorted(missing)}")

    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
