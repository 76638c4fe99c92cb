"""``/v1/chat/completions`` shaping, with hand-built answers and a fake answer service: the
request's question and history, the sources footer, and the chunk stream as the openai SDK
reads it (the SDK runs over FastAPI's TestClient, an httpx client)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.http.app import create_app
from api.http.dependencies import answer_log, answer_service, authenticator
from api.http.openai_routes import ChatCompletionRequest, answer_content, completion, sources_footer
from api.http.reader_view import ReaderView
from core.models import PUBLIC_GROUP, Principal
from core.settings import Settings
from generation.answer import DeltaEvent, FinalEvent
from generation.answer_types import (
    AbstainReason,
    Answer,
    ChatMessage,
    Citation,
    Role,
    WithheldStatement,
)
from retrieval.context import Source

CITATION = Citation(
    number=1,
    doc_id="d1",
    chunk_ids=("c1",),
    title="Leave policy",
    source_uri="file:///corpus/leave-policy.md",
    section_path=("Vacation",),
    pages=(3,),
)
ANSWER = Answer(
    question="How much vacation?",
    text="Employees accrue 1.75 days per month [1].",
    citations=(CITATION,),
    model_text="Employees accrue 1.75 days per month [1].",
    prompt_tokens=412,
    completion_tokens=7,
)
SOURCE = Source(
    number=1,
    doc_id="d2",
    chunk_ids=("c9",),
    title="Travel",
    source_uri="file:///corpus/travel.md",
    text="...",
    score=0.1,
    token_count=1,
)
ABSTAINED = Answer(
    question="Who won?",
    text="I couldn't find this in the documents.",
    abstained=True,
    abstain_reason=AbstainReason.WEAK_RETRIEVAL,
    sources=(SOURCE,),
)


def test_the_last_user_message_is_the_question_and_system_messages_are_dropped() -> None:
    body = ChatCompletionRequest.model_validate(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "How much vacation?"},
                {"role": "assistant", "content": "1.75 days [1]", "name": "bot"},
                {"role": "user", "content": "And sick leave?"},
            ],
            "top_p": 1,
            "stream_options": {"include_usage": True},
        }
    )
    assert body.question() == "And sick leave?"
    assert body.history() == (
        ChatMessage(role=Role.USER, content="How much vacation?"),
        ChatMessage(role=Role.ASSISTANT, content="1.75 days [1]"),
    )


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "system", "content": "hi"}],
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        [{"role": "user", "content": "  "}],
        [{"role": "tool", "content": "x"}],
    ],
)
def test_a_conversation_without_a_final_question_is_invalid(messages: list[Any]) -> None:
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate({"messages": messages})


def test_the_completion_carries_markers_footer_and_the_structured_answer() -> None:
    result = completion(ANSWER, completion_id="chatcmpl-1", created=5, model="m")
    content = result.choices[0].message.content
    assert content == (
        "Employees accrue 1.75 days per month [1].\n\nSources:\n"
        "[1] Leave policy > Vacation, p. 3 — file:///corpus/leave-policy.md"
    )
    dumped = result.model_dump(mode="json")
    assert dumped["object"] == "chat.completion" and dumped["choices"][0]["finish_reason"] == "stop"
    assert dumped["citewise"]["citations"][0]["number"] == 1
    assert dumped["usage"] == {"prompt_tokens": 412, "completion_tokens": 7, "total_tokens": 419}


def test_an_abstention_lists_the_closest_sources() -> None:
    assert sources_footer(ABSTAINED) == (
        "\n\nClosest sources:\n[1] Travel — file:///corpus/travel.md"
    )
    assert sources_footer(ANSWER.model_copy(update={"citations": ()})) == ""


def test_the_content_is_the_checked_answer_with_a_withheld_note() -> None:
    footer = sources_footer(ANSWER)
    assert answer_content(ANSWER) == ANSWER.text + footer
    withheld = ANSWER.model_copy(
        update={
            "withheld": (
                WithheldStatement(sentence="The moon is cheese [1].", cited=(1,), reason="no"),
            )
        }
    )
    content = answer_content(withheld)
    assert content == (
        f"{ANSWER.text}\n\n(1 statement was withheld: the sources don't support it.){footer}"
    )
    assert "cheese" not in content


def test_the_content_names_the_parts_of_the_question_left_open() -> None:
    footer = sources_footer(ANSWER)
    half = ANSWER.model_copy(update={"unanswered_parts": ("how quickly is it refunded?",)})
    assert answer_content(half) == (
        f"{ANSWER.text}\n\n(Not answered by the sources: how quickly is it refunded?){footer}"
    )


class _FakeAnswers:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[ChatMessage, ...]]] = []

    @property
    def generator(self) -> _FakeAnswers:
        return self

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def answer(self, question: str, _: Principal, *, history: Sequence[ChatMessage]) -> Answer:
        self.calls.append((question, tuple(history)))
        return ANSWER

    def stream(
        self, question: str, _: Principal, *, history: Sequence[ChatMessage]
    ) -> Iterator[DeltaEvent | FinalEvent]:
        self.calls.append((question, tuple(history)))
        yield DeltaEvent("Employees accrue 1.75 days ")
        yield DeltaEvent("per month [1].")
        yield FinalEvent(ANSWER)


class _FakeKeys:
    def authenticate(self, token: str) -> Principal | None:
        if token != "good":
            return None
        return Principal(user_id="eve", groups=(PUBLIC_GROUP,), tenant="default")


@pytest.fixture
def answers() -> _FakeAnswers:
    return _FakeAnswers()


@pytest.fixture
def http(answers: _FakeAnswers, tmp_path: Any) -> Iterator[TestClient]:
    @contextmanager
    def open_services(_: Settings) -> Iterator[None]:
        yield None  # these routes use only what the overrides below provide

    app = create_app(Settings.load(data_dir=tmp_path), open_services)
    app.dependency_overrides[answer_service] = lambda: answers
    app.dependency_overrides[authenticator] = _FakeKeys
    app.dependency_overrides[answer_log] = lambda: None
    with TestClient(app) as client:
        yield client


def _sdk(http: TestClient, key: str = "good") -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://testserver/v1",
        api_key=key,
        # Starlette's TestClient is built on httpx2's Client, not httpx's; the SDK only calls
        # the client's send(), which both share.
        http_client=cast(httpx.Client, http),
        max_retries=0,
    )


def test_the_sdk_reads_a_completion(http: TestClient, answers: _FakeAnswers) -> None:
    response = _sdk(http).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "How much vacation?"}]
    )
    assert response.model == "gpt-4o" and response.choices[0].message.content
    assert "Sources:" in response.choices[0].message.content
    assert (response.model_extra or {})["citewise"]["text"] == ANSWER.text
    assert (response.model_extra or {})["citewise"]["model_text"] is None
    assert response.usage is not None and response.usage.completion_tokens == 7
    assert answers.calls == [("How much vacation?", ())]


def test_the_sdk_reads_the_chunk_stream(http: TestClient) -> None:
    chunks = list(
        _sdk(http).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "How much vacation?"}], stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    # The caller is no admin: the footer names the file, not the server's path to it.
    assert text == ANSWER.text + sources_footer(ReaderView(admin=False).answer(ANSWER))
    assert text.endswith("— leave-policy.md") and "file://" not in text
    shown = (chunks[-2].model_extra or {})["citewise"]
    assert shown["citations"][0]["source_uri"] == "leave-policy.md"
    assert shown["model_text"] is None, "the model's raw text is never sent by default"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_errors_are_problem_json(http: TestClient) -> None:
    with pytest.raises(openai.AuthenticationError):
        _sdk(http, "bad").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}]
        )
    response = http.post(
        "/v1/chat/completions",
        json={"messages": []},
        headers={"Authorization": "Bearer good"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
