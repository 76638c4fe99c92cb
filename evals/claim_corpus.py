"""What synthetic claims are made from: a corpus' documents read as passages under their
headings, the factual sentences of a passage (those that state a figure or a name), and the
figures, names and subjects of a sentence.

Used by :mod:`evals.synthetic_claims`, which re-exports the corpus names.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from email import message_from_string
from email.message import Message
from pathlib import Path

from generation.sentences import sentences
from generation.similarity import facts, names, terms

SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "samples" / "corpus"
HANDBOOK_SUBDIR = Path("handbook-sourcegraph") / "content"
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_MARKUP = re.compile(r"(\*\*|__|`|\{\{[^}]*\}\})")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_HTML_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.IGNORECASE | re.DOTALL)

FIGURE = re.compile(
    r"(?<![\w.,$])([$€£]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)(?![\w,]*\d)(?:\s+([a-z]+))?"
)
_UNITS = frozenset(
    ("days", "weeks", "months", "years", "hours", "minutes", "percent", "people", "miles")
)
_NAME = re.compile(r"(?<![\w'])([A-Z][\w-]{2,})")


@dataclass(frozen=True)
class Passage:
    """A section of a document, at most about ``max_words`` words."""

    doc: str
    heading: str
    text: str
    index: int


@dataclass(frozen=True)
class Corpus:
    """Documents' passages, by corpus name."""

    name: str
    passages: tuple[Passage, ...]


def sample_corpus(root: Path = SAMPLE_CORPUS) -> Corpus:
    """The sample corpus' text formats (Markdown, HTML, e-mail, plain text); the Office and
    PDF files need the ingestion parsers and are left out."""
    documents: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*")):
        suffix = path.suffix.lower()
        if suffix in (".md", ".txt"):
            documents.append((str(path.relative_to(root)), path.read_text(encoding="utf-8")))
        elif suffix in (".html", ".htm"):
            documents.append((str(path.relative_to(root)), html_to_markdown(path.read_text())))
        elif suffix == ".eml":
            documents.append((str(path.relative_to(root)), email_body(path.read_text())))
    return Corpus("sample", tuple(p for doc, text in documents for p in passages(doc, text)))


def handbook_corpus(content: Path, *, max_documents: int | None = None) -> Corpus:
    """The Sourcegraph handbook's Markdown pages (sorted; the first ``max_documents``)."""
    paths = sorted(content.rglob("*.md"))[:max_documents]
    return Corpus(
        "handbook",
        tuple(
            p
            for path in paths
            for p in passages(str(path.relative_to(content)), path.read_text(encoding="utf-8"))
        ),
    )


def html_to_markdown(text: str) -> str:
    """Headings as ``#`` lines, tags dropped, entities decoded: enough to find sentences."""
    text = _HTML_HEADING.sub(lambda m: f"\n## {_TAG.sub('', m.group(1)).strip()}\n", text)
    text = re.sub(r"</(?:p|li|tr|div)>", "\n\n", text, flags=re.IGNORECASE)
    text = re.sub(r"<head>.*?</head>", "", text, flags=re.IGNORECASE | re.DOTALL)
    return html.unescape(_TAG.sub("", text))


def email_body(text: str) -> str:
    """The plain-text body of an e-mail, its subject as the heading."""
    message: Message = message_from_string(text)
    body = message.get_payload()
    return f"# {message.get('Subject', '')}\n\n{body if isinstance(body, str) else ''}"


def passages(doc: str, text: str, *, max_words: int = 150) -> list[Passage]:
    """A document's sections split into passages of whole paragraphs (at most about
    ``max_words`` words), each under its nearest heading; markup and links removed."""
    text = _MARKUP.sub("", _LINK.sub(r"\1", _FRONT_MATTER.sub("", text)))
    found: list[Passage] = []
    heading = ""
    paragraphs: list[str] = []

    def flush() -> None:
        if paragraphs:
            found.append(Passage(doc, heading, "\n\n".join(paragraphs), len(found)))
            paragraphs.clear()

    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        body: list[str] = []
        for line in lines:
            match = _HEADING.match(line.strip())
            if match:
                if body:
                    paragraphs.append("\n".join(body))
                    body = []
                flush()
                heading = match.group(2).strip()
            else:
                body.append(line.rstrip())
        if body:
            paragraph = "\n".join(body)
            if sum(len(p.split()) for p in paragraphs) + len(paragraph.split()) > max_words:
                flush()
            paragraphs.append(paragraph)
    flush()
    return found


def factual_sentences(passage: Passage) -> list[str]:
    """Sentences of ``passage`` that state a figure or a name, 6 to 40 words, with at least
    three content words and no table or link markup."""
    chosen: list[str] = []
    for sentence in sentences(passage.text):
        text = sentence.strip().lstrip("-*+ ").strip()
        if not 6 <= len(text.split()) <= 40 or "|" in text or "http" in text or "@" in text:
            continue
        if not text[:1].isupper() or text.endswith((":", "?")):
            continue
        if len(terms(text)) < 3 or not (facts(text, word_one=False) or names(text)):
            continue
        chosen.append(text)
    return chosen


def default_corpora(
    shared_data: Path | None, *, max_handbook_documents: int | None = None
) -> list[Corpus]:
    """The sample corpus, plus the Sourcegraph handbook when ``shared_data`` holds it."""
    corpora = [sample_corpus()]
    if shared_data is not None and (shared_data / HANDBOOK_SUBDIR).is_dir():
        corpora.append(
            handbook_corpus(shared_data / HANDBOOK_SUBDIR, max_documents=max_handbook_documents)
        )
    return corpora


# --- figures, names and subjects of a sentence ------------------------------------------


_DETERMINERS = frozenset(("a", "an", "the", "every", "each", "all", "our", "your", "any", "some"))


def leading_phrase(sentence: str) -> str | None:
    """The sentence's first one or two words after a determiner, lower-cased, up to a stop
    word or a word that looks like a verb (-ed, -es): its grammatical subject, most often
    ("Rental cars need approval" -> "rental cars")."""
    tokens = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence.strip().lstrip("-*+ "))
    while tokens and tokens[0].lower() in _DETERMINERS:
        tokens.pop(0)
    phrase: list[str] = []
    for token in tokens[:2]:
        lower = token.lower()
        verb_like = bool(phrase) and len(lower) > 4 and lower.endswith(("ed", "es"))
        if len(terms(lower)) != 1 or verb_like or (phrase and not token.islower()):
            break
        phrase.append(lower)
    if not phrase or max(len(w) for w in phrase) <= 3:
        return None
    return " ".join(phrase)


def figure_pool(corpus: Corpus) -> dict[str, list[str]]:
    """Every figure of the corpus (as written), by shape, sorted and distinct."""
    pool: dict[str, set[str]] = {}
    for passage in corpus.passages:
        for match in FIGURE.finditer(passage.text):
            figure = match.group(0)[: figure_length(match)]
            if facts(figure) - {"0"}:
                pool.setdefault(figure_shape(match), set()).add(figure)
    return {shape: sorted(values) for shape, values in pool.items()}


def figure_length(match: re.Match[str]) -> int:
    """The length of a matched figure as written, without a following unit word."""
    return match.end(4) - match.start()


def figure_shape(match: re.Match[str]) -> str:
    """What kind of figure a match is: amount, percent, year, decimal or count1..count3."""
    currency, whole, fraction, percent = match.group(1, 2, 3, 4)
    if currency:
        return "amount"
    if percent:
        return "percent"
    digits = whole.replace(",", "")
    if len(digits) == 4 and digits[:2] in ("19", "20") and not fraction:
        return "year"
    return "decimal" if fraction else f"count{min(len(digits), 3)}"


def figure_phrase(sentence: str, rng: random.Random) -> str | None:
    """A figure of the sentence as written, with its unit word when one follows ("21 days");
    only amounts, percentages and counts with a unit; years are left out (a year is rarely
    the amount a subject "is")."""
    found = figure_match(sentence, rng)
    return None if found is None else found[0]


def figure_match(sentence: str, rng: random.Random) -> tuple[str, re.Match[str]] | None:
    """``figure_phrase`` and the figure's match in the sentence."""
    matches = [
        m
        for m in FIGURE.finditer(sentence)
        if figure_shape(m) != "year" and (m.group(1) or m.group(4) or m.group(5) in _UNITS)
    ]
    if not matches:
        return None
    match = rng.choice(matches)
    figure = match.group(0)[: figure_length(match)]
    unit = match.group(5)
    return (f"{figure} {unit}" if unit in _UNITS else figure), match


def is_name(word: str, passage: Passage) -> bool:
    """A capitalised word that is a proper name: never written in lower case in the passage
    ("Read" in a title is not) and not a stop word."""
    return word.lower() not in _lower_case_words(passage.text) and len(terms(word)) == 1


def _lower_case_words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\b[a-z][\w-]*", text))


def name_spans(text: str) -> list[tuple[str, int, int]]:
    """Capitalised words after the first word, as ``names`` reads them, with their spans."""
    first = re.search(r"[\w-]+", text)
    start = first.end() if first else 0
    return [(m.group(1), m.start(1), m.end(1)) for m in _NAME.finditer(text, start)]
