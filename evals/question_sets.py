"""Reference-checked question sets: a YAML schema, a loader and a verifier that trusts no judge.

A question set is a YAML list of items. An answerable item names the files that answer it
(``sources``), quotes the passages that hold the answer (``evidence``) and lists the key strings
every correct answer states (``must_contain``, matched by ``reference_checks.states_key``). An
unanswerable item lists ``absent_terms``, phrases that occur nowhere in the corpus, which is
what proves the corpus cannot answer it::

    - id: sg-leave-parental
      question: "How much paid time off do I get when my baby is born?"
      answer: "Reference answer in one or two sentences."   # null for unanswerable
      answerable: true
      kind: number                  # fact | number | procedure | multi-hop | unanswerable
      sources: [benefits-pay-perks/benefits-perks.md]
      must_contain:
        - ["18 weeks", "eighteen weeks"]                    # one key: its accepted spellings
      evidence:
        - source: benefits-pay-perks/benefits-perks.md
          quote: "exact text copied from the file"
      absent_terms: []

The sample set (``samples/questions.yaml``) also carries ``source`` (the one document older
readers expect), ``page`` and ``restricted`` (asked as an ``hr`` member).

``verify`` checks a set against its corpus:

- every quote is verbatim in its file (case, whitespace, typographic quotes and dashes ignored),
  as read for Markdown and text (also with link and emphasis marks removed), as extracted by the
  ingest parser for other formats, either way for HTML;
- every key is stated in the item's evidence and in its reference answer;
- every source exists, and no single file states every key of a multi-hop item;
- no question copies seven consecutive words of the corpus;
- every absent term is absent from every file; ids are unique.

``verify`` reads other formats through a ``CorpusReader`` the caller passes (the ingest
parser, wired by the composition root), so this module never imports ``ingest``. Run it as::

    citewise eval verify-questions evals/data/sourcegraph-handbook.yaml [--corpus DIR]
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import CitewiseError
from evals.dataset import DatasetError, EvalExample, PrincipalSpec
from evals.reference_checks import states_key

logger = logging.getLogger(__name__)

PUBLIC_GROUPS: tuple[str, ...] = ("public",)
RESTRICTED_GROUPS: tuple[str, ...] = ("public", "hr")
COPY_WORDS = 7
"""A question sharing this many consecutive words with the corpus copies it."""

_RAW_FORMATS = frozenset({".md", ".markdown", ".txt", ".text", ".csv", ".tsv"})
_HTML_FORMATS = frozenset({".html", ".htm"})
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"[*_`]+")


class Kind(StrEnum):
    """What a question tests."""

    FACT = "fact"
    NUMBER = "number"
    PROCEDURE = "procedure"
    MULTI_HOP = "multi-hop"
    """Needs two different files."""
    UNANSWERABLE = "unanswerable"


class Evidence(BaseModel):
    """A passage copied from a source file that holds (part of) the answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class QuestionItem(BaseModel):
    """One item of a question set (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    question: str = Field(min_length=1)
    answer: str | None = None
    answerable: bool = True
    kind: Kind
    sources: tuple[str, ...] = ()
    must_contain: tuple[tuple[str, ...], ...] = ()
    evidence: tuple[Evidence, ...] = ()
    absent_terms: tuple[str, ...] = ()
    # The sample set's fields.
    source: str | None = None
    """The one document older readers of the sample set expect (one of ``sources``)."""
    page: int | None = Field(default=None, ge=1)
    restricted: bool = False
    """Only the ``hr`` group may get the answer: asked as ``public`` + ``hr``."""

    @model_validator(mode="after")
    def _consistent(self) -> QuestionItem:
        if self.answerable != (self.kind is not Kind.UNANSWERABLE):
            raise ValueError("kind is 'unanswerable' exactly when answerable is false")
        if self.answerable:
            self._check_answerable()
        else:
            self._check_unanswerable()
        return self

    def _check_answerable(self) -> None:
        if not self.answer or not self.answer.strip():
            raise ValueError("an answerable item needs an answer")
        if not self.documents:
            raise ValueError("an answerable item needs sources")
        if not self.must_contain or any(not key for key in self.must_contain):
            raise ValueError("an answerable item needs must_contain keys, none empty")
        if not self.evidence:
            raise ValueError("an answerable item needs evidence")
        if self.absent_terms:
            raise ValueError("absent_terms are for unanswerable items")
        if self.source is not None and self.sources and self.source not in self.sources:
            raise ValueError(f"source {self.source!r} is not one of sources")
        cited = {e.source for e in self.evidence}
        if stray := cited - set(self.documents):
            raise ValueError(f"evidence cites files not in sources: {sorted(stray)}")
        if uncited := set(self.documents) - cited:
            raise ValueError(f"sources without evidence: {sorted(uncited)}")
        if self.kind is Kind.MULTI_HOP and len(set(self.documents)) < 2:
            raise ValueError("a multi-hop item needs at least two different sources")

    def _check_unanswerable(self) -> None:
        if self.answer is not None:
            raise ValueError("an unanswerable item has answer: null")
        if self.documents or self.must_contain or self.evidence or self.page:
            raise ValueError("an unanswerable item has no sources, keys, evidence or page")
        if not self.absent_terms or any(not t.strip() for t in self.absent_terms):
            raise ValueError("an unanswerable item needs absent_terms, none blank")

    @property
    def documents(self) -> tuple[str, ...]:
        """The gold files: ``sources``, else the sample set's single ``source``."""
        if self.sources:
            return self.sources
        return (self.source,) if self.source else ()


def load_question_set(path: Path) -> list[QuestionItem]:
    """Every item of a question-set YAML file; ``DatasetError`` naming the item otherwise."""
    try:
        records = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise DatasetError(f"cannot read question set {path}: {e}") from e
    if not isinstance(records, list):
        raise DatasetError(f"{path}: a question set is a YAML list of items")
    items = []
    for number, record in enumerate(records, 1):
        where = record.get("id", f"item {number}") if isinstance(record, dict) else number
        try:
            items.append(QuestionItem.model_validate(record))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(item)'}: {err['msg']}"
                for err in e.errors()
            )
            raise DatasetError(f"{path}: {where}: {problems}") from e
    return items


def to_examples(
    items: Iterable[QuestionItem],
    *,
    user: str = "eval",
    restricted_groups: tuple[str, ...] = RESTRICTED_GROUPS,
) -> tuple[EvalExample, ...]:
    """The items as evaluation examples; restricted ones are asked as ``restricted_groups``."""
    return tuple(
        EvalExample(
            id=item.id,
            question=item.question,
            reference_answer=item.answer,
            gold_documents=item.documents,
            gold_pages=(item.page,) if item.page else (),
            answerable=item.answerable,
            must_contain=item.must_contain,
            principal=PrincipalSpec(
                user=user, groups=restricted_groups if item.restricted else PUBLIC_GROUPS
            ),
            metadata={"kind": item.kind.value},
        )
        for item in items
    )


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


_TYPOGRAPHIC = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def _flat(text: str) -> str:
    """``text`` as quotes and terms are matched: case folded, typographic quotes and dashes
    made plain, whitespace collapsed."""
    return " ".join(text.casefold().translate(_TYPOGRAPHIC).split())


class CorpusReader(Protocol):
    """How the ingest parser sees a corpus: the file types it ingests, and the text it
    extracts from a file (CitewiseError when it cannot read one)."""

    @property
    def extensions(self) -> frozenset[str]:
        """The suffixes (``.md``, ``.pdf``…) of the files it ingests, lower case."""
        ...

    def extract(self, path: Path) -> str:
        """The text the parser extracts from ``path`` (elements joined by newlines)."""
        ...


class Corpus:
    """The corpus's files as text, each in the views a quote may match: Markdown and text as
    read (and with link and emphasis marks removed), other formats as ``reader`` (the ingest
    parser) extracts them, HTML both ways. Parsed files are cached."""

    def __init__(self, root: Path, reader: CorpusReader) -> None:
        self.root = root
        self._reader = reader
        self._views: dict[str, tuple[str, ...]] = {}

    def files(self) -> list[str]:
        """Every document under the root, as paths relative to it."""
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file()
            and p.suffix.lower() in self._reader.extensions
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )

    def exists(self, relative: str) -> bool:
        """Whether the corpus holds the file."""
        return (self.root / relative).is_file()

    def views(self, relative: str) -> tuple[str, ...]:
        """The file's text views, each lower-cased with whitespace collapsed."""
        if relative not in self._views:
            self._views[relative] = tuple(dict.fromkeys(_flat(v) for v in self._read(relative)))
        return self._views[relative]

    def _read(self, relative: str) -> list[str]:
        path = self.root / relative
        suffix = path.suffix.lower()
        if suffix in _RAW_FORMATS:
            raw = path.read_text(encoding="utf-8", errors="replace")
            return [raw, _MD_MARKS.sub("", _MD_LINK.sub(r"\1", raw))]
        views = (
            [path.read_text(encoding="utf-8", errors="replace")] if suffix in _HTML_FORMATS else []
        )
        return [*views, _extracted(self._reader, path)]

    def contains(self, relative: str, passage: str) -> bool:
        """Whether a view of the file holds ``passage`` (case and whitespace ignored)."""
        needle = _flat(passage)
        return any(needle in view for view in self.views(relative))


def _extracted(reader: CorpusReader, path: Path) -> str:
    """The text the ingest parser extracts from ``path`` (elements joined by newlines)."""
    try:
        return reader.extract(path)
    except CitewiseError as e:  # a file the parser cannot read holds no quotable text
        logger.warning("cannot extract text", extra={"path": str(path), "error": str(e)})
        return ""


def _grams(text: str, n: int = COPY_WORDS) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold().replace("\u2019", "'"))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def verify(items: Sequence[QuestionItem], corpus_dir: Path, reader: CorpusReader) -> list[str]:
    """Every problem of ``items`` against the corpus in ``corpus_dir``, its files read through
    ``reader``; empty when valid."""
    problems: list[str] = []
    if not corpus_dir.is_dir():
        return [f"corpus folder {corpus_dir} does not exist"]
    corpus = Corpus(corpus_dir, reader)
    for item_id, count in Counter(item.id for item in items).items():
        if count > 1:
            problems.append(f"{item_id}: id used {count} times")
    for item in items:
        problems.extend(_check_item(item, corpus))
    problems.extend(_check_corpus_wide(items, corpus))
    return problems


def _check_item(item: QuestionItem, corpus: Corpus) -> list[str]:
    problems = []
    for source in item.documents:
        if not corpus.exists(source):
            problems.append(f"{item.id}: source {source!r} does not exist")
    evidence_text = []
    for number, evidence in enumerate(item.evidence, 1):
        if not corpus.exists(evidence.source):
            continue
        if corpus.contains(evidence.source, evidence.quote):
            evidence_text.append(evidence.quote)
        else:
            problems.append(
                f"{item.id}: evidence {number} is not verbatim in {evidence.source}: "
                f"{evidence.quote[:80]!r}"
            )
    joined = "\n".join(evidence_text)
    for key in item.must_contain:
        if evidence_text and not states_key(joined, key):
            problems.append(f"{item.id}: key {list(key)} is not stated in the evidence")
        if item.answer and not states_key(item.answer, key):
            problems.append(f"{item.id}: key {list(key)} is not stated in the reference answer")
    if item.kind is Kind.MULTI_HOP:
        for source in dict.fromkeys(item.documents):
            if corpus.exists(source) and all(
                any(states_key(view, key) for view in corpus.views(source))
                for key in item.must_contain
            ):
                problems.append(f"{item.id}: multi-hop, yet {source} alone states every key")
    return problems


def _check_corpus_wide(items: Sequence[QuestionItem], corpus: Corpus) -> list[str]:
    """Questions copying 7 words of the corpus; absent terms that are present."""
    question_grams = {item.id: _grams(item.question) for item in items}
    wanted = set().union(*question_grams.values()) if question_grams else set()
    terms = {_flat(term): term for item in items for term in item.absent_terms}
    copied: set[tuple[str, ...]] = set()
    present: dict[str, str] = {}
    for relative in corpus.files():
        views = corpus.views(relative)
        for view in views:
            copied |= wanted & _grams(view)
        for flat in terms:
            if flat not in present and any(flat in view for view in views):
                present[flat] = relative
    problems = []
    for item in items:
        for gram in sorted(question_grams[item.id] & copied):
            problems.append(f"{item.id}: question copies the corpus: {' '.join(gram)!r}")
        for term in item.absent_terms:
            if (where := present.get(_flat(term))) is not None:
                problems.append(f"{item.id}: absent term {term!r} occurs in {where}")
    return problems


def kind_counts(items: Iterable[QuestionItem]) -> dict[str, int]:
    """How many items of each kind, plus answerable and unanswerable totals."""
    items = list(items)
    counts = {kind.value: sum(item.kind is kind for item in items) for kind in Kind}
    counts["answerable"] = sum(item.answerable for item in items)
    counts["total"] = len(items)
    return counts


def default_corpus(path: Path) -> Path | None:
    """The corpus a known question set is asked over (None for an unknown file)."""
    from evals.qa_datasets import (
        SAMPLE_CORPUS,
        SAMPLE_QUESTIONS,
        SOURCEGRAPH_QUESTIONS,
        sourcegraph_corpus_dir,
    )

    resolved = path.resolve()
    if resolved == SAMPLE_QUESTIONS.resolve():
        return SAMPLE_CORPUS
    if resolved == SOURCEGRAPH_QUESTIONS.resolve():
        return sourcegraph_corpus_dir(check=False)
    return None
