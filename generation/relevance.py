"""Does a supported sentence answer the question that was asked?

The grounding check asks whether a sentence is true to its source; it does not ask whether the
sentence is an answer. A small model given the wrong passages often writes a true sentence
about something else: a research-participant rate in reply to a question about an equipment
allowance. ``AnswerRelevance`` scores each sentence against the question, and the answer is
kept only when one supported sentence is close enough to the question.

The same scores pick a *quoted answer*: when the model declines or its answering sentence is
withheld, but a source sentence clearly addresses the question, that sentence is shown
verbatim with its citation ("The documents say: ..."). A verbatim quote cannot hallucinate;
whether it is right more often than an abstention is measured in evals/RESULTS.md.

The score is the cosine similarity of the two texts under the embedding model (the retrieval
model, all-MiniLM-L6-v2 by default), with the question's content words that the sentence and
its source's heading cover as a second signal: ``score = (cosine + coverage) / 2``. A claim is
scored as itself and as the source sentence that supports it, whichever is closer: a terse
"18 weeks [1]" says nothing of parental leave, but the sentence it rests on does. Thresholds
are calibrated on the development sets (evals/RESULTS.md, "Answer relevance").

A question of several parts is also scored part by part, so that a sentence answering one
part of "Which laptops can I pick from, and how soon must I finish the security training?" is
not diluted by the other. A part that asks for a quantity ("how much", "how long", "what
percentage", "what is the maximum", "is there a budget for") is only answered by a claim that
states a figure ("Yes, there is a budget for that [1]" is not an answer): "A lost
laptop must be reported like any other incident" does not answer "How quickly must an
incident be reported?".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generation.sentences import sentences, split_sentences
from generation.similarity import cosine_matrix, facts, names, term_coverage, terms, words
from retrieval.context import Source
from retrieval.embedder import Embedder

_MIN_QUOTE_WORDS = 6
"""Shorter sentences (headings, list labels) are not quoted as answers."""
_MAX_QUOTE_CHARS = 400
_ASKS_FOR_FIGURE = re.compile(
    r"\bhow (?:much|many|long|often|quickly|soon|far|big|large|high|old|early|late)\b"
    r"|\bwhat (?:is |are |was )?(?:the )?(?:percentage|percent|amount|number|rate|fraction|"
    r"share|cap|limit|budget|maximum|minimum|max|min|price|cost|fee|deadline|allowance|"
    r"stipend|reimbursement limit)\b"
    r"|\b(?:how much|what) (?:money|time|notice)\b"
    # "Is there a budget for ...?" asks how much: "Yes, there is a budget [1]" answers nothing.
    r"|\b(?:is|are) there (?:a |an |any )?(?:\w+ )?(?:budget|money|stipend|allowance|"
    r"reimbursement|cap|limit|spending limit)s?\b",
    re.IGNORECASE,
)


_PART_BREAK = re.compile(
    r"(?<=[?.!])\s+"
    r"|;\s*"
    r"|,?\s+and\s+(?=(?:(?:to|for|by|from|with)\s+)?(?:how|what|which|who|whom|when|where|why|"
    r"whether|can|could|do|does|did|is|are|must|should|will|would|may|if)\b)",
    re.IGNORECASE,
)


def question_pieces(question: str) -> list[str]:
    """The sentences and clauses of ``question`` that have content words of their own: its
    statements ("I'm relocating.") and the parts it asks ("is there help with moving costs",
    "how long must I have worked here?")."""
    pieces = [p.strip(" ,") for p in _PART_BREAK.split(question)]
    return [p for p in pieces if terms(p)]


def question_parts(question: str) -> list[str]:
    """The question and, for a question of several parts ("Which laptops can I pick, and
    how soon must I finish the training?"), each part with content words of its own."""
    parts = question_pieces(question)
    return [question, *parts] if len(parts) > 1 else [question]


def asks_for_figure(question: str) -> bool:
    """True when ``question`` asks for a quantity: only a claim with a figure answers it."""
    return bool(_ASKS_FOR_FIGURE.search(question))


_FREQUENCY = re.compile(
    r"\b(?:daily|weekly|biweekly|fortnightly|monthly|quarterly|yearly|annually|hourly|"
    r"once|twice|every (?:day|week|month|quarter|year)|each (?:day|week|month|quarter|year)|"
    r"per (?:day|week|month|quarter|year|night|trip|person|mile))\b",
    re.IGNORECASE,
)


def states_figure(text: str) -> bool:
    """True when ``text`` states a number, amount, time, month or frequency ("quarterly",
    "twice a year" answer "how often")."""
    return bool(facts(text, word_one=False)) or bool(_FREQUENCY.search(text))


@dataclass(frozen=True)
class Quote:
    """A source sentence quoted as the answer: its source, its text and where it is."""

    source: Source
    text: str
    span: tuple[int, int]
    score: float


class AnswerRelevance:
    """Scores sentences against a question (see the module docstring)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def scores(
        self, question: str, sentences: Sequence[str], headings: Sequence[str] = ()
    ) -> list[float]:
        """One score in ``[0, 1]`` per sentence; ``headings`` (one per sentence, optional) are
        the headings of the sources they come from, which often carry the topic words."""
        if not sentences:
            return []
        cosine = cosine_matrix(self._embedder, [question], list(sentences))[0]
        wanted = terms(question)
        scores = []
        for i, (sentence, similarity) in enumerate(zip(sentences, cosine, strict=True)):
            heading = headings[i] if i < len(headings) else ""
            coverage = term_coverage(wanted, terms(f"{heading}\n{sentence}"))
            scores.append(min(max((max(similarity, 0.0) + coverage) / 2, 0.0), 1.0))
        return scores

    def claim_scores(
        self,
        question: str,
        claims: Sequence[str],
        evidence: Sequence[str],
        headings: Sequence[str],
    ) -> list[float]:
        """Each claim's relevance: its best score against the question or one of its parts,
        as itself or as the source sentence it rests on (``evidence``, "" when unknown), with
        the cited sources' headings. A part asking for a quantity only counts for a claim
        that states a figure (0.0 when no part counts)."""
        best = [0.0] * len(claims)
        for part in question_parts(question):
            scores = self.part_scores(part, claims, evidence, headings)
            best = [max(b, s) for b, s in zip(best, scores, strict=True)]
        return best

    def part_scores(
        self,
        part: str,
        claims: Sequence[str],
        evidence: Sequence[str],
        headings: Sequence[str],
    ) -> list[float]:
        """Each claim's relevance to ``part`` alone (one question, not split further), as
        itself or as the source sentence it rests on; 0.0 for a claim without a figure when
        ``part`` asks for a quantity."""
        eligible = [not asks_for_figure(part) or states_figure(c) for c in claims]
        if not any(eligible):
            return [0.0] * len(claims)
        own = self.scores(part, claims, headings)
        backed = [(i, e) for i, e in enumerate(evidence) if e.strip()]
        behind = self.scores(part, [e for _, e in backed], [headings[i] for i, _ in backed])
        for (i, _), score in zip(backed, behind, strict=True):
            own[i] = max(own[i], score)
        return [o if ok else 0.0 for o, ok in zip(own, eligible, strict=True)]

    def best_quote(self, question: str, sources: Sequence[Source]) -> Quote | None:
        """The source sentence that best addresses ``question`` (None when no source has a
        sentence long enough to quote; only sources that mention every name the question
        names are candidates: "the parking fee at the Berlin office" is not answered by the
        Tacoma garage's; a part asking for a quantity counts only for sentences stating a
        figure). Its score decides, with a threshold, whether to
        show it."""
        # Each sentence's first word is capitalised anyway: "... site. What do I get?"
        named = frozenset().union(*(names(part) for part in sentences(question)))
        candidates: list[tuple[Source, str, tuple[int, int]]] = []
        for source in sources:
            if not named <= words(f"{source.heading}\n{source.text}"):
                continue  # the question names a place, person or product it never mentions
            for start, end in split_sentences(source.text):
                text = source.text[start:end]
                if len(text.split()) >= _MIN_QUOTE_WORDS and len(text) <= _MAX_QUOTE_CHARS:
                    candidates.append((source, text, (start, end)))
        if not candidates:
            return None
        texts = [text for _, text, _ in candidates]
        scores = self.claim_scores(
            question, texts, [""] * len(texts), [s.heading for s, _, _ in candidates]
        )
        best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
        source, text, span = candidates[best]
        return Quote(source=source, text=text, span=span, score=scores[best])
