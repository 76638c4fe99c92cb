"""Snippets: the window of a passage that best matches a query, with the matches marked."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from retrieval.stemming import stem, stop_words

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class Snippet(BaseModel):
    """A slice of a passage and the character spans (within the slice) that match the query."""

    model_config = ConfigDict(frozen=True)

    text: str
    highlights: tuple[tuple[int, int], ...] = ()

    def marked(self, before: str = "**", after: str = "**") -> str:
        """The snippet with each match wrapped in ``before``/``after``."""
        parts: list[str] = []
        at = 0
        for start, end in self.highlights:
            parts += [self.text[at:start], before, self.text[start:end], after]
            at = end
        parts.append(self.text[at:])
        return "".join(parts)


def make_snippet(text: str, query: str, *, width: int = 240) -> Snippet:
    """The ``width``-character window of ``text`` holding the most query terms, cut at word
    boundaries, with every matching word marked."""
    terms = query_terms(query)
    words = list(_WORD.finditer(text))
    matches = [m for m in words if stem(m.group()) in terms]
    start = 0
    if matches and len(text) > width:
        best = max(
            range(len(matches)),
            key=lambda i: sum(1 for m in matches[i:] if m.end() - matches[i].start() <= width),
        )
        start = max(0, matches[best].start() - width // 6)
        start = _word_start(text, start)
    end = min(len(text), start + width)
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    window = text[start:end].strip()
    offset = start + (len(text[start:end]) - len(text[start:end].lstrip()))
    spans = tuple(
        (m.start() - offset, m.end() - offset)
        for m in matches
        if m.start() >= offset and m.end() <= offset + len(window)
    )
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shifted = tuple((s + len(prefix), e + len(prefix)) for s, e in spans)
    return Snippet(text=prefix + window + suffix, highlights=shifted)


def query_terms(query: str) -> frozenset[str]:
    """The query's content words (stop words removed), as match keys: their Snowball stems
    ("expenses", "expense" and "expensed" are all "expens")."""
    stop = stop_words()
    return frozenset(
        stem(w.group())
        for w in _WORD.finditer(query)
        if w.group().lower() not in stop and (len(w.group()) > 1 or w.group().isdigit())
    )


def _word_start(text: str, at: int) -> int:
    while 0 < at < len(text) and text[at - 1].isalnum():
        at -= 1
    return at
