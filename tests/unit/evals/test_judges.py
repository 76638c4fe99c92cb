"""The LLM judge (prompt, schema, defensive parsing), the cross-encoder judge's evidence window
and config, and how the answer path chooses its judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.composition import build_support_judge, support_judge_path
from core.errors import ModelLoadError
from core.settings import Settings
from generation.answer_types import FinishReason, GenerationRequest, GenerationResult
from generation.cross_encoder_judge import (
    CrossEncoderJudge,
    EvidenceSelector,
    JudgeConfig,
    read_judge_config,
    trained_judge_exists,
    write_judge_config,
)
from generation.grounding import Claim, LexicalEmbeddingJudge
from generation.llm_judge import LlmJudge, parse_verdicts, verdict_schema
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator, source

POLICY = source(1, "Hotels are reimbursed up to $240 per night. Meals are not reimbursed.")
LEAVE = source(2, "New parents get 18 weeks of paid parental leave.")


def claims() -> list[Claim]:
    return [
        Claim(text="Hotels are reimbursed up to $240 a night.", sources=(POLICY,)),
        Claim(text="Parental leave is 20 weeks.", sources=(LEAVE, POLICY)),
    ]


def reply(**verdicts: object) -> str:
    return json.dumps(verdicts)


def test_llm_judge_sends_one_constrained_request_for_all_claims() -> None:
    generator = FakeGenerator(
        [
            reply(
                claim_1={"reason": "same figure", "supported": True},
                claim_2={"reason": "18, not 20", "supported": False},
            )
        ]
    )
    found = LlmJudge(generator).judge(claims())
    assert [s.supported for s in found] == [True, False]
    assert [s.score for s in found] == [1.0, 0.0]
    assert "18, not 20" in found[1].reason
    assert len(generator.requests) == 1
    request = generator.requests[0]
    assert request.json_schema == verdict_schema(2)
    prompt = request.messages[-1].content
    # Each source appears once, fenced; each claim lists the sources it cites.
    assert prompt.count("<source id=") == 2
    assert "claim_1 (cites 1): Hotels" in prompt
    assert "claim_2 (cites 2, 1): Parental" in prompt


def test_schema_requires_one_verdict_per_claim() -> None:
    schema = verdict_schema(3)
    assert schema["required"] == ["claim_1", "claim_2", "claim_3"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json at all", "not JSON"),
        ('["a list"]', "not JSON"),
        (reply(claim_1={"reason": "fine", "supported": True}), "no verdict"),
        (reply(claim_1={"supported": True}, claim_2={"supported": "yes"}), "no verdict"),
    ],
)
def test_a_claim_without_a_readable_verdict_is_unsupported(text: str, reason: str) -> None:
    found = LlmJudge(FakeGenerator([text])).judge(claims())
    assert len(found) == 2
    assert found[1].supported is False and found[1].score == 0.0
    assert reason in found[1].reason


def test_json_wrapped_in_prose_is_still_read() -> None:
    text = 'Here you go: {"claim_1": {"reason": "ok", "supported": true}} Done.'
    assert parse_verdicts(text, 1)[0].supported is True


def test_a_cut_off_reply_says_so() -> None:
    found = parse_verdicts('{"claim_1": {"reason": "ok", "supp', 2, cut_off=True)
    assert all("cut off" in s.reason and not s.supported for s in found)


def test_claims_citing_nothing_are_not_sent_to_the_model() -> None:
    generator = FakeGenerator([reply(claim_1={"reason": "ok", "supported": True})])
    bare = Claim(text="Something.", sources=())
    found = LlmJudge(generator).judge([bare, claims()[0]])
    assert found[0].reason == "cites no source" and not found[0].supported
    assert found[1].supported
    assert "Something." not in generator.requests[0].messages[-1].content
    assert LlmJudge(FakeGenerator()).judge([bare])[0].reason == "cites no source"


def test_long_sources_are_cut_to_fit_the_window() -> None:
    long = source(1, " ".join(f"word{n}" for n in range(5000)))
    generator = FakeGenerator([reply(claim_1={"reason": "ok", "supported": True})])
    judge = LlmJudge(generator, max_source_tokens=300)
    request: GenerationRequest = judge.request([Claim(text="A claim.", sources=(long, LEAVE))])
    prompt = request.messages[-1].content
    assert "word0 " in prompt and "word4999" not in prompt
    assert LEAVE.text in prompt  # the short source keeps its text
    assert generator.count_tokens(prompt) < 500


def test_selector_keeps_short_evidence_whole_and_picks_relevant_sentences_when_long() -> None:
    class WordCounter:
        def count(self, text: str) -> int:
            return len(text.split())

        def encode(self, text: str) -> list[int]:
            return [0] * self.count(text)

    selector = EvidenceSelector(FakeEmbedder(), WordCounter(), max_tokens=24, claim_tokens=8)
    short = selector.select([("Hotels cost $240.", [POLICY.text])])[0]
    assert short.text == POLICY.text
    filler = " ".join(f"Unrelated sentence number {n} about weather." for n in range(10))
    text = f"{filler} Hotels are reimbursed up to $240 per night. {filler}"
    long = selector.select([("Hotels are reimbursed up to $240.", [text])])[0]
    assert long.best == "Hotels are reimbursed up to $240 per night."
    assert long.best in long.text and len(long.text.split()) <= 24
    assert selector.select([("No sources.", [])])[0].text == ""


def test_judge_config_round_trips_and_a_missing_judge_says_how_to_train(tmp_path: Path) -> None:
    assert not trained_judge_exists(tmp_path)
    with pytest.raises(ModelLoadError, match="train-judge"):
        read_judge_config(tmp_path)
    with pytest.raises(ModelLoadError, match="train-judge"):
        CrossEncoderJudge(tmp_path, FakeEmbedder()).warm_up()
    write_judge_config(tmp_path, JudgeConfig(threshold=0.42, training={"train_pairs": 3}))
    (tmp_path / "config.json").write_text("{}")
    assert trained_judge_exists(tmp_path)
    assert read_judge_config(tmp_path).threshold == 0.42


def test_the_answer_path_uses_the_trained_judge_when_one_exists(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path)
    embedder = FakeEmbedder()
    assert support_judge_path(settings) == tmp_path / "models" / "support-judge"
    assert isinstance(build_support_judge(settings, embedder), LexicalEmbeddingJudge)
    model = support_judge_path(settings)
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    write_judge_config(model, JudgeConfig(threshold=0.5))
    assert isinstance(build_support_judge(settings, embedder), CrossEncoderJudge)
    lexical = Settings.load(data_dir=tmp_path, answer={"judge": "lexical"})
    assert isinstance(build_support_judge(lexical, embedder), LexicalEmbeddingJudge)
    elsewhere = Settings.load(
        data_dir=tmp_path, answer={"judge": "cross-encoder", "judge_path": tmp_path / "none"}
    )
    assert isinstance(build_support_judge(elsewhere, embedder), CrossEncoderJudge)


def test_finish_reason_length_is_reported_as_cut_off() -> None:
    class CutGenerator(FakeGenerator):
        def generate(self, request: GenerationRequest) -> GenerationResult:
            return GenerationResult(text='{"claim_1": {', finish_reason=FinishReason.LENGTH)

    found = LlmJudge(CutGenerator()).judge(claims())
    assert all("cut off" in s.reason for s in found)
