from pathlib import Path

from evals.llm_cache import CachingGenerator
from generation.answer_types import ChatMessage, GenerationRequest, Role
from tests.unit.generation.fakes import FakeGenerator


def request(text: str, max_tokens: int = 64) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage(role=Role.USER, content=text),), max_tokens=max_tokens
    )


def test_an_identical_request_replays_the_reply_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "replies.jsonl"
    inner = FakeGenerator(["first", "second", "third"])
    cached = CachingGenerator(inner, path, model_id="m")
    assert cached.generate(request("q")).text == "first"
    assert cached.generate(request("q")).text == "first"
    assert cached.generate(request("q", max_tokens=32)).text == "second"  # other parameters
    assert (cached.hits, cached.misses) == (1, 2)
    again = CachingGenerator(FakeGenerator(["never"]), path, model_id="m")
    assert again.generate(request("q")).text == "first"
    other_model = CachingGenerator(FakeGenerator(["new"]), path, model_id="other")
    assert other_model.generate(request("q")).text == "new"


def test_a_torn_last_line_is_generated_again(tmp_path: Path) -> None:
    path = tmp_path / "replies.jsonl"
    CachingGenerator(FakeGenerator(["kept"]), path, model_id="m").generate(request("a"))
    with path.open("a") as handle:
        handle.write('{"key": "torn')
    replay = CachingGenerator(FakeGenerator(["fresh"]), path, model_id="m")
    assert replay.generate(request("a")).text == "kept"
    assert replay.generate(request("b")).text == "fresh"
