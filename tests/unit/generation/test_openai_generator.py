"""OpenAICompatibleGenerator's mapping logic against a scripted server (httpx.MockTransport)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from generation.answer_types import ChatMessage, FinishReason, GenerationRequest, Role
from generation.errors import GenerationError
from generation.openai_generator import OpenAICompatibleGenerator, estimate_tokens

BASE = "http://llm.test:8000/v1"
MODEL = "served-model"
REQUEST = GenerationRequest(
    messages=(
        ChatMessage(role=Role.SYSTEM, content="Be brief."),
        ChatMessage(role=Role.USER, content="Capital of France?"),
    ),
    max_tokens=20,
    stop=("\n\n",),
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}

Handler = Callable[[httpx.Request], httpx.Response]


def models_response(*ids: str, max_model_len: int | None = None) -> httpx.Response:
    data = [
        {"id": i, "object": "model", "created": 0, "owned_by": "me"}
        | ({"max_model_len": max_model_len} if max_model_len else {})
        for i in ids
    ]
    return httpx.Response(200, json={"object": "list", "data": data})


def completion(text: str = "Paris.", finish: str | None = "stop") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20},
        },
    )


def sse(*deltas: str) -> httpx.Response:
    events = []
    for i, delta in enumerate([*deltas, None]):
        choice: dict[str, Any] = {
            "index": 0,
            "delta": {"content": delta} if delta is not None else {},
            "finish_reason": None if delta is not None else "stop",
        }
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": i,
            "model": MODEL,
            "choices": [choice],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    events.append("data: [DONE]\n\n")
    return httpx.Response(
        200, content="".join(events).encode(), headers={"content-type": "text/event-stream"}
    )


class Server:
    """Records requests; routes ``/v1/models`` to a model list and the rest to ``handler``."""

    def __init__(self, handler: Handler, *, models: tuple[str, ...] = (MODEL,)) -> None:
        self.handler = handler
        self.models = models
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/models":
            return models_response(*self.models)
        return self.handler(request)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


def make(server: Server, *, max_retries: int = 0, **kwargs: Any) -> OpenAICompatibleGenerator:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return OpenAICompatibleGenerator(
        BASE, MODEL, max_retries=max_retries, http_client=client, **kwargs
    )


def test_generate_maps_text_usage_and_finish_reason() -> None:
    server = Server(lambda _: completion("Paris.", "stop"))
    result = make(server).generate(REQUEST)
    assert result.text == "Paris."
    assert result.finish_reason is FinishReason.STOP
    assert (result.prompt_tokens, result.completion_tokens) == (17, 3)
    assert result.model == MODEL
    assert result.timings.total_s > 0
    assert result.timings.first_token_s is None
    (body,) = server.bodies("/v1/chat/completions")
    assert body["model"] == MODEL
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert body["max_tokens"] == 20
    assert body["temperature"] == 0.0
    assert body["stop"] == ["\n\n"]
    assert "response_format" not in body
    assert "guided_json" not in json.dumps(body)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.OTHER),
        ("tool_calls", FinishReason.OTHER),
    ],
)
def test_finish_reasons(reported: str, expected: FinishReason) -> None:
    server = Server(lambda _: completion("x", reported))
    assert make(server).generate(REQUEST).finish_reason is expected


def test_json_schema_mode_sends_vllm_response_format() -> None:
    server = Server(lambda _: completion('{"answer": "Paris"}'))
    make(server).generate(REQUEST.model_copy(update={"json_schema": SCHEMA}))
    (body,) = server.bodies("/v1/chat/completions")
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }
    assert "guided_json" not in body


def test_json_object_mode_sends_llama_cpp_response_format() -> None:
    server = Server(lambda _: completion('{"answer": "Paris"}'))
    generator = make(server, structured_output="json_object")
    generator.generate(REQUEST.model_copy(update={"json_schema": SCHEMA}))
    (body,) = server.bodies("/v1/chat/completions")
    assert body["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_stream_concatenates_deltas() -> None:
    server = Server(lambda _: sse("Par", "is", "."))
    deltas = list(make(server).stream(REQUEST))
    assert deltas == ["Par", "is", "."]
    (body,) = server.bodies("/v1/chat/completions")
    assert body["stream"] is True


def test_first_call_verifies_the_model_once() -> None:
    server = Server(lambda _: completion())
    generator = make(server)
    generator.generate(REQUEST)
    generator.generate(REQUEST)
    assert [r.url.path for r in server.requests].count("/v1/models") == 1


def test_unknown_model_is_not_retryable_and_names_url_and_model() -> None:
    server = Server(lambda _: completion(), models=("other-model",))
    with pytest.raises(GenerationError) as info:
        make(server).warm_up()
    assert info.value.retryable is False
    assert BASE in info.value.message
    assert MODEL in info.value.message
    assert "other-model" in info.value.message


def test_warm_up_warns_when_the_server_window_differs(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return models_response(MODEL, max_model_len=2048)

    generator = OpenAICompatibleGenerator(
        BASE, MODEL, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with caplog.at_level(logging.WARNING):
        generator.warm_up()
    assert "max_model_len" in caplog.text


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (404, False),
        (422, False),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_status_errors_translate_with_retryable_flag(status: int, retryable: bool) -> None:
    message = f"server says {status}"
    server = Server(lambda _: httpx.Response(status, json={"error": {"message": message}}))
    with pytest.raises(GenerationError) as info:
        make(server).generate(REQUEST)
    assert info.value.retryable is retryable
    assert message in info.value.message
    assert f"HTTP {status}" in info.value.message
    assert info.value.__cause__ is not None


def test_the_sdk_retries_overloads_itself() -> None:
    replies = iter([httpx.Response(503, json={"error": {"message": "busy"}}), completion("ok")])
    server = Server(lambda _: next(replies))
    result = make(server, max_retries=1).generate(REQUEST)
    assert result.text == "ok"
    assert len(server.bodies("/v1/chat/completions")) == 2


def test_connection_errors_and_timeouts_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler, words in ((refuse, "cannot connect"), (slow, "timed out")):
        with pytest.raises(GenerationError) as info:
            make(Server(handler)).generate(REQUEST)
        assert info.value.retryable is True
        assert words in info.value.message


def test_errors_in_the_middle_of_a_stream_are_translated() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        error = {"error": {"message": "engine died"}}
        body = f"data: {json.dumps(error)}\n\n".encode()
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    with pytest.raises(GenerationError, match="engine died"):
        list(make(Server(broken)).stream(REQUEST))


def test_count_tokens_prefers_vllm_tokenize_and_remembers_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tokenize":
            n = len(json.loads(request.content)["prompt"].split())
            return httpx.Response(200, json={"count": n, "tokens": list(range(n))})
        return httpx.Response(404)

    server = Server(handler)
    generator = make(server)
    assert generator.count_tokens("one two three") == 3
    assert generator.count_tokens("four five") == 2
    assert generator.count_tokens("") == 0
    bodies = server.bodies("/tokenize")
    assert bodies[-1] == {"model": MODEL, "prompt": "four five", "add_special_tokens": False}
    assert not server.bodies("/extras/tokenize")
    assert str(server.requests[-1].url) == "http://llm.test:8000/tokenize"


def test_count_tokens_falls_back_to_llama_cpp_and_subtracts_its_bos() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/extras/tokenize":
            words = json.loads(request.content)["input"].split()
            return httpx.Response(200, json={"tokens": [1] + [7] * len(words)})  # BOS first
        return httpx.Response(404, json={"detail": "Not Found"})

    server = Server(handler)
    generator = make(server)
    assert generator.count_tokens("one two three") == 3
    assert generator.count_tokens("four") == 1


def test_count_tokens_estimates_and_warns_once_without_an_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server(lambda _: httpx.Response(404))
    generator = make(server)
    with caplog.at_level(logging.WARNING):
        assert generator.count_tokens("a" * 10) == 4 == estimate_tokens("a" * 10)
        assert generator.count_tokens("b" * 9) == 3
    assert caplog.text.count("no tokenizer") == 1
    assert len(server.requests) == 2  # one probe per endpoint, then nothing


def test_count_tokens_server_errors_are_generation_errors() -> None:
    server = Server(lambda _: httpx.Response(503, text="overloaded"))
    with pytest.raises(GenerationError) as info:
        make(server).count_tokens("hello")
    assert info.value.retryable is True


def test_the_client_is_created_lazily() -> None:
    server = Server(lambda _: completion())
    generator = make(server)
    assert generator.context_window == 4096
    assert server.requests == []
    generator.warm_up()
    assert [r.url.path for r in server.requests] == ["/v1/models"]
