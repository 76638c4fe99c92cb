"""Citation markers: parse ``[n]`` forms, tie them to answer sentences, resolve and quote.

Accepted marker forms: ``[1]``, ``[1, 3]``, ``[1; 3]``, ``[1][3]``, ``[1-3]`` (also with an en
dash), ``[1 and 3]``, and the same with a "source"/"ref" word (``[Source 2]``), which small
models often write. Brackets holding anything else (``[note]``, ``[1.2]``) are not markers and
are left alone. Numbers outside ``1..n`` (``n`` sources in the context), reversed or over-wide
ranges are dropped from the text and reported; valid numbers are rewritten to the canonical
``[1][3]`` so clients need to recognise one form only.

Which sentence a marker belongs to: the prompt tells the model to cite *after* each claim, so
a marker belongs to the sentence it ends. Markers that open a sentence ("Done.[2] Next..."
or "Done. [2] Next...") therefore belong to the sentence before, when that sentence is on the
same line, or when the markers stand on a line of their own. A marker that opens a line with
text after it (a list item "[3] Item") stays with its own line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generation.answer_types import Citation, DroppedMarker
from generation.sentences import Span, split_sentences
from generation.similarity import cosine_matrix, term_coverage, terms
from retrieval.context import Context, Source
from retrieval.embedder import Embedder

_LABEL = r"(?:(?:sources?|src|refs?|references?|docs?|documents?)\s*:?\s*#?\s*)?"
_ITEM = rf"{_LABEL}\d+(?:\s*[-\u2013\u2014]\s*\d+)?"
_MARKER = re.compile(rf"\[\s*(?P<body>{_ITEM}(?:\s*(?:[,;]|and|&)\s*{_ITEM})*)\s*\]", re.IGNORECASE)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-\u2013\u2014]\s*(\d+))?")
_CANONICAL = re.compile(r"\[(\d+)\]")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
MAX_RANGE = 20
"""A range wider than this (``[1-500]``) is not a real citation and is dropped whole."""


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer, with the source numbers it cites.

    ``text`` is the sentence as displayed (markers included), ``span`` its place in the
    parsed answer's text, ``claim`` the same sentence without markers or list bullet: the
    statement the grounding check judges.
    """

    text: str
    span: Span
    cited: tuple[int, ...]
    claim: str


@dataclass(frozen=True)
class ParsedAnswer:
    """The answer text with markers made canonical, split into sentences."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    dropped: tuple[DroppedMarker, ...]

    @property
    def cited(self) -> tuple[int, ...]:
        """Every source number cited somewhere, ascending."""
        return tuple(sorted({n for s in self.sentences for n in s.cited}))


@dataclass(frozen=True)
class Quote:
    """The source sentence that best supports a claim, and where it is in the source text."""

    text: str
    span: Span
    score: float


@dataclass(frozen=True)
class _Marker:
    span: Span
    numbers: tuple[int, ...]


def parse_answer(text: str, source_count: int) -> ParsedAnswer:
    """Canonicalise the markers of ``text`` against ``source_count`` sources and split it."""
    cleaned, markers, dropped = _rewrite_markers(text, source_count)
    sentences = _attach(cleaned, split_sentences(cleaned), markers)
    return ParsedAnswer(text=cleaned, sentences=tuple(sentences), dropped=tuple(dropped))


def strip_markers(text: str) -> str:
    """``text`` without canonical ``[n]`` markers, spacing tidied."""
    return " ".join(_CANONICAL.sub(" ", text).split()).replace(" .", ".").replace(" ,", ",")


def _read_marker(body: str, source_count: int) -> tuple[list[int], list[int], str | None]:
    """Valid numbers, out-of-range numbers and, for an unreadable marker, why."""
    valid: list[int] = []
    out: list[int] = []
    for match in _NUMBER_OR_RANGE.finditer(body):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            return [], [], f"reversed range {first}-{last}"
        if last - first >= MAX_RANGE:
            return [], [], f"range {first}-{last} is wider than {MAX_RANGE}"
        for number in range(first, last + 1):
            target = valid if 1 <= number <= source_count else out
            if number not in target:
                target.append(number)
    return valid, out, None


def _rewrite_markers(
    text: str, source_count: int
) -> tuple[str, list[_Marker], list[DroppedMarker]]:
    parts: list[str] = []
    markers: list[_Marker] = []
    dropped: list[DroppedMarker] = []
    length = 0
    at = 0
    held = ""  # spacing taken off before a removed marker, owed to a marker right after it
    for match in _MARKER.finditer(text):
        valid, out, problem = _read_marker(match.group("body"), source_count)
        before = text[at : match.start()]
        if problem is not None:
            dropped.append(DroppedMarker(marker=match.group(), reason=problem))
        elif out:
            dropped.append(
                DroppedMarker(
                    marker=match.group(),
                    numbers=tuple(out),
                    reason=f"no source {', '.join(map(str, out))} (the context has {source_count})",
                )
            )
        if valid:
            # "paid [0][2]" becomes "paid [2]", not "paid[2]".
            before = before or held
            held = ""
        else:
            # Removing "[9]" from "rate [9]." must not leave "rate ." behind.
            kept = before.rstrip(" \t")
            held = (held if not kept else "") or before[len(kept) :]
            before = kept
        parts.append(before)
        length += len(before)
        if valid:
            canonical = "".join(f"[{n}]" for n in valid)
            markers.append(_Marker((length, length + len(canonical)), tuple(valid)))
            parts.append(canonical)
            length += len(canonical)
        at = match.end()
    parts.append(text[at:])
    return "".join(parts), markers, dropped


def _leading_markers(text: str, span: Span, markers: Sequence[_Marker]) -> int:
    """Where the run of markers that opens ``span`` ends (``span[0]`` when there is none)."""
    at = span[0]
    for marker in markers:
        if marker.span[0] < at:
            continue
        if marker.span[0] > span[1] or text[at : marker.span[0]].strip():
            break
        at = marker.span[1]
    return at


def _attach(text: str, spans: Sequence[Span], markers: Sequence[_Marker]) -> list[AnswerSentence]:
    """Apply the marker-ownership rule (module docstring), then list each sentence's numbers."""
    adjusted: list[list[int]] = []
    for span in spans:
        start, end = span
        run_end = _leading_markers(text, span, markers)
        rest = text[run_end:end].strip()
        if adjusted and run_end > start:
            same_line = "\n" not in text[adjusted[-1][1] : start]
            if same_line or not rest:
                adjusted[-1][1] = run_end
                start = run_end + (len(text[run_end:end]) - len(text[run_end:end].lstrip()))
        if start < end:
            adjusted.append([start, end])
    result: list[AnswerSentence] = []
    for start, end in adjusted:
        cited = tuple(
            dict.fromkeys(n for m in markers if start <= m.span[0] < end for n in m.numbers)
        )
        sentence = text[start:end]
        claim = _BULLET.sub("", strip_markers(sentence))
        result.append(AnswerSentence(sentence, (start, end), cited, claim))
    return result


def best_quote(
    claims: Sequence[str], source_text: str, embedder: Embedder | None = None
) -> Quote | None:
    """The sentence of ``source_text`` that best supports any of ``claims``.

    Scored by the share of a claim's content words (numbers included) that the sentence
    holds, with a small bonus for sentences made mostly of matching words (so the concise
    sentence wins a tie); with an embedder, averaged with cosine similarity.
    """
    spans = split_sentences(source_text)
    if not spans or not claims:
        return None
    texts = [source_text[s:e] for s, e in spans]
    scores = [[_lexical(claim, sentence) for sentence in texts] for claim in claims]
    if embedder is not None:
        similarity = cosine_matrix(embedder, claims, texts)
        scores = [
            [(lex + max(sim, 0.0)) / 2 for lex, sim in zip(row, sims, strict=True)]
            for row, sims in zip(scores, similarity, strict=True)
        ]
    best, best_score = 0, -1.0
    for row in scores:
        for index, score in enumerate(row):
            if score > best_score or (score == best_score and index < best):
                best, best_score = index, score
    return Quote(text=texts[best], span=spans[best], score=best_score)


def _lexical(claim: str, sentence: str) -> float:
    wanted = terms(claim)
    if not wanted:
        return 0.0
    found = terms(sentence)
    recall = term_coverage(wanted, found)
    precision = len(wanted & found) / len(found) if found else 0.0
    return 0.9 * recall + 0.1 * precision


def resolve_citations(
    sentences: Sequence[AnswerSentence], context: Context, embedder: Embedder | None = None
) -> tuple[Citation, ...]:
    """One ``Citation`` per cited source number, ascending, quoting its best-supporting span.

    Numbers must already be valid for ``context`` (``parse_answer`` guarantees it).
    """
    citations: list[Citation] = []
    numbers = sorted({n for s in sentences for n in s.cited})
    for number in numbers:
        source = context.source(number)
        if source is None:
            raise ValueError(f"source [{number}] is not in the context")
        claims = [s.claim for s in sentences if number in s.cited and s.claim]
        quote = best_quote(claims, source.text, embedder)
        citations.append(_citation(source, quote))
    return tuple(citations)


def _citation(source: Source, quote: Quote | None) -> Citation:
    return Citation(
        number=source.number,
        doc_id=source.doc_id,
        chunk_ids=source.chunk_ids,
        title=source.title,
        source_uri=source.source_uri,
        section_path=source.section_path,
        pages=source.pages,
        quote=quote.text if quote else "",
        quote_span=quote.span if quote else None,
    )
