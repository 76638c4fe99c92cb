"""The evaluation example: one question with its reference answer and gold evidence.

Every dataset the harness reads (SciFact, the handbooks, hand-written sets, exported
feedback) becomes a list of ``EvalExample``; loaders for particular datasets live in their
own modules and only produce these. On disk a dataset is JSON Lines, one example per line,
read and written by ``load_jsonl`` / ``write_jsonl``::

    {"id": "q1", "question": "How many vacation days?", "reference_answer": "25 days.",
     "gold_documents": ["hr/leave.md"], "gold_pages": [2], "answerable": true,
     "principal": {"user": "eval", "groups": ["public"]}, "metadata": {"topic": "hr"}}

Document keys in ``gold_documents`` are what a retrieval run ranks: a source file's path
relative to the ingested folder, or a dataset's own document id (SciFact's ``<doc_id>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import CitewiseError
from core.models import Principal

PUBLIC_GROUP = "public"


class DatasetError(CitewiseError):
    """A dataset file or folder is missing or malformed (the message names where)."""


class PrincipalSpec(BaseModel):
    """Who asks the question: the user id and groups a search or answer runs as.

    The default sees exactly the documents shared with the reserved ``public`` group, which is
    what evaluation corpora ingested with the default ACL carry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(default="eval", min_length=1)
    groups: tuple[str, ...] = (PUBLIC_GROUP,)

    def to_principal(self, tenant: str | None = None) -> Principal:
        """The domain principal (tenant from the settings the run uses)."""
        return Principal(user_id=self.user, groups=self.groups, tenant=tenant)


class EvalExample(BaseModel):
    """One evaluation item. ``answerable=False`` marks questions the corpus cannot answer (the
    system should abstain); their gold lists are usually empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference_answer: str | None = None
    gold_documents: tuple[str, ...] = ()
    gold_chunks: tuple[str, ...] = ()
    gold_pages: tuple[int, ...] = ()
    answerable: bool = True
    must_contain: tuple[tuple[str, ...], ...] = ()
    """Key strings a correct answer contains: each key is a tuple of accepted spellings
    ("18 weeks", "eighteen weeks"); every key must be found (see ``reference_checks``)."""
    principal: PrincipalSpec = PrincipalSpec()
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


@dataclass(frozen=True)
class CorpusDocument:
    """One document of an evaluation corpus, keyed as gold lists name it."""

    key: str
    title: str
    text: str

    def markdown(self) -> str:
        """The document as the markdown file that is ingested: ``# Title``, blank, text."""
        title = " ".join(self.title.split())
        body = self.text.strip()
        return f"# {title}\n\n{body}\n" if title else f"{body}\n"


def load_jsonl(path: Path) -> list[EvalExample]:
    """Every example in a JSON Lines file (blank lines are ignored).

    Raises ``DatasetError`` naming the file and line for unreadable JSON, a record that does
    not fit the schema, or an id used twice (results are keyed by id).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read dataset {path}: {e}") from e
    examples: list[EvalExample] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from e
        try:
            example = EvalExample.model_validate(record)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(record)'}: {err['msg']}"
                for err in e.errors()
            )
            raise DatasetError(f"{where}: {problems}") from e
        if example.id in first_line:
            raise DatasetError(
                f"{where}: id {example.id!r} already used on line {first_line[example.id]}"
            )
        first_line[example.id] = number
        examples.append(example)
    return examples


def write_jsonl(examples: Iterable[EvalExample], path: Path) -> int:
    """Write the examples, one JSON object a line (UTF-8, unescaped); returns how many.

    The file is replaced atomically, so a reader never sees half a dataset.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.model_dump(mode="json"), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
