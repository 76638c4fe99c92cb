"""The answer prompt: rules, fenced numbered sources and the question, fitted to the window.

Each source is fenced as data::

    <source id="2" title="Travel Policy" section="Expenses &gt; Hotels" pages="3-4">
    ...passage text...
    </source>

and the system rules say the text inside the fences is data, never instructions. So that a
document cannot close its fence and speak as the prompt, fence-like tags inside a passage
(``</source>``, ``<source ...>``, any spacing or case) have their ``<`` written as ``&lt;``;
so do chat-template control tokens such as ``<|im_end|>``, which a passage could otherwise use
to fake a new turn. Attribute values are HTML-escaped.

Sentences of a source that give instructions to the assistant are replaced by a placeholder
before fencing (``injection``), and the prompt's context holds the screened text, so the
grounding check judges the answer against exactly what the model saw.

Fitting: prompt tokens (counted with the generator's own tokenizer, plus a per-message
allowance for the chat template) plus the tokens reserved for the answer must fit the
context window. Sources are dropped from the lowest-ranked up, so the remaining ones keep
their numbers ``[1]..[k]`` unchanged and citations resolve against the same numbering.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from generation.abstention import ABSTENTION_ANSWER
from generation.answer_types import ChatMessage, GenerationRequest, Role
from generation.errors import PromptTooLongError
from generation.generator import Generator
from generation.injection import redact_instructions
from generation.templates import PromptTemplate, load_template
from retrieval.context import Context, Source

ANSWER_TEMPLATE = "answer_v1"
_log = logging.getLogger(__name__)

_FENCE_LIKE = re.compile(r"<(?=\s*/?\s*source\b)", re.IGNORECASE)
_CONTROL_TOKEN = re.compile(r"<(?=\|[^|<>\n]{0,40}\|>)")


def neutralise(text: str) -> str:
    """``text`` with source-fence tags and chat control tokens defused (``<`` → ``&lt;``)."""
    return _CONTROL_TOKEN.sub("&lt;", _FENCE_LIKE.sub("&lt;", text))


def fence(source: Source) -> str:
    """One source as a fenced, numbered block for the prompt."""
    attributes = [f'id="{source.number}"', f'title="{html.escape(source.title, quote=True)}"']
    if source.section_path:
        section = " > ".join(source.section_path)
        attributes.append(f'section="{html.escape(section, quote=True)}"')
    if source.pages:
        pages = (
            str(source.pages[0])
            if len(source.pages) == 1
            else f"{source.pages[0]}-{source.pages[-1]}"
        )
        attributes.append(f'pages="{pages}"')
    return f"<source {' '.join(attributes)}>\n{neutralise(source.text.strip())}\n</source>"


class Prompt(BaseModel):
    """The chat messages for one question, and which sources made it into them.

    ``context`` holds the sources the model sees (numbering unchanged);
    ``dropped_sources`` the numbers, in the original context, left out to fit the window.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: tuple[ChatMessage, ...]
    context: Context
    dropped_sources: tuple[int, ...] = ()
    template_id: str
    prompt_tokens: int = Field(ge=0)
    answer_tokens: int = Field(ge=1)

    def request(self, *, temperature: float = 0.0, stop: Sequence[str] = ()) -> GenerationRequest:
        """A generation request for these messages, with the answer budget it was fitted for."""
        return GenerationRequest(
            messages=self.messages,
            max_tokens=self.answer_tokens,
            temperature=temperature,
            stop=tuple(stop),
        )


class PromptBuilder:
    """Builds the answer prompt for a context, fitted to the generator's context window.

    ``answer_tokens`` is reserved for the model's answer; ``message_overhead_tokens`` is
    allowed per message for the chat template's role and separator tokens, which
    ``count_tokens`` on the contents does not see.
    """

    def __init__(
        self,
        generator: Generator,
        *,
        template: PromptTemplate | None = None,
        answer_tokens: int = 512,
        message_overhead_tokens: int = 8,
    ) -> None:
        self._generator = generator
        self._template = template
        self._answer_tokens = answer_tokens
        self._overhead = message_overhead_tokens

    @property
    def template(self) -> PromptTemplate:
        """The answer template in use (the shipped ``answer_v1`` unless another was given)."""
        if self._template is None:
            self._template = load_template(ANSWER_TEMPLATE)
        return self._template

    def messages(self, sources: Sequence[Source], question: str) -> tuple[ChatMessage, ...]:
        """System and user messages for ``question`` over ``sources``, without fitting."""
        blocks = "\n\n".join(fence(s) for s in sources)
        system, user = self.template.render(
            abstention=ABSTENTION_ANSWER,
            sources=blocks or "(no sources)",
            question=neutralise(" ".join(question.split())),
        )
        return (
            ChatMessage(role=Role.SYSTEM, content=system),
            ChatMessage(role=Role.USER, content=user),
        )

    def count(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens of ``messages``, chat-template allowance included."""
        return sum(self._generator.count_tokens(m.content) + self._overhead for m in messages)

    def build(self, context: Context, question: str | None = None) -> Prompt:
        """The prompt for ``question`` (default: the context's own) with as many sources, best
        first, as fit the window.

        Raises ``PromptTooLongError`` when even the rules and question alone do not fit.
        """
        asked = context.question if question is None else question
        window = self._generator.context_window - self._answer_tokens
        sources = [_screened(s) for s in context.sources]
        costs = [self._generator.count_tokens(fence(s)) for s in sources]
        kept = len(sources)
        messages = self.messages(sources, asked)
        tokens = self.count(messages)
        while tokens > window:
            if kept == 0:
                raise PromptTooLongError(
                    f"the prompt needs {tokens} tokens without any source, but the window "
                    f"leaves {window} after {self._answer_tokens} reserved for the answer"
                )
            # Drop enough of the lowest-ranked sources to cover the excess by their own
            # counts, then count the whole prompt again (block joins can shift it a little).
            excess = tokens - window
            while kept > 0 and excess > 0:
                kept -= 1
                excess -= costs[kept]
            messages = self.messages(sources[:kept], asked)
            tokens = self.count(messages)
        fitted = sources[:kept]
        trimmed = context.model_copy(
            update={
                "question": asked,
                "sources": tuple(fitted),
                "token_count": sum(s.token_count for s in fitted),
                "dropped": context.dropped + len(sources) - kept,
            }
        )
        return Prompt(
            messages=messages,
            context=trimmed,
            dropped_sources=tuple(s.number for s in sources[kept:]),
            template_id=self.template.template_id,
            prompt_tokens=tokens,
            answer_tokens=self._answer_tokens,
        )


def _screened(source: Source) -> Source:
    text, removed = redact_instructions(source.text)
    if not removed:
        return source
    _log.warning(
        "instructions removed from a source",
        extra={"doc_id": source.doc_id, "source_uri": source.source_uri, "sentences": removed},
    )
    return source.model_copy(update={"text": text})
