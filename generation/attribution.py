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
from generation.similarity import term_coverage, terms
from retrieval.context import Context, Source

_END = ".!?"
CANDIDATES = 3
"""Sources judged per uncited claim: the ones sharing most of its words. Judging every
source would embed the whole context again for each claim."""


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
    candidates = {i: _candidates(parsed.sentences[i].claim, context.sources) for i in uncited}
    pairs = [(i, source) for i in uncited for source in candidates[i]]
    supports = judge.judge(
        [Claim(text=parsed.sentences[i].claim, sources=(source,)) for i, source in pairs]
    )
    best: dict[int, tuple[float, int]] = {}
    for (i, source), support in zip(pairs, supports, strict=True):
        if support.supported and support.score > best.get(i, (-1.0, 0))[0]:
            best[i] = (support.score, source.number)
    chosen = {i: number for i, (_, number) in best.items()}
    if not chosen:
        return Attribution(parsed, frozenset())
    text = parsed.text
    for i in sorted(chosen, reverse=True):  # from the end, so earlier spans stay valid
        end = parsed.sentences[i].span[1]
        while end > 0 and text[end - 1].isspace():
            end -= 1
        at = end - 1 if end > 0 and text[end - 1] in _END else end
        text = f"{text[:at]} [{chosen[i]}]{text[at:]}"
    reparsed = parse_answer(text, len(context.sources))
    if len(reparsed.sentences) != len(parsed.sentences):
        # Inserting a marker must not re-split the answer; if it did, keep the original.
        return Attribution(parsed, frozenset())
    return Attribution(reparsed, frozenset(chosen))


def _candidates(claim: str, sources: tuple[Source, ...]) -> list[Source]:
    """The sources sharing most of the claim's content words, best first."""
    wanted = terms(claim)
    ranked = sorted(
        sources,
        key=lambda s: (-term_coverage(wanted, terms(f"{s.heading}\n{s.text}")), s.number),
    )
    return ranked[:CANDIDATES]
