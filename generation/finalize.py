"""From the model's raw text to an ``Answer``: markers, grounding check, abstention, citations.

This is the model-independent tail of answering; the answer service runs retrieval, the
abstention check before generation, the prompt and the generator, then calls
``finalize_answer`` with what the model wrote.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from generation.abstention import AbstentionPolicy
from generation.attribution import attribute_uncited as attribution_of
from generation.citations import parse_answer, resolve_citations
from generation.grounding import SupportJudge, check_answer
from generation.models import Answer
from retrieval.context import Context
from retrieval.embedder import Embedder


def finalize_answer(
    context: Context,
    model_text: str,
    *,
    judge: SupportJudge,
    policy: AbstentionPolicy | None = None,
    remove_unsupported: bool = False,
    attribute_uncited: bool = True,
    quote_embedder: Embedder | None = None,
    prompt_id: str | None = None,
    timings: Mapping[str, float] | None = None,
) -> Answer:
    """Check ``model_text`` against ``context`` (the sources the prompt showed) and build the
    answer, or the standard abstention when the model declined or nothing it said holds.

    ``timings`` (seconds per earlier stage) are copied into the answer, with ``check`` added.
    ``quote_embedder``, when given, ranks quote candidates by meaning as well as words.
    With ``attribute_uncited``, factual sentences the model left uncited are cited to the
    source that supports them (see ``attribution``), and their verdicts say so.
    """
    policy = policy or AbstentionPolicy()
    started = time.perf_counter()
    parsed = parse_answer(model_text, len(context.sources))
    attributed: frozenset[int] = frozenset()
    if attribute_uncited:
        attribution = attribution_of(parsed, context, judge)
        parsed, attributed = attribution.parsed, attribution.attributed
    report = check_answer(parsed, context, judge, remove_unsupported=remove_unsupported)
    if attributed:
        verdicts = tuple(
            v.model_copy(update={"attributed": True}) if i in attributed else v
            for i, v in enumerate(report.verdicts)
        )
        report = replace(report, verdicts=verdicts)
    reason = policy.after_check(report.verdicts, report.support_score)
    stages = dict(timings or {})
    if reason is not None:
        stages["check"] = time.perf_counter() - started
        return policy.abstain(
            context.question,
            reason,
            context.sources,
            verdicts=report.verdicts,
            support_score=report.support_score,
            dropped_markers=parsed.dropped,
            model_text=model_text,
            prompt_id=prompt_id,
            timings=stages,
        )
    citations = resolve_citations(report.kept, context, quote_embedder)
    stages["check"] = time.perf_counter() - started
    return Answer(
        question=context.question,
        text=report.text,
        citations=citations,
        verdicts=report.verdicts,
        support_score=report.support_score,
        dropped_markers=parsed.dropped,
        sources=context.sources,
        model_text=model_text,
        prompt_id=prompt_id,
        timings=stages,
    )
