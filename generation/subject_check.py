"""Is a figure about the same thing in the claim and in the cited text?

The fact check (``generation.similarity.facts``) asks whether a claim's numbers appear in
the cited text. It cannot see the commonest failure of a small model that cites correctly:
the right figure attached to another subject. "The signing bonus is 3.85% [1]" cites a
passage that does state 3.85%, but as "awards of up to 3.85% of salary"; "The monthly
internet stipend is $500 [2]" cites a passage where $500 is a pay cap.

This module compares the *words around the figure*: for each figure of the claim, the
claim's content words near it (its subject) must mostly be found within a few words of the
same figure somewhere in the cited text (or in the cited passage's headings). Words are
compared by their Snowball stems ("accrues" = "accrue", "reimbursed" = "reimbursement"),
after dropping stop words and words that say how a figure is counted rather than what it is
about ("per", "month", "employees", ...). Pure functions over strings, no model: a claim
costs well under a millisecond.

What it cannot see: a synonym ("refunded" for "reimbursed") counts as a missing word, so
the rule fires only when most of the claim's subject is absent near the figure; and a
subject stated in the previous sentence ("Parental leave. It lasts 18 weeks.") is only
found through the passage's headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from retrieval.stemming import snowball, stop_words

DEFAULT_WINDOW = 40
"""Words on each side of a figure in the cited text that count as near it: in practice its
whole sentence, list item or table row (a 10-word window withheld more reworded SummEdits
summaries and caught no more wrong subjects)."""
DEFAULT_CLAIM_WINDOW = 6
"""Words on each side of a figure in the claim that are its subject (within one clause)."""
DEFAULT_MIN_COVERAGE = 0.5
"""A figure's claim subject must be at least this share present near the figure in the
cited text; below it the claim is about something else."""
DEFAULT_MIN_MISSING = 1
"""At least this many of the claim's words must be missing near the figure. Two would spare
one more reworded reference answer of 97 but let half the one-word wrong subjects through
(see evals/RESULTS.md); the judge's similarity gate handles close paraphrases instead."""

_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:\d{2})"
    r"|(?P<number>[$€£]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|[$€£]?\d+(?:\.\d+)?%?)"
    r"|(?P<word>[^\W\d_][^\W_]*(?:['\u2019][^\W\d_]+)?)"
)
_BREAK = r"\n\s*\n|\n(?=\s*(?:[-*+|>#]|\d+[.)]\s))"
_BOUNDARY = re.compile(rf"[.!?;](?=\s)|{_BREAK}")
"""Where a window stops in the cited text: the end of a sentence, a semicolon, a paragraph,
a line that starts a list item, a table row or a heading (not a wrapped line)."""
_CLAUSE = re.compile(
    rf"[.!?;,:()](?=\s)|{_BREAK}|\s[(\u2013\u2014-]\s|\s(?:and|but|while|whereas)\s"
)
"""Where a window stops in a claim: also at a comma, a colon, a bracket, a dash or a
conjunction, since a claim's other clauses are about other things."""
_YEAR = re.compile(r"(?:19|20)\d\d")

_GENERIC_WORDS = """
    per each every up upto total amount maximum minimum max min least most
    day days week weeks month months year years hour hours night nights minute minutes
    daily weekly monthly yearly annually annual hourly
    percent percentage dollar dollars usd eur euro euros gbp
    employee employees staff people person company team teammate teammates member members
    receive receives received get gets got provide provides provided offer offers offered
    give gives given pay paid cap caps capped limit limits limited
"""
_GENERIC = frozenset(_GENERIC_WORDS.split())
"""Words that say how a figure is counted, who gets it or that it is a limit, not what it
is about. ("pay" is here: "paid vacation" and "vacation" are the same subject.)"""


@dataclass(frozen=True)
class SubjectMismatch:
    """A claim figure found in the cited text only near other words."""

    figure: str
    """The figure as the claim writes it ("3.85%")."""
    claim_subject: tuple[str, ...]
    """The claim's words near the figure that the cited text lacks near it."""
    evidence_subject: tuple[str, ...]
    """The cited text's words nearest the figure (its best occurrence)."""
    coverage: float
    """The share of the claim's subject found near the figure (best occurrence)."""

    @property
    def reason(self) -> str:
        """For a verdict: "figure 3.85% is about 'awards salary', not 'signing bonus'"."""
        about = " ".join(self.evidence_subject) or "nothing nameable"
        claimed = " ".join(self.claim_subject)
        return f"figure {self.figure} is about '{about}', not '{claimed}'"


@dataclass(frozen=True)
class _Token:
    text: str
    kind: str  # "time", "number" or "word"
    start: int
    segment: int
    """Index of the sentence/line the token is in."""
    key: str
    """Normalised figure, or stem of a content word, or "" for a stop/generic word."""


def figure_subject_mismatches(
    claim: str,
    evidence: str,
    *,
    headings: Sequence[str] = (),
    window: int = DEFAULT_WINDOW,
    claim_window: int = DEFAULT_CLAIM_WINDOW,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_missing: int = DEFAULT_MIN_MISSING,
) -> list[SubjectMismatch]:
    """The claim's figures that the cited text states only about something else.

    For every figure of ``claim`` that also occurs in ``evidence`` (years aside: a date
    belongs to an event, not to a subject): the claim's subject is its content-word stems
    within ``claim_window`` words of the figure, in the same clause; each occurrence of the
    figure in ``evidence`` has its own stems within ``window`` words in the same sentence,
    plus those of ``headings``. The best occurrence's share of the claim's subject is the
    coverage; under ``min_coverage``, with at least ``min_missing`` of the claim's words
    missing near it, the figure is a mismatch. Figures absent from
    ``evidence`` (the fact check's business) and figures with no subject words nearby are not
    judged here.
    """
    found = _figures(claim, evidence, headings, window, claim_window)
    return [m for m in found if m.coverage < min_coverage and len(m.claim_subject) >= min_missing]


def subject_coverage(
    claim: str,
    evidence: str,
    *,
    headings: Sequence[str] = (),
    window: int = DEFAULT_WINDOW,
    claim_window: int = DEFAULT_CLAIM_WINDOW,
) -> float | None:
    """The lowest coverage over the claim's judged figures (see
    ``figure_subject_mismatches``); None when no figure could be judged. A signal for
    calibration and stacked judges."""
    found = _figures(claim, evidence, headings, window, claim_window)
    return min(m.coverage for m in found) if found else None


def stem_terms(text: str) -> frozenset[str]:
    """The Snowball stems of ``text``'s content words, as this check compares them."""
    return frozenset(t.key for t in _tokens(text) if t.kind == "word" and t.key)


def _figures(
    claim: str, evidence: str, headings: Sequence[str], window: int, claim_window: int
) -> list[SubjectMismatch]:
    """Every judged figure of the claim with its best coverage (a candidate mismatch)."""
    claim_tokens = _tokens(claim, clauses=True)
    evidence_tokens = _tokens(evidence)
    heading_keys = frozenset(t.key for h in headings for t in _tokens(h) if t.kind == "word")
    occurrences: dict[str, list[int]] = {}
    for i, token in enumerate(evidence_tokens):
        if token.kind != "word":
            occurrences.setdefault(token.key, []).append(i)
    found: list[SubjectMismatch] = []
    seen: set[str] = set()
    for i, token in enumerate(claim_tokens):
        if token.kind == "word" or token.key in seen or token.key not in occurrences:
            continue
        if _YEAR.fullmatch(token.text):
            continue
        seen.add(token.key)
        subject = _near(claim_tokens, i, claim_window)
        if not subject:
            continue
        wanted = frozenset(t.key for t in subject)
        best_coverage, best_at, best_context = -1.0, 0, list[_Token]()
        for at in occurrences[token.key]:
            context = _near(evidence_tokens, at, window)
            if not context:
                continue  # a bare figure (a table cell): nothing to compare with
            have = frozenset(t.key for t in context) | heading_keys
            coverage = len(wanted & have) / len(wanted)
            if coverage > best_coverage:
                best_coverage, best_at, best_context = coverage, at, context
        if best_coverage < 0:
            continue
        have = frozenset(t.key for t in best_context) | heading_keys
        origin = evidence_tokens[best_at].start
        nearest = sorted(best_context, key=lambda t: abs(t.start - origin))
        found.append(
            SubjectMismatch(
                figure=token.text,
                claim_subject=_distinct(t.text.lower() for t in subject if t.key not in have),
                evidence_subject=_distinct(t.text.lower() for t in nearest)[:3],
                coverage=best_coverage,
            )
        )
    return found


def _near(tokens: Sequence[_Token], at: int, window: int) -> list[_Token]:
    """Content words within ``window`` tokens of ``tokens[at]``, in its segment."""
    segment = tokens[at].segment
    lo, hi = max(0, at - window), min(len(tokens), at + window + 1)
    return [
        t
        for t in tokens[lo:hi]
        if t.segment == segment and t.kind == "word" and t.key and t is not tokens[at]
    ]


def _distinct(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@lru_cache(maxsize=4096)
def _tokens(text: str, *, clauses: bool = False) -> tuple[_Token, ...]:
    """Figures and words with their segment: the sentence, or with ``clauses`` the clause."""
    boundaries = [m.start() for m in (_CLAUSE if clauses else _BOUNDARY).finditer(text)]
    result: list[_Token] = []
    segment = 0
    for match in _TOKEN.finditer(text):
        while segment < len(boundaries) and boundaries[segment] < match.start():
            segment += 1
        kind = match.lastgroup or "word"
        raw = match.group()
        if kind == "word":
            key = _stem_key(raw)
        elif kind == "time":
            hours, minutes = raw.split(":")
            key = f"{int(hours)}:{minutes}"
        else:
            key = _figure_key(raw)
        result.append(_Token(raw, kind, match.start(), segment, key))
    return tuple(result)


def _figure_key(raw: str) -> str:
    digits = raw.lstrip("$€£").rstrip("%").replace(",", "")
    try:
        return format(Decimal(digits).normalize(), "f")
    except InvalidOperation:
        return digits


@lru_cache(maxsize=65536)
def _stem_key(word: str) -> str:
    """The Snowball stem of a content word; "" for stop words, generic words and letters."""
    lower = word.lower().replace("\u2019", "'")
    if "'" in lower:  # "company's" -> company, "I'm" -> i, "don't" -> do
        lower = lower.split("'")[0].removesuffix("n" if lower.endswith("n't") else "")
    if len(lower) < 2 or lower in stop_words() or lower in _GENERIC:
        return ""
    stem = snowball().stem(lower)
    return "" if stem in _GENERIC else stem
