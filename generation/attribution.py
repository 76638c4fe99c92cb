"""Attribution of claims the model left uncited, or cited wrongly, to the source that
supports them.

Small models often state a correct fact from the sources without the ``[n]`` marker the
prompt asks for. Rather than reject such an answer, each uncited claim is judged against
every source in the context (by the same ``SupportJudge`` that checks cited claims), and the
best source that supports it is cited after the sentence. The verdict records that the
citation was attributed by the check, not written by the model, and a claim no source
supports stays uncited, so it is still flagged.

The same goes for a claim whose own citation does not hold: "$80 per day for meals [2]" when
the per-diem is in source [1] and [2] is the hotel policy. If another source of the context
supports the claim, it is cited instead (and the verdict says the citation was attributed);
if none does, the claim keeps its citation and is withheld as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generation.abstention import is_decline
from generation.citations import ParsedAnswer, parse_answer
from generation.grounding import Claim, SupportJudge, is_non_factual
from generation.similarity import term_coverage, terms
from retrieval.context import Context, Source

_END = ".!?"
_MARKERS = re.compile(r"\s*\[\d+\]")
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
    return recite(parsed, context, judge, uncited)


def recite(
    parsed: ParsedAnswer, context: Context, judge: SupportJudge, sentences: Sequence[int]
) -> Attribution:
    """Cite, for each of the ``sentences`` (indexes), the source the judge finds supports it
    best, in place of whatever it cited: an uncited sentence gets a marker, and a sentence
    whose own citation does not hold (small models often cite the neighbouring number) gets
    the source that does. A sentence no other source supports is left as it was."""
    if not sentences or not context.sources:
        return Attribution(parsed, frozenset())
    candidates = {
        i: _candidates(
            parsed.sentences[i].claim,
            tuple(s for s in context.sources if s.number not in parsed.sentences[i].cited),
        )
        for i in sentences
    }
    pairs = [(i, source) for i in sentences for source in candidates[i]]
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
        start, end = parsed.sentences[i].span
        sentence = _MARKERS.sub("", text[start:end]).rstrip()
        cut = len(sentence)
        at = cut - 1 if cut > 0 and sentence[cut - 1] in _END else cut
        text = f"{text[:start]}{sentence[:at].rstrip()} [{chosen[i]}]{sentence[at:]}{text[end:]}"
    reparsed = parse_answer(text, len(context.sources))
    if len(reparsed.sentences) != len(parsed.sentences):
        # Changing a marker must not re-split the answer; if it did, keep the original.
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
