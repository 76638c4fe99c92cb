"""The run loop, its cache and resume, the summary, the report and the comparison gate, with a
scripted backend and the oracle judge (the real model runs in tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CitewiseError
from evals.answer_metrics import GroundingGrade, grade_grounding
from evals.answer_run import RunResult, grade, new_run, run_answers, utc_now
from evals.compare import compare_runs
from evals.dataset import EvalExample
from evals.generation_cache import GenerationCache
from evals.report import load_result, write_html, write_result
from generation.answer_types import Answer
from tests.unit.evals.answer_fixtures import VACATION, OracleJudge, answer, claim

EXAMPLES = (
    EvalExample(
        id="vacation",
        question="How much vacation?",
        reference_answer=VACATION,
        gold_documents=("policies/leave-policy.md",),
    ),
    EvalExample(
        id="parental",
        question="How long is parental leave?",
        reference_answer="18 weeks",
        gold_documents=("policies/parental.md",),
    ),
    EvalExample(id="ceo", question="Who is the CEO's dog?", answerable=False),
)
SCRIPT = {
    "How much vacation?": answer(claim(VACATION + " [1]", (1,))),
    # Cites the right source for a wrong figure: a hallucination.
    "How long is parental leave?": answer(claim("Parental leave is 6 weeks [2]", (2,))),
    "Who is the CEO's dog?": answer(abstained=True),
}


class ScriptedBackend:
    def __init__(self, fail_on: str | None = None) -> None:
        self.asked: list[str] = []
        self.fail_on = fail_on

    def answer(self, example: EvalExample) -> Answer:
        self.asked.append(example.id)
        if example.id == self.fail_on:
            raise CitewiseError("model crashed")
        return SCRIPT[example.question]


class _Embedder:
    dimension = 2

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]

    def warm_up(self) -> None:
        pass


def make_run(tmp_path: Path, backend: ScriptedBackend) -> RunResult:
    cache = GenerationCache(tmp_path / "cache.jsonl")
    answers = run_answers(EXAMPLES, backend, cache, config_id="c1")
    graded: list[int] = []
    results = grade(
        answers, {"oracle": OracleJudge()}, _Embedder(), progress=lambda: graded.append(1)
    )
    assert len(graded) == len(answers)  # progress after every answer, failed ones included
    return new_run(
        dataset="t",
        config_id="c1",
        config={},
        backend="scripted",
        judges=["oracle"],
        started_at=utc_now(),
        seconds=1.0,
        results=results,
    )


def test_the_summary_matches_hand_computed_figures(tmp_path: Path) -> None:
    summary = make_run(tmp_path, ScriptedBackend()).summary
    assert summary["questions"] == 3 and summary["errors"] == 0
    assert summary["answered_rate"] == pytest.approx(2 / 3)
    assert summary["oracle.hallucination_rate"] == 0.5  # 1 of the 2 answers
    assert summary["oracle.faithfulness"] == 0.5
    assert summary["oracle.citation_precision"] == 0.5
    assert summary["gold_recall"] == 1.0  # each gold document is among its answer's sources
    assert summary["abstention_precision"] == 1.0 and summary["abstention_recall"] == 1.0
    # "parental leave is 6 weeks" vs "18 weeks": 1 common token, P = 1/5, R = 1/2
    f1_parental = 2 * (1 / 5) * (1 / 2) / (1 / 5 + 1 / 2)
    assert summary["token_f1"] == pytest.approx((1.0 + f1_parental) / 2)


def test_a_rerun_takes_answers_from_the_cache_and_a_failed_one_is_retried(
    tmp_path: Path,
) -> None:
    first = ScriptedBackend(fail_on="parental")
    run = make_run(tmp_path, first)
    assert first.asked == ["vacation", "parental", "ceo"]
    failed = next(r for r in run.examples if r.example.id == "parental")
    assert failed.answer is None and failed.error == "model crashed"
    assert run.summary["errors"] == 1
    # A torn last line (a crash mid-write) is ignored.
    with (tmp_path / "cache.jsonl").open("a") as handle:
        handle.write('{"key": "abc", "exam')
    second = ScriptedBackend()
    rerun = make_run(tmp_path, second)
    assert second.asked == ["parental"]
    assert [r.cached for r in rerun.examples] == [True, False, True]


def test_a_fresh_run_answers_everything_again_and_its_answers_are_kept(tmp_path: Path) -> None:
    make_run(tmp_path, ScriptedBackend())
    fresh = ScriptedBackend()
    answers = run_answers(
        EXAMPLES, fresh, GenerationCache(tmp_path / "cache.jsonl", fresh=True), config_id="c1"
    )
    assert fresh.asked == ["vacation", "parental", "ceo"]
    assert not any(a.from_cache for a in answers)
    reread = GenerationCache(tmp_path / "cache.jsonl")
    assert len(reread) == 3  # the newest answer per key wins


def test_report_files_round_trip(tmp_path: Path) -> None:
    run = make_run(tmp_path, ScriptedBackend())
    write_result(run, tmp_path / "r" / "result.json")
    write_html(run, tmp_path / "r" / "report.html")
    assert load_result(tmp_path / "r" / "result.json") == run
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("<details>") == 3
    assert "data:image/png;base64," in html
    assert "unsupported per oracle" in html and "Parental leave is 6 weeks" in html


def test_compare_passes_identical_runs_and_fails_an_injected_regression(
    tmp_path: Path,
) -> None:
    base = make_run(tmp_path, ScriptedBackend())
    same = compare_runs(base, base, thresholds={"oracle.hallucination_rate": 0.0})
    assert not any(d.regressed for d in same)
    assert all(d.delta == 0 for d in same)

    many = [
        r.model_copy(update={"example": r.example.model_copy(update={"id": f"{r.example.id}-{n}"})})
        for n in range(20)
        for r in base.examples
    ]
    before = base.model_copy(update={"examples": many})
    worse_answer = answer(claim("Employees accrue 9 days of paid vacation per month [1]", (1,)))
    regrade = grade_grounding_for(worse_answer)
    after_examples = [
        r.model_copy(update={"answer": worse_answer, "grades": {"oracle": regrade}})
        if r.example.id.startswith("vacation")
        else r
        for r in many
    ]
    after = base.model_copy(update={"examples": after_examples})
    deltas = {
        d.metric: d
        for d in compare_runs(before, after, thresholds={"oracle.hallucination_rate": 0.05})
    }
    hallucination = deltas["oracle.hallucination_rate"]
    assert hallucination.delta == pytest.approx(0.5)  # 20 of 40 answers turned bad
    assert hallucination.low > 0 and hallucination.regressed
    # On three questions the same jump is not significant: gated only when asked to be lenient.
    small = base.model_copy(update={"examples": after_examples[:3]})
    small_before = base.model_copy(update={"examples": many[:3]})
    (lenient,) = [
        d
        for d in compare_runs(
            small_before,
            small,
            thresholds={"oracle.hallucination_rate": 0.05},
            require_significance=True,
        )
        if d.metric == "oracle.hallucination_rate"
    ]
    assert lenient.delta > 0.05 and not lenient.significant and not lenient.regressed
    with pytest.raises(ValueError, match="unknown metric"):
        compare_runs(before, after, thresholds={"oracle.nonsense": 0.1})


def grade_grounding_for(bad: Answer) -> GroundingGrade:
    return grade_grounding(bad, OracleJudge(), "oracle")
