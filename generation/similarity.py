"""Text signals for quotes and the grounding check: content words, facts, cosine similarity.

Content words are retrieval's query terms (spaCy's English stop words removed, words keyed by
their first five letters), so "reimbursed" matches "reimbursement" here as it does in search.

Facts are the numbers and month names of a text, normalised so that "$1,500.00" and "1500",
"15%" and "15 percent", "twenty-five" and "25", "Jan." and "January" compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import numpy as np

from retrieval.embedder import Embedder
from retrieval.snippets import query_terms

_TIME = re.compile(r"(?<![\w.:])(\d{1,2}):(\d{2})(?![\d:])")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\d)")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_UNITS[1:10])}))?|({'|'.join(_UNITS)}))\b",
    re.IGNORECASE,
)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)(?:[a-z]*)\b\.?", re.IGNORECASE
)


_NAME = re.compile(r"(?<![\w'])([A-Z][\w-]{2,})")
_WORD = re.compile(r"[\w-]+")


def names(text: str) -> frozenset[str]:
    """Capitalised words after the first, lower-cased: the proper names a sentence states
    (places, people, products). "the Berlin office" names Berlin; the first word of the
    sentence is skipped, since every sentence starts with a capital."""
    first = _WORD.search(text)
    start = first.end() if first else 0
    return frozenset(m.group(1).lower() for m in _NAME.finditer(text, start))


def words(text: str) -> frozenset[str]:
    """Every word of ``text``, lower-cased, unstemmed (to look names up in)."""
    return frozenset(w.lower() for w in _WORD.findall(text))


def terms(text: str) -> frozenset[str]:
    """The content-word keys of ``text`` (numbers included)."""
    return query_terms(text)


def term_coverage(wanted: frozenset[str], found: frozenset[str]) -> float:
    """The share of ``wanted`` found in ``found`` (1.0 when nothing is wanted)."""
    return len(wanted & found) / len(wanted) if wanted else 1.0


def facts(text: str, *, word_one: bool = True) -> frozenset[str]:
    """The numbers, amounts, times and months ``text`` states, normalised for comparison.

    ``word_one=False`` leaves out the word "one", which is far more often a pronoun ("one of
    the benefits") than a figure: claims are read that way, so that only cited text may
    state "one" for a claim's "1".
    """
    found: set[str] = set()
    rest = _TIME.sub(lambda m: _time(m, found), text)
    for match in _NUMBER.finditer(rest):
        whole = match.group(1).replace(",", "")
        fraction = match.group(2)
        found.add(_decimal(f"{whole}.{fraction}" if fraction else whole))
    for match in _NUMBER_WORD.finditer(text):
        tens, unit, alone = match.groups()
        if alone:
            if word_one or alone.lower() != "one":
                found.add(str(_UNITS.index(alone.lower())))
        else:
            value = 20 + 10 * _TENS.index(tens.lower())
            found.add(str(value + (_UNITS.index(unit.lower()) if unit else 0)))
    for match in _MONTH.finditer(text):
        word = match.group(0)
        prefix = match.group(1).lower()[:3]
        month = next(m for m in _MONTHS if m.startswith(prefix))
        # "may" is a month only when capitalised ("in May"), not the verb ("may claim").
        if prefix == "may" and not word[0].isupper():
            continue
        if match.group(0).rstrip(".").lower() in (prefix, month, "sept"):
            found.add(f"month:{month}")
    return frozenset(found)


def _time(match: re.Match[str], found: set[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    found.add(str(hours) if minutes == 0 else f"{hours}:{minutes:02d}")
    return " "


def _decimal(text: str) -> str:
    try:
        value = Decimal(text).normalize()
    except InvalidOperation:
        return text
    return format(value, "f")


def cosine_matrix(
    embedder: Embedder, left: Sequence[str], right: Sequence[str]
) -> list[list[float]]:
    """Cosine similarity of every text in ``left`` with every text in ``right``.

    All texts go to the embedder in one batch (each distinct text once), through
    ``embed_documents``: claims and source sentences are both short statements, and one
    batch is far cheaper than a query call per claim.
    """
    if not left or not right:
        return [[] for _ in left]
    distinct = list(dict.fromkeys([*left, *right]))
    vectors = np.asarray(embedder.embed_documents(distinct), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    row = {text: i for i, text in enumerate(distinct)}
    a = unit[[row[t] for t in left]]
    b = unit[[row[t] for t in right]]
    matrix = np.clip(a @ b.T, -1.0, 1.0)
    return [[float(x) for x in line] for line in matrix]
