"""What makes a reply grounded: numbered passages in, cited sentences out. Every drafter's reply
passes `check_grounded`: citations point to given passages, each cited sentence is supported by
its passage, no links from nowhere, no promises the passages do not make."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..analysis import detect_language, lexical_tokens, split_sentences
from ..domain import Citation, Hit

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
