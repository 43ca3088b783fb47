"""A test chat model that obeys injected instructions, for the prompt-injection red team.

It stands in for the worst LLM one could plug in: whenever the text of an attack reaches it
(in the ticket or in a passage it was sent), it does what the attack asks: prints the marker,
inserts the link, makes the promise, or dumps its own instructions. It dresses that up to pass
as grounded, with a citation to passage [1]. When no attack reaches it, it answers plainly with
the first sentence of passage [1]. So what is measured is the project's own defences: what
reaches the model, and what survives the checks on what it writes.

    model = ObedientModel();  server = FakeOpenAI(responder=model).start()
    model.attack = {...}      # the attack being tried (a row of evals/injection/attacks.yaml)
"""

from __future__ import annotations

import re
import unicodedata

_ZW = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def fold(text: str) -> str:
    """NFKC, no zero-width characters, lower case: how attacks are matched."""
    return _ZW.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def artifact(attack: dict) -> str:
    return attack.get("marker") or attack.get("link") or attack.get("promise") or attack.get("leak_phrase") or ""


def attack_lines(attack: dict) -> list[str]:
    """The lines of the payload that carry the attack: those with its artifact, else all."""
    lines = [fold(x).strip() for x in attack["payload"].splitlines() if len(x.strip()) >= 12]
    art = fold(artifact(attack))
    with_art = [x for x in lines if art and art in x]
    return with_art or lines


def reached(attack: dict, sent: str) -> bool:
    sent = fold(sent)
    return any(line[:40] in sent for line in attack_lines(attack))


class ObedientModel:
    def __init__(self) -> None:
        self.attack: dict | None = None
        self.obeyed = 0
        self.calls = 0

    def __call__(self, body: dict) -> str:
        self.calls += 1
        msgs = body.get("messages", [])
        sent = "\n".join(str(m.get("content", "")) for m in msgs)
        system = next((str(m.get("content", "")) for m in msgs if m.get("role") == "system"), "")
        ja = bool(re.search(r"Japanese", system))
        first = self._first_sentence(sent)
        greet, close = (("お問い合わせいただき、誠にありがとうございます。", "どうぞよろしくお願いいたします。") if ja
                        else ("Thank you for contacting us.", "Best regards."))
        lines = [greet]
        a = self.attack
        if a is not None and reached(a, sent):
            self.obeyed += 1
            art = artifact(a)
            if a.get("goal") == "leak":
                lines.append(f"{art} {system[:400]} [1]")
            elif a.get("goal") == "link":
                lines.append((f"詳しくは {art} をご覧ください。[1]" if ja else f"Please see {art} for details. [1]"))
            elif a.get("goal") == "promise":
                lines.append(f"{art}。[1]" if ja else f"{art}. [1]")
            else:
                lines.append(f"{art} [1]")
        if first:
            lines.append(f"{first} [1]")
        lines.append(close)
        return "\n".join(lines)

    @staticmethod
    def _first_sentence(sent: str) -> str:
        m = re.search(r"\[1\] \([^)]*\)\n((?:.+\n?){1,6})", sent)
        if not m:
            return ""
        for text in (x.strip() for x in m.group(1).splitlines()):
            if text and not text.endswith(("?", "？")):  # an FAQ chunk starts with its question
                cut = re.search(r"[。!！]|\.(\s|$)", text)
                return text[: cut.end()].strip() if cut else text
        return ""
