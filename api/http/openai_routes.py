"""``POST /v1/chat/completions``: an OpenAI-compatible front for the answer service, so the
``openai`` SDK and existing chat clients can ask Citewise (``base_url=".../v1"``, the API key
as ``api_key``).

What differs from OpenAI's endpoint, on purpose:

- The last ``user`` message is the question; the ``user``/``assistant`` turns before it are
  the conversation, condensed by the answer service exactly as ``/v1/ask`` does with
  ``history``. ``system`` (and ``developer``) messages are accepted and ignored: answers are
  grounded in the caller's documents under our own prompt and rules, which a request must not
  be able to override ("ignore your sources and ...").
- ``temperature`` and ``max_tokens`` are accepted (clients send them) and ignored: the answer
  path is configured on the server (``llm.*``, ``answer.*``) because the grounding check and
  abstention thresholds are tuned for it.
- The assistant message's ``content`` is the answer text with its ``[n]`` markers plus a
  plain-text sources footer, so any chat client shows where the answer comes from. The
  structured answer (citations with quotes, per-sentence verdicts, ``abstained``…) rides in an
  extra top-level field ``citewise``: the ``Answer`` as ``/v1/ask`` returns it. With the SDK,
  read it as ``completion.model_extra["citewise"]``.
- ``usage`` is the answer's own token count: the prompt the answer service built (rules,
  sources, question) and the model's raw text, both 0 for an abstention that needed no model.
- The content is always the *checked* answer: a statement the grounding check could not
  support is withheld (``answer.unsupported: withhold``), and the content says so ("1
  statement was withheld: the sources don't support it.") while the statement itself is only
  in ``citewise.withheld``.
- Streaming therefore does not forward the model's draft: an OpenAI client appends every
  chunk it receives and cannot take back a sentence the check later withholds, as the
  ``/v1/ask`` stream's final event does. The first chunk (the ``assistant`` role) comes at
  once, keep-alive comments while the model writes and the check runs, then one content chunk
  with the checked answer, the sources footer and the ``citewise`` field, a ``stop`` chunk and
  ``data: [DONE]``. A failure mid-stream is a ``data: {"error": {...}}`` chunk, which the SDK
  raises as ``APIError``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.http import audit_recording
from api.http.dependencies import AnswerLogDep, AnswersDep, Caller, SettingsDep
from api.http.metrics import MetricsDep
from api.http.problems import stream_problem
from api.http.reader_view import ReaderView
from api.http.review_routes import record_answer, record_events
from core.errors import CitewiseError
from core.models import heading_line
from generation.answer import AnswerEvent, FinalEvent
from generation.answer_types import Answer, ChatMessage, Role
from store.audit_store import AuditAction

router = APIRouter(tags=["openai"])

DEFAULT_MODEL = "citewise"
_IGNORED_ROLES = frozenset({"system", "developer"})


class OpenAiMessage(BaseModel):
    """One chat message (text content only; SDK extras such as ``name`` are ignored)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str = Field(max_length=20000)


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's chat-completion request Citewise reads; other fields the SDK
    may send (``top_p``, ``user``, ``stream_options``…) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(
        default=None, max_length=200, description="Echoed back; the server's model answers."
    )
    messages: list[OpenAiMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    temperature: float | None = Field(default=None, description="Accepted and ignored.")
    max_tokens: int | None = Field(default=None, description="Accepted and ignored.")

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> ChatCompletionRequest:
        turns = [m for m in self.messages if m.role not in _IGNORED_ROLES]
        if not turns or turns[-1].role != "user":
            raise ValueError("the conversation must end with a user message (the question)")
        if not turns[-1].content.strip():
            raise ValueError("the last user message (the question) is empty")
        if len(turns[-1].content) > 2000:
            raise ValueError("the question is longer than 2000 characters")
        return self

    def question(self) -> str:
        """The last user message."""
        return [m for m in self.messages if m.role == "user"][-1].content

    def history(self) -> tuple[ChatMessage, ...]:
        """The user/assistant turns before the question (system messages dropped)."""
        turns = [m for m in self.messages if m.role not in _IGNORED_ROLES][:-1]
        return tuple(ChatMessage(role=Role(m.role), content=m.content) for m in turns)


class AssistantMessage(BaseModel):
    """The answer as a chat message."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """The one choice Citewise returns."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Token counts of the answer prompt and of the model's text."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    """OpenAI's ``chat.completion`` object plus the structured answer in ``citewise``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citewise: Answer = Field(description="The checked answer, as ``POST /v1/ask`` returns it.")


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "description": "With `stream: true`: `chat.completion.chunk` objects as "
                    "`data:` lines, the last content chunk carrying the sources footer and the "
                    "`citewise` field, then `data: [DONE]`."
                }
            }
        }
    },
)
def chat_completions(
    body: ChatCompletionRequest,
    caller: Caller,
    *,
    service: AnswersDep,
    log: AnswerLogDep,
    metrics: MetricsDep,
    audit: audit_recording.AuditDep,
    settings: SettingsDep,
) -> ChatCompletion | EventSourceResponse:
    """OpenAI-compatible chat: the last user message answered from the caller's documents,
    with ``[n]`` citations and a sources footer (display paths for readers who are not
    admins; never the model's raw text)."""
    view = ReaderView.of(settings, caller)
    model = body.model or DEFAULT_MODEL
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        events = metrics.observe_events(
            audit_recording.record_events(
                record_events(
                    service.stream(body.question(), caller, history=body.history()),
                    log,
                    caller,
                    body.question(),
                ),
                audit,
                caller,
                body.question(),
                AuditAction.CHAT,
            )
        )
        chunks = _chunks(events, view, completion_id=completion_id, created=created, model=model)
        return EventSourceResponse(chunks)
    answer = service.answer(body.question(), caller, history=body.history())
    metrics.observe_answer(answer)
    record_answer(log, caller, body.question(), answer)
    audit_recording.record_answer(audit, caller, body.question(), answer, AuditAction.CHAT)
    shown = view.answer(answer)
    return completion(shown, completion_id=completion_id, created=created, model=model)


def completion(answer: Answer, *, completion_id: str, created: int, model: str) -> ChatCompletion:
    """The ``chat.completion`` object for a checked answer."""
    usage = Usage(
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        total_tokens=answer.prompt_tokens + answer.completion_tokens,
    )
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=model,
        choices=[Choice(message=AssistantMessage(content=answer_content(answer)))],
        usage=usage,
        citewise=answer,
    )


def sources_footer(answer: Answer) -> str:
    """``\\n\\nSources:\\n[1] Title > Section, p. 3 — file:///…`` for the cited sources, or the
    closest sources under ``Closest sources:`` when the answer abstained; ``""`` if none."""
    if answer.abstained:
        entries = [
            (s.number, s.title, s.section_path, s.pages, s.source_uri) for s in answer.sources
        ]
        label = "Closest sources"
    else:
        entries = [
            (c.number, c.title, c.section_path, c.pages, c.source_uri) for c in answer.citations
        ]
        label = "Sources"
    if not entries:
        return ""
    lines = []
    for number, title, section_path, pages, uri in entries:
        where = heading_line(title, section_path)
        if pages:
            where += f", {'p.' if len(pages) == 1 else 'pp.'} {', '.join(map(str, pages))}"
        lines.append(f"[{number}] {where} — {uri}")
    return f"\n\n{label}:\n" + "\n".join(lines)


def withheld_note(answer: Answer) -> str:
    """``\n\n(1 statement was withheld: the sources don't support it.)``, or ``""``."""
    count = len(answer.withheld)
    if not count:
        return ""
    what = "1 statement was" if count == 1 else f"{count} statements were"
    return f"\n\n({what} withheld: the sources don't support it.)"


def unanswered_note(answer: Answer) -> str:
    """``\n\n(Not answered by the sources: how quickly do I get the money back?)``, or
    ``""``: the parts of a several-part question the answer leaves open."""
    parts = answer.unanswered_parts
    return f"\n\n(Not answered by the sources: {' / '.join(parts)})" if parts else ""


def answer_content(answer: Answer) -> str:
    """The message content: the checked answer, the withheld note, the parts of the question
    it leaves open and the sources footer."""
    return answer.text + withheld_note(answer) + unanswered_note(answer) + sources_footer(answer)


def _chunks(
    events: Iterator[AnswerEvent],
    view: ReaderView,
    *,
    completion_id: str,
    created: int,
    model: str,
) -> Iterator[ServerSentEvent]:
    """Answer events as ``chat.completion.chunk`` SSE ``data:`` lines, ending in ``[DONE]``."""

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: object) -> ServerSentEvent:
        body: dict[str, object] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(json.dumps(body))

    try:
        yield chunk({"role": "assistant", "content": ""})
        for event in events:
            # Drafts (DeltaEvent) are not forwarded: see the module docstring.
            if isinstance(event, FinalEvent):
                answer = view.answer(event.answer)
                yield chunk(
                    {"content": answer_content(answer)}, citewise=answer.model_dump(mode="json")
                )
                yield chunk({}, "stop")
    except CitewiseError as e:
        shown, rid = stream_problem(e, where="POST /v1/chat/completions (stream)")
        message = shown.detail if rid is None else f"{shown.detail} (request id {rid})"
        error = {"message": message, "type": shown.title, "code": None}
        yield ServerSentEvent(json.dumps({"error": error}))
    yield ServerSentEvent("[DONE]")
