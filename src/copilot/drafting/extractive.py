"""The offline, deterministic drafter: for each question in the ticket it picks the evidence
sentence that answers it best, keeps the passage's own wording, cites it as [n], and wraps the
answer in the playbook's greeting and closing in the customer's language. It never writes a
fact of its own."""

from __future__ import annotations

import re

import numpy as np

from ..analysis import detect_language, lexical_tokens, split_sentences
from ..answers import Scores, Unit, VectorCache, fact_tokens, is_intro, needs_context, passage_units, score_units
from ..domain import Citation, Hit
from ..prompts import Prompt
from .grounding import DraftText
from .ticket import MAX_QUESTIONS, _with_context, ticket_questions

# Answer selection (answers.py scores; these choose). Scores are in standard deviations of
# the embedders' similarity over the evidence units, plus overlap, code and answer-type terms.
MAX_PASSAGES = 10
MAX_UNITS = 14
FAQ_WHOLE = 5  # an FAQ answer of up to this many units is quoted whole
UNITS_PER_ANSWER = 4  # at most this many units of a passage answer one question ...
UNIT_MARGIN = 0.8  # ... each within this of the best one
RANK_WEIGHT = 1.2  # retrieval rank prior for the passage that answers a question (1st: 1.2, 2nd: 0.6, ...)
LANG_WEIGHT = 0.5  # a passage in the customer's language
SAME_POINT_MARGIN: float | None = 0.25  # units of two passages this close on one question make the same point
CONTEXT_WEIGHT = 0.5  # weight of the whole ticket's score when a ticket's questions are answered one by one
ANSWERED_MARGIN = 0.2  # a later question that the quoted units answer within this of its best unit (its own score) adds nothing
OWN_MARGIN = 1.0  # a question read alone that another passage answers by this much more is answered from that passage,
OWN_WORDS = 0.5  # ... unless the favoured passage's best sentence uses this share of the question's content words
SECOND_SAME_LANG = False  # ... in the customer's language when the first one is
CONFLICT_OVERLAP = 0.5  # content-word overlap at which two passages' sentences make the same point
SECOND_MARGIN = 1.5  # a second passage within this of the first also answers the question
# Mean cosine (both embedders) of the best unit below which nothing answers a question.
ANSWER_MIN = 0.30


class ExtractiveDrafter:
    """Offline, deterministic drafter: selects, orders and cites evidence sentences."""

    name = "extractive"

    def __init__(self, embedders, frame: Prompt, brand=None) -> None:
        # any Embedders: both score every evidence sentence against every question
        self.embedders = list(embedders) if isinstance(embedders, (list, tuple)) else [embedders]
        self.frame = frame
        self.brand = brand or (lambda lang: "")  # lang -> company name ('' = neutral frame)
        self.vectors = VectorCache()

    def _score(self, ticket: str, units: list[Unit], context: str | None,
               asking: list[str] | None = None) -> tuple[list[str], Scores, np.ndarray]:
        """The ticket's questions and their scores against the units. Each question is read in
        the light of the whole ticket, and of the conversation before it when there is one
        ("still broken, what now?" means the problem of the earlier messages): the whole
        text's scores are added at CONTEXT_WEIGHT, and a question the conversation answers
        counts as answered (its dense similarity is the better of the two). The third value is
        each question's own score, without the whole text: whether a question is already
        answered is judged on it (with the whole ticket added, a sentence on the first
        question looks like an answer to every other one)."""
        asking = ticket_questions(ticket) if asking is None else asking  # the pipeline passes what it read
        questions = _with_context(ticket, asking) if 1 < len(asking) <= MAX_QUESTIONS else [ticket]
        whole = f"{context}\n{ticket}" if context else ticket
        blend = len(questions) > 1 or bool(context)
        sc = score_units(self.embedders, self.vectors, questions + ([whole] if blend else []), units)
        if blend:
            # "who pays the return shipping?" from a customer who changed their mind is not
            # the defective-item case
            dense = np.maximum(sc.dense[:-1], sc.dense[-1]) if context else sc.dense[:-1]
            own = sc.combined[:-1]
            return questions, Scores(own + CONTEXT_WEIGHT * sc.combined[-1], dense), own
        return questions, sc, sc.combined

    def select(self, ticket: str, hits: list[Hit], lang: str, context: str | None = None,
               asking: list[str] | None = None) -> tuple[list[Unit], list[str]]:
        """(units to quote in reply order, questions nothing answers).

        Each question of the ticket is answered from the one passage that answers it best
        (its best unit, helped by the passage's retrieval rank and the customer's language):
        that unit, the units of the same passage about as good, the sentence before one that
        cannot stand alone, and the whole list a step or an introduction belongs to. Units of
        a later passage that restate an earlier one with other figures are dropped.
        """
        units = [u for hi, h in enumerate(hits) for u in passage_units(hi, h.chunk.text, h.chunk.doc_type, h.chunk.lang)]
        if not units:
            return [], []
        questions, sc, own_sc = self._score(ticket, units, context, asking)
        by_hit: dict[int, list[int]] = {}
        for i, u in enumerate(units):
            by_hit.setdefault(u.hit, []).append(i)
        chosen: list[int] = []
        unanswered: list[str] = []
        for qi, q in enumerate(questions):
            if sc.dense[qi].max() < ANSWER_MIN:
                unanswered.append(q)
                continue

            def passage_score(hi: int) -> float:
                best = max(sc.combined[qi, i] for i in by_hit[hi])
                return best + RANK_WEIGHT / (1 + hi) + (LANG_WEIGHT if hits[hi].chunk.lang == lang else 0.0)

            ranked = sorted(by_hit, key=passage_score, reverse=True)
            if len(questions) > 1:
                # read alone, the question is answered far better by another passage than by the
                # one the whole ticket favours ("how much is shipping?" in a ticket that opens
                # with the warranty): that passage answers it; unless the favoured passage uses the
                # question's own words too ("who pays the return shipping?" after "I changed my
                # mind": the initial-defect entry answers the bare question better, the favoured
                # one answers this customer)
                alone = units[int(np.argmax(own_sc[qi]))].hit
                top_own = max(by_hit[ranked[0]], key=lambda i: own_sc[qi, i])
                if (own_sc[qi].max() - own_sc[qi, top_own] > OWN_MARGIN
                        and _word_share(q, units[top_own].text) < OWN_WORDS):
                    ranked = [alone] + [h for h in ranked if h != alone]
            top = ranked[0]
            own = by_hit[top]
            best = max(own, key=lambda i: sc.combined[qi, i])
            if sc.dense[qi, best] < ANSWER_MIN:
                unanswered.append(q)
                continue
            if chosen and max(own_sc[qi, i] for i in chosen) >= own_sc[qi, best] - ANSWERED_MARGIN:
                continue  # what is already quoted answers this question too: another passage would only compete with it
            if hits[top].chunk.doc_type == "faq" and len(own) <= FAQ_WHOLE:
                picked = list(own)  # a short FAQ answer reads best whole
            else:
                near = sorted(own, key=lambda i: -sc.combined[qi, i])[:UNITS_PER_ANSWER]
                picked = [i for i in near if sc.combined[qi, i] >= sc.combined[qi, best] - UNIT_MARGIN]
            chosen += [i for i in self._readable(picked, own, units) if i not in chosen]
            second_ok = len(ranked) > 1 and (not SECOND_SAME_LANG or hits[ranked[1]].chunk.lang == lang or hits[top].chunk.lang != lang)
            if second_ok and passage_score(ranked[1]) >= passage_score(top) - SECOND_MARGIN:
                # a second passage that answers about as well adds its best units (unless it
                # contradicts the first: _without_conflicts); not the other language's twin of
                # an answer already in the customer's language
                other = by_hit[ranked[1]]
                if hits[ranked[1]].chunk.doc_type == "faq" and len(other) <= FAQ_WHOLE:
                    more = list(other)
                else:
                    b2 = max(other, key=lambda i: sc.combined[qi, i])
                    more = [i for i in sorted(other, key=lambda i: -sc.combined[qi, i])[:UNITS_PER_ANSWER]
                            if sc.combined[qi, i] >= sc.combined[qi, b2] - UNIT_MARGIN]
                chosen += [i for i in self._readable(more, other, units) if i not in chosen]
        chosen = _one_answer_per_question(_without_conflicts(chosen, units), sc.combined, units)[:MAX_UNITS]
        return [units[i] for i in chosen], unanswered

    def support(self, ticket: str, hits: list[Hit], context: str | None = None, asking: list[str] | None = None) -> float:
        """How well the evidence answers the ticket: for each question, the similarity of its
        best unit; their mean (one unanswered question of two halves it). 0 with no units."""
        units = [u for hi, h in enumerate(hits[:MAX_PASSAGES]) for u in passage_units(hi, h.chunk.text, h.chunk.doc_type, h.chunk.lang)]
        if not units:
            return 0.0
        if context:
            _, sc, _ = self._score(ticket, units, context, asking)
        else:
            asking = ticket_questions(ticket) if asking is None else asking
            questions = _with_context(ticket, asking) if 1 < len(asking) <= MAX_QUESTIONS else [ticket]
            sc = score_units(self.embedders, self.vectors, questions, units)
        return float(sc.dense.max(axis=1).mean())

    @staticmethod
    def _readable(picked: list[int], own: list[int], units: list[Unit]) -> list[int]:
        """The picked units of one passage, in reading order, made to stand on their own: a
        sentence that points back gets the one before, a list comes whole with its
        introduction, and an introduction whose list is not in the passage is left out."""
        keep = set(picked)
        for i in picked:
            u = units[i]
            if u.block >= 0:
                keep |= {j for j in own if units[j].block == u.block}
            elif u.kind == "sentence" and needs_context(u.text) and u.pos > 0:
                keep |= {j for j in own if units[j].pos == u.pos - 1 and units[j].kind == "sentence"}
        out = []
        for i in sorted(keep, key=lambda j: units[j].pos):
            u = units[i]
            if u.kind == "intro" and not any(units[j].block == u.block and units[j].kind in ("step", "item") for j in keep):
                continue  # never end on "次のいずれかを行います。" with no list after it
            if u.kind == "sentence" and is_intro(u.text) and u is units[own[-1]]:
                continue
            out.append(i)
        return out

    def draft(self, ticket: str, language: str, hits: list[Hit], *, customer_name: str | None = None,
              apologise: bool = False, context: str | None = None, questions: list[str] | None = None) -> DraftText:
        """`ticket` is the message to answer; `context` the conversation before it (subject and
        the customer's earlier messages), read but not answered; `questions` what the ticket asks
        (drafting.ticket.analyse; read here when not given)."""
        lang = language if language in ("ja", "en") else detect_language(ticket)
        pool = hits[:MAX_PASSAGES]
        picked, unanswered = self.select(ticket, pool, lang, context, questions)
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        lines: list[str] = []
        cross = False
        prev_hit = None
        for u in picked:
            h = pool[u.hit]
            cid = h.chunk.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                c = h.chunk
                citations.append(Citation(numbers[cid], cid, c.source, c.text, c.title, c.url))
            n = numbers[cid]
            quoted_ja = lang == "en" and h.chunk.lang == "ja"
            if quoted_ja and not cross and lines:
                lines.append(self.frame.phrase(lang, "lead_ja"))  # Japanese quotes after English answers
            cross = cross or quoted_ja
            if quoted_ja:
                text = f"『{u.text}』[{n}]" if "「" in u.text else f"「{u.text}」[{n}]"
            else:
                # a step or a row may hold several sentences: each carries its citation
                parts = split_sentences(u.text) if u.kind in ("step", "item", "row") else [u.text]
                text = (" " if lang == "en" else "").join(f"{p} [{n}]" if lang == "en" else f"{p}[{n}]" for p in parts)
            own_line = u.kind in ("step", "item", "row") or quoted_ja or lang == "en"
            if lines and prev_hit is not None and prev_hit != u.hit:
                lines.append("")  # a new passage starts a new paragraph
                lines.append(text)
            elif lines and not own_line and lines[-1] and not _LIST_LINE.match(lines[-1]):
                lines[-1] += text  # Japanese sentences of one passage run on in one paragraph
            else:
                lines.append(text)
            prev_hit = u.hit
        f = self.frame
        brand = self.brand(lang)
        suffix = "_brand" if brand else ""
        greeting = (f.phrase(lang, "greeting_named" + suffix, name=customer_name, brand=brand) if customer_name
                    else f.phrase(lang, "greeting" + suffix, brand=brand) if brand else f.phrase(lang, "greeting"))
        ack = f.phrase(lang, "apology") + ("\n" if lang == "ja" else " ") if apologise else ""
        first_is_ja = bool(picked) and lang == "en" and pool[picked[0].hit].chunk.lang == "ja"
        lead = f.phrase(lang, "lead_ja") if first_is_ja else f.phrase(lang, "lead")
        body = lead + "\n" + "\n".join(lines) if lines else ""
        notes = ["English reply quotes Japanese passages as written (no LLM configured to translate): "
                 "translate or summarise them before sending"] if cross else []
        notes += [f"not answered by the knowledge base: {q[:80]}" for q in unanswered] if picked else []
        closing = f.phrase(lang, "closing_brand", brand=brand) if brand else f.phrase(lang, "closing")
        reply = f.render(greeting=greeting, acknowledgement=ack, body=body, closing=closing)
        return DraftText(reply.strip(), citations, [c.chunk_id for c in citations], notes)


def _word_share(question: str, text: str) -> float:
    """Share of the question's content words (numbers aside) that the text uses."""
    q = {t for t in lexical_tokens(question) if not t.isdigit()}
    return len(q & set(lexical_tokens(text))) / len(q) if q else 0.0


_LIST_LINE = re.compile(r"^\s*(\d{1,2}[.．)）]|[①-⑳・]|- |「|『)")


def _one_answer_per_question(chosen: list[int], combined, units: list[Unit]) -> list[int]:
    """Two passages whose sentences answer the same question about equally well either repeat
    or contradict each other (返送料はお客様のご負担 / 返送料は当社が負担): the passage quoted
    first for that question answers it, the other's competing sentences go. A sentence that is
    the best answer to some question always stays."""
    if SAME_POINT_MARGIN is None or not chosen:
        return chosen
    protected = {max(chosen, key=lambda i: combined[qi, i]) for qi in range(combined.shape[0])}
    drop: set[int] = set()
    for qi in range(combined.shape[0]):
        top = max(combined[qi, i] for i in chosen)
        near = [i for i in chosen if combined[qi, i] >= top - SAME_POINT_MARGIN]
        owner = units[near[0]].hit
        drop |= {i for i in near if units[i].hit != owner and i not in protected}
    return [i for i in chosen if i not in drop]


def _without_conflicts(chosen: list[int], units: list[Unit]) -> list[int]:
    """Drop a unit that repeats an earlier one (FAQ and manual often say the same thing), and
    one from another passage that states the same thing with other figures: the earlier
    passage answered its question better, two answers that disagree help no one."""
    kept: list[int] = []
    seen: list[tuple[int, set[str], set[str]]] = []
    for i in chosen:
        u = units[i]
        toks = set(lexical_tokens(u.text))
        facts = fact_tokens(u.text)
        clash = False
        for hit, t, f in seen:
            if not toks or not t:
                continue
            overlap = len(toks & t) / len(toks | t)
            if overlap >= 0.7 and (hit != u.hit or toks == t):
                clash = True  # a repeat
            elif hit != u.hit and overlap >= CONFLICT_OVERLAP:
                # another passage on the same point: it says the same (a repeat) or something
                # else (返送料はお客様のご負担 / 当社が負担): either way the first answer stands
                clash = True
            elif hit != u.hit and overlap >= 0.3 and facts and f and not (facts & f) and len(toks & t) >= 3:
                clash = True  # the same statement with other figures
            if clash:
                break
        if not clash:
            kept.append(i)
            seen.append((u.hit, toks, facts))
    return kept
