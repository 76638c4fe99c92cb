"""Synthetic supported and unsupported claims made from a corpus' own passages."""

from __future__ import annotations

import random
from pathlib import Path

from evals.judge_data import split_pairs
from evals.synthetic_claims import (
    NEGATION,
    SUPPORTED,
    SWAP_ENTITY,
    SWAP_FIGURE,
    SYNTHETIC,
    WRONG_SUBJECT,
    WRONG_SUBJECT_IN_PASSAGE,
    Corpus,
    Passage,
    email_body,
    factual_sentences,
    flip_negation,
    handbook_corpus,
    html_to_markdown,
    passages,
    synthetic_pairs,
)
from generation.similarity import facts

LEAVE = """# Leave policy

## Vacation

Employees accrue 1.75 days of paid vacation per month at Northwind.
Vacation requests are approved by the employee's manager in LeavePoint.

## Sick leave

Every employee receives 11 paid sick days per calendar year from Northwind.
A doctor's note is needed after 2 consecutive sick days.
"""
EXPENSES = """# Expenses

## Travel

Hotels are reimbursed up to $240 per night in Tacoma by the Finance team.
Meals are covered up to $75 per day while travelling.
"""


def corpus() -> Corpus:
    return Corpus(
        "tiny",
        tuple(passages("leave.md", LEAVE) + passages("expenses.md", EXPENSES)),
    )


def by_kind(kind: str) -> list[tuple[str, str, bool]]:
    return [(p.evidence, p.claim, p.label) for p in synthetic_pairs([corpus()]) if p.kind == kind]


def test_passages_follow_headings_and_keep_the_text() -> None:
    found = passages("leave.md", LEAVE)
    assert [p.heading for p in found] == ["Vacation", "Sick leave"]
    assert found[0].text.startswith("Employees accrue 1.75 days")
    assert [p.index for p in found] == [0, 1]


def test_factual_sentences_state_a_figure_or_a_name() -> None:
    [vacation, _] = passages("leave.md", LEAVE)
    assert factual_sentences(vacation) == [
        "Employees accrue 1.75 days of paid vacation per month at Northwind.",
        "Vacation requests are approved by the employee's manager in LeavePoint.",
    ]


def test_supported_pairs_are_sentences_of_their_passage() -> None:
    pairs = by_kind(SUPPORTED)
    assert pairs
    for evidence, claim, label in pairs:
        assert label
        assert claim in evidence


def test_a_swapped_figure_is_one_the_passage_never_states() -> None:
    pairs = by_kind(SWAP_FIGURE)
    assert pairs
    for evidence, claim, label in pairs:
        assert not label
        assert facts(claim) - facts(evidence), claim


def test_negation_is_added_or_removed() -> None:
    assert flip_negation("Alcohol is never reimbursed.") == "Alcohol is always reimbursed."
    assert flip_negation("Sick days do not carry over.") == "Sick days do carry over."
    assert flip_negation("Hotels are reimbursed.") == "Hotels are not reimbursed."
    assert flip_negation("Employees accrue 1.75 days.") is None
    pairs = by_kind(NEGATION)
    assert pairs
    assert all(not label and " not " in claim for _, claim, label in pairs)


def test_a_swapped_entity_comes_from_a_neighbouring_passage() -> None:
    pairs = by_kind(SWAP_ENTITY)
    assert pairs
    for evidence, claim, label in pairs:
        assert not label
        assert claim not in evidence
        assert "LeavePoint" in claim or "Northwind" in claim or "Tacoma" in claim


def test_a_right_figure_about_another_subject_keeps_figure_and_passage() -> None:
    pairs = by_kind(WRONG_SUBJECT)
    assert pairs
    for evidence, claim, label in pairs:
        assert not label
        assert facts(claim) and facts(claim) <= facts(evidence), claim
    inside = by_kind(WRONG_SUBJECT_IN_PASSAGE)
    assert inside
    for evidence, claim, label in inside:
        assert not label
        assert facts(claim) <= facts(evidence), claim


def test_a_subject_from_the_same_passage_is_another_sentences() -> None:
    passage = Passage(
        "d",
        "Travel",
        "Hotels are reimbursed up to $240 per night. Rental cars need approval.",
        0,
    )
    from evals.synthetic_claims import wrong_subject_in_passage

    claim = wrong_subject_in_passage(passage.text.split(". ")[0] + ".", passage, random.Random(0))
    assert claim is not None
    assert "rental cars" in claim and "$240" in claim


def test_pairs_are_deterministic_and_labelled_by_document() -> None:
    first = synthetic_pairs([corpus()])
    assert first == synthetic_pairs([corpus()])
    assert len({p.pair_id for p in first}) == len(first)
    assert {p.dataset for p in first} == {SYNTHETIC}
    assert {p.group for p in first} == {"tiny/leave.md", "tiny/expenses.md"}
    assert {p.heading for p in first} >= {"Vacation", "Travel"}
    assert synthetic_pairs([corpus()], seed="other") != first or all(
        p.kind in (SUPPORTED, NEGATION) for p in first
    )


def test_splits_hold_documents_out() -> None:
    splits = split_pairs(synthetic_pairs([corpus()]), held_out=0.5, validation=0.0)
    test_docs = {p.group for p in splits["test"]}
    train_docs = {p.group for p in splits["train"]}
    assert test_docs and train_docs and not test_docs & train_docs


def test_html_and_email_become_text_with_headings() -> None:
    page = html_to_markdown("<html><head><title>x</title></head><h2>Travel</h2><p>A &amp; B</p>")
    assert "## Travel" in page and "A & B" in page and "<p>" not in page
    mail = email_body("Subject: Office move\n\nWe move on July 28.\n")
    assert mail.startswith("# Office move") and "July 28" in mail


def test_a_handbook_folder_is_read_recursively(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "leave.md").write_text(LEAVE, encoding="utf-8")
    found = handbook_corpus(tmp_path)
    assert found.name == "handbook"
    assert {p.doc for p in found.passages} == {"team/leave.md"}
