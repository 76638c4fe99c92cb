"""Correctness against references, without trusting any judge: does an answer state every key?

A reference-checked question lists ``must_contain`` keys, short strings a correct answer has to
state (a figure, a name, a step). Each key may have several accepted spellings. Matching is
on normalised text: case folded, Unicode compatibility forms folded, citation markers removed,
typographic quotes and dashes made plain, thousands separators dropped and spacing collapsed,
so "$1,000 [2]" states the key "$1000" and "1 000" does not need its own spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

_MARKER = re.compile(r"\[\d+(?:\s*[,\-\u2013]\s*\d+)*\]")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")
_PLAIN = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)

Key = Sequence[str]
"""One key: the accepted spellings of one fact."""


def normalise(text: str) -> str:
    """``text`` as keys are matched against it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_PLAIN).casefold()
    text = _MARKER.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    return " ".join(text.split())


def states_key(text: str, key: Key) -> bool:
    """True when ``text`` contains one of the key's spellings (normalised, as a substring that
    does not start or end inside a word or number)."""
    haystack = normalise(text)
    for spelling in key:
        needle = normalise(spelling)
        if needle and re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", haystack):
            return True
    return False


def missing_keys(text: str, keys: Sequence[Key]) -> list[Key]:
    """The keys ``text`` does not state, in order."""
    return [key for key in keys if not states_key(text, key)]


class Outcome(StrEnum):
    """What a reader got for one reference-checked question."""

    CORRECT = "correct"
    """Answerable, answered, and every key stated."""
    WRONG_SHOWN = "wrong_shown"
    """Answerable and answered, but a key is missing: a wrong or partial answer was shown."""
    ABSTAINED_ANSWERABLE = "abstained_answerable"
    """Answerable, but declined."""
    ABSTAINED_UNANSWERABLE = "abstained_unanswerable"
    """Not answerable from the corpus, and declined: right."""
    ANSWERED_UNANSWERABLE = "answered_unanswerable"
    """Not answerable from the corpus, yet answered: a made-up answer was shown."""


def outcome(*, answerable: bool, abstained: bool, text: str, keys: Sequence[Key]) -> Outcome:
    """The reader's outcome for one question (an answerable question needs keys to be judged
    correct; one without keys counts as correct when answered)."""
    if not answerable:
        return Outcome.ABSTAINED_UNANSWERABLE if abstained else Outcome.ANSWERED_UNANSWERABLE
    if abstained:
        return Outcome.ABSTAINED_ANSWERABLE
    return Outcome.WRONG_SHOWN if missing_keys(text, keys) else Outcome.CORRECT
