"""Words as match keys: spaCy's English stop words and NLTK's Snowball (English) stems.

Snippets, the grounding check and the subject check compare words by these keys, so that
"expenses" finds "expensed" and "reimbursed" finds "reimbursement". Both are loaded on first
use, never at import.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Protocol


@cache
def stop_words() -> frozenset[str]:
    """spaCy's English stop words (installed with unstructured; no spaCy model needed)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of ``word``, lower-cased ("Accrues" -> "accru", "reimbursed" and
    "reimbursement" -> "reimburs"); numbers are kept as they are."""
    return snowball().stem(word.lower())


class Stemmer(Protocol):
    """What is used of NLTK's (untyped) stemmer."""

    def stem(self, word: str) -> str:
        """The stem of a lower-case word."""
        ...


@cache
def snowball() -> Stemmer:
    """NLTK's English Snowball stemmer, built once."""
    from nltk.stem.snowball import SnowballStemmer  # type: ignore[import-untyped]

    stemmer: Stemmer = SnowballStemmer("english")
    return stemmer
