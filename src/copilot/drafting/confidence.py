"""How sure the copilot is that the knowledge base answers a ticket (0..1), and the threshold
below which a draft escalates instead.

A logistic model over what any knowledge base gives, with no phrasings or glossary needed:
- `dense:<embedder>`: the best similarity of the question to the top 3 passages, per embedder;
- `answer`: how well the best sentence answers each question of the ticket (mean over the
  questions; answers.py scores it with both embedders);
- `coverage`: the share of the ticket's content words that the knowledge ever uses (0 where
  it means nothing: the knowledge is written in another language);
- `lexical`: the best BM25 score among the top 3 passages per content word of the ticket (how
  specific the words are that it shares with the knowledge), capped at 3;
- `cross_lingual`: 1 when the knowledge is (almost) all in another language than the ticket, or the
  passages that answer it are (pipeline.answered_elsewhere);
- `unfamiliar`: the share of the asking sentences' words that the knowledge neither uses nor
  has a near word for (retrieval.Snapshot.unfamiliar; 0 when the knowledge is all in another
  language);
- `unknown_name`: 1 when the ticket names something the knowledge never writes: a product,
  service, place or acronym (Workday, GST, PS5, アレルギー; analysis.named_terms; on a
  cross-lingual ticket only acronyms and codes count).

Fitted by scripts/fit_confidence.py on the cold suites (evals/cold/) and the sample's
retrieval questions together; its report gives each set's calibration from a model fitted
without that set (docs/quality.md). Refit when the embedders, the chunking or answer
selection change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..domain import Hit
from ..specs import E5, USE

FEATURES = ("dense:e5", "dense:use-multilingual", "answer", "coverage", "lexical", "cross_lingual", "unfamiliar",
            "unknown_name")
# (weights in FEATURES order, bias, threshold): fitted 2026-12-04 (scripts/fit_confidence.py)
MODEL = ((1.6291, 4.4058, 3.1457, 1.4558, 2.3875, 1.8965, -3.8228, -0.6073), -6.2831, 0.3)
# model families (specs.family_of): either engine of multilingual-e5-small, and USE
DEFAULT_PAIR = (E5, USE)
COVERAGE_NEUTRAL = 0.6  # a ticket too short to judge by its words


@dataclass(frozen=True)
class Evidence:
    """What the model reads for one ticket."""

    hits: list[Hit]
    answer: float  # mean over the ticket's questions of the best unit's similarity
    coverage: float | None  # None: too few words to tell
    cross_lingual: bool
    words: int = 0  # content words in the ticket
    unfamiliar: float = 0.0  # share of the asking words with no counterpart in the knowledge
    unknown_names: int = 0  # names in the ticket that the knowledge never writes

    def features(self) -> dict[str, float]:
        f = {f"dense:{n}": max((h.signals.get(f"dense:{n}", 0.0) for h in self.hits[:3]), default=0.0) for n in DEFAULT_PAIR}
        f["answer"] = self.answer
        f["coverage"] = 0.0 if self.cross_lingual else (COVERAGE_NEUTRAL if self.coverage is None else self.coverage)
        lex = max((h.signals.get("lexical", 0.0) for h in self.hits[:3]), default=0.0)
        f["lexical"] = 0.0 if self.cross_lingual else min(3.0, lex / max(1, self.words))
        f["cross_lingual"] = float(self.cross_lingual)
        f["unfamiliar"] = self.unfamiliar  # 0 from the pipeline when the knowledge is in another language
        f["unknown_name"] = float(self.unknown_names > 0)
        return f


def score(evidence: Evidence, embedders: tuple[str, ...], model=None) -> tuple[float, float]:
    """(confidence, threshold). Embedders the model was not fitted for (a sentence-transformers
    model, say) get a plain reading of the answer similarity and a documented threshold."""
    weights, bias, threshold = model or MODEL
    if not set(DEFAULT_PAIR) <= set(embedders):
        if not evidence.hits:
            return 0.0, 0.3
        return max(0.0, min(1.0, (evidence.answer - 0.2) / 0.5)), 0.3
    f = evidence.features()
    z = bias + sum(w * f[name] for w, name in zip(weights, FEATURES))
    return 1.0 / (1.0 + math.exp(-z)), threshold

# The word-coverage gate (escalate below 40% known words) was removed on 2026-12-04: with the
# `unfamiliar` feature in the model it only escalated answerable tickets (docs/quality.md).
COVERAGE_MIN_WORDS = 3  # fewer content words than this: coverage says nothing
COVERAGE_LANG_SHARE = 0.2  # below this share of the knowledge in the ticket's language, the ticket is cross-lingual
