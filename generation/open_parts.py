"""Questions of several parts: what the answer leaves open, and asking the model each part.

A small model given "Is there help with moving costs, and how long must I have worked here
before asking for a location-based raise?" often answers the first part and stops. The reader
then sees half an answer as if it were whole. Partial answers are the largest group of wrong
answers the 1.5B gives even from the right passages (evals/RESULTS.md, "The reader's ceiling").

``asked_parts`` finds the parts a question asks, and the checker tells which of them no
shown claim answers (``AnswerChecker.open_parts``). Those parts are listed in
``Answer.unanswered_parts``, so a reader is told what the answer does not cover. With
``answer.open_parts: ask`` (or ``ask_all``), ``PartFollowUp`` then asks the model each open
part on its own, over the same numbered sources. It appends what the model answers to the
model's text and checks the whole again, so every added sentence passes the same check as
the first answer. The follow-up prompt differs from the first one only after the sources,
so llama.cpp (and vLLM's prefix cache) reuse the sources' state: a follow-up costs the
part's few tokens and its reply, not a second read of the sources.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from generation.abstention import is_decline, normalise_sentence
from generation.answer_types import AbstainReason, Answer, FinishReason
from generation.finalize import AnswerChecker
from generation.generator import Generator
from generation.prompting import Prompt, PromptBuilder
from generation.relevance import question_pieces
from generation.sentences import sentences, split_sentences

OpenPartsMode = Literal["off", "ask", "ask_all"]
"""``off``: only list the open parts; ``ask``: ask the model each part a standing answer
leaves open; ``ask_all``: also ask each part when the model's whole answer did not hold."""

MAX_FOLLOW_UPS = 2
"""At most this many parts are asked again: each costs a reply's worth of decoding."""

_ASKS = re.compile(
    r"^(?:how|what|which|who|whom|whose|when|where|why|whether|can|could|do|does|did|is|are|"
    r"was|were|am|must|should|will|would|may|might|has|have|if)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(r"\b(?:it|its|that one|this one|each one|they|them|those|these)\b")
"""A pronoun that needs the part before it ("Is there a dependent care FSA? Who runs it?");
lower case only, so "the IT help desk" is not one."""
_ASKED_AGAIN_AFTER = frozenset(
    {AbstainReason.MODEL_DECLINED, AbstainReason.UNSUPPORTED, AbstainReason.OFF_QUESTION}
)
"""Abstentions after the model wrote: the sources were there, the answer did not hold."""


@dataclass(frozen=True)
class QuestionPart:
    """One part a question asks: as written, and as a question that stands alone (with the
    question's statements, and the part it refers back to, in front)."""

    text: str
    standalone: str


def asked_parts(question: str) -> list[QuestionPart]:
    """The parts ``question`` asks when it asks more than one, else ``[]``.

    "I'm relocating. Is there help with moving costs, and how long must I have worked here?"
    asks two parts; its first sentence only sets the scene, so each part is asked with it.
    """
    pieces = question_pieces(question)
    asked = [i for i, piece in enumerate(pieces) if _is_asked(piece)]
    if len(asked) < 2:
        return []
    # The sentences that ask nothing set the scene, kept whole ("I'm expecting a child and
    # may also need medical time off.").
    setting = [
        _closed(s, ".")
        for s in sentences(question)
        if not any(_is_asked(p) for p in question_pieces(s))
    ]
    parts: list[QuestionPart] = []
    for n, i in enumerate(asked):
        scene = list(setting)
        if n > 0 and _REFERS_BACK.search(pieces[i]):
            scene.append(_closed(pieces[asked[n - 1]], "?"))
        standalone = " ".join([*scene, _closed(pieces[i], "?")])
        parts.append(QuestionPart(text=pieces[i], standalone=standalone))
    return parts


class PartFollowUp:
    """Completes the answer to a question of several parts (see the module docstring)."""

    def __init__(
        self,
        generator: Generator,
        prompts: PromptBuilder,
        checker: AnswerChecker,
        *,
        mode: OpenPartsMode = "off",
        temperature: float = 0.0,
    ) -> None:
        self._generator = generator
        self._prompts = prompts
        self._checker = checker
        self._mode = mode
        self._temperature = temperature

    def complete(self, prompt: Prompt, model_text: str, answer: Answer) -> Answer:
        """``answer`` (checked from ``model_text`` over ``prompt``) with the parts it leaves
        open asked again where the mode says so, and those still open listed."""
        parts = asked_parts(prompt.context.question)
        if not parts:
            return answer
        open_parts = self._checker.open_parts(answer, [p.text for p in parts])
        if open_parts and self._asks(answer):
            started = time.perf_counter()
            replies = [self._ask(prompt, parts[i], model_text) for i in open_parts[:MAX_FOLLOW_UPS]]
            added = [r for r in replies if r]
            if added:
                base = "" if answer.abstain_reason is AbstainReason.MODEL_DECLINED else model_text
                combined = "\n\n".join(t for t in (base, *added) if t.strip())
                timings = dict(answer.timings)
                timings["follow_up"] = time.perf_counter() - started
                answer = self._checker.finalize(
                    prompt.context, combined, prompt_id=prompt.template_id, timings=timings
                ).model_copy(
                    update={
                        "prompt_tokens": answer.prompt_tokens,
                        "completion_tokens": answer.completion_tokens,
                    }
                )
                open_parts = self._checker.open_parts(answer, [p.text for p in parts])
        if answer.abstained:
            return answer
        return answer.model_copy(
            update={"unanswered_parts": tuple(parts[i].text for i in open_parts)}
        )

    def _asks(self, answer: Answer) -> bool:
        if self._mode == "off":
            return False
        if not answer.abstained:
            return True
        return self._mode == "ask_all" and answer.abstain_reason in _ASKED_AGAIN_AFTER

    def _ask(self, prompt: Prompt, part: QuestionPart, first: str) -> str:
        """The model's reply to ``part`` alone over the same sources, less its declines and
        the sentences it repeats from the ``first`` answer ("" when nothing is left)."""
        follow = self._prompts.build(prompt.context, question=part.standalone)
        request = follow.request(temperature=self._temperature)
        result = self._generator.generate(request)
        text = result.text
        if result.finish_reason is FinishReason.LENGTH:
            text = text[: text.rfind(".") + 1] if "." in text else ""
        said = {normalise_sentence(s) for s in sentences(first)}
        kept, end = [], 0
        for start, stop in split_sentences(text):
            sentence = text[start:stop]
            if is_decline(sentence) or normalise_sentence(sentence) in said:
                kept.append(text[end:start])  # cut in place: the reply's lines stay as written
                end = stop
        kept.append(text[end:])
        return "".join(kept).strip()


def _is_asked(piece: str) -> bool:
    """A piece ending in "?" asks; one ending in "." states ("I'm expecting a child and may
    need time off."); a clause cut at ", and" asks when it opens like a question."""
    if piece.endswith("?"):
        return True
    return not piece.endswith((".", "!")) and bool(_ASKS.match(piece))


def _closed(piece: str, mark: str) -> str:
    """``piece`` as a sentence: capitalised, ending with ``mark`` unless it has an end."""
    piece = piece.strip()
    piece = piece[:1].upper() + piece[1:]
    return piece if piece.endswith(("?", ".", "!")) else piece + mark
