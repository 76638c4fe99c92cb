"""The answer log, review queue and reviews on real SQLite, and on the local PostgreSQL server
when it is reachable; the evaluation exports they make."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import NotFoundError, RegistryError
from core.models import Principal
from evals.review_export import (
    review_example,
    review_examples,
    review_judge_pairs,
    reviewed_judge_pairs,
)
from generation.answer_types import (
    AbstainReason,
    Answer,
    Citation,
    SentenceKind,
    SentenceVerdict,
    WithheldStatement,
)
from store.feedback_store import FeedbackStore
from store.review_store import MAX_NOTE, ReviewStore

EVE = Principal(user_id="eve", groups=("public", "hr"), tenant="acme")
BOB = Principal(user_id="bob", groups=("public",))
CITATION = Citation(
    number=1,
    doc_id="d1",
    chunk_ids=("c1",),
    title="Leave policy",
    source_uri="file:///corpus/leave%20policy.md",
)


def verdict(sentence: str, *, supported: bool, evidence: str = "") -> SentenceVerdict:
    return SentenceVerdict(
        sentence=sentence,
        span=(0, len(sentence)),
        cited=(1,),
        supported=supported,
        score=0.9 if supported else 0.1,
        reason="test",
        evidence=evidence,
    )


def withheld_answer() -> Answer:
    shown = "Employees accrue 1.75 days per month [1]."
    cut = "Unused days double every year [1]."
    return Answer(
        question="How much vacation do employees accrue?",
        text=shown,
        citations=(CITATION,),
        verdicts=(
            verdict(shown, supported=True, evidence="Employees accrue 1.75 days per month."),
            verdict(cut, supported=False, evidence="Unused days carry over."),
            SentenceVerdict(
                sentence="Here is the answer:",
                span=(0, 1),
                kind=SentenceKind.NON_FACTUAL,
                supported=True,
                score=1.0,
                reason="lead-in",
            ),
        ),
        withheld=(WithheldStatement(sentence=cut, cited=(1,), reason="not in the source"),),
        model_text=f"{shown} {cut}",
    )


def plain_answer(question: str = "What is the meal limit?") -> Answer:
    text = "Meals are reimbursed up to $75 a day [1]."
    return Answer(
        question=question,
        text=text,
        citations=(CITATION,),
        verdicts=(verdict(text, supported=True, evidence="Meals up to $75 per day."),),
    )


def abstained_answer() -> Answer:
    return Answer(
        question="What is the parental leave?",
        text="I couldn't find this in the documents.",
        abstained=True,
        abstain_reason=AbstainReason.WEAK_RETRIEVAL,
    )


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[ReviewStore[Answer], FeedbackStore]]:
    reviews, feedback = (
        ReviewStore(database_url, Answer.model_validate_json),
        FeedbackStore(database_url),
    )
    yield reviews, feedback
    reviews.close()
    feedback.close()


def test_the_queue_holds_withheld_thumbs_down_and_disputed_abstentions(
    stores: tuple[ReviewStore[Answer], FeedbackStore],
) -> None:
    reviews, feedback = stores
    withheld, plain, downvoted, abstained, quiet = (
        withheld_answer(),
        plain_answer(),
        plain_answer("And the hotel limit?"),
        abstained_answer(),
        abstained_answer(),
    )
    for answer in (withheld, plain, downvoted, abstained, quiet):
        reviews.record(answer, EVE, answer.question)
    reviews.record(withheld, EVE, "ignored: logged once")
    feedback.add(plain.answer_id, "eve", "up")
    feedback.add(downvoted.answer_id, "bob", "down", comment="wrong limit")
    feedback.add(abstained.answer_id, "eve", "down", comment="it is in the handbook")
    feedback.add("never-logged", "eve", "down")

    pending = reviews.queue("pending")
    assert [p.answer_id for p in pending] == [
        abstained.answer_id,
        downvoted.answer_id,
        withheld.answer_id,
    ]  # newest first
    by_id = {p.answer_id: p for p in pending}
    assert by_id[withheld.answer_id].reasons == ("withheld",)
    assert by_id[downvoted.answer_id].reasons == ("thumbs_down",)
    assert by_id[abstained.answer_id].reasons == ("abstained_disputed", "thumbs_down")
    assert by_id[withheld.answer_id].answer == withheld  # the Answer round-trips
    assert by_id[withheld.answer_id].question == withheld.question
    assert by_id[withheld.answer_id].principal == EVE
    assert by_id[withheld.answer_id].asked_at.tzinfo is not None
    (note,) = by_id[downvoted.answer_id].feedback
    assert (note.user_id, note.rating, note.comment) == ("bob", "down", "wrong limit")
    assert reviews.queue("reviewed") == []
    assert len(reviews.queue("pending", limit=1)) == 1

    marked = reviews.mark(withheld.answer_id, "correct", " rita ", note="fine as shown")
    assert marked.review is not None
    assert (marked.review.verdict, marked.review.reviewer_id, marked.review.note) == (
        "correct",
        "rita",
        "fine as shown",
    )
    assert marked.review.reviewed_at.tzinfo is not None
    assert [p.answer_id for p in reviews.queue("pending")] == [
        abstained.answer_id,
        downvoted.answer_id,
    ]
    assert [p.answer_id for p in reviews.queue("reviewed")] == [withheld.answer_id]

    # marking again replaces the review
    again = reviews.mark(
        withheld.answer_id,
        "incorrect",
        "sam",
        source="file:///corpus/leave.md",
        corrected_answer="1.5 days a month.",
    )
    assert again.review is not None and again.review.verdict == "incorrect"
    assert again.review.note is None and again.review.reviewer_id == "sam"
    assert len(reviews.queue("reviewed")) == 1


def test_marking_needs_a_logged_answer_and_valid_fields(
    stores: tuple[ReviewStore[Answer], FeedbackStore],
) -> None:
    reviews, _ = stores
    answer = withheld_answer()
    reviews.record(answer, EVE, answer.question)
    with pytest.raises(NotFoundError):
        reviews.mark("nope", "correct", "rita")
    with pytest.raises(NotFoundError):
        reviews.get("nope")
    assert reviews.find("nope") is None
    with pytest.raises(ValueError, match="verdict"):
        reviews.mark(answer.answer_id, "maybe", "rita")
    with pytest.raises(ValueError, match="reviewer"):
        reviews.mark(answer.answer_id, "correct", "  ")
    with pytest.raises(ValueError, match="note"):
        reviews.mark(answer.answer_id, "correct", "rita", note="x" * (MAX_NOTE + 1))
    assert reviews.get(answer.answer_id).review is None


def test_exports_make_examples_and_judge_pairs(
    stores: tuple[ReviewStore[Answer], FeedbackStore],
) -> None:
    reviews, feedback = stores
    withheld, wrong, abstained = withheld_answer(), plain_answer(), abstained_answer()
    for answer, who in ((withheld, EVE), (wrong, BOB), (abstained, EVE)):
        reviews.record(answer, who, answer.question)
    feedback.add(wrong.answer_id, "bob", "down")
    feedback.add(abstained.answer_id, "eve", "down")
    reviews.mark(withheld.answer_id, "correct", "rita")
    reviews.mark(wrong.answer_id, "incorrect", "rita", note="the limit is $60")
    reviews.mark(
        abstained.answer_id,
        "incorrect",
        "rita",
        source="file:///corpus/parental%20leave.md",
        corrected_answer="Sixteen weeks, paid [1].",
    )

    examples = {e.id: e for e in review_examples(reviews.reviewed())}
    assert list(examples) == [withheld.answer_id, wrong.answer_id, abstained.answer_id]
    good = examples[withheld.answer_id]
    assert good.question == withheld.question
    assert good.reference_answer == withheld.text
    assert good.gold_documents == ("file:///corpus/leave policy.md",)
    assert good.answerable
    assert (good.principal.user, good.principal.groups) == ("eve", ("public", "hr"))
    assert good.metadata["tenant"] == "acme" and good.metadata["verdict"] == "correct"
    bad = examples[wrong.answer_id]
    assert bad.reference_answer is None and bad.gold_documents == () and bad.answerable
    assert bad.metadata["note"] == "the limit is $60" and "tenant" not in bad.metadata
    missed = examples[abstained.answer_id]
    assert missed.answerable and missed.reference_answer == "Sixteen weeks, paid [1]."
    assert missed.gold_documents == ("file:///corpus/parental leave.md",)

    pairs = reviewed_judge_pairs(reviews.reviewed())
    assert [(p.claim, p.label, p.answer_id) for p in pairs] == [
        (withheld.text, "supported", withheld.answer_id),  # the withheld claim was not shown
        (wrong.text, "unsupported", wrong.answer_id),
    ]
    assert pairs[0].evidence == "Employees accrue 1.75 days per month."


def test_an_abstention_marked_correct_is_an_unanswerable_example() -> None:
    from datetime import UTC, datetime

    from evals.review_export import HumanReview

    answer = abstained_answer()
    review = HumanReview(verdict="correct", reviewer_id="rita", reviewed_at=datetime.now(UTC))
    example = review_example(answer, BOB, review)
    assert not example.answerable
    assert example.reference_answer is None and example.gold_documents == ()
    assert review_judge_pairs(answer, review) == []


def test_a_database_error_does_not_fail_recording(tmp_path: Path) -> None:
    reviews = ReviewStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}", Answer.model_validate_json)
    with reviews._engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE answer_reviews")
        conn.exec_driver_sql("DROP TABLE answer_log")
    answer = plain_answer()
    with pytest.raises(RegistryError) as caught:
        reviews.record(answer, EVE, answer.question)
    assert caught.value.retryable
    assert reviews.record_safely(answer, EVE, answer.question) is False
    reviews.close()
