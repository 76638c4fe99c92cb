from generation.answer_types import ChatMessage, FinishReason, GenerationRequest, Role
from generation.generator import Generator
from tests.unit.generation.fakes import FakeGenerator


def test_the_fake_generator_satisfies_the_interface() -> None:
    generator: Generator = FakeGenerator(["Hotels are refunded [1].", "Second reply."])
    request = GenerationRequest(messages=(ChatMessage(role=Role.USER, content="hi there"),))
    generator.warm_up()
    result = generator.generate(request)
    assert result.text == "Hotels are refunded [1]."
    assert result.finish_reason is FinishReason.STOP
    assert result.prompt_tokens == 2
    assert "".join(generator.stream(request)) == "Second reply."
    assert generator.count_tokens("a b c") == 3
    assert generator.context_window == 4096
