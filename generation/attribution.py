"""Attribution of claims the model left uncited to the source that supports them.

Small models often state a correct fact from the sources without the ``[n]`` marker the
prompt asks for. Rather than reject such an answer, each uncited claim is judged against
every source in the context (by the same ``SupportJudge`` that checks cited claims), and the
best source that supports it is cited after the sentence. The verdict records that the
citation was attributed by the check, not written by the model, and a claim no source
supports stays uncited, so it is still flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.abstention import is_decline
from generation.citations import ParsedAnswer, parse_answer
from generation.grounding import Claim, SupportJudge, is_non_factual
from retrieval.context import Context

_END = ".!?"


@dataclass(frozen=True)
class Attribution:
    """The answer with attributed markers inserted, and which sentences got them."""

    parsed: ParsedAnswer
    attributed: frozenset[int]
    """Indexes into ``parsed.sentences``."""


def attribute_uncited(parsed: ParsedAnswer, context: Context, judge: SupportJudge) -> Attribution:
    """Cite, after each uncited factual sentence, the source that best supports it."""
    uncited = [
        i
        for i, s in enumerate(parsed.sentences)
        if not s.cited and s.claim and not is_decline(s.claim) and not is_non_factual(s.claim)
    ]
    if not uncited or not context.sources:
        return Attribution(parsed, frozenset())
    sources = context.sources
    claims = [
        Claim(text=parsed.sentences[i].claim, sources=(source,))
        for i in uncited
        for source in sources
    ]
    supports = judge.judge(claims)
    chosen: dict[int, int] = {}
    for row, i in enumerate(uncited):
        candidates = supports[row * len(sources) : (row + 1) * len(sources)]
        best = max(
            (c for c in zip(candidates, sources, strict=True) if c[0].supported),
            key=lambda pair: pair[0].score,
            default=None,
        )
        if best is not None:
            chosen[i] = best[1].number
    if not chosen:
        return Attribution(parsed, frozenset())
    text = parsed.text
    for i in sorted(chosen, reverse=True):  # from the end, so earlier spans stay valid
        end = parsed.sentences[i].span[1]
        while end > 0 and text[end - 1].isspace():
            end -= 1
        at = end - 1 if end > 0 and text[end - 1] in _END else end
        text = f"{text[:at]} [{chosen[i]}]{text[at:]}"
    reparsed = parse_answer(text, len(sources))
    if len(reparsed.sentences) != len(parsed.sentences):
        # Inserting a marker must not re-split the answer; if it did, keep the original.
        return Attribution(parsed, frozenset())
    return Attribution(reparsed, frozenset(chosen))
