"""Multi-turn: rewrite a follow-up question as a standalone one before retrieval.

"And for contractors?" retrieves nothing useful on its own; with the conversation, the model
rewrites it as "What is the hotel allowance for contractors?". The rewrite is only a search
query and the question the answer prompt shows, so a poor rewrite falls back to the
question as asked rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from generation.answer_types import ChatMessage, GenerationRequest, Role
from generation.citations import strip_markers
from generation.prompting import neutralise
from generation.templates import PromptTemplate, load_template

CONDENSE_TEMPLATE = "condense_v1"

_LABEL = re.compile(r"^\s*(?:standalone|rewritten|reformulated)?\s*question\s*:\s*", re.I)
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"
_SPEAKERS = {Role.USER: "User", Role.ASSISTANT: "Assistant"}


def needs_condensing(history: Sequence[ChatMessage]) -> bool:
    """True when there is an earlier user or assistant turn to resolve the question against."""
    return any(m.role in _SPEAKERS for m in history)


def condense_request(
    history: Sequence[ChatMessage],
    question: str,
    *,
    template: PromptTemplate | None = None,
    max_turns: int = 6,
    max_message_chars: int = 600,
    max_tokens: int = 96,
) -> GenerationRequest:
    """The request that rewrites ``question`` given the last ``max_turns`` messages.

    Earlier answers lose their ``[n]`` markers (they mean nothing without their sources) and
    are cut to ``max_message_chars``, keeping the prompt short: condensing sits in front of
    retrieval, on the latency path of every follow-up.
    """
    template = template or load_template(CONDENSE_TEMPLATE)
    turns = [m for m in history if m.role in _SPEAKERS][-max_turns:]
    lines = []
    for message in turns:
        text = " ".join(strip_markers(message.content).split())
        if len(text) > max_message_chars:
            text = text[:max_message_chars].rsplit(" ", 1)[0] + " …"
        lines.append(f"{_SPEAKERS[message.role]}: {neutralise(text)}")
    system, user = template.render(
        history="\n".join(lines), question=neutralise(" ".join(question.split()))
    )
    return GenerationRequest(
        messages=(
            ChatMessage(role=Role.SYSTEM, content=system),
            ChatMessage(role=Role.USER, content=user),
        ),
        max_tokens=max_tokens,
        temperature=0.0,
    )


def read_condensed(text: str, question: str, *, max_growth: int = 300) -> str:
    """The standalone question from the model's reply, or ``question`` when the reply is
    empty or runs on (more than ``max_growth`` characters longer than the question)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return question
    condensed = _LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip()
    if not condensed or len(condensed) > len(question) + max_growth:
        return question
    return condensed
