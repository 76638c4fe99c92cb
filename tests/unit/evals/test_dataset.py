"""The shared example schema and its JSON Lines files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.models import Principal
from evals.dataset import (
    CorpusDocument,
    DatasetError,
    EvalExample,
    PrincipalSpec,
    load_jsonl,
    write_jsonl,
)


def full_example() -> EvalExample:
    return EvalExample(
        id="hr-1",
        question="Wie viele Urlaubstage gibt es?",
        reference_answer="25 days (§ 3).",
        gold_documents=("hr/leave.md", "hr/faq.pdf"),
        gold_chunks=("c1",),
        gold_pages=(2, 3),
        answerable=True,
        principal=PrincipalSpec(user="hana", groups=("hr", "public")),
        metadata={"topic": "hr"},
    )


def test_defaults() -> None:
    example = EvalExample(id="1", question="What?")
    assert example.principal == PrincipalSpec(user="eval", groups=("public",))
    assert example.answerable is True
    assert example.reference_answer is None
    assert example.gold_documents == example.gold_chunks == () and example.gold_pages == ()
    assert example.metadata == {}


def test_examples_are_frozen() -> None:
    with pytest.raises(ValidationError):
        full_example().id = "other"  # type: ignore[misc]


def test_round_trip(tmp_path: Path) -> None:
    examples = [full_example(), EvalExample(id="2", question="Unanswerable?", answerable=False)]
    path = tmp_path / "sub" / "set.jsonl"
    assert write_jsonl(examples, path) == 2
    assert load_jsonl(path) == examples
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["question"] == "Wie viele Urlaubstage gibt es?"  # UTF-8, not \\u escapes
    assert "§" in path.read_text(encoding="utf-8")
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_minimal_records_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('\n{"id": "a", "question": "Q?", "gold_documents": ["x.md"]}\n\n')
    [example] = load_jsonl(path)
    assert example.gold_documents == ("x.md",) and example.principal.user == "eval"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "question": "Q?"}', "{not json"], r"set\.jsonl:2: not valid JSON"),
        (['{"id": "a"}'], r"set\.jsonl:1: question: Field required"),
        (['{"id": "a", "question": "  "}'], r"set\.jsonl:1: question: .*blank"),
        (['{"id": "a", "question": "Q?", "gold_pages": ["two"]}'], r":1: gold_pages\.0: "),
        (['{"id": "a", "question": "Q?", "colour": "red"}'], r":1: colour: Extra inputs"),
        (['{"id": "a", "question": "Q?", "principal": {"user": ""}}'], r":1: principal\.user"),
        (["[1, 2]"], r":1: \(record\): "),
        (
            ['{"id": "a", "question": "Q?"}', "", '{"id": "a", "question": "R?"}'],
            r":3: id 'a' already used on line 1",
        ),
    ],
)
def test_bad_input_names_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_jsonl(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_jsonl(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetError, match="cannot read dataset"):
        load_jsonl(binary)


def test_principal_spec_to_principal() -> None:
    spec = PrincipalSpec(user="hana", groups=("hr",))
    assert spec.to_principal() == Principal(user_id="hana", groups=("hr",))
    assert spec.to_principal("acme").tenant == "acme"


def test_corpus_document_markdown() -> None:
    assert CorpusDocument("1", " A  title\n", "Body. ").markdown() == "# A title\n\nBody.\n"
    assert CorpusDocument("2", "", "Body.").markdown() == "Body.\n"
