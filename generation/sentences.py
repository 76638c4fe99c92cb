"""Sentence spans with NLTK's Punkt model, found offline in llama-index-core's bundled cache.

Punkt (``punkt_tab/english``) is the trained English model NLTK ships as data; llama-index-core
bundles it in its wheel (``llama_index/core/_static/nltk_cache``), so nothing is downloaded.
An ``NLTK_DATA`` or user-installed copy is preferred when NLTK already finds one.

Text is first cut at line breaks, because answers and documents put list items, table rows
and headings on lines of their own, often without final punctuation; Punkt then splits each
line. Spans index into the original text, so callers can cut or highlight sentences in place.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelLoadError

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer  # type: ignore[import-untyped]

Span = tuple[int, int]

_PUNKT = "tokenizers/punkt_tab/english/"
_LLAMA_INDEX = "llama-index-core"
_BUNDLED = "llama_index/core/_static/nltk_cache"
_EXTRA_ABBREVIATIONS = frozenset({"e.g", "i.e", "cf", "approx", "incl", "excl", "fig", "pp", "ca"})
"""Common in policy text but missing from Punkt's English list: without them "i.e. the"
would end a sentence."""


def split_sentences(text: str) -> list[Span]:
    """``(start, end)`` of each sentence of ``text``, in order, trimmed of surrounding space."""
    tokenizer = _punkt()
    spans: list[Span] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            for start, end in tokenizer.span_tokenize(line):
                spans.append(_trim(text, offset + start, offset + end))
        offset += len(line)
    return [span for span in spans if span[0] < span[1]]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see ``split_sentences``)."""
    return [text[start:end] for start, end in split_sentences(text)]


def warm_up() -> None:
    """Load the Punkt model now rather than on the first split."""
    _punkt()


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@cache
def _punkt() -> PunktSentenceTokenizer:
    """The English Punkt model, loaded once per process (read-only afterwards)."""
    import nltk.data  # type: ignore[import-untyped]
    from nltk.tokenize.punkt import PunktSentenceTokenizer, load_punkt_params

    try:
        found = nltk.data.find(_PUNKT)
    except LookupError:
        # NLTK only opens data under its search path (its path sandbox checks this), so the
        # bundled cache must join that path; llama-index does the same when it splits text.
        bundled = str(_bundled_cache())
        if bundled not in nltk.data.path:
            nltk.data.path.append(bundled)
        try:
            found = nltk.data.find(_PUNKT)
        except LookupError as e:
            raise ModelLoadError(
                f"NLTK's punkt_tab model is not in {bundled}; reinstall {_LLAMA_INDEX}"
            ) from e
    params = load_punkt_params(found)
    params.abbrev_types.update(_EXTRA_ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def _bundled_cache() -> Path:
    """llama-index-core's NLTK data directory, located without importing llama-index."""
    try:
        dist = distribution(_LLAMA_INDEX)
    except PackageNotFoundError as e:
        raise ModelLoadError(f"{_LLAMA_INDEX} is not installed; it ships the Punkt model") from e
    return Path(str(dist.locate_file(_BUNDLED)))
