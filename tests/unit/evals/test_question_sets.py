"""Reference-checked question sets: the schema, the verifier on hand-made sets, the real sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from api.cli.main import app
from evals.dataset import DatasetError
from evals.qa_datasets import SAMPLE_CORPUS, SAMPLE_QUESTIONS, SOURCEGRAPH_QUESTIONS, load_dataset
from evals.question_sets import (
    Kind,
    QuestionItem,
    kind_counts,
    load_question_set,
    to_examples,
    verify,
)
from ingest.unstructured_adapter.corpus_text import ParsedCorpusText

LEAVE = (
    "# Leave\n\nEvery teammate gets 18 weeks of paid parental leave,\n"
    "taken within the first year after the birth.\n\nSick days are unlimited.\n"
)
TRAVEL = "# Travel\n\nHotels are paid up to **$300** per night.\nBook through [Navan](navan.md).\n"

READER = ParsedCorpusText()
"""The corpus as the ingest parser reads it."""
VERIFY = ["eval", "verify-questions"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text(LEAVE)
    (root / "travel.md").write_text(TRAVEL)
    return root


def answerable(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "parental",
        "question": "How long can I stay home with a newborn on full pay?",
        "answer": "18 weeks.",
        "answerable": True,
        "kind": "number",
        "sources": ["hr/leave.md"],
        "must_contain": [["18 weeks", "eighteen weeks"]],
        "evidence": [{"source": "hr/leave.md", "quote": "gets 18 weeks of paid parental leave"}],
    }
    record.update(overrides)
    return record


def unanswerable(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "sabbatical",
        "question": "Is there a sabbatical after five years?",
        "answer": None,
        "answerable": False,
        "kind": "unanswerable",
        "absent_terms": ["sabbatical"],
    }
    record.update(overrides)
    return record


def multi_hop(**overrides: Any) -> dict[str, Any]:
    record = answerable(
        id="trip",
        question="While on parental leave, could I still book a hotel and what does it cost max?",
        answer="18 weeks of leave; hotels up to $300 a night.",
        kind="multi-hop",
        sources=["hr/leave.md", "travel.md"],
        must_contain=[["18 weeks"], ["$300"]],
        evidence=[
            {"source": "hr/leave.md", "quote": "18 weeks of paid parental leave"},
            {"source": "travel.md", "quote": "Hotels are paid up to $300 per night."},
        ],
    )
    record.update(overrides)
    return record


def items(*records: dict[str, Any]) -> list[QuestionItem]:
    return [QuestionItem.model_validate(r) for r in records]


def test_a_valid_set_has_no_problems(corpus: Path) -> None:
    assert verify(items(answerable(), unanswerable(), multi_hop()), corpus, READER) == []


def test_quotes_match_across_line_breaks_case_and_markdown_marks(corpus: Path) -> None:
    quote = "Parental leave,   taken within the FIRST year"
    record = answerable(evidence=[{"source": "hr/leave.md", "quote": "18 weeks"}])
    record["evidence"].append({"source": "hr/leave.md", "quote": quote})
    linked = multi_hop(
        evidence=[
            {"source": "hr/leave.md", "quote": "18 weeks"},
            {"source": "travel.md", "quote": "up to $300 per night. Book through Navan."},
        ]
    )
    assert verify(items(record, linked), corpus, READER) == []


def test_evidence_that_is_not_verbatim_is_reported(corpus: Path) -> None:
    record = answerable(
        evidence=[{"source": "hr/leave.md", "quote": "gets 18 weeks of fully paid parental leave"}]
    )
    problems = verify(items(record), corpus, READER)
    assert any("not verbatim in hr/leave.md" in p for p in problems), problems


def test_a_key_missing_from_the_evidence_is_reported(corpus: Path) -> None:
    record = answerable(must_contain=[["18 weeks"], ["People Ops"]], answer="18 weeks; People Ops.")
    problems = verify(items(record), corpus, READER)
    assert problems == ["parental: key ['People Ops'] is not stated in the evidence"]


def test_a_key_missing_from_the_reference_answer_is_reported(corpus: Path) -> None:
    problems = verify(items(answerable(answer="Four months.")), corpus, READER)
    assert problems == [
        "parental: key ['18 weeks', 'eighteen weeks'] is not stated in the reference answer"
    ]


def test_a_missing_source_file_is_reported(corpus: Path) -> None:
    record = answerable(
        sources=["hr/nope.md"], evidence=[{"source": "hr/nope.md", "quote": "18 weeks"}]
    )
    assert verify(items(record), corpus, READER) == ["parental: source 'hr/nope.md' does not exist"]


def test_a_question_copying_seven_words_of_the_corpus_is_reported(corpus: Path) -> None:
    copied = "So every teammate gets 18 weeks of paid parental leave?"
    problems = verify(items(answerable(question=copied)), corpus, READER)
    assert problems == [
        "parental: question copies the corpus: 'every teammate gets 18 weeks of paid'",
        "parental: question copies the corpus: 'gets 18 weeks of paid parental leave'",
        "parental: question copies the corpus: 'teammate gets 18 weeks of paid parental'",
    ]
    six_words = "Do all teammates get 18 weeks of paid parental leave?"
    assert verify(items(answerable(question=six_words)), corpus, READER) == []


def test_an_absent_term_that_occurs_in_the_corpus_is_reported(corpus: Path) -> None:
    record = unanswerable(absent_terms=["sabbatical", "SICK   days"])
    assert verify(items(record), corpus, READER) == [
        "sabbatical: absent term 'SICK   days' occurs in hr/leave.md"
    ]


def test_duplicate_ids_are_reported(corpus: Path) -> None:
    problems = verify(items(answerable(), answerable()), corpus, READER)
    assert problems == ["parental: id used 2 times"]


def test_a_multi_hop_item_one_file_answers_alone_is_reported(corpus: Path) -> None:
    record = multi_hop(
        must_contain=[["18 weeks"], ["first year"]],
        answer="18 weeks, within the first year; hotels $300.",
        evidence=[
            {"source": "hr/leave.md", "quote": "18 weeks of paid parental leave"},
            {"source": "hr/leave.md", "quote": "within the first year"},
            {"source": "travel.md", "quote": "Hotels are paid up to $300 per night."},
        ],
    )
    problems = verify(items(record), corpus, READER)
    assert problems == ["trip: multi-hop, yet hr/leave.md alone states every key"]


def test_a_missing_corpus_folder_is_one_problem(tmp_path: Path) -> None:
    assert verify(items(answerable()), tmp_path / "absent", READER) == [
        f"corpus folder {tmp_path / 'absent'} does not exist"
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (answerable(must_contain=[]), "needs must_contain"),
        (answerable(evidence=[]), "needs evidence"),
        (answerable(answer=None), "needs an answer"),
        (answerable(kind="unanswerable"), "exactly when answerable is false"),
        (answerable(absent_terms=["x"]), "absent_terms are for unanswerable"),
        (answerable(sources=["travel.md"]), "evidence cites files not in sources"),
        (multi_hop(sources=["hr/leave.md"]), "evidence cites files not in sources"),
        (
            multi_hop(evidence=[{"source": "hr/leave.md", "quote": "18 weeks"}]),
            "sources without evidence",
        ),
        (unanswerable(absent_terms=[]), "needs absent_terms"),
        (unanswerable(sources=["hr/leave.md"]), "has no sources"),
        (unanswerable(answer="Yes."), "answer: null"),
        (answerable(id="Not Kebab"), "id"),
        (answerable(colour="red"), "Extra inputs are not permitted"),
    ],
)
def test_the_schema_rejects_inconsistent_items(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump([answerable(id="fine"), record]))
    with pytest.raises(DatasetError, match=message) as raised:
        load_question_set(path)
    assert str(path) in str(raised.value)


def test_a_multi_hop_item_needs_two_files() -> None:
    with pytest.raises(ValueError, match="at least two different sources"):
        QuestionItem.model_validate(answerable(kind="multi-hop"))


def test_examples_carry_keys_gold_documents_kind_and_the_asker() -> None:
    restricted = answerable(id="band", restricted=True, source="hr/leave.md", sources=[])
    examples = to_examples(items(answerable(), restricted, unanswerable(), multi_hop()))
    parental, band, sabbatical, trip = examples
    assert parental.must_contain == (("18 weeks", "eighteen weeks"),)
    assert parental.gold_documents == ("hr/leave.md",)
    assert parental.metadata == {"kind": "number"}
    assert parental.principal.groups == ("public",)
    assert band.gold_documents == ("hr/leave.md",)
    assert band.principal.groups == ("public", "hr")
    assert not sabbatical.answerable
    assert sabbatical.must_contain == ()
    assert sabbatical.reference_answer is None
    assert trip.gold_documents == ("hr/leave.md", "travel.md")
    assert trip.metadata == {"kind": "multi-hop"}


def test_the_command_prints_counts_and_one_line_per_problem(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump([answerable(), unanswerable()]))
    result = CliRunner().invoke(app, [*VERIFY, str(path), "--corpus", str(corpus)])
    assert result.exit_code == 0
    out = result.stdout
    assert "number: 1" in out
    assert "unanswerable: 1" in out
    path.write_text(yaml.safe_dump([answerable(), answerable()]))
    result = CliRunner().invoke(app, [*VERIFY, str(path), "--corpus", str(corpus)])
    assert result.exit_code == 1
    assert "parental: id used 2 times" in result.stderr


# --------------------------------------------------------------------------------------------
# The real sets
# --------------------------------------------------------------------------------------------


def test_the_sample_set_verifies_against_the_sample_corpus() -> None:
    questions = load_question_set(SAMPLE_QUESTIONS)
    assert verify(questions, SAMPLE_CORPUS, READER) == []
    counts = kind_counts(questions)
    assert counts["total"] >= 30
    assert counts[Kind.UNANSWERABLE] >= 8
    assert counts[Kind.MULTI_HOP] >= 3
    assert any(q.restricted for q in questions)
    assert all(q.source for q in questions if q.answerable)  # what older readers expect


def test_the_sample_dataset_carries_the_keys() -> None:
    data = load_dataset("sample")
    assert len(data.examples) >= 30
    assert all(e.must_contain for e in data.examples if e.answerable)
    band = next(e for e in data.examples if e.id == "hr-salary-band-l3")
    assert band.principal.groups == ("public", "hr")
    assert band.gold_documents == ("hr/salary-bands.md",)
    assert next(e for e in data.examples if e.id == "it-vpn-name").gold_pages == (2,)


@pytest.mark.shared_data
def test_the_sourcegraph_set_verifies_against_the_handbook(shared_data: Path) -> None:
    content = shared_data / "handbook-sourcegraph" / "content"
    if not content.is_dir():
        pytest.skip(f"Sourcegraph handbook not found at {content} (set CITEWISE_SHARED_DATA)")
    questions = load_question_set(SOURCEGRAPH_QUESTIONS)
    assert verify(questions, content, READER) == []
    counts = kind_counts(questions)
    assert counts["answerable"] >= 45
    assert counts[Kind.MULTI_HOP] >= 10
    assert counts[Kind.UNANSWERABLE] >= 15
    assert len({s for q in questions for s in q.documents}) >= 20


@pytest.mark.shared_data
def test_the_sourcegraph_dataset_carries_the_keys(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEWISE_SHARED_DATA", str(shared_data))
    if not (shared_data / "handbook-sourcegraph" / "content").is_dir():
        pytest.skip("Sourcegraph handbook not in the shared data")
    data = load_dataset("sourcegraph")
    assert data.corpus == shared_data / "handbook-sourcegraph" / "content"
    assert data.acl_policy is None
    assert all(e.must_contain for e in data.examples if e.answerable)
    assert {e.metadata["kind"] for e in data.examples} == {k.value for k in Kind}


def test_the_sourcegraph_dataset_without_shared_data_says_where_to_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEWISE_SHARED_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match="CITEWISE_SHARED_DATA"):
        load_dataset("sourcegraph")


def test_an_unknown_dataset_lists_sourcegraph() -> None:
    with pytest.raises(DatasetError, match="sourcegraph"):
        load_dataset("no-such-dataset")
